package serve_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/segmentio/kafka-go"

	"github.com/midata/midata/pipeline"
	"github.com/midata/midata/pipeline/jobs"
	"github.com/midata/midata/pipeline/serve"
	"github.com/midata/midata/schemas"
	"github.com/midata/midata/schemas/release"
)

// recorder is a jobs.Reporter that keeps what it is told.
type recorder struct {
	mu     sync.Mutex
	rels   []jobs.Release
	last   jobs.Progress
	counts jobs.Counts // set by Counts
	own    jobs.Counts // of rels
}

func (r *recorder) Progress(p jobs.Progress) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.last = p
}

func (r *recorder) Release(_ context.Context, rel jobs.Release) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rels = append(r.rels, rel)
	r.own.Add(rel)
	return nil
}

func (r *recorder) Counts(c jobs.Counts) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.counts = c
}

// inlineTasks runs a bulk request's tasks at once on the same executor, as
// a worker group would elsewhere, and keeps their outcomes.
type inlineTasks struct {
	e    *serve.Executor
	mu   sync.Mutex
	runs map[string]jobs.Run
	rels []jobs.Release // of every task
}

func (q *inlineTasks) Submit(ctx context.Context, req jobs.Request) (jobs.Run, error) {
	rec := &recorder{}
	err := q.e.Execute(ctx, req, rec)
	run := jobs.Run{ID: req.ID, Request: req, Status: jobs.StatusSucceeded, Progress: rec.last, Counts: rec.own}
	if err != nil {
		run.Status, run.Error = jobs.StatusFailed, err.Error()
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.runs[req.ID] = run
	q.rels = append(q.rels, rec.rels...)
	return run, nil
}

func (q *inlineTasks) Await(_ context.Context, id string) (jobs.Run, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.runs[id], nil
}

func (q *inlineTasks) Get(id string) (jobs.Run, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	r, ok := q.runs[id]
	return r, ok
}

// takeReleases returns the outcomes the tasks reported so far and forgets
// them.
func (q *inlineTasks) takeReleases() []jobs.Release {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.rels
	q.rels = nil
	return out
}

func TestExecutorRunsEveryKindOfRequest(t *testing.T) {
	b := newBench(t, 3)
	seedData(t, b, kafka.Murmur2Balancer{})
	e := &serve.Executor{Runner: b.runner(t)}
	tasks := &inlineTasks{e: e, runs: map[string]jobs.Run{}}
	e.Tasks = tasks
	base := jobs.Request{Recipient: "self", From: from, To: to, Formats: []string{"ndjson"}}

	t.Run("a release request releases each named customer", func(t *testing.T) {
		req := base
		req.ID, req.Kind, req.Scope = "req-list", jobs.KindRelease, schemas.Scope{Customers: []string{"C1", "C2", "C3"}}
		rec := &recorder{}
		if err := e.Execute(t.Context(), req, rec); err != nil {
			t.Fatal(err)
		}
		got := map[string]release.Status{}
		for _, r := range rec.rels {
			got[r.CustomerID] = r.Status
		}
		if got["C1"] != "committed" || got["C2"] != "no_consent" || got["C3"] != "committed" {
			t.Fatalf("releases = %v", got)
		}
		if rec.last.CustomersDone != 3 || rec.last.RecordsScanned == 0 {
			t.Errorf("progress %+v, want 3 customers done and the records scanned", rec.last)
		}
	})

	t.Run("a bulk request releases everyone with consent once, through tasks", func(t *testing.T) {
		req := base
		req.ID, req.Kind, req.Scope = "req-bulk", jobs.KindBulk, schemas.Scope{All: true}
		rec := &recorder{}
		if err := e.Execute(t.Context(), req, rec); err != nil {
			t.Fatal(err)
		}
		rels := tasks.takeReleases()
		if len(rels) != 2 || len(rec.rels) != 0 {
			t.Fatalf("bulk releases = %+v, by the bulk run itself %+v; want C1 and C3, by its tasks", rels, rec.rels)
		}
		// The bulk run's progress is its tasks' summed: every record of the
		// snapshot scanned, every customer done (it said 0 scanned before).
		if p := rec.last; p.CustomersDone != 2 || p.RecordsToScan == 0 || p.RecordsScanned != p.RecordsToScan {
			t.Errorf("bulk progress %+v, want 2 customers done and every record scanned", p)
		}
		if rec.counts.Releases != 2 || rec.counts.Committed != 2 {
			t.Errorf("bulk counts %+v, want its tasks' 2 committed", rec.counts)
		}
		again := &recorder{}
		if err := e.Execute(t.Context(), req, again); err != nil {
			t.Fatal(err)
		}
		if rels := tasks.takeReleases(); len(rels) != 2 || rels[0].Status != "already_committed" || again.counts.AlreadyCommitted != 2 {
			t.Fatalf("bulk again = %+v (counts %+v); want the same two releases, already committed", rels, again.counts)
		}
	})

	t.Run("an invalid request is not worth retrying", func(t *testing.T) {
		req := base
		req.ID, req.Kind, req.Scope, req.Formats = "req-bad", jobs.KindRelease, schemas.Scope{Customers: []string{"C1"}}, []string{"xlsx"}
		err := e.Execute(t.Context(), req, &recorder{})
		if !errors.Is(err, pipeline.ErrInvalidRequest) || errors.Is(err, jobs.ErrTransient) {
			t.Fatalf("err = %v, want an invalid request, not transient", err)
		}
	})
}

// taskQueue is a TaskQueue of tasks that end as told, or cannot be
// submitted.
type taskQueue struct {
	submitErr error       // Submit fails with it
	status    jobs.Status // every task ends so
}

func (q *taskQueue) Submit(_ context.Context, req jobs.Request) (jobs.Run, error) {
	return jobs.Run{ID: req.ID, Request: req, Status: jobs.StatusQueued}, q.submitErr
}

func (q *taskQueue) Await(_ context.Context, id string) (jobs.Run, error) {
	return jobs.Run{ID: id, Status: q.status, Error: "disk full"}, nil
}

func (q *taskQueue) Get(id string) (jobs.Run, bool) { return jobs.Run{}, false }

func TestExecutorRetriesOnlyWhatARetryCanMend(t *testing.T) {
	b := newBench(t, 3)
	seedData(t, b, kafka.Murmur2Balancer{})
	runner := b.runner(t)
	bulk := jobs.Request{Kind: jobs.KindBulk, Recipient: "self", Scope: schemas.Scope{All: true}, From: from, To: to, Formats: []string{"ndjson"}}
	tests := []struct {
		name      string
		id        string
		tasks     *taskQueue
		transient bool // marked for a retry
		permanent bool // marked as never worth one
	}{
		{"a bulk request whose tasks failed after their retries is not retried", "bulk-failed",
			&taskQueue{status: jobs.StatusFailed}, false, true},
		{"a bulk request whose tasks were cancelled is not retried", "bulk-cancelled",
			&taskQueue{status: jobs.StatusCancelled}, false, true},
		{"a bulk request whose tasks could not be queued is retried", "bulk-unqueued",
			&taskQueue{submitErr: errors.New("requests topic: not enough replicas")}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &serve.Executor{Runner: runner, Tasks: tt.tasks}
			req := bulk
			req.ID = tt.id
			err := e.Execute(t.Context(), req, &recorder{})
			if err == nil {
				t.Fatal("Execute = nil, want an error")
			}
			if got := errors.Is(err, jobs.ErrTransient); got != tt.transient {
				t.Errorf("transient = %v, want %v (err %v)", got, tt.transient, err)
			}
			if got := jobs.IsPermanent(err); got != tt.permanent {
				t.Errorf("permanent = %v, want %v (err %v)", got, tt.permanent, err)
			}
			if errors.Is(err, pipeline.ErrInvalidRequest) {
				t.Errorf("err = %v: a failed task is no invalid request", err)
			}
		})
	}
}
