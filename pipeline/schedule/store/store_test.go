package store_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/pipeline/jobs"
	"github.com/midata/midata/pipeline/schedule"
	"github.com/midata/midata/pipeline/schedule/store"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/schemas"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var now = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

// queue records the requests submitted.
type queue struct {
	mu   sync.Mutex
	reqs []jobs.Request
}

func (q *queue) Submit(_ context.Context, req jobs.Request) (jobs.Run, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.reqs = append(q.reqs, req)
	return jobs.Run{ID: req.ID, Request: req, Status: jobs.StatusQueued}, nil
}

func monthly(id string) schedule.Schedule {
	return schedule.Schedule{ID: id, Spec: "0 3 1 * *", Recipient: "self", Scope: schemas.Scope{Customers: []string{"C1"}},
		Period: "previous_month", Formats: []string{"midata-csv"}}
}

// bench is a fresh schedules topic and a producer.
type bench struct {
	conn     topics.Connection
	topic    string
	producer *topics.Producer
}

func newBench(t *testing.T) bench {
	t.Helper()
	b := bench{conn: topics.Connection{Brokers: testbench.Kafka(t)}, topic: testbench.UniqueName(t, "schedules")}
	if err := topics.Ensure(t.Context(), b.conn, topics.SchedulesSpec(b.topic)); err != nil {
		t.Fatal(err)
	}
	b.producer = topics.NewProducer(b.conn, nil)
	t.Cleanup(func() { b.producer.Close() })
	return b
}

func (b bench) open(t *testing.T, declared ...schedule.Schedule) (*store.Store, *queue) {
	t.Helper()
	q := &queue{}
	s, err := store.Open(t.Context(), store.Config{Declared: declared, Kafka: b.conn, Producer: b.producer, Topic: b.topic,
		Queue: q, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, q
}

func ids(entries []schedule.Entry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, e.ID)
	}
	return out
}

func TestAStoreSeesItsOwnWritesAndRebuildsThemAtStart(t *testing.T) {
	b := newBench(t)
	s, _ := b.open(t, monthly("declared"))
	for _, id := range []string{"b", "a", "gone"} {
		e, err := s.Put(t.Context(), monthly(id))
		if err != nil {
			t.Fatalf("Put %s: %v", id, err)
		}
		if e.Declared || e.NextFire.IsZero() || e.CreatedAt.IsZero() {
			t.Errorf("Put %s = %+v, want an API schedule with its next fire and creation time", id, e)
		}
	}
	if err := s.Delete(t.Context(), "gone"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	paused, err := s.SetPaused(t.Context(), "a", true)
	if err != nil || !paused.Paused || !paused.NextFire.IsZero() {
		t.Fatalf("SetPaused = %+v, %v; want paused without a next fire", paused, err)
	}
	// Read-your-writes: no waiting after the calls.
	if got := ids(s.List()); !slices.Equal(got, []string{"a", "b", "declared"}) {
		t.Errorf("List = %v, want a b declared", got)
	}

	// A second instance rebuilds the same set from the topic at start.
	other, _ := b.open(t)
	if got := ids(other.List()); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("a fresh store lists %v, want a b", got)
	}
	if e, ok := other.Get("a"); !ok || !e.Paused {
		t.Errorf("a fresh store has a = %+v, %v; want it paused", e, ok)
	}
}

func TestAStoreFollowsAnotherInstancesChanges(t *testing.T) {
	b := newBench(t)
	s, _ := b.open(t)
	other, _ := b.open(t)
	if _, err := other.Put(t.Context(), monthly("x")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Changed():
	case <-time.After(30 * time.Second):
		t.Fatal("Changed not signalled for another instance's schedule")
	}
	if _, ok := s.Get("x"); !ok {
		t.Error("the schedule is not there after Changed")
	}
}

func TestDeclaredSchedulesAreReadOnlyAndUnknownOnesNotFound(t *testing.T) {
	b := newBench(t)
	s, q := b.open(t, monthly("declared"))
	if _, err := s.Put(t.Context(), monthly("declared")); !errors.Is(err, schedule.ErrReadOnly) {
		t.Errorf("Put of a declared schedule: %v, want ErrReadOnly", err)
	}
	if err := s.Delete(t.Context(), "declared"); !errors.Is(err, schedule.ErrReadOnly) {
		t.Errorf("Delete of a declared schedule: %v, want ErrReadOnly", err)
	}
	if err := s.Delete(t.Context(), "nope"); !errors.Is(err, schedule.ErrNotFound) {
		t.Errorf("Delete of an unknown schedule: %v, want ErrNotFound", err)
	}
	if _, err := s.SetPaused(t.Context(), "nope", true); !errors.Is(err, schedule.ErrNotFound) {
		t.Errorf("SetPaused of an unknown schedule: %v, want ErrNotFound", err)
	}
	if _, err := s.RunNow(t.Context(), "nope"); !errors.Is(err, schedule.ErrNotFound) {
		t.Errorf("RunNow of an unknown schedule: %v, want ErrNotFound", err)
	}
	bad := monthly("bad")
	bad.Spec = "61 * * * *"
	if _, err := s.Put(t.Context(), bad); !errors.Is(err, schedule.ErrInvalid) {
		t.Errorf("Put of a bad cron spec: %v, want ErrInvalid", err)
	}
	e, ok := s.Get("declared")
	if !ok || !e.Declared {
		t.Fatalf("Get(declared) = %+v, %v", e, ok)
	}
	run, err := s.RunNow(t.Context(), "declared")
	if err != nil || run.Request.ScheduleID != "declared" || len(q.reqs) != 1 {
		t.Fatalf("RunNow = %+v, %v; want one queued firing of declared", run, err)
	}
	if e, _ := s.Get("declared"); !e.LastFire.Equal(run.Request.FireTime) {
		t.Errorf("LastFire %v, want the firing's %v", e.LastFire, run.Request.FireTime)
	}
}

func TestOpenOfAMissingTopicFails(t *testing.T) {
	b := newBench(t)
	_, err := store.Open(t.Context(), store.Config{Kafka: b.conn, Producer: b.producer, Topic: b.topic + "-missing", Queue: &queue{}})
	if !errors.Is(err, topics.ErrTopicNotFound) {
		t.Fatalf("Open of a missing topic: %v, want ErrTopicNotFound", err)
	}
}
