package worker

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"go.uber.org/goleak"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/pipeline/jobs"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/schemas"
)

// Every Ledger and View is closed by its test, and with them kafka-go's
// connections: nothing needs ignoring.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testTimeout bounds every wait of a test.
const testTimeout = 60 * time.Second

// The lease settings of the harness, on its fake clock: the heartbeat
// ticks only when a test fires it, and nothing expires unless a test moves
// the clock.
const (
	testLeaseInterval = time.Hour
	testLeaseTTL      = 3 * time.Hour
)

// clock is a fake clock that moves only when told.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

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

// harness is one Worker on the real broker, driven without its consumer:
// a test hands requests to handle itself. Its lease clock is fake, its
// heartbeat ticks when beat is sent to, and other, a ledger of its own,
// writes what other workers would.
type harness struct {
	brokers []string
	runs    string // the runs topic

	clk    *clock
	logs   *logRecorder
	beat   chan time.Time // a send is one tick of the heartbeat
	ledger *jobs.Ledger   // the worker's
	view   *jobs.View     // the worker's
	other  *jobs.Ledger   // other workers' writes
	w      *Worker

	before atomic.Pointer[func()] // runs once, in the worker's next ledger write, before it is written
	apply  atomic.Pointer[func()] // runs once, as the worker's view applies its next record
}

// newHarness starts a harness with exec on a fresh runs topic; edit
// changes the worker's configuration.
func newHarness(t *testing.T, exec jobs.Executor, edit func(*Config)) *harness {
	t.Helper()
	h := bareHarness(t)
	testbench.CreateTopic(t, h.brokers, h.runs, topics.RunsPartitions)
	h.start(t, exec, edit)
	return h
}

// bareHarness names the harness's topic; start starts it once the topic
// exists.
func bareHarness(t *testing.T) *harness {
	t.Helper()
	return &harness{brokers: testbench.Kafka(t), runs: testbench.UniqueName(t, "runs"),
		clk: newClock(), logs: &logRecorder{}, beat: make(chan time.Time)}
}

// start opens the harness's ledgers and view on h.runs and makes its Worker.
func (h *harness) start(t *testing.T, exec jobs.Executor, edit func(*Config)) {
	t.Helper()
	h.ledger = h.newLedger(t, func() time.Time {
		if f := h.before.Swap(nil); f != nil {
			(*f)()
		}
		return time.Now()
	})
	h.other = h.newLedger(t, nil)
	h.view = h.openViewAt(t, func() time.Time {
		now := h.clk.Now() // the record's Seen: before f moves the clock
		if f := h.apply.Swap(nil); f != nil {
			(*f)()
		}
		return now
	})
	cfg := Config{
		Kafka:         h.kafka(),
		InstanceID:    "wa",
		Executor:      exec,
		Ledger:        h.ledger,
		View:          h.view,
		BackoffBase:   time.Millisecond,
		BackoffMax:    10 * time.Millisecond,
		LeaseInterval: testLeaseInterval,
		LeaseTTL:      testLeaseTTL,
		Logger:        slog.New(h.logs),
		Now:           h.clk.Now,
		After: func(d time.Duration) <-chan time.Time {
			switch d {
			case testLeaseInterval:
				return h.beat
			case testLeaseInterval / 4: // a claim's wait for another's lease: poll
				return time.After(10 * time.Millisecond)
			}
			return time.After(d)
		},
	}
	if edit != nil {
		edit(&cfg)
	}
	w, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.w = w
}

func (h *harness) kafka() topics.Connection { return topics.Connection{Brokers: h.brokers} }

// newLedger opens a ledger of h.runs stamped by now (nil: time.Now),
// closed at cleanup.
func (h *harness) newLedger(t *testing.T, now func() time.Time) *jobs.Ledger {
	t.Helper()
	l, err := jobs.NewLedger(jobs.LedgerConfig{Kafka: h.kafka(), Topic: h.runs, Now: now})
	if err != nil {
		t.Fatalf("NewLedger: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// openView opens a ready view of h.runs on the harness's clock, closed at
// cleanup.
func (h *harness) openView(t *testing.T) *jobs.View {
	t.Helper()
	return h.openViewAt(t, h.clk.Now)
}

// openViewAt opens a ready view of h.runs that stamps leases with now.
func (h *harness) openViewAt(t *testing.T, now func() time.Time) *jobs.View {
	t.Helper()
	v, err := jobs.OpenView(t.Context(), jobs.ViewConfig{Kafka: h.kafka(), Topic: h.runs, MaxWait: 250 * time.Millisecond, Now: now})
	if err != nil {
		t.Fatalf("OpenView: %v", err)
	}
	t.Cleanup(func() { v.Close() })
	eventually(t, "view ready", v.Ready)
	return v
}

// beforeNextWrite makes f run once, in the worker's next write to the
// ledger (a lease, a step, an end) before that write happens.
func (h *harness) beforeNextWrite(f func()) { h.before.Store(&f) }

// asNextApplied makes f run once, as the worker's view applies the next
// record it reads (after stamping it, before the view has it).
func (h *harness) asNextApplied(f func()) { h.apply.Store(&f) }

// handling is a call of Worker.handle in progress.
type handling struct {
	stopIntake context.CancelFunc // the worker stops taking requests
	done       chan bool          // handle's result
}

// handle calls the worker's handle on req in a goroutine; at cleanup it
// ends the intake, then the runs in flight, and waits for it.
func (h *harness) handle(t *testing.T, req jobs.Request) *handling {
	t.Helper()
	intake, stopIntake := context.WithCancel(context.Background())
	hard, stopHard := context.WithCancel(context.Background())
	hd := &handling{stopIntake: stopIntake, done: make(chan bool, 1)}
	go func() { hd.done <- h.w.handle(intake, hard, req) }()
	t.Cleanup(func() {
		stopIntake()
		select {
		case d := <-hd.done:
			hd.done <- d
		case <-time.After(testTimeout):
			t.Errorf("handle of %s did not return after its intake ended", req.ID)
		}
		stopHard()
	})
	return hd
}

// result waits for handle's result.
func (hd *handling) result(t *testing.T) bool {
	t.Helper()
	select {
	case d := <-hd.done:
		hd.done <- d
		return d
	case <-time.After(testTimeout):
		t.Fatalf("handle did not return within %v", testTimeout)
		return false
	}
}

// tick makes the heartbeat take one tick (it has taken it when tick
// returns).
func (h *harness) tick(t *testing.T) {
	t.Helper()
	select {
	case h.beat <- time.Time{}:
	case <-time.After(testTimeout):
		t.Fatal("the heartbeat did not take its tick")
	}
}

// queued publishes req's run as queued, as a Queue does.
func (h *harness) queued(t *testing.T, req jobs.Request) {
	t.Helper()
	h.publish(t, jobs.Run{ID: req.ID, Request: req, Status: jobs.StatusQueued, CreatedAt: req.CreatedAt})
}

// publish writes run through the other workers' ledger.
func (h *harness) publish(t *testing.T, run jobs.Run) {
	t.Helper()
	if _, err := h.other.Publish(context.Background(), run); err != nil {
		t.Errorf("publish %s %s: %v", run.ID, run.Status, err)
	}
}

// otherLease writes worker's lease on req's run (TTL: the harness's),
// through the other workers' ledger.
func (h *harness) otherLease(t *testing.T, req jobs.Request, worker string) {
	t.Helper()
	l := jobs.Lease{RunID: req.ID, Retry: req.Retry, Worker: worker, TTL: testLeaseTTL}
	if err := h.other.PublishLease(context.Background(), l); err != nil {
		t.Errorf("publish %s's lease: %v", worker, err)
	}
}

// leaseOf returns the lease on run id that v shows after a Sync.
func leaseOf(t *testing.T, v *jobs.View, id string) (jobs.Lease, bool) {
	t.Helper()
	if err := v.Sync(t.Context()); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	return v.Lease(id)
}

// recordsOf returns every record of key on the runs topic, oldest first
// (a nil Value is a tombstone).
func (h *harness) recordsOf(t *testing.T, key string) []kafka.Message {
	t.Helper()
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	c := &kafka.Client{Addr: kafka.TCP(h.brokers...), Transport: tr, Timeout: 10 * time.Second}
	var out []kafka.Message
	for p := range topics.RunsPartitions {
		lo, err := c.ListOffsets(t.Context(), &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{
			h.runs: {kafka.LastOffsetOf(p)}}})
		if err != nil {
			t.Fatalf("list offsets: %v", err)
		}
		end := lo.Topics[h.runs][0].LastOffset
		if end == 0 {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: h.brokers, Topic: h.runs, Partition: p, MaxWait: 250 * time.Millisecond})
		for {
			m, err := r.FetchMessage(t.Context())
			if err != nil {
				r.Close()
				t.Fatalf("read runs partition %d: %v", p, err)
			}
			if string(m.Key) == key {
				out = append(out, m)
			}
			if m.Offset+1 >= end {
				break
			}
		}
		r.Close()
	}
	return out
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
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// request returns a release request for customers.
func request(id string, customers ...string) jobs.Request {
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return jobs.Request{ID: id, Kind: jobs.KindRelease, Recipient: "self",
		Scope: schemas.Scope{Customers: customers}, From: from, To: from.AddDate(0, 1, 0),
		Formats: []string{"midata-csv"}, RequestedBy: "ops", CreatedAt: from}
}

// release is the outcome of customer's release in req, as an Executor
// reports it.
func release(req jobs.Request, customer string) jobs.Release {
	return jobs.Release{ReleaseID: "rel-" + req.ID + "-" + customer, CustomerID: customer, Status: "committed", Rows: 3,
		Manifest: "releases/rel-" + req.ID + "-" + customer + "/manifest.json"}
}

// countingExec is an Executor that counts its calls and does what do says
// (nil: nothing, successfully).
type countingExec struct {
	calls atomic.Int32
	do    func(ctx context.Context, req jobs.Request, rep jobs.Reporter) error
}

func (e *countingExec) Execute(ctx context.Context, req jobs.Request, rep jobs.Reporter) error {
	e.calls.Add(1)
	if e.do == nil {
		return nil
	}
	return e.do(ctx, req, rep)
}
