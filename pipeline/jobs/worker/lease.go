package worker

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/midata/midata/pipeline/jobs"
)

// claim decides on request req before it runs. It skips a request of an
// earlier round, and answers a duplicate of an ended run with its end
// again (decided, done: whether that end is written). While another worker
// holds a live lease on the run it waits, not committing (until intake
// ends: decided, not done). ctx bounds the writes. Otherwise it claims the run: it publishes its
// own lease, syncs the view and checks that no other claim came after
// (the latest lease of a key wins, on every view alike), and returns the
// run to start from.
func (w *Worker) claim(intake, ctx context.Context, log *slog.Logger, req jobs.Request) (run jobs.Run, decided, done bool) {
	var waited, claimed bool
	for {
		sctx, cancel := context.WithTimeout(intake, syncTimeout)
		if err := w.cfg.View.Sync(sctx); err != nil && intake.Err() == nil {
			log.Warn("decide on a view that may be behind", "error", err)
		}
		cancel()
		cur, ok := w.cfg.View.Get(req.ID)
		switch {
		case ok && cur.Request.Retry > req.Retry:
			log.Info("skip request of an earlier round", "run_retry", cur.Request.Retry)
			return jobs.Run{}, true, true
		case ok && cur.Request.Retry == req.Retry && cur.Status.Final():
			log.Info("skip duplicate request of an ended run", "status", cur.Status)
			return jobs.Run{}, true, w.publishEnd(ctx, cur) // keep the end the latest record of the key
		}
		if l, held := w.leasedElsewhere(req); held {
			claimed = false
			logOnce(&waited, log, "wait: another worker holds the run's lease", "holder", l.Worker, "lease_ttl", l.TTL)
			select {
			case <-intake.Done():
				return jobs.Run{}, true, false // not started: the offset stays for the next owner
			case <-w.cfg.After(max(w.cfg.LeaseInterval/4, 10*time.Millisecond)):
			}
			continue
		}
		if !claimed {
			claimed = true
			if err := w.cfg.Ledger.PublishLease(ctx, w.lease(req)); err != nil {
				log.Warn("publish lease", "error", err)
				if intake.Err() != nil {
					return jobs.Run{}, true, false
				}
			}
			continue // sync again: a claim written after this one wins
		}
		if waited {
			log.Info("the other worker's lease expired: taking the run over", "attempts_so_far", cur.Attempt)
		}
		run = jobs.Run{ID: req.ID, Request: req, Status: jobs.StatusQueued, CreatedAt: req.CreatedAt}
		if ok && cur.Request.Retry == req.Retry {
			run = cur
			run.Request = req
		}
		return run, false, false
	}
}

// lease is this worker's lease on req's run.
func (w *Worker) lease(req jobs.Request) jobs.Lease {
	return jobs.Lease{RunID: req.ID, Retry: req.Retry, Worker: w.cfg.InstanceID, TTL: w.cfg.LeaseTTL}
}

// leasedElsewhere returns the lease on req's run when another worker holds
// it, live, in req's round.
func (w *Worker) leasedElsewhere(req jobs.Request) (jobs.Lease, bool) {
	l, ok := w.cfg.View.Lease(req.ID)
	if !ok || l.Worker == w.cfg.InstanceID || l.Retry != req.Retry || !l.Live(w.cfg.Now()) {
		return jobs.Lease{}, false
	}
	return l, true
}

// heartbeat renews the lease on req's run every LeaseInterval until the
// returned stop is called (which waits for it) or ctx ends.
func (w *Worker) heartbeat(ctx context.Context, req jobs.Request) (stop func()) {
	hctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-hctx.Done():
				return
			case <-w.cfg.After(w.cfg.LeaseInterval):
			}
			if err := w.cfg.Ledger.PublishLease(hctx, w.lease(req)); err != nil && hctx.Err() == nil {
				w.log.Warn("renew lease", "run", req.ID, "error", err)
			}
		}
	})
	return func() {
		cancel()
		wg.Wait()
	}
}

// dropLease ends the lease on run id: the next worker need not wait.
func (w *Worker) dropLease(ctx context.Context, id string) {
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
	defer cancel()
	if err := w.cfg.Ledger.DropLease(pctx, id); err != nil {
		w.log.Warn("drop lease", "run", id, "error", err)
	}
}
