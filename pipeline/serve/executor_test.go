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

// inlineTasks runs a bulk request's tasks at once on the same executor, as
// a worker group would elsewhere.
type inlineTasks struct {
	e    *serve.Executor
	mu   sync.Mutex
	runs map[string]jobs.Run
}

func (q *inlineTasks) Submit(ctx context.Context, req jobs.Request) (jobs.Run, error) {
	rels, err := q.e.Execute(ctx, req, func(jobs.Progress) {})
	run := jobs.Run{ID: req.ID, Request: req, Status: jobs.StatusSucceeded, Releases: rels}
	if err != nil {
		run.Status, run.Error = jobs.StatusFailed, err.Error()
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.runs[req.ID] = run
	return run, nil
}

func (q *inlineTasks) Await(_ context.Context, id string) (jobs.Run, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.runs[id], nil
}

func TestExecutorRunsEveryKindOfRequest(t *testing.T) {
	b := newBench(t, 3)
	seed(t, b, kafka.Murmur2Balancer{})
	e := &serve.Executor{Runner: b.runner(t)}
	e.Tasks = &inlineTasks{e: e, runs: map[string]jobs.Run{}}
	base := jobs.Request{Recipient: "self", From: from, To: to, Formats: []string{"ndjson"}}

	t.Run("a release request releases each named customer", func(t *testing.T) {
		req := base
		req.ID, req.Kind, req.Scope = "req-list", jobs.KindRelease, schemas.Scope{Customers: []string{"C1", "C2", "C3"}}
		rels, err := e.Execute(t.Context(), req, func(jobs.Progress) {})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]release.Status{}
		for _, r := range rels {
			got[r.CustomerID] = r.Status
		}
		if got["C1"] != "committed" || got["C2"] != "no_consent" || got["C3"] != "committed" {
			t.Fatalf("releases = %v", got)
		}
	})

	t.Run("a bulk request releases everyone with consent once, through tasks", func(t *testing.T) {
		req := base
		req.ID, req.Kind, req.Scope = "req-bulk", jobs.KindBulk, schemas.Scope{All: true}
		var last jobs.Progress
		rels, err := e.Execute(t.Context(), req, func(p jobs.Progress) { last = p })
		if err != nil {
			t.Fatal(err)
		}
		if len(rels) != 2 || last.CustomersDone != 2 {
			t.Fatalf("bulk releases = %+v (progress %+v), want C1 and C3", rels, last)
		}
		again, err := e.Execute(t.Context(), req, func(jobs.Progress) {})
		if err != nil || len(again) != 2 || again[0].Status != "already_committed" {
			t.Fatalf("bulk again = %+v, %v; want the same two releases, already committed", again, err)
		}
	})

	t.Run("an invalid request is not worth retrying", func(t *testing.T) {
		req := base
		req.ID, req.Kind, req.Scope, req.Formats = "req-bad", jobs.KindRelease, schemas.Scope{Customers: []string{"C1"}}, []string{"xlsx"}
		_, err := e.Execute(t.Context(), req, func(jobs.Progress) {})
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

func TestExecutorRetriesOnlyWhatARetryCanMend(t *testing.T) {
	b := newBench(t, 3)
	seed(t, b, kafka.Murmur2Balancer{})
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
			_, err := e.Execute(t.Context(), req, func(jobs.Progress) {})
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
