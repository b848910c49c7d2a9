package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/midata/midata/pipeline/jobs"
)

// maxErrorBytes bounds the error and note texts a run record carries, so
// that a long error (a bulk run's failed tasks joined) never makes the
// record too large.
const maxErrorBytes = 4 << 10

// handle runs one request to its end and reports whether that end is on
// the ledger (false: handed back or not started, the offset must not be
// committed). intake ends when the worker stops taking requests, ctx when
// the runs in flight are to be cancelled. A run stopped because its lease
// was lost is decided on again: it waits for the new holder's lease, or
// the run's end, like a request taken while another worker runs it.
func (w *Worker) handle(intake, ctx context.Context, req jobs.Request) bool {
	log := w.log.With("run", req.ID, "retry", req.Retry, "kind", req.Kind)
	for {
		run, leased, decided, done := w.claim(intake, ctx, log, req)
		if decided {
			return done
		}
		done, lost := w.runLeased(ctx, log, req, run, leased)
		if !lost {
			return done
		}
		log.Warn("run stopped without an end: its lease was lost; deciding on the request again")
	}
}

// runLeased runs req from run, which claim returned, under a heartbeat of
// its lease (written at leased), and reports whether its end is on the
// ledger; lost: the lease was lost, the run stopped and nothing more of it
// was written.
func (w *Worker) runLeased(ctx context.Context, log *slog.Logger, req jobs.Request, run jobs.Run, leased time.Time) (done, lost bool) {
	rctx, stop := context.WithCancelCause(ctx)
	hb := w.heartbeat(rctx, req, leased, stop)
	defer func() {
		stop(nil)
		hb()
		if !lost {
			w.dropLease(ctx, req.ID)
		}
	}()

	if err := req.CheckBounds(); err != nil {
		run.Status, run.Worker, run.Error = jobs.StatusFailed, w.cfg.InstanceID, bounded(err.Error())
		log.Error("run refused", "error", err)
		return w.publishEnd(ctx, run), false
	}
	if run.Status == jobs.StatusCancelling {
		run.Status, run.Note, run.Worker = jobs.StatusCancelled, "cancelled before it started", w.cfg.InstanceID
		return w.publishEnd(ctx, run), false
	}

	var watch sync.WaitGroup
	watch.Add(1)
	go func() {
		defer watch.Done()
		_, err := w.cfg.View.Wait(rctx, req.ID, func(r jobs.Run) bool {
			return r.Request.Retry == req.Retry && r.Status == jobs.StatusCancelling
		})
		if err == nil {
			stop(errCancelAsked)
		}
	}()
	defer func() {
		stop(nil)
		watch.Wait()
	}()

	for {
		run.Attempt++
		if run.Attempt > w.cfg.MaxAttempts {
			run.Status, run.Worker = jobs.StatusFailed, w.cfg.InstanceID
			run.Error = fmt.Sprintf("gave up: %d attempts made in this round without an end (workers stopped during them)", run.Attempt-1)
			log.Error("run failed", "error", run.Error)
			return w.publishEnd(ctx, run), false
		}
		run.Status, run.Worker, run.Note = jobs.StatusRunning, w.cfg.InstanceID, ""
		run.Progress, run.Counts = jobs.Progress{}, jobs.Counts{}
		w.publish(rctx, run)
		log.Info("run attempt", "attempt", run.Attempt)
		err := w.execute(rctx, &run)
		if w.leaseLost(ctx, rctx, req) {
			return false, true // self-fencing: whatever the Executor returned
		}
		if err != nil && rctx.Err() != nil {
			return w.interrupted(ctx, rctx, run), false
		}
		switch {
		case err == nil:
			run.Status, run.Error = jobs.StatusSucceeded, ""
			if c := run.Counts; c.Releases > 0 && c.NoConsent == c.Releases {
				run.Status = jobs.StatusNoConsent
			}
			log.Info("run ended", "status", run.Status, "releases", run.Counts.Releases)
			return w.publishEnd(ctx, run), false
		case jobs.Retryable(err) && run.Attempt < w.cfg.MaxAttempts:
			d := w.cfg.Jitter(backoff(run.Attempt, w.cfg.BackoffBase, w.cfg.BackoffMax))
			run.Error = bounded(err.Error())
			run.Note = fmt.Sprintf("attempt %d failed, retrying in %v", run.Attempt, d.Round(time.Millisecond))
			log.Warn("attempt failed, retrying", "attempt", run.Attempt, "error", err, "retry_in", d)
			w.publish(rctx, run)
			select {
			case <-rctx.Done():
				if errors.Is(context.Cause(rctx), errLeaseLost) {
					return false, true
				}
				return w.interrupted(ctx, rctx, run), false
			case <-w.cfg.After(d):
			}
		default:
			run.Status, run.Error = jobs.StatusFailed, bounded(err.Error())
			run.Note = fmt.Sprintf("failed at attempt %d", run.Attempt)
			log.Error("run failed", "attempt", run.Attempt, "error", err)
			return w.publishEnd(ctx, run), false
		}
	}
}

// leaseLost reports whether the lease on req's run is lost, checked when
// an attempt returns, before anything of its result is written: the
// heartbeat found so (rctx's cause), or the view, synced now, shows
// another worker's claim after this worker's last heartbeat. The heartbeat
// looks only once per LeaseInterval; a claim that landed since must not
// see this worker write the run's end. When the Sync fails, the view as
// it is decides.
func (w *Worker) leaseLost(ctx, rctx context.Context, req jobs.Request) bool {
	if errors.Is(context.Cause(rctx), errLeaseLost) {
		return true
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), syncTimeout)
	err := w.cfg.View.Sync(sctx)
	cancel()
	if err != nil {
		w.log.Warn("sync the view before writing the run's result: deciding on the view as it is", "run", req.ID, "error", err)
	}
	if l, ok := w.takenOver(req); ok {
		w.log.Warn("lease lost: another worker claimed the run as its attempt returned; writing nothing of it", "run", req.ID, "holder", l.Worker)
		return true
	}
	return errors.Is(context.Cause(rctx), errLeaseLost)
}

// bounded cuts s to maxErrorBytes.
func bounded(s string) string {
	if len(s) <= maxErrorBytes {
		return s
	}
	return s[:maxErrorBytes-len(" […]")] + " […]"
}

// interrupted ends a run whose context rctx ended: cancelled when a cancel
// was asked, else (shutdown) handed back.
func (w *Worker) interrupted(ctx, rctx context.Context, run jobs.Run) bool {
	if errors.Is(context.Cause(rctx), errCancelAsked) {
		run.Status, run.Error, run.Note = jobs.StatusCancelled, "", "cancelled on request"
		w.log.Info("run cancelled", "run", run.ID)
		return w.publishEnd(ctx, run)
	}
	return w.handBack(ctx, run)
}

// execute calls the Executor once with a reporter that puts its progress,
// counts and release outcomes on the ledger; it updates run.Progress and
// run.Counts. Every outcome reported is written before it returns. An
// outcome that could not be written fails the attempt (for good when the
// brokers refused it).
func (w *Worker) execute(ctx context.Context, run *jobs.Run) (err error) {
	rep := &reporter{w: w, ctx: ctx, run: run}
	defer func() {
		if v := recover(); v != nil {
			w.log.Error("executor panicked", "run", run.ID, "panic", v, "stack", string(debug.Stack()))
			err = fmt.Errorf("executor panicked: %v", v)
		}
		if ferr := rep.finish(ctx); ferr != nil && (err == nil || jobs.IsPermanent(ferr)) {
			err = ferr
		}
	}()
	return w.cfg.Executor.Execute(ctx, run.Request, rep)
}

// publish writes a transient step of run. A cancel asked is kept (the
// View keeps it anyway; writing it keeps it in the compacted topic). A
// failure is logged: the end is what must be written.
func (w *Worker) publish(ctx context.Context, run jobs.Run) {
	if cur, ok := w.cfg.View.Get(run.ID); ok && cur.Request.Retry == run.Request.Retry && cur.Status == jobs.StatusCancelling {
		run.Status = jobs.StatusCancelling
	}
	if _, err := w.cfg.Ledger.Publish(ctx, run); err != nil && ctx.Err() == nil {
		w.log.Warn("publish run step", "run", run.ID, "status", run.Status, "error", err)
	}
}

// publishEnd writes the final run, trying again with backoff until it is
// written or the shutdown's hard phase; it reports whether it was written.
// An end the brokers refuse for good (Permanent) is replaced once by a
// failed end that carries the reason and the request without its
// customers; if that is refused too, the run is given up as ended (true),
// so that its offset is committed: never retried forever.
func (w *Worker) publishEnd(ctx context.Context, run jobs.Run) bool {
	refused := false
	for n := 1; ; n++ {
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
		_, err := w.cfg.Ledger.Publish(pctx, run)
		cancel()
		if err == nil {
			return true
		}
		if jobs.IsPermanent(err) {
			w.log.Error("the ledger refused the run's end", "run", run.ID, "status", run.Status, "error", err)
			if refused {
				return true
			}
			refused = true
			run.Status, run.Worker = jobs.StatusFailed, w.cfg.InstanceID
			run.Error = bounded("the ledger refused the run's end record: " + err.Error())
			run.Request.Scope.Customers = nil
			run.Note = ""
			continue
		}
		d := w.cfg.Jitter(backoff(n, w.cfg.BackoffBase, w.cfg.BackoffMax))
		w.log.Error("publish run end", "run", run.ID, "status", run.Status, "error", err, "retry_in", d)
		select {
		case <-ctx.Done():
			return false // not written: the offset stays, the request comes again
		case <-w.cfg.After(d):
		}
	}
}

// handBack publishes run queued again after shutdown cancelled it; its
// offset is not committed, so the next owner of the partition takes it.
// It returns false, unless a cancel was asked meanwhile: then the run ends
// cancelled and true is returned.
func (w *Worker) handBack(ctx context.Context, run jobs.Run) bool {
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
	defer cancel()
	if cur, ok := w.cfg.View.Get(run.ID); ok && cur.Request.Retry == run.Request.Retry && cur.Status == jobs.StatusCancelling {
		run.Status, run.Error, run.Note = jobs.StatusCancelled, "", "cancelled on request"
		_, err := w.cfg.Ledger.Publish(pctx, run)
		return err == nil
	}
	run.Status, run.Worker, run.Error = jobs.StatusQueued, "", ""
	run.Attempt-- // not the request's fault
	run.Note = "handed back by " + w.cfg.InstanceID + ": shutting down"
	if _, err := w.cfg.Ledger.Publish(pctx, run); err != nil {
		w.log.Error("hand back run", "run", run.ID, "error", err)
		return false
	}
	w.log.Info("run handed back", "run", run.ID)
	// If another worker ended the run meanwhile, the View ignored the hand
	// back, but compaction would keep it: write the end again after it.
	if err := w.cfg.View.Sync(pctx); err == nil {
		if cur, ok := w.cfg.View.Get(run.ID); ok && cur.Request.Retry == run.Request.Retry && cur.Status.Final() {
			if _, err := w.cfg.Ledger.Publish(pctx, cur); err != nil {
				w.log.Warn("re-publish run end after hand back", "run", run.ID, "error", err)
			}
		}
	}
	return false
}

// logOnce logs msg once per call site and run: the first time of a wait.
func logOnce(done *bool, log *slog.Logger, msg string, args ...any) {
	if !*done {
		*done = true
		log.Info(msg, args...)
	}
}
