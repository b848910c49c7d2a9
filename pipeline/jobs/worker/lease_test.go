package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/midata/midata/pipeline/jobs"
)

// TestAClaimThatFindsTheRunDecidedAfterItsLeaseDropsItAndDoesNotRun: between
// the claim's lease and the Sync after it, the run was decided elsewhere.
// The worker does not run it, answers the request as done, and drops the
// lease it wrote, so that nobody waits for it.
func TestAClaimThatFindsTheRunDecidedAfterItsLeaseDropsItAndDoesNotRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		meanwhile func(req jobs.Request) jobs.Run
	}{
		{"another worker ended the run", func(req jobs.Request) jobs.Run {
			return jobs.Run{ID: req.ID, Request: req, Status: jobs.StatusSucceeded, Worker: "wb", Attempt: 1, CreatedAt: req.CreatedAt}
		}},
		{"a later round of the run was queued", func(req jobs.Request) jobs.Run {
			next := req
			next.Retry = 1
			return jobs.Run{ID: req.ID, Request: next, Status: jobs.StatusQueued, CreatedAt: req.CreatedAt}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			exec := &countingExec{}
			h := newHarness(t, exec, nil)
			req := request("decided", "C1")
			h.queued(t, req)
			want := tt.meanwhile(req)
			h.beforeNextWrite(func() { h.publish(t, want) }) // the claim's lease is its first write

			if done := h.handle(t, req).result(t); !done {
				t.Error("handle: not done; want the request done, its run being decided")
			}
			if n := exec.calls.Load(); n != 0 {
				t.Errorf("the executor ran %d times, want never", n)
			}
			recs := h.recordsOf(t, jobs.LeaseKey(req.ID))
			if len(recs) != 2 || recs[0].Value == nil || recs[1].Value != nil {
				t.Fatalf("the lease key holds %d records, want the claim's lease then its tombstone", len(recs))
			}
			if l, ok := leaseOf(t, h.view, req.ID); ok {
				t.Errorf("lease %+v left after the claim gave way", l)
			}
			if run, _ := h.view.Get(req.ID); run.Status != want.Status || run.Request.Retry != want.Request.Retry {
				t.Errorf("run %s in round %d, want %s in round %d", run.Status, run.Request.Retry, want.Status, want.Request.Retry)
			}
		})
	}
}

// TestAClaimWhoseSyncFailsAfterItsLeaseDropsItAsTheDocsSay: a worker takes
// over the run of a dead worker (whose lease expired) and writes its
// lease; then the Sync that would confirm it fails, until the worker stops
// taking requests. It does not start the run, and the lease it wrote is
// dropped, not left live for the next worker to wait out. Before, it
// judged whether the lease was its own on the view it could not sync,
// which still showed the dead worker's lease: it kept its own.
func TestAClaimWhoseSyncFailsAfterItsLeaseDropsItAsTheDocsSay(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		fail func(h *harness, hd *handling) // in the lease write
		then func(t *testing.T, h *harness, hd *handling)
	}{
		{"the worker stops taking requests", func(h *harness, hd *handling) { hd.stopIntake() }, nil},
		{"the worker's view closes", func(h *harness, hd *handling) { h.view.Close() },
			func(t *testing.T, h *harness, hd *handling) {
				eventually(t, "the worker retries its Sync", func() bool { return h.logs.said("sync the view: deciding later") })
				hd.stopIntake()
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			exec := &countingExec{}
			h := newHarness(t, exec, nil)
			observer := h.openView(t)
			req := request("takeover", "C1")
			h.publish(t, jobs.Run{ID: req.ID, Request: req, Status: jobs.StatusRunning, Worker: "wd", Attempt: 1, CreatedAt: req.CreatedAt})
			h.otherLease(t, req, "wd")
			eventually(t, "the worker's view shows wd's lease", func() bool { l, ok := h.view.Lease(req.ID); return ok && l.Worker == "wd" })
			h.clk.Add(testLeaseTTL) // wd died: its lease expired

			var hd *handling
			armed := make(chan struct{})
			h.beforeNextWrite(func() { <-armed; tt.fail(h, hd) })
			hd = h.handle(t, req)
			close(armed)
			if tt.then != nil {
				tt.then(t, h, hd)
			}
			if done := hd.result(t); done {
				t.Error("handle: done; want the request left for the next owner")
			}
			if n := exec.calls.Load(); n != 0 {
				t.Errorf("the executor ran %d times, want never", n)
			}
			recs := h.recordsOf(t, jobs.LeaseKey(req.ID))
			if len(recs) != 3 {
				t.Fatalf("the lease key holds %d records, want wd's lease, wa's and a tombstone", len(recs))
			}
			if l, ok := leaseOf(t, observer, req.ID); ok {
				t.Errorf("lease of %s left after the claim gave up (live: %v): the next worker waits for it", l.Worker, l.Live(h.clk.Now()))
			}
		})
	}
}

// TestAFencedWorkerStopsItsRunAndWritesNothingAfter: another worker's claim
// lands after wa's lease while wa runs; wa's heartbeat sees it, ends the
// Executor's context with the lease lost, and from then on wa writes
// nothing of the run, not the outcome the Executor reported before (the
// new holder makes and reports it again), not the progress it reports
// after, not an end; it waits for the new holder's lease. Before, the
// attempt's outcomes were written at its end whatever stopped it, and a
// progress step reported after the stop was written too (the producer
// writes a record whose context already ended).
func TestAFencedWorkerStopsItsRunAndWritesNothingAfter(t *testing.T) {
	t.Parallel()
	started, cause := make(chan struct{}), make(chan error, 1)
	exec := &countingExec{do: func(ctx context.Context, req jobs.Request, rep jobs.Reporter) error {
		if err := rep.Release(ctx, release(req, "C1")); err != nil { // queued, not yet written
			return err
		}
		close(started)
		<-ctx.Done()
		cause <- context.Cause(ctx)
		rep.Progress(jobs.Progress{CustomersDone: 1, Customers: 2})
		_ = rep.Release(ctx, release(req, "C2"))
		return ctx.Err()
	}}
	h := newHarness(t, exec, nil)
	req := request("fenced", "C1", "C2")
	h.queued(t, req)
	hd := h.handle(t, req)
	select {
	case <-started:
	case <-time.After(testTimeout):
		t.Fatal("the run did not start")
	}
	before := len(h.recordsOf(t, req.ID))

	h.otherLease(t, req, "wb") // wb's claim lands after wa's
	eventually(t, "the worker's view shows wb's lease", func() bool { l, ok := h.view.Lease(req.ID); return ok && l.Worker == "wb" })
	h.tick(t)
	select {
	case err := <-cause:
		if !errors.Is(err, errLeaseLost) {
			t.Fatalf("the run's context ended with %v, want the lease lost", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("the heartbeat did not stop the run")
	}
	eventually(t, "wa waits for wb's lease", func() bool { return h.logs.said("another worker holds the run's lease") })

	if n := len(h.recordsOf(t, req.ID)); n != before {
		t.Errorf("%d run records after the fence, want none (%d before it, %d now)", n-before, before, n)
	}
	for _, c := range req.Scope.Customers {
		if recs := h.recordsOf(t, jobs.ReleaseKey(req.ID, c)); len(recs) != 0 {
			t.Errorf("the fenced attempt wrote %d outcomes of %s", len(recs), c)
		}
	}
	if l, ok := leaseOf(t, h.view, req.ID); !ok || l.Worker != "wb" {
		t.Errorf("lease %+v, %v after the fence; want wb's, neither dropped nor taken back", l, ok)
	}
	hd.stopIntake()
	if hd.result(t) {
		t.Error("handle: done; want the request left to the lease's holder")
	}
	if n := exec.calls.Load(); n != 1 {
		t.Errorf("the executor ran %d times, want once", n)
	}
}

// TestAWorkerWhoseLeaseWasTakenOverAsItsRunEndedWritesNoEnd: another
// worker's claim lands while wa's Executor finishes, before wa's next
// heartbeat could see it. wa writes no end of the run: it checks its
// lease on a synced view first, and waits for the new holder. Before, it
// wrote the end of a run another worker was running.
func TestAWorkerWhoseLeaseWasTakenOverAsItsRunEndedWritesNoEnd(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		result error
	}{
		{"the run succeeds", nil},
		{"the run fails for good", errors.New("partner key rejected")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var h *harness
			exec := &countingExec{}
			exec.do = func(ctx context.Context, req jobs.Request, _ jobs.Reporter) error {
				h.otherLease(t, req, "wb")
				eventually(t, "the worker's view shows wb's lease", func() bool { l, ok := h.view.Lease(req.ID); return ok && l.Worker == "wb" })
				return tt.result
			}
			h = newHarness(t, exec, nil)
			req := request("overtaken", "C1")
			h.queued(t, req)
			hd := h.handle(t, req)
			eventually(t, "wa waits for wb's lease or ends the request", func() bool {
				return h.logs.said("another worker holds the run's lease") || len(hd.done) > 0
			})

			for _, rec := range h.recordsOf(t, req.ID) {
				var run jobs.Run
				if err := json.Unmarshal(rec.Value, &run); err == nil && run.Status.Final() {
					t.Errorf("wa wrote the end %s of a run wb holds", run.Status)
				}
			}
			if l, ok := leaseOf(t, h.view, req.ID); !ok || l.Worker != "wb" {
				t.Errorf("lease %+v, %v; want wb's", l, ok)
			}
			hd.stopIntake()
			if hd.result(t) {
				t.Error("handle: done; want the request left to the lease's holder")
			}
		})
	}
}

// TestAClaimWhoseSyncTookTooLongWritesItsLeaseAgainBeforeItStarts: the
// Sync after the claim's lease took so long (here the clock moves on by
// the lease's TTL while the view applies the lease) that the lease would
// expire before the heartbeat's first renewal. The worker writes its lease
// again and starts only once a Sync shows it, so that the run starts under
// a live lease on every view. Before, it started under the lease it wrote
// first, expired by then: another worker could take the run over at once.
func TestAClaimWhoseSyncTookTooLongWritesItsLeaseAgainBeforeItStarts(t *testing.T) {
	t.Parallel()
	var h *harness
	live := make(chan bool, 1)
	exec := &countingExec{do: func(_ context.Context, req jobs.Request, _ jobs.Reporter) error {
		l, ok := h.view.Lease(req.ID)
		live <- ok && l.Worker == "wa" && l.Live(h.clk.Now())
		return nil
	}}
	h = newHarness(t, exec, nil)
	req := request("slow-sync", "C1")
	h.queued(t, req)
	h.beforeNextWrite(func() { h.asNextApplied(func() { h.clk.Add(testLeaseTTL) }) })
	hd := h.handle(t, req)
	select {
	case ok := <-live:
		if !ok {
			t.Error("the run started under a lease that is not live")
		}
	case <-time.After(testTimeout):
		t.Fatal("the run did not start")
	}
	if !hd.result(t) {
		t.Error("handle: not done")
	}
	if n := len(h.recordsOf(t, jobs.LeaseKey(req.ID))); n != 3 {
		t.Errorf("the lease key holds %d records, want 3: the lease, again, and its tombstone", n)
	}
}

// TestAWorkerFencedWhileItWaitsToRetryStartsNoOtherAttempt: an attempt
// fails with a transient error and the worker waits its backoff; another
// worker's claim lands meanwhile and the heartbeat sees it. The worker
// makes no further attempt and writes no end: it waits for the holder.
func TestAWorkerFencedWhileItWaitsToRetryStartsNoOtherAttempt(t *testing.T) {
	t.Parallel()
	const backoff = 2 * testLeaseInterval // distinct from every other wait of the harness
	failed := make(chan struct{}, 1)
	exec := &countingExec{do: func(context.Context, jobs.Request, jobs.Reporter) error {
		failed <- struct{}{}
		return fmt.Errorf("store did not answer: %w", jobs.ErrTransient)
	}}
	h := newHarness(t, exec, func(c *Config) {
		c.BackoffBase, c.BackoffMax = backoff, backoff
		c.Jitter = func(d time.Duration) time.Duration { return d }
	})
	req := request("backoff", "C1")
	h.queued(t, req)
	hd := h.handle(t, req)
	<-failed
	eventually(t, "the worker publishes its retry", func() bool {
		r, _ := h.view.Get(req.ID)
		return strings.Contains(r.Note, "retrying")
	})
	h.otherLease(t, req, "wb")
	eventually(t, "the worker's view shows wb's lease", func() bool { l, ok := h.view.Lease(req.ID); return ok && l.Worker == "wb" })
	h.tick(t)
	eventually(t, "wa waits for wb's lease", func() bool { return h.logs.said("another worker holds the run's lease") })
	if n := exec.calls.Load(); n != 1 {
		t.Errorf("the executor ran %d times, want once", n)
	}
	if r, _ := h.view.Get(req.ID); r.Status.Final() {
		t.Errorf("wa ended the run %s", r.Status)
	}
	hd.stopIntake()
	if hd.result(t) {
		t.Error("handle: done; want the request left to the lease's holder")
	}
}
