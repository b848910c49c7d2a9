package worker

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/midata/midata/pipeline/jobs"
)

// errLeaseLost is the cause of a run's context when its worker no longer
// holds the run's lease: another worker's lease of the round came after
// its own, or no renewal succeeded for about the TTL, so another may have
// taken the run over. The worker stops the run without writing a step or
// an end of it (self-fencing) and decides on the request again.
var errLeaseLost = errors.New("lease lost")

// claim decides on request req before it runs. It skips a request of an
// earlier round, and answers a duplicate of an ended run with its end
// again (decided, done: whether that end is written). While another worker
// holds a live lease on the run it waits, not committing (until intake
// ends: decided, not done). ctx bounds the writes. Otherwise it claims the
// run: it publishes its own lease, syncs the view and checks that no other
// claim came after (the latest lease of a key wins, on every view alike),
// and returns the run to start from and when it wrote the lease. It
// decides only on a synced view and starts only with its lease written,
// recently enough that the heartbeat's first renewal lands before the
// lease expires (less than LeaseTTL − LeaseInterval before; when the
// Syncs since took longer, or failed, it writes the lease again). A
// failed Sync or lease write is tried again after a backoff. A lease it
// wrote but does not run under is dropped, also when the view could not
// be synced after it (intake ended meanwhile), unless the view shows that
// another claim came after.
func (w *Worker) claim(intake, ctx context.Context, log *slog.Logger, req jobs.Request) (run jobs.Run, leased time.Time, decided, done bool) {
	var waited, claimed bool
	var prior jobs.Lease // the view's lease on the run when the claim wrote its own
	failures := 0
	defer func() {
		if claimed && decided {
			w.dropOwnLease(ctx, req, prior)
		}
	}()
	// retry waits after a failed Sync or lease write; false: intake ended.
	retry := func(what string, err error) bool {
		if intake.Err() != nil {
			return false
		}
		failures++
		d := w.cfg.Jitter(backoff(failures, w.cfg.BackoffBase, w.cfg.BackoffMax))
		log.Warn(what+": deciding later", "error", err, "retry_in", d)
		select {
		case <-intake.Done():
			return false
		case <-w.cfg.After(d):
			return true
		}
	}
	for {
		sctx, cancel := context.WithTimeout(intake, syncTimeout)
		err := w.cfg.View.Sync(sctx)
		cancel()
		if err != nil {
			if !retry("sync the view", err) {
				return jobs.Run{}, leased, true, false // not started: the offset stays for the next owner
			}
			continue
		}
		cur, ok := w.cfg.View.Get(req.ID)
		switch {
		case ok && cur.Request.Retry > req.Retry:
			log.Info("skip request of an earlier round", "run_retry", cur.Request.Retry)
			return jobs.Run{}, leased, true, true
		case ok && cur.Request.Retry == req.Retry && cur.Status.Final():
			log.Info("skip duplicate request of an ended run", "status", cur.Status)
			return jobs.Run{}, leased, true, w.publishEnd(ctx, cur) // keep the end the latest record of the key
		}
		if l, held := w.leasedElsewhere(req); held {
			claimed = false // another claim came after this one's: it is not ours to drop
			logOnce(&waited, log, "wait: another worker holds the run's lease", "holder", l.Worker, "lease_ttl", l.TTL)
			select {
			case <-intake.Done():
				return jobs.Run{}, leased, true, false // not started: the offset stays for the next owner
			case <-w.cfg.After(max(w.cfg.LeaseInterval/4, 10*time.Millisecond)):
			}
			continue
		}
		if !claimed || w.cfg.Now().Sub(leased) >= w.cfg.LeaseTTL-w.cfg.LeaseInterval {
			prior, _ = w.cfg.View.Lease(req.ID)
			at := w.cfg.Now()
			pctx, cancel := context.WithTimeout(ctx, publishTimeout)
			err := w.cfg.Ledger.PublishLease(pctx, w.lease(req))
			cancel()
			if err != nil {
				if !retry("publish lease", err) {
					return jobs.Run{}, leased, true, false
				}
				continue
			}
			claimed, leased = true, at
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
		return run, leased, false, false
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

// takenOver reports whether the view's lease on req's run is another
// worker's, of req's round or a later one: a claim written after this
// worker's last heartbeat, live or not.
func (w *Worker) takenOver(req jobs.Request) (jobs.Lease, bool) {
	l, ok := w.cfg.View.Lease(req.ID)
	return l, ok && l.Worker != w.cfg.InstanceID && l.Retry >= req.Retry
}

// heartbeat renews the lease on req's run, written at leased, every
// LeaseInterval until the returned stop is called (which waits for it) or
// ctx ends. On each tick it first checks that the lease is still this
// worker's: when another worker's lease came after its own (checked again
// after a Sync, so that of two holders exactly one gives way), or when no
// renewal succeeded for LeaseTTL, it calls lost with errLeaseLost and
// stops.
func (w *Worker) heartbeat(ctx context.Context, req jobs.Request, leased time.Time, lost context.CancelCauseFunc) (stop func()) {
	hctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	renewed := leased
	wg.Go(func() {
		for {
			select {
			case <-hctx.Done():
				return
			case <-w.cfg.After(w.cfg.LeaseInterval):
			}
			if l, ok := w.takenOver(req); ok {
				sctx, cancel := context.WithTimeout(hctx, w.cfg.LeaseInterval)
				err := w.cfg.View.Sync(sctx)
				cancel()
				if l, ok = w.takenOver(req); ok && err == nil {
					w.log.Warn("lease lost: another worker claimed the run; stopping it", "run", req.ID, "holder", l.Worker)
					lost(errLeaseLost)
					return
				}
			}
			since := w.cfg.Now().Sub(renewed)
			if since >= w.cfg.LeaseTTL {
				w.log.Warn("lease lost: no renewal succeeded for the lease ttl; stopping the run", "run", req.ID, "since", since, "lease_ttl", w.cfg.LeaseTTL)
				lost(errLeaseLost)
				return
			}
			at := w.cfg.Now()
			// A renewal ends by the time the lease would expire: then the run stops.
			pctx, cancel := context.WithTimeout(hctx, w.cfg.LeaseTTL-since)
			err := w.cfg.Ledger.PublishLease(pctx, w.lease(req))
			cancel()
			switch {
			case err == nil:
				renewed = at
			case hctx.Err() == nil:
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

// dropOwnLease drops the lease on req's run that claim wrote, unless the
// view shows another worker's lease written after it (then the lease is
// not this worker's to drop): one other than prior, the lease the view
// showed when the claim wrote its own. A view the claim could not sync
// may still show prior, which came before: the lease is dropped all the
// same, not left live for the next worker to wait out.
func (w *Worker) dropOwnLease(ctx context.Context, req jobs.Request, prior jobs.Lease) {
	if l, other := w.takenOver(req); !other || sameLease(l, prior) {
		w.dropLease(ctx, req.ID)
	}
}

// sameLease reports whether a and b are one heartbeat of one holder.
func sameLease(a, b jobs.Lease) bool {
	return a.RunID == b.RunID && a.Worker == b.Worker && a.Retry == b.Retry && a.At.Equal(b.At)
}
