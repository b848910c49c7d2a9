package jobs_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/pipeline/jobs"
	"github.com/midata/midata/pipeline/jobs/worker"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/schemas"
)

// manyReleases is an executor body that reports n outcomes, one per
// customer C0000000…, without holding them.
func manyReleases(n int) func(ctx context.Context, req jobs.Request, rep jobs.Reporter) error {
	return func(ctx context.Context, req jobs.Request, rep jobs.Reporter) error {
		for i := range n {
			c := fmt.Sprintf("C%07d", i)
			if err := rep.Release(ctx, jobs.Release{ReleaseID: "rel-" + c, CustomerID: c, Status: "committed", Rows: 2,
				Manifest: "releases/rel-" + c + "/manifest.json"}); err != nil {
				return err
			}
			if i%1000 == 999 {
				rep.Progress(jobs.Progress{CustomersDone: int64(i + 1), Customers: int64(n)})
			}
		}
		rep.Progress(jobs.Progress{CustomersDone: int64(n), Customers: int64(n)})
		return nil
	}
}

// runMany runs one request whose executor reports n outcomes, on the real
// broker, and checks that it ends with every outcome on the ledger. The
// old ledger wrote them all into the run's end record, which passed
// Kafka's 1 MiB message limit at about 5,200 outcomes: the end was never
// written and the run never ended.
func runMany(t *testing.T, n int) {
	b := newBench(t)
	inst := b.newInstance(t)
	// The lease of a server's defaults (a heartbeat each 3 s, 9 s to live)
	// rather than the tests' 100 ms and 300 ms: a renewal is a record on
	// the runs topic, produced while the run's outcomes are, and on a
	// loaded 2-core machine one waited past 300 ms during a run of a
	// million, which then stopped (lease lost) and started again.
	b.startWorker(t, inst, testbench.UniqueName(t, "g"), "w1", jobs.ExecutorFunc(manyReleases(n)), func(c *worker.Config) {
		c.LeaseInterval = worker.DefaultLeaseInterval
	})
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	start := time.Now()
	req := jobs.Request{ID: "many", Kind: jobs.KindBulk, Recipient: "self", Scope: schemas.Scope{All: true}}
	if _, err := inst.queue.Submit(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	run := await(t, inst.view, "many")
	took := time.Since(start)
	if run.Status != jobs.StatusSucceeded {
		t.Fatalf("run %s (%s), want succeeded", run.Status, run.Error)
	}
	if want := (jobs.Counts{Releases: int64(n), Committed: int64(n), Rows: 2 * int64(n)}); run.Counts != want {
		t.Errorf("counts %+v, want %+v", run.Counts, want)
	}
	if run.Progress.CustomersDone != int64(n) {
		t.Errorf("progress %+v, want %d customers done", run.Progress, n)
	}
	// Every outcome is on the ledger, paged by customer.
	rels, _, err := inst.queue.Releases(t.Context(), "many", "", 1)
	if err != nil || len(rels) != 1 || rels[0].CustomerID != "C0000000" || rels[0].RunID != "many" {
		t.Fatalf("first release %+v, %v", rels, err)
	}
	held := float64(int64(heap())-int64(before)) / float64(n) // the view's outcomes; below 0 when the heap shrank
	if err := inst.view.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	got := len(outcomes(inst.view, "many"))
	if got != n {
		t.Errorf("%d outcomes on the ledger, want %d", got, n)
	}
	if r, ok := inst.view.Release("many", fmt.Sprintf("C%07d", n-1)); !ok || r.ReleaseID != fmt.Sprintf("rel-C%07d", n-1) {
		t.Errorf("last customer's release %+v, %v", r, ok)
	}
	offHeap, disk := jobs.OutcomeMemory(inst.view)
	t.Logf("%d releases: run ended %v after submit (%.0f outcomes/s); the view holds %.1f bytes of Go heap per outcome, %.1f MiB outside the heap (its store's cache and memtables, bounded) and %.0f bytes per outcome on disk",
		n, took.Round(time.Millisecond), float64(n)/took.Seconds(), held, float64(offHeap)/(1<<20), float64(disk)/float64(n))
}

func TestARunOfTwentyThousandReleasesEnds(t *testing.T) {
	runMany(t, 20_000)
}

// TestARunOfAMillionReleasesEnds is the bank-scale run. It takes
// about a minute and the disk of a million outcomes in the view: set
// MIDATA_LEDGER_RELEASES (1000000, say) to run it (make drills does).
func TestARunOfAMillionReleasesEnds(t *testing.T) {
	v := os.Getenv("MIDATA_LEDGER_RELEASES")
	if v == "" {
		t.Skip("set MIDATA_LEDGER_RELEASES=1000000 to run it")
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("MIDATA_LEDGER_RELEASES=%q: want a positive number", v)
	}
	runMany(t, n)
}

func TestNoLedgerRecordExceedsTheBound(t *testing.T) {
	b := newBench(t)
	inst := b.newInstance(t)
	huge := strings.Repeat("x", jobs.MaxRecordBytes)
	err := inst.ledger.PublishReleases(t.Context(), []jobs.Release{{RunID: "r", CustomerID: "C1", Status: "cancelled", Reason: huge}})
	if !jobs.IsPermanent(err) || !strings.Contains(err.Error(), "ledger record too large") {
		t.Errorf("PublishReleases of %d bytes: %v, want a permanent error: too large", len(huge), err)
	}
	_, err = inst.ledger.Publish(t.Context(), jobs.Run{ID: "r", Status: jobs.StatusFailed, Error: huge})
	if !jobs.IsPermanent(err) {
		t.Errorf("Publish of a run of %d bytes: %v, want a permanent error", len(huge), err)
	}
	// A request naming more customers than the bound is never queued.
	req := request("wide", "C1")
	for i := range jobs.MaxCustomers {
		req.Scope.Customers = append(req.Scope.Customers, fmt.Sprintf("C%04d", i))
	}
	if _, err := inst.queue.Submit(t.Context(), req); err == nil || !strings.Contains(err.Error(), "at most 500") {
		t.Errorf("Submit of %d customers: %v, want refused", len(req.Scope.Customers), err)
	}
	// The biggest request allowed fits a run record, with room to spare.
	req.Scope.Customers = req.Scope.Customers[:jobs.MaxCustomers]
	for i := range req.Scope.Customers {
		req.Scope.Customers[i] = strings.Repeat("C", 64-4) + fmt.Sprintf("%04d", i)
	}
	if _, err := inst.ledger.Publish(t.Context(), jobs.Run{ID: "wide", Request: req, Status: jobs.StatusFailed, Error: strings.Repeat("e", 4<<10)}); err != nil {
		t.Errorf("Publish of the largest run allowed: %v", err)
	}
}

func TestAnOutcomeTooLargeFailsTheRunWithItsReasonAtOnce(t *testing.T) {
	b := newBench(t)
	inst := b.newInstance(t)
	exec := &fakeExec{do: func(_ context.Context, req jobs.Request, _ func(jobs.Progress)) ([]jobs.Release, error) {
		return []jobs.Release{{CustomerID: "C1", Status: "cancelled", Reason: strings.Repeat("r", jobs.MaxRecordBytes)}}, nil
	}}
	b.startWorker(t, inst, testbench.UniqueName(t, "g"), "w1", exec, nil)
	if _, err := inst.queue.Submit(t.Context(), request("big-outcome", "C1")); err != nil {
		t.Fatal(err)
	}
	run := await(t, inst.view, "big-outcome")
	if run.Status != jobs.StatusFailed || !strings.Contains(run.Error, "ledger record too large") || run.Attempt != 1 {
		t.Errorf("run %s at attempt %d: %q; want failed at once, saying why", run.Status, run.Attempt, run.Error)
	}
	if n := exec.callsOf("big-outcome"); n != 1 {
		t.Errorf("executor called %d times, want once: a permanent error is not retried", n)
	}
}

// TestABrokerRefusingARecordFailsTheRunInsteadOfRetryingForever: the
// brokers' own limit (here a topic's max.message.bytes far below ours)
// answers "[10] Message Size Too Large"; the run ends failed with that
// reason instead of retrying its end forever, and its offset is
// committed (the next request is taken).
func TestABrokerRefusingARecordFailsTheRunInsteadOfRetryingForever(t *testing.T) {
	b := bench{brokers: testbench.Kafka(t), topics: jobs.Topics{
		Requests: testbench.UniqueName(t, "req"),
		Runs:     testbench.UniqueName(t, "runs"),
	}}
	testbench.CreateTopic(t, b.brokers, b.topics.Requests, topics.RequestsPartitions)
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	c := &kafka.Client{Addr: kafka.TCP(b.brokers...), Transport: tr, Timeout: 10 * time.Second}
	res, err := c.CreateTopics(t.Context(), &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
		Topic: b.topics.Runs, NumPartitions: topics.RunsPartitions, ReplicationFactor: 1,
		ConfigEntries: []kafka.ConfigEntry{{ConfigName: "cleanup.policy", ConfigValue: "compact"}, {ConfigName: "max.message.bytes", ConfigValue: "4096"}},
	}}})
	if err != nil || res.Errors[b.topics.Runs] != nil {
		t.Fatalf("create %s: %v %v", b.topics.Runs, err, res.Errors)
	}
	// A topic just created answers offset requests only once its
	// partitions have leaders.
	eventually(t, "the runs topic answers offset requests", func() bool {
		ends, err := topics.Ends(t.Context(), topics.Connection{Brokers: b.brokers}, b.topics.Runs)
		return err == nil && len(ends) == topics.RunsPartitions
	})
	inst := b.newInstance(t)
	exec := &fakeExec{do: func(_ context.Context, req jobs.Request, _ func(jobs.Progress)) ([]jobs.Release, error) {
		if req.ID == "next" {
			return releasesOf(req), nil
		}
		// Within the ledger's bound, beyond this topic's.
		return []jobs.Release{{CustomerID: "C1", Status: "cancelled", Reason: strings.Repeat("r", 8<<10)}}, nil
	}}
	b.startWorker(t, inst, testbench.UniqueName(t, "g"), "w1", exec, func(c *worker.Config) { c.Concurrency = 1 })
	for _, id := range []string{"refused", "next"} {
		if _, err := inst.queue.Submit(t.Context(), request(id, "C1")); err != nil {
			t.Fatal(err)
		}
	}
	run := await(t, inst.view, "refused")
	if run.Status != jobs.StatusFailed || !strings.Contains(run.Error, "Message Size Too Large") {
		t.Errorf("run %s: %q; want failed, saying the brokers refused it", run.Status, run.Error)
	}
	if next := await(t, inst.view, "next"); next.Status != jobs.StatusSucceeded {
		t.Errorf("the next request %s, want succeeded: the slot is free again", next.Status)
	}
}
