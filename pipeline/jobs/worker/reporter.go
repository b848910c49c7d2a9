package worker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/midata/midata/pipeline/jobs"
)

// releaseBatch is how many release outcomes a reporter buffers before it
// writes them: one batch on the wire.
const releaseBatch = 1000

// reporter is the jobs.Reporter of one attempt: it throttles progress onto
// the ledger, counts the outcomes and writes them in batches. Once the
// attempt's lease is lost it writes nothing more, not even the outcomes
// it holds: the worker that took the run over makes and reports them
// again. It is safe for concurrent use by the Executor's goroutines.
type reporter struct {
	w   *Worker
	ctx context.Context

	mu       sync.Mutex
	run      *jobs.Run // its Progress and Counts change; guarded by mu once the Executor runs
	finished bool      // the Executor returned: late reports must not follow the end
	last     time.Time
	own      jobs.Counts // of the outcomes reported here
	others   jobs.Counts // set by Counts
	buf      []jobs.Release
	err      error // the first failed write of outcomes: every later Release returns it
}

var _ jobs.Reporter = (*reporter)(nil)

// Progress records p and publishes the run if ProgressInterval has passed
// since the last time.
func (r *reporter) Progress(p jobs.Progress) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.finished || r.fenced() {
		return
	}
	r.run.Progress = p
	r.maybePublish()
}

// Counts records the counts of outcomes others write.
func (r *reporter) Counts(c jobs.Counts) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.finished || r.fenced() {
		return
	}
	r.others = c
	r.run.Counts = r.own.Plus(r.others)
	r.maybePublish()
}

// Release counts rel and queues it for the ledger, under the run (for a
// task: its bulk run) and the task; a full batch is written at once.
func (r *reporter) Release(ctx context.Context, rel jobs.Release) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	if r.fenced() {
		return fmt.Errorf("report release of %s: %w", rel.CustomerID, errLeaseLost)
	}
	req := r.run.Request
	rel.RunID, rel.TaskID = req.ID, ""
	if req.Kind == jobs.KindTask && req.Parent != "" {
		rel.RunID, rel.TaskID = req.Parent, req.ID
	}
	r.buf = append(r.buf, rel)
	r.own.Add(rel)
	r.run.Counts = r.own.Plus(r.others)
	if len(r.buf) >= releaseBatch {
		return r.flush(ctx)
	}
	return nil
}

// fenced reports whether the attempt's lease was lost: nothing more of it
// may be written.
func (r *reporter) fenced() bool { return errors.Is(context.Cause(r.ctx), errLeaseLost) }

// maybePublish publishes the run if ProgressInterval has passed; r.mu is
// held. Outcomes are written first, so that the counts published never
// run ahead of the outcomes on the ledger.
func (r *reporter) maybePublish() {
	if now := r.w.cfg.Now(); now.Sub(r.last) >= r.w.cfg.ProgressInterval {
		r.last = now
		if r.flush(r.ctx) == nil {
			r.w.publish(r.ctx, *r.run)
		}
	}
}

// flush writes the queued outcomes; r.mu is held. A write that failed
// because ctx ended is not kept: the outcomes stay queued for finish.
func (r *reporter) flush(ctx context.Context) error {
	if r.err != nil || len(r.buf) == 0 {
		return r.err
	}
	if err := r.w.cfg.Ledger.PublishReleases(ctx, r.buf); err != nil {
		if ctx.Err() == nil {
			r.err = err
		}
		return err
	}
	r.buf = r.buf[:0]
	return nil
}

// finish ends the attempt's reporting and writes what is queued, also
// after a cancel (the outcomes are true: they are what the store holds),
// trying again with backoff for up to publishTimeout. It returns nil once
// every outcome reported is written; outcomes the brokers refused for good
// are not tried again. After the lease was lost it drops what is queued.
func (r *reporter) finish(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.finished = true
	if r.fenced() {
		r.buf = nil
		return nil
	}
	if len(r.buf) == 0 || jobs.IsPermanent(r.err) {
		return r.err
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
	defer cancel()
	for n := 1; ; n++ {
		err := r.w.cfg.Ledger.PublishReleases(fctx, r.buf)
		if err == nil {
			r.buf, r.err = r.buf[:0], nil
			return nil
		}
		if jobs.IsPermanent(err) {
			return err
		}
		d := r.w.cfg.Jitter(backoff(n, r.w.cfg.BackoffBase, r.w.cfg.BackoffMax))
		select {
		case <-fctx.Done():
			return fmt.Errorf("write %d release outcomes at the attempt's end: %w", len(r.buf), err)
		case <-r.w.cfg.After(d):
		}
	}
}
