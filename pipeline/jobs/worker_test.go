package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/pipeline/jobs"
	"github.com/midata/midata/pipeline/jobs/worker"
	"github.com/midata/midata/schemas"
)

func TestSubmittedRequestRunsOnceAndSucceedsWithItsReleases(t *testing.T) {
	b := newBench(t)
	inst := b.newInstance(t)
	exec := &fakeExec{do: func(_ context.Context, req jobs.Request, report func(jobs.Progress)) ([]jobs.Release, error) {
		report(jobs.Progress{CustomersDone: 1, Customers: 1})
		return releasesOf(req), nil
	}}
	b.startWorker(t, inst, testbench.UniqueName(t, "g"), "w1", exec, nil)

	req := request("r-1", "C001")
	queued, err := inst.queue.Submit(t.Context(), req)
	if err != nil {
		t.Fatalf("Submit: %v", err)
	}
	if queued.ID != "r-1" || queued.Request.Scope.Customers[0] != "C001" {
		t.Fatalf("Submit returned %+v", queued)
	}
	if queued.CreatedAt.IsZero() {
		t.Errorf("Submit returned a run without CreatedAt")
	}
	run := await(t, inst.view, "r-1")
	if run.Status != jobs.StatusSucceeded {
		t.Fatalf("status %s (error %q), want succeeded", run.Status, run.Error)
	}
	if got := outcomes(inst.view, "r-1"); !slices.Equal(got, outcomesOf(req)) {
		t.Errorf("releases %+v, want %+v", got, outcomesOf(req))
	}
	if run.Counts != (jobs.Counts{Releases: 1, Committed: 1, Rows: 3}) {
		t.Errorf("counts %+v, want one committed release of 3 rows", run.Counts)
	}
	if run.Attempt != 1 || run.Worker != "w1" {
		t.Errorf("attempt %d worker %q, want 1 w1", run.Attempt, run.Worker)
	}
	if run.Progress.CustomersDone != 1 {
		t.Errorf("progress %+v, want the last one reported", run.Progress)
	}
	if n := exec.callsOf("r-1"); n != 1 {
		t.Errorf("executor called %d times, want 1", n)
	}
	// The ledger recorded queued, running and one end, in that order.
	var statuses []jobs.Status
	for _, r := range b.records(t)["r-1"] {
		if len(statuses) == 0 || statuses[len(statuses)-1] != r.Status {
			statuses = append(statuses, r.Status)
		}
	}
	if want := []jobs.Status{jobs.StatusQueued, jobs.StatusRunning, jobs.StatusSucceeded}; !slices.Equal(statuses, want) {
		t.Errorf("ledger statuses %v, want %v", statuses, want)
	}
}

func TestDuplicatesOfOneRequestIDMakeOneRunAndOneExecution(t *testing.T) {
	b := newBench(t)
	a, c := b.newInstance(t), b.newInstance(t) // two instances of midata serve
	exec := &fakeExec{}
	b.startWorker(t, a, testbench.UniqueName(t, "g"), "w1", exec, nil)

	// Both instances submit the same ids at once, and again afterwards.
	ids := []string{"sched-1@2026-02-01T00:00:00Z", "sched-2@2026-02-01T00:00:00Z", "key-3"}
	var wg sync.WaitGroup
	for _, inst := range []*instance{a, c, a, c} {
		for _, id := range ids {
			wg.Go(func() {
				if _, err := inst.queue.Submit(t.Context(), request(id, "C1")); err != nil {
					t.Errorf("Submit %s: %v", id, err)
				}
			})
		}
	}
	wg.Wait()
	for _, id := range ids {
		if run := await(t, a.view, id); run.Status != jobs.StatusSucceeded {
			t.Errorf("run %s %s, want succeeded", id, run.Status)
		}
	}
	// Submitting an ended run returns it and runs nothing.
	again, err := c.queue.Submit(t.Context(), request(ids[0], "C1"))
	if err != nil || again.Status != jobs.StatusSucceeded {
		t.Errorf("Submit of an ended run: %+v, %v; want it succeeded", again, err)
	}

	// A late duplicate, as from an instance whose view was behind: a queued
	// event after the end, then the request. Views keep the end, the worker
	// skips it and writes the end again so compaction keeps the end.
	late := request(ids[1], "C1")
	if _, err := a.ledger.Publish(t.Context(), jobs.Run{ID: late.ID, Request: late, Status: jobs.StatusQueued}); err != nil {
		t.Fatal(err)
	}
	marker := request("marker", "C1")
	for _, req := range []jobs.Request{late, marker} {
		if err := publishRawRequest(t, b, req); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.view.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if r, _ := a.view.Get(late.ID); r.Status != jobs.StatusSucceeded {
		t.Errorf("after a late queued event the view shows %s, want succeeded kept", r.Status)
	}
	eventually(t, "the late duplicate is answered by the end again", func() bool {
		rs := b.records(t)[late.ID]
		return rs[len(rs)-1].Status == jobs.StatusSucceeded
	})

	for _, id := range ids {
		if n := exec.callsOf(id); n != 1 {
			t.Errorf("executor ran %s %d times, want once (one worker, no rebalance)", id, n)
		}
	}
	// A fresh instance, and compaction (the latest record of each key),
	// agree.
	fresh := b.openView(t)
	records := b.records(t)
	for _, id := range ids {
		if r, _ := fresh.Get(id); r.Status != jobs.StatusSucceeded {
			t.Errorf("fresh view: run %s %s, want succeeded", id, r.Status)
		}
		if last := records[id][len(records[id])-1]; last.Status != jobs.StatusSucceeded {
			t.Errorf("latest record of %s is %s, want succeeded", id, last.Status)
		}
	}
	if got := len(fresh.List(jobs.RunFilter{Customer: "C1"})); got != len(ids)+1 {
		t.Errorf("fresh view lists %d runs, want %d", got, len(ids)+1)
	}
}

func TestTwoWorkersShareTwentyRequestsAndEachEndsOnce(t *testing.T) {
	b := newBench(t)
	group := testbench.UniqueName(t, "g")
	a, c := b.newInstance(t), b.newInstance(t)
	exec := &fakeExec{}
	b.startWorker(t, a, group, "wa", exec, nil)
	b.startWorker(t, c, group, "wc", exec, nil)
	b.waitMembers(t, group, 2)

	var ids []string
	for i := range 20 {
		id := fmt.Sprintf("share-%02d", i)
		ids = append(ids, id)
		inst := []*instance{a, c}[i%2]
		if _, err := inst.queue.Submit(t.Context(), request(id, fmt.Sprintf("C%02d", i))); err != nil {
			t.Fatalf("Submit: %v", err)
		}
	}
	workers := map[string]int{}
	for _, id := range ids {
		run := await(t, a.view, id)
		if run.Status != jobs.StatusSucceeded {
			t.Errorf("run %s %s, want succeeded", id, run.Status)
		}
		workers[run.Worker]++
	}
	if len(workers) != 2 {
		t.Errorf("runs by worker %v, want both workers to take some", workers)
	}
	for id, n := range finals(b.records(t)) {
		if n != 1 {
			t.Errorf("run %s has %d final events, want 1", id, n)
		}
	}
	for _, id := range ids {
		if n := exec.callsOf(id); n != 1 {
			t.Errorf("executor ran %s %d times, want once in a stable group", id, n)
		}
	}
}

func TestTransientErrorsAreRetriedWithExponentialBackoff(t *testing.T) {
	tests := []struct {
		name        string
		failures    int // transient failures before success
		maxAttempts int
		wantStatus  jobs.Status
		wantCalls   int
		wantBackoff []time.Duration // the jitter bounds asked for
		permanent   bool            // the failures are also jobs.Permanent
	}{
		{"a run that fails twice then works succeeds at attempt three", 2, 5, jobs.StatusSucceeded, 3,
			[]time.Duration{time.Millisecond, 2 * time.Millisecond}, false},
		{"a run that keeps failing fails after max attempts, backoff capped", 100, 5, jobs.StatusFailed, 5,
			[]time.Duration{time.Millisecond, 2 * time.Millisecond, 4 * time.Millisecond, 4 * time.Millisecond}, false},
		{"a permanent error fails the run at once, though it wraps ErrTransient", 100, 5, jobs.StatusFailed, 1, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBench(t)
			inst := b.newInstance(t)
			exec := &fakeExec{}
			exec.do = func(_ context.Context, req jobs.Request, _ func(jobs.Progress)) ([]jobs.Release, error) {
				if exec.callsOf(req.ID) <= tt.failures {
					err := fmt.Errorf("read partition 3: broker not answering: %w", jobs.ErrTransient)
					if tt.permanent {
						err = jobs.Permanent(err)
					}
					return nil, err
				}
				return releasesOf(req), nil
			}
			var mu sync.Mutex
			var asked []time.Duration
			b.startWorker(t, inst, testbench.UniqueName(t, "g"), "w1", exec, func(c *worker.Config) {
				c.MaxAttempts = tt.maxAttempts
				c.BackoffBase, c.BackoffMax = time.Millisecond, 4*time.Millisecond
				c.Jitter = func(d time.Duration) time.Duration {
					mu.Lock()
					defer mu.Unlock()
					asked = append(asked, d)
					return d
				}
			})
			if _, err := inst.queue.Submit(t.Context(), request("flaky", "C1")); err != nil {
				t.Fatal(err)
			}
			run := await(t, inst.view, "flaky")
			if run.Status != tt.wantStatus || run.Attempt != tt.wantCalls {
				t.Errorf("run %s at attempt %d, want %s at %d (error %q)", run.Status, run.Attempt, tt.wantStatus, tt.wantCalls, run.Error)
			}
			if tt.wantStatus == jobs.StatusFailed && run.Error != "read partition 3: broker not answering: transient" {
				t.Errorf("error %q, want the last reason", run.Error)
			}
			if n := exec.callsOf("flaky"); n != tt.wantCalls {
				t.Errorf("executor called %d times, want %d", n, tt.wantCalls)
			}
			mu.Lock()
			defer mu.Unlock()
			if !slices.Equal(asked, tt.wantBackoff) {
				t.Errorf("backoff bounds %v, want %v", asked, tt.wantBackoff)
			}
		})
	}
}

func TestPermanentErrorFailsTheRunWithItsReason(t *testing.T) {
	b := newBench(t)
	inst := b.newInstance(t)
	exec := &fakeExec{do: func(context.Context, jobs.Request, func(jobs.Progress)) ([]jobs.Release, error) {
		return nil, fmt.Errorf("deliver to partner:p1: %w", errPermanent)
	}}
	b.startWorker(t, inst, testbench.UniqueName(t, "g"), "w1", exec, nil)
	if _, err := inst.queue.Submit(t.Context(), request("bad", "C1")); err != nil {
		t.Fatal(err)
	}
	run := await(t, inst.view, "bad")
	if run.Status != jobs.StatusFailed || run.Error != "deliver to partner:p1: partner key rejected" || run.Attempt != 1 {
		t.Errorf("run %s attempt %d error %q, want failed at 1 with the reason", run.Status, run.Attempt, run.Error)
	}
	if n := exec.callsOf("bad"); n != 1 {
		t.Errorf("executor called %d times, want 1", n)
	}
}

func TestExecutorPanicFailsTheRunAndTheWorkerGoesOn(t *testing.T) {
	b := newBench(t)
	inst := b.newInstance(t)
	exec := &fakeExec{}
	exec.do = func(_ context.Context, req jobs.Request, _ func(jobs.Progress)) ([]jobs.Release, error) {
		if req.ID == "boom" {
			panic("nil map")
		}
		return releasesOf(req), nil
	}
	b.startWorker(t, inst, testbench.UniqueName(t, "g"), "w1", exec, nil)
	for _, id := range []string{"boom", "after"} {
		if _, err := inst.queue.Submit(t.Context(), request(id, "C1")); err != nil {
			t.Fatal(err)
		}
	}
	if run := await(t, inst.view, "boom"); run.Status != jobs.StatusFailed || run.Error != "executor panicked: nil map" {
		t.Errorf("run %s error %q, want failed: executor panicked", run.Status, run.Error)
	}
	if run := await(t, inst.view, "after"); run.Status != jobs.StatusSucceeded {
		t.Errorf("next run %s, want succeeded", run.Status)
	}
}

func TestCancelStopsABlockedExecutorAndTheRunEndsCancelled(t *testing.T) {
	b := newBench(t)
	inst := b.newInstance(t)
	started, sawDone := make(chan string, 1), make(chan error, 1)
	exec := &fakeExec{do: blockUntilCancelled(started, sawDone)}
	b.startWorker(t, inst, testbench.UniqueName(t, "g"), "w1", exec, nil)

	if _, err := inst.queue.Submit(t.Context(), request("long", "C1")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(testTimeout):
		t.Fatal("executor not started")
	}
	asked, err := inst.queue.Cancel(t.Context(), "long")
	if err != nil || (asked.Status != jobs.StatusCancelling && asked.Status != jobs.StatusCancelled) {
		t.Fatalf("Cancel: %+v, %v; want it cancelling or cancelled", asked, err)
	}
	select {
	case cause := <-sawDone:
		if cause == nil {
			t.Error("executor's context ended without a cause")
		}
	case <-time.After(testTimeout):
		t.Fatal("executor's context not cancelled")
	}
	run := await(t, inst.view, "long")
	if run.Status != jobs.StatusCancelled || run.Counts.Releases != 0 {
		t.Errorf("run %s with counts %+v, want cancelled with none", run.Status, run.Counts)
	}
	if n := exec.callsOf("long"); n != 1 {
		t.Errorf("executor called %d times, want 1 (a cancel is not retried)", n)
	}
	if _, err := inst.queue.Cancel(t.Context(), "long"); !errors.Is(err, jobs.ErrConflict) {
		t.Errorf("Cancel of a cancelled run: %v, want ErrConflict", err)
	}
	if _, err := inst.queue.Cancel(t.Context(), "nope"); !errors.Is(err, jobs.ErrNotFound) {
		t.Errorf("Cancel of an unknown run: %v, want ErrNotFound", err)
	}
}

func TestARunCancelledBeforeAWorkerTakesItNeverRuns(t *testing.T) {
	b := newBench(t)
	inst := b.newInstance(t)
	if _, err := inst.queue.Submit(t.Context(), request("early", "C1")); err != nil {
		t.Fatal(err)
	}
	if r, err := inst.queue.Cancel(t.Context(), "early"); err != nil || r.Status != jobs.StatusCancelling {
		t.Fatalf("Cancel: %+v, %v", r, err)
	}
	exec := &fakeExec{}
	b.startWorker(t, inst, testbench.UniqueName(t, "g"), "w1", exec, nil)
	if run := await(t, inst.view, "early"); run.Status != jobs.StatusCancelled {
		t.Errorf("run %s, want cancelled", run.Status)
	}
	if n := exec.total(); n != 0 {
		t.Errorf("executor called %d times, want never", n)
	}
}

func TestRetryRunsAFailedRunAgainUnderTheSameID(t *testing.T) {
	b := newBench(t)
	inst := b.newInstance(t)
	exec := &fakeExec{}
	exec.do = func(_ context.Context, req jobs.Request, _ func(jobs.Progress)) ([]jobs.Release, error) {
		if req.Retry == 0 {
			return nil, errPermanent
		}
		return releasesOf(req), nil
	}
	b.startWorker(t, inst, testbench.UniqueName(t, "g"), "w1", exec, nil)
	if _, err := inst.queue.Submit(t.Context(), request("again", "C1")); err != nil {
		t.Fatal(err)
	}
	if run := await(t, inst.view, "again"); run.Status != jobs.StatusFailed {
		t.Fatalf("first round %s, want failed", run.Status)
	}
	queued, err := inst.queue.Retry(t.Context(), "again")
	if err != nil || queued.Status != jobs.StatusQueued || queued.Request.Retry != 1 || queued.Attempt != 0 {
		t.Fatalf("Retry: %+v, %v; want queued in round 1", queued, err)
	}
	run := await(t, inst.view, "again")
	if run.Status != jobs.StatusSucceeded || run.Request.Retry != 1 || run.Attempt != 1 || run.Error != "" {
		t.Errorf("second round: %s retry %d attempt %d error %q, want succeeded in round 1 at attempt 1",
			run.Status, run.Request.Retry, run.Attempt, run.Error)
	}
	if n := exec.callsOf("again"); n != 2 {
		t.Errorf("executor called %d times, want 2 (one per round)", n)
	}
	if _, err := inst.queue.Retry(t.Context(), "again"); !errors.Is(err, jobs.ErrConflict) {
		t.Errorf("Retry of a succeeded run: %v, want ErrConflict", err)
	}
	if _, err := inst.queue.Retry(t.Context(), "nope"); !errors.Is(err, jobs.ErrNotFound) {
		t.Errorf("Retry of an unknown run: %v, want ErrNotFound", err)
	}
	// The first round's message, seen again (a rebalance), is stale.
	first := request("again", "C1")
	if err := publishRawRequest(t, b, first); err != nil {
		t.Fatal(err)
	}
	if err := publishRawRequest(t, b, request("marker", "C1")); err != nil {
		t.Fatal(err)
	}
	await(t, inst.view, "marker")
	if n := exec.callsOf("again"); n != 2 {
		t.Errorf("executor called %d times after a stale message, want still 2", n)
	}
}

func TestShutdownHandsTheRunBackAndAnotherWorkerFinishesIt(t *testing.T) {
	b := newBench(t)
	group := testbench.UniqueName(t, "g")
	inst := b.newInstance(t)
	started, sawDone := make(chan string, 1), make(chan error, 1)
	first := b.startWorker(t, inst, group, "wa", &fakeExec{do: blockUntilCancelled(started, sawDone)},
		func(c *worker.Config) { c.DrainTimeout = 50 * time.Millisecond })

	if _, err := inst.queue.Submit(t.Context(), request("handoff", "C1")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(testTimeout):
		t.Fatal("executor not started")
	}
	if err := first.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	select {
	case <-sawDone:
	default:
		t.Error("Run returned but the executor's context was not cancelled")
	}
	back := waitRun(t, inst.view, "handoff", "handed back", func(r jobs.Run) bool { return r.Status == jobs.StatusQueued })
	if back.Note != "handed back by wa: shutting down" || back.Worker != "" {
		t.Errorf("handed back run: note %q worker %q", back.Note, back.Worker)
	}

	exec := &fakeExec{}
	b.startWorker(t, inst, group, "wb", exec, nil)
	run := await(t, inst.view, "handoff")
	if run.Status != jobs.StatusSucceeded || run.Worker != "wb" || run.Attempt != 1 {
		t.Errorf("run %s by %q at attempt %d, want succeeded by wb at 1 (a hand back does not count)", run.Status, run.Worker, run.Attempt)
	}
	if n := exec.callsOf("handoff"); n != 1 {
		t.Errorf("second worker ran it %d times, want 1", n)
	}
}

func TestShutdownLetsARunFinishWithinTheDrainTimeoutAndCommitsIt(t *testing.T) {
	b := newBench(t)
	group := testbench.UniqueName(t, "g")
	inst := b.newInstance(t)
	started, release := make(chan struct{}, 1), make(chan struct{})
	exec := &fakeExec{do: func(ctx context.Context, req jobs.Request, _ func(jobs.Progress)) ([]jobs.Release, error) {
		started <- struct{}{}
		select {
		case <-release:
			return releasesOf(req), nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}}
	first := b.startWorker(t, inst, group, "wa", exec, nil)
	if _, err := inst.queue.Submit(t.Context(), request("drain", "C1")); err != nil {
		t.Fatal(err)
	}
	<-started
	first.cancel()
	// The run in flight is let finish: were its context cancelled, it
	// would be handed back instead.
	close(release)
	if err := first.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	// Run returned after the end was on the ledger.
	if err := inst.view.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if run, _ := inst.view.Get("drain"); run.Status != jobs.StatusSucceeded {
		t.Fatalf("run %s (note %q) when Run returned, want succeeded", run.Status, run.Note)
	}
	// Its offset was committed: the next worker of the group does not see it.
	next := &fakeExec{}
	b.startWorker(t, inst, group, "wb", next, nil)
	if _, err := inst.queue.Submit(t.Context(), request("marker", "C1")); err != nil {
		t.Fatal(err)
	}
	await(t, inst.view, "marker")
	if n := next.callsOf("drain"); n != 0 {
		t.Errorf("the next worker ran the drained run %d times, want 0", n)
	}
}

func TestBulkRequestsWaitingForTheirTasksDoNotDeadlockAWorker(t *testing.T) {
	b := newBench(t)
	inst := b.newInstance(t)
	exec := &fakeExec{}
	exec.do = func(ctx context.Context, req jobs.Request, report func(jobs.Progress)) ([]jobs.Release, error) {
		if req.Kind != jobs.KindBulk {
			return releasesOf(req), nil
		}
		var done int64
		for p := range 3 {
			task := req
			task.Kind, task.Parent, task.Partition = jobs.KindTask, req.ID, p
			task.ID = fmt.Sprintf("%s/p%d", req.ID, p)
			task.Scope = schemas.Scope{Customers: []string{fmt.Sprintf("C%d", p)}}
			if _, err := inst.queue.Submit(ctx, task); err != nil {
				return nil, err
			}
		}
		for p := range 3 {
			run, err := inst.queue.Await(ctx, fmt.Sprintf("%s/p%d", req.ID, p))
			if err != nil {
				return nil, err
			}
			done += run.Counts.Releases
			report(jobs.Progress{CustomersDone: done})
		}
		return nil, nil
	}
	// One slot for tasks and one for bulk runs: three bulk runs at once
	// would deadlock if they took the task slot.
	b.startWorker(t, inst, testbench.UniqueName(t, "g"), "w1", exec, func(c *worker.Config) {
		c.Concurrency, c.BulkConcurrency = 1, 1
	})
	for i := range 3 {
		req := jobs.Request{ID: fmt.Sprintf("bulk-%d", i), Kind: jobs.KindBulk, Recipient: "partner:p1", Scope: schemas.Scope{All: true}}
		if _, err := inst.queue.Submit(t.Context(), req); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		run := await(t, inst.view, fmt.Sprintf("bulk-%d", i))
		if got := len(outcomes(inst.view, run.ID)); run.Status != jobs.StatusSucceeded || got != 3 || run.Progress.CustomersDone != 3 {
			t.Errorf("bulk %d: %s with %d releases (progress %+v), want succeeded with 3, recorded by its tasks", i, run.Status, got, run.Progress)
		}
	}
}

func TestAllReleasesWithoutConsentEndTheRunNoConsent(t *testing.T) {
	b := newBench(t)
	inst := b.newInstance(t)
	exec := &fakeExec{do: func(_ context.Context, req jobs.Request, _ func(jobs.Progress)) ([]jobs.Release, error) {
		var out []jobs.Release
		for _, c := range req.Scope.Customers {
			out = append(out, jobs.Release{CustomerID: c, Status: "no_consent", Reason: "no grant for partner:p1"})
		}
		return out, nil
	}}
	b.startWorker(t, inst, testbench.UniqueName(t, "g"), "w1", exec, nil)
	req := request("nc", "C1")
	req.Scope.Customers = []string{"C1", "C2"}
	if _, err := inst.queue.Submit(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	if run := await(t, inst.view, "nc"); run.Status != jobs.StatusNoConsent || run.Counts.NoConsent != 2 {
		t.Errorf("run %s with counts %+v, want no_consent with 2", run.Status, run.Counts)
	}
}

func TestProgressIsOnTheLedgerWhileTheRunRuns(t *testing.T) {
	b := newBench(t)
	inst := b.newInstance(t)
	proceed := make(chan struct{})
	exec := &fakeExec{do: func(ctx context.Context, req jobs.Request, report func(jobs.Progress)) ([]jobs.Release, error) {
		report(jobs.Progress{RecordsScanned: 10, RecordsToScan: 100})
		report(jobs.Progress{RecordsScanned: 20, RecordsToScan: 100}) // within ProgressInterval: kept, not published
		select {
		case <-proceed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return releasesOf(req), nil
	}}
	b.startWorker(t, inst, testbench.UniqueName(t, "g"), "w1", exec, func(c *worker.Config) { c.ProgressInterval = time.Hour })
	if _, err := inst.queue.Submit(t.Context(), request("slow", "C1")); err != nil {
		t.Fatal(err)
	}
	waitRun(t, inst.view, "slow", "shows its progress", func(r jobs.Run) bool {
		return r.Status == jobs.StatusRunning && r.Progress == jobs.Progress{RecordsScanned: 10, RecordsToScan: 100}
	})
	close(proceed)
	if run := await(t, inst.view, "slow"); run.Progress.RecordsScanned != 20 {
		t.Errorf("final progress %+v, want the last reported", run.Progress)
	}
}

func TestCancelInterruptsTheBackoffBetweenAttempts(t *testing.T) {
	b := newBench(t)
	inst := b.newInstance(t)
	exec := &fakeExec{do: func(context.Context, jobs.Request, func(jobs.Progress)) ([]jobs.Release, error) {
		return nil, fmt.Errorf("put object: %w", jobs.ErrTransient)
	}}
	b.startWorker(t, inst, testbench.UniqueName(t, "g"), "w1", exec, func(c *worker.Config) {
		c.BackoffBase, c.BackoffMax = time.Hour, time.Hour
		c.Jitter = func(d time.Duration) time.Duration { return d }
	})
	if _, err := inst.queue.Submit(t.Context(), request("waiting", "C1")); err != nil {
		t.Fatal(err)
	}
	waiting := waitRun(t, inst.view, "waiting", "waits to retry", func(r jobs.Run) bool { return r.Note != "" })
	if waiting.Status != jobs.StatusRunning || waiting.Note != "attempt 1 failed, retrying in 1h0m0s" || waiting.Error != "put object: transient" {
		t.Errorf("waiting run: %s note %q error %q", waiting.Status, waiting.Note, waiting.Error)
	}
	if _, err := inst.queue.Cancel(t.Context(), "waiting"); err != nil {
		t.Fatal(err)
	}
	if run := await(t, inst.view, "waiting"); run.Status != jobs.StatusCancelled || run.Attempt != 1 {
		t.Errorf("run %s at attempt %d, want cancelled at 1", run.Status, run.Attempt)
	}
}

func TestARunWhoseWorkersKeepDyingFailsAfterMaxAttempts(t *testing.T) {
	b := newBench(t)
	inst := b.newInstance(t)
	// The ledger shows attempt 3 running on a worker that died (no end);
	// its request comes again.
	req := request("poison", "C1")
	if _, err := inst.ledger.Publish(t.Context(), jobs.Run{ID: req.ID, Request: req, Status: jobs.StatusRunning, Attempt: 3, Worker: "dead"}); err != nil {
		t.Fatal(err)
	}
	if err := publishRawRequest(t, b, req); err != nil {
		t.Fatal(err)
	}
	exec := &fakeExec{}
	b.startWorker(t, inst, testbench.UniqueName(t, "g"), "w1", exec, func(c *worker.Config) { c.MaxAttempts = 3 })
	run := await(t, inst.view, "poison")
	if run.Status != jobs.StatusFailed || run.Error != "gave up: 3 attempts made in this round without an end (workers stopped during them)" {
		t.Errorf("run %s error %q, want failed: gave up", run.Status, run.Error)
	}
	if n := exec.total(); n != 0 {
		t.Errorf("executor called %d times, want never", n)
	}
}
