package jobs_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/pipeline/jobs"
	"github.com/midata/midata/pipeline/jobs/worker"
)

// logRecorder is a slog.Handler that keeps the messages it is given.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = append(l.msgs, r.Message)
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

// said reports whether a message containing s was logged.
func (l *logRecorder) said(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range l.msgs {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

// never fails the test if cond holds at any time within d.
func never(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			t.Fatalf("%s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// committed returns the group's committed offset of partition 0 of topic
// (-1: none).
func (b bench) committed(t *testing.T, group, topic string) int64 {
	t.Helper()
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	c := &kafka.Client{Addr: kafka.TCP(b.brokers...), Transport: tr, Timeout: 10 * time.Second}
	res, err := c.OffsetFetch(t.Context(), &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: {0}}})
	if err != nil || len(res.Topics[topic]) != 1 {
		t.Fatalf("offset fetch: %v %+v", err, res)
	}
	return res.Topics[topic][0].CommittedOffset
}

// TestASecondWorkerWaitsForALiveLeaseAndTakesOverWhenItExpires: a
// rebalance gives the request of a run still running on worker wa to
// worker wb. wb does not start it while wa's lease is live, and does not
// commit its offset; once wa dies (it stops heartbeating, without an
// end), wb takes the run over as a new attempt. Before leases, wb started
// a second copy at once.
func TestASecondWorkerWaitsForALiveLeaseAndTakesOverWhenItExpires(t *testing.T) {
	b := bench{brokers: testbench.Kafka(t), topics: jobs.Topics{
		Requests: testbench.UniqueName(t, "req"),
		Runs:     testbench.UniqueName(t, "runs"),
	}}
	// One partition: when wb joins, the range assignor gives it to the
	// member whose id sorts last, wb's (member ids start with the client
	// id, which ends with the instance id).
	testbench.CreateTopic(t, b.brokers, b.topics.Requests, 1)
	testbench.CreateTopic(t, b.brokers, b.topics.Runs, 3)
	group := testbench.UniqueName(t, "g")
	a, c := b.newInstance(t), b.newInstance(t) // two instances of midata serve
	lease := func(cfg *worker.Config) {
		cfg.LeaseInterval, cfg.LeaseTTL = 200*time.Millisecond, time.Second
		cfg.DrainTimeout = 50 * time.Millisecond
	}

	started := make(chan string, 1)
	first := &fakeExec{do: func(ctx context.Context, req jobs.Request, _ func(jobs.Progress)) ([]jobs.Release, error) {
		started <- req.ID
		<-ctx.Done() // wa never ends the run itself
		return nil, ctx.Err()
	}}
	b.startWorker(t, a, group, "wa", first, lease)
	if _, err := a.queue.Submit(t.Context(), request("leased", "C1")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(testTimeout):
		t.Fatal("wa did not start the run")
	}
	if l, ok := a.view.Lease("leased"); !ok || l.Worker != "wa" {
		t.Fatalf("lease %+v, %v; want wa's", l, ok)
	}

	logs := &logRecorder{}
	second := &fakeExec{}
	var secondStart time.Time
	second.do = func(_ context.Context, req jobs.Request, _ func(jobs.Progress)) ([]jobs.Release, error) {
		second.mu.Lock()
		secondStart = time.Now()
		second.mu.Unlock()
		return releasesOf(req), nil
	}
	b.startWorker(t, c, group, "wb", second, func(cfg *worker.Config) {
		lease(cfg)
		cfg.Logger = slog.New(logs)
	})
	eventually(t, "wb takes the request and waits for the lease", func() bool { return logs.said("another worker holds the run's lease") })
	never(t, "wb started a run whose lease is live", 3*time.Second, func() bool { return second.callsOf("leased") > 0 })
	if off := b.committed(t, group, b.topics.Requests); off > 0 {
		t.Errorf("committed offset %d while the run waits, want none", off)
	}
	if r, _ := c.view.Get("leased"); r.Status != jobs.StatusRunning || r.Worker != "wa" {
		t.Errorf("while wb waits the run is %s on %q, want running on wa", r.Status, r.Worker)
	}

	// wa dies: it can write nothing more (no heartbeat, no end).
	died := time.Now()
	a.ledger.Close()
	run := await(t, c.view, "leased")
	if run.Status != jobs.StatusSucceeded || run.Worker != "wb" || run.Attempt != 2 {
		t.Errorf("run %s by %q at attempt %d, want succeeded by wb at 2 (wa's attempt, then wb's)", run.Status, run.Worker, run.Attempt)
	}
	second.mu.Lock()
	waited := secondStart.Sub(died)
	second.mu.Unlock()
	if n := second.callsOf("leased"); n != 1 || waited < 0 {
		t.Errorf("wb ran it %d times, %v after wa died; want once, after", n, waited)
	}
	if !logs.said("lease expired: taking the run over") {
		t.Error("wb did not say it took the run over")
	}
	eventually(t, "the offset committed after the end", func() bool { return b.committed(t, group, b.topics.Requests) == 1 })
	if _, ok := c.view.Lease("leased"); ok {
		t.Error("the lease is still there after the run ended")
	}
	t.Logf("wb took over %v after wa's last chance to heartbeat (lease ttl 1s)", waited.Round(time.Millisecond))
}

// execFunc is an Executor that is a function.
type execFunc func(ctx context.Context, req jobs.Request, rep jobs.Reporter) error

func (f execFunc) Execute(ctx context.Context, req jobs.Request, rep jobs.Reporter) error {
	return f(ctx, req, rep)
}

// firstBlocks is an executor whose first call reports it started and waits
// for its context, sending the cause; later calls release every customer.
func firstBlocks(started chan<- struct{}, cause chan<- error) *fakeExec {
	var calls atomic.Int32
	return &fakeExec{do: func(ctx context.Context, req jobs.Request, _ func(jobs.Progress)) ([]jobs.Release, error) {
		if calls.Add(1) > 1 {
			return releasesOf(req), nil
		}
		started <- struct{}{}
		<-ctx.Done()
		cause <- context.Cause(ctx)
		return nil, ctx.Err()
	}}
}

// waitStarted waits for the executor to say it started.
func waitStarted(t *testing.T, started <-chan struct{}) {
	t.Helper()
	select {
	case <-started:
	case <-time.After(testTimeout):
		t.Fatal("the executor did not start")
	}
}

// waitLeaseLost waits (at most d) for the executor's context to end and
// checks its cause is the lost lease.
func waitLeaseLost(t *testing.T, cause <-chan error, d time.Duration) {
	t.Helper()
	select {
	case err := <-cause:
		if err == nil || !strings.Contains(err.Error(), "lease lost") {
			t.Fatalf("the run's context ended with %v, want the lease lost", err)
		}
	case <-time.After(d):
		t.Fatalf("the run still runs %v after its lease was lost", d)
	}
}

// TestAWorkerWhoseLeaseAnotherClaimedStopsTheRunWithoutAnEnd: a second
// worker's lease of the round lands after wa's (both saw their own lease
// and started: the race of two claims). wa's heartbeat sees it and stops
// its run, writing no end and leaving the other's lease; when that lease
// expires wa takes the run over. Before, wa never re-checked its lease and
// both ran the run to its end.
func TestAWorkerWhoseLeaseAnotherClaimedStopsTheRunWithoutAnEnd(t *testing.T) {
	b := newBench(t)
	inst := b.newInstance(t)
	started, cause := make(chan struct{}, 1), make(chan error, 1)
	exec := firstBlocks(started, cause)
	b.startWorker(t, inst, testbench.UniqueName(t, "g"), "wa", exec, nil)
	if _, err := inst.queue.Submit(t.Context(), request("fenced", "C1")); err != nil {
		t.Fatal(err)
	}
	waitStarted(t, started)

	// wb's claim lands after wa's: the later lease wins on every view.
	if err := inst.ledger.PublishLease(t.Context(), jobs.Lease{RunID: "fenced", Worker: "wb", TTL: 2 * time.Second}); err != nil {
		t.Fatal(err)
	}
	waitLeaseLost(t, cause, 10*time.Second)
	if err := inst.view.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if l, ok := inst.view.Lease("fenced"); !ok || l.Worker != "wb" {
		t.Errorf("after wa gave way the lease is %+v, %v; want wb's, not dropped nor taken back", l, ok)
	}
	if r, _ := inst.view.Get("fenced"); r.Status.Final() {
		t.Errorf("wa wrote an end (%s) of the run it lost", r.Status)
	}

	run := await(t, inst.view, "fenced") // wb's lease expires (it never heartbeats): wa takes over
	if run.Status != jobs.StatusSucceeded || run.Worker != "wa" || run.Attempt != 2 {
		t.Errorf("run %s by %q at attempt %d, want succeeded by wa at 2", run.Status, run.Worker, run.Attempt)
	}
	if n := exec.callsOf("fenced"); n != 2 {
		t.Errorf("executor called %d times, want 2 (stopped, then taken over)", n)
	}
	if n := finals(b.records(t))["fenced"]; n != 1 {
		t.Errorf("%d final records, want 1", n)
	}
}

// TestAWorkerWhoseRenewalsFailForTheTTLStopsTheRun: once wa's heartbeats
// have failed for the lease's TTL another worker may have taken the run
// over, so wa stops it. Before, it ran on, without a lease.
func TestAWorkerWhoseRenewalsFailForTheTTLStopsTheRun(t *testing.T) {
	b := newBench(t)
	inst := b.newInstance(t)
	own, err := jobs.NewLedger(jobs.LedgerConfig{Kafka: b.kafka(), Topic: b.topics.Runs})
	if err != nil {
		t.Fatal(err)
	}
	started, cause := make(chan struct{}, 1), make(chan error, 1)
	b.startWorker(t, &instance{ledger: own, view: inst.view}, testbench.UniqueName(t, "g"), "wa", firstBlocks(started, cause), func(c *worker.Config) {
		c.LeaseInterval, c.LeaseTTL = 100*time.Millisecond, 500*time.Millisecond
		c.DrainTimeout = 50 * time.Millisecond
	})
	if _, err := inst.queue.Submit(t.Context(), request("unrenewed", "C1")); err != nil {
		t.Fatal(err)
	}
	waitStarted(t, started)
	own.Close() // wa can write nothing more: no renewal succeeds
	waitLeaseLost(t, cause, 10*time.Second)
}

// TestAWorkerThatCannotWriteItsLeaseDoesNotStartTheRun: a failed lease
// write is tried again, not taken for a claim. Before, the run started
// with no lease on the ledger.
func TestAWorkerThatCannotWriteItsLeaseDoesNotStartTheRun(t *testing.T) {
	b := newBench(t)
	inst := b.newInstance(t)
	own, err := jobs.NewLedger(jobs.LedgerConfig{Kafka: b.kafka(), Topic: b.topics.Runs})
	if err != nil {
		t.Fatal(err)
	}
	own.Close()
	logs := &logRecorder{}
	exec := &fakeExec{}
	b.startWorker(t, &instance{ledger: own, view: inst.view}, testbench.UniqueName(t, "g"), "wa", exec, func(c *worker.Config) {
		c.Logger = slog.New(logs)
		c.DrainTimeout = 50 * time.Millisecond
	})
	if _, err := inst.queue.Submit(t.Context(), request("unleased", "C1")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the worker tries to write its lease", func() bool { return logs.said("publish lease") })
	never(t, "the run started without a lease", 2*time.Second, func() bool { return exec.callsOf("unleased") > 0 })
}

// TestOutcomesReportedBeforeACancelAreWrittenAfterAFlushFailedOnIt: the
// executor reports a committed release, then, cancelled, its progress: the
// flush that progress triggers fails on the ended context. The outcome is
// still written at the attempt's end. Before, the failed flush's context
// error was kept and finish returned it without writing: the view had
// fewer outcomes than the run's counts.
func TestOutcomesReportedBeforeACancelAreWrittenAfterAFlushFailedOnIt(t *testing.T) {
	b := newBench(t)
	inst := b.newInstance(t)
	started := make(chan struct{}, 1)
	exec := execFunc(func(ctx context.Context, req jobs.Request, rep jobs.Reporter) error {
		if err := rep.Release(ctx, releasesOf(req)[0]); err != nil {
			return err
		}
		started <- struct{}{}
		<-ctx.Done()
		rep.Progress(jobs.Progress{CustomersDone: 1, Customers: 1})
		return ctx.Err()
	})
	b.startWorker(t, inst, testbench.UniqueName(t, "g"), "wa", exec, nil)
	req := request("kept", "C1")
	if _, err := inst.queue.Submit(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	waitStarted(t, started)
	if _, err := inst.queue.Cancel(t.Context(), "kept"); err != nil {
		t.Fatal(err)
	}
	run := await(t, inst.view, "kept")
	if err := inst.view.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	got := outcomes(inst.view, "kept")
	if run.Status != jobs.StatusCancelled || run.Counts.Releases != 1 || len(got) != 1 {
		t.Errorf("run %s counts %d releases, the view holds %d outcomes; want cancelled, 1 and 1", run.Status, run.Counts.Releases, len(got))
	}
}
