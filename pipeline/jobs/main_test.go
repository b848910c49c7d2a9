package jobs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"go.uber.org/goleak"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/pipeline/jobs"
	"github.com/midata/midata/pipeline/jobs/worker"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/schemas"
)

// Every Ledger, View, Worker and kfake cluster is closed by its test, and
// with them kafka-go's connections: nothing needs ignoring.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testTimeout bounds every wait of a test: group joins on the real broker
// take a few heartbeats.
const testTimeout = 60 * time.Second

// bench is a Kafka cluster with fresh job topics for one test.
type bench struct {
	brokers []string
	topics  jobs.Topics
}

func newBench(t *testing.T) bench {
	t.Helper()
	b := bench{brokers: testbench.Kafka(t), topics: jobs.Topics{
		Requests: testbench.UniqueName(t, "req"),
		Runs:     testbench.UniqueName(t, "runs"),
	}}
	testbench.CreateTopic(t, b.brokers, b.topics.Requests, topics.RequestsPartitions)
	testbench.CreateTopic(t, b.brokers, b.topics.Runs, topics.RunsPartitions)
	return b
}

// kafka returns the connection settings of the bench.
func (b bench) kafka() topics.Connection { return topics.Connection{Brokers: b.brokers} }

// instance is what one `midata serve` has: a ledger, its view and a queue.
type instance struct {
	ledger *jobs.Ledger
	view   *jobs.View
	queue  *jobs.Queue
}

// newInstance opens a ledger, a ready view and a queue, closed at cleanup.
func (b bench) newInstance(t *testing.T) *instance {
	t.Helper()
	l, err := jobs.NewLedger(jobs.LedgerConfig{Kafka: b.kafka(), Topic: b.topics.Runs})
	if err != nil {
		t.Fatalf("NewLedger: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	v := b.openView(t)
	q, err := jobs.NewQueue(jobs.QueueConfig{Ledger: l, View: v, RequestsTopic: b.topics.Requests})
	if err != nil {
		t.Fatalf("NewQueue: %v", err)
	}
	return &instance{ledger: l, view: v, queue: q}
}

// openView opens a view of the runs topic, waits until it is ready, and
// closes it at cleanup.
func (b bench) openView(t *testing.T) *jobs.View {
	t.Helper()
	v, err := jobs.OpenView(t.Context(), jobs.ViewConfig{Kafka: b.kafka(), Topic: b.topics.Runs, MaxWait: 250 * time.Millisecond})
	if err != nil {
		t.Fatalf("OpenView: %v", err)
	}
	t.Cleanup(func() { v.Close() })
	eventually(t, "view ready", v.Ready)
	return v
}

// runningWorker is a running Worker: cancel ends its context, stop cancels
// and waits for Run to return its error.
type runningWorker struct {
	w      *worker.Worker
	cancel context.CancelFunc
	stop   func() error
}

// startWorker runs a worker of group with exec on inst's ledger and view,
// stopped at cleanup. edit changes the test defaults.
func (b bench) startWorker(t *testing.T, inst *instance, group, id string, exec jobs.Executor, edit func(*worker.Config)) *runningWorker {
	t.Helper()
	cfg := worker.Config{
		Kafka:             b.kafka(),
		GroupID:           group,
		RequestsTopic:     b.topics.Requests,
		InstanceID:        id,
		Executor:          exec,
		Ledger:            inst.ledger,
		View:              inst.view,
		BackoffBase:       time.Millisecond,
		BackoffMax:        10 * time.Millisecond,
		DrainTimeout:      testTimeout,
		SessionTimeout:    6 * time.Second, // the brokers' default minimum
		HeartbeatInterval: 200 * time.Millisecond,
		RebalanceTimeout:  10 * time.Second,
		LeaseInterval:     100 * time.Millisecond,
	}
	if edit != nil {
		edit(&cfg)
	}
	w, err := worker.New(cfg)
	if err != nil {
		t.Fatalf("worker.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- w.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			runErr = <-errc
		})
		return runErr
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("worker %s Run: %v", id, err)
		}
	})
	return &runningWorker{w: w, cancel: cancel, stop: stop}
}

// publishRawRequest writes req on the requests topic as a Queue does
// (murmur2 by key), without a queued event: a duplicate from elsewhere.
func publishRawRequest(t *testing.T, b bench, req jobs.Request) error {
	t.Helper()
	v, err := json.Marshal(req)
	if err != nil {
		return err
	}
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	w := &kafka.Writer{Addr: kafka.TCP(b.brokers...), Topic: b.topics.Requests, Balancer: kafka.Murmur2Balancer{},
		Transport: tr, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	defer w.Close()
	return w.WriteMessages(t.Context(), kafka.Message{Key: []byte(req.ID), Value: v})
}

// waitMembers polls until group has n members that each have partitions.
func (b bench) waitMembers(t *testing.T, group string, n int) {
	t.Helper()
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	c := &kafka.Client{Addr: kafka.TCP(b.brokers...), Transport: tr, Timeout: 5 * time.Second}
	eventually(t, fmt.Sprintf("group %s has %d members with partitions", group, n), func() bool {
		res, err := c.DescribeGroups(t.Context(), &kafka.DescribeGroupsRequest{GroupIDs: []string{group}})
		if err != nil || len(res.Groups) != 1 || res.Groups[0].GroupState != "Stable" || len(res.Groups[0].Members) != n {
			return false
		}
		for _, m := range res.Groups[0].Members {
			if len(m.MemberAssignments.Topics) == 0 || len(m.MemberAssignments.Topics[0].Partitions) == 0 {
				return false
			}
		}
		return true
	})
}

// eventually polls cond until it holds, failing the test after testTimeout.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %v", what, testTimeout)
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("%s: %v", what, t.Context().Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// await waits for run id to end on v.
func await(t *testing.T, v *jobs.View, id string) jobs.Run {
	t.Helper()
	return waitRun(t, v, id, "ended", func(r jobs.Run) bool { return r.Status.Final() })
}

// waitRun waits until run id satisfies ok on v.
func waitRun(t *testing.T, v *jobs.View, id, what string, ok func(jobs.Run) bool) jobs.Run {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	r, err := v.Wait(ctx, id, ok)
	if err != nil {
		last, _ := v.Get(id)
		t.Fatalf("run %s %s: %v (last state %+v)", id, what, err, last)
	}
	return r
}

// request returns a release request for one customer.
func request(id, customer string) jobs.Request {
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return jobs.Request{ID: id, Kind: jobs.KindRelease, Recipient: "self",
		Scope: schemas.Scope{Customers: []string{customer}}, From: from, To: from.AddDate(0, 1, 0),
		Formats: []string{"midata-csv"}, RequestedBy: "customer:" + customer}
}

// fakeExec is an Executor that counts calls by request id and does what do
// says (default: one committed release per customer). do reports progress
// through report and returns the outcomes, which Execute reports one by
// one.
type fakeExec struct {
	do func(ctx context.Context, req jobs.Request, report func(jobs.Progress)) ([]jobs.Release, error)

	mu    sync.Mutex
	calls map[string]int
	reqs  []jobs.Request
}

func (f *fakeExec) Execute(ctx context.Context, req jobs.Request, rep jobs.Reporter) error {
	f.mu.Lock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[req.ID]++
	f.reqs = append(f.reqs, req)
	f.mu.Unlock()
	rels, err := releasesOf(req), error(nil)
	if f.do != nil {
		rels, err = f.do(ctx, req, rep.Progress)
	}
	for _, r := range rels {
		if rerr := rep.Release(ctx, r); rerr != nil {
			return errors.Join(err, rerr)
		}
	}
	return err
}

func (f *fakeExec) callsOf(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[id]
}

func (f *fakeExec) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.reqs)
}

// releasesOf is what the fake makes of req: one committed release per
// customer. The worker fills RunID (and TaskID); outcomesOf has them.
func releasesOf(req jobs.Request) []jobs.Release {
	var out []jobs.Release
	for _, c := range req.Scope.Customers {
		out = append(out, jobs.Release{ReleaseID: "rel-" + req.ID + "-" + c, CustomerID: c, Status: "committed", Rows: 3,
			Manifest: "releases/rel-" + req.ID + "-" + c + "/manifest.json"})
	}
	return out
}

// outcomesOf is releasesOf(req) as the ledger records them.
func outcomesOf(req jobs.Request) []jobs.Release {
	out := releasesOf(req)
	for i := range out {
		out[i].RunID = req.ID
	}
	return out
}

// outcomes returns every release outcome of run id on v.
func outcomes(v *jobs.View, id string) []jobs.Release {
	var out []jobs.Release
	after := ""
	for {
		page, next := v.Releases(id, after, 1000)
		out = append(out, page...)
		if next == "" {
			return out
		}
		after = next
	}
}

// records reads every run record of the runs topic, in partition order: the
// ledger as a fresh reader, or compaction, sees it.
func (b bench) records(t *testing.T) map[string][]jobs.Run {
	t.Helper()
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	c := &kafka.Client{Addr: kafka.TCP(b.brokers...), Transport: tr, Timeout: 10 * time.Second}
	out := map[string][]jobs.Run{}
	for p := range topics.RunsPartitions {
		lo, err := c.ListOffsets(t.Context(), &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{
			b.topics.Runs: {kafka.LastOffsetOf(p)}}})
		if err != nil {
			t.Fatalf("list offsets: %v", err)
		}
		end := lo.Topics[b.topics.Runs][0].LastOffset
		if end == 0 {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: b.brokers, Topic: b.topics.Runs, Partition: p, MaxWait: 250 * time.Millisecond})
		for {
			m, err := r.FetchMessage(t.Context())
			if err != nil {
				r.Close()
				t.Fatalf("read runs partition %d: %v", p, err)
			}
			if bytes.Contains(m.Key, []byte("|")) { // a release outcome or a lease
				if m.Offset+1 >= end {
					break
				}
				continue
			}
			var run jobs.Run
			if err := json.Unmarshal(m.Value, &run); err != nil {
				r.Close()
				t.Fatalf("decode run at %d/%d: %v", p, m.Offset, err)
			}
			out[run.ID] = append(out[run.ID], run)
			if m.Offset+1 >= end {
				break
			}
		}
		r.Close()
	}
	return out
}

// finals counts the final events of each run.
func finals(records map[string][]jobs.Run) map[string]int {
	out := map[string]int{}
	for id, rs := range records {
		for _, r := range rs {
			if r.Status.Final() {
				out[id]++
			}
		}
	}
	return out
}

// blockUntilCancelled is an executor body that reports it started and
// waits for ctx, returning its error and nothing released.
func blockUntilCancelled(started chan<- string, sawDone chan<- error) func(ctx context.Context, req jobs.Request, report func(jobs.Progress)) ([]jobs.Release, error) {
	return func(ctx context.Context, req jobs.Request, report func(jobs.Progress)) ([]jobs.Release, error) {
		started <- req.ID
		<-ctx.Done()
		sawDone <- context.Cause(ctx)
		return nil, fmt.Errorf("release of %s: %w", req.ID, ctx.Err())
	}
}

// errPermanent is an error the worker must not retry.
var errPermanent = errors.New("partner key rejected")
