package jobs_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
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
