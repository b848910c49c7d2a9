package pipeline_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/segmentio/kafka-go"

	"github.com/midata/midata/pipeline"
	"github.com/midata/midata/pipeline/jobs"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/sinks"
)

// inlineTasks runs a bulk request's tasks at once on the same executor, as
// a worker group would elsewhere.
type inlineTasks struct {
	e    *pipeline.Executor
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
	e := &pipeline.Executor{Runner: b.runner(t, "murmur2", nil)}
	e.Tasks = &inlineTasks{e: e, runs: map[string]jobs.Run{}}
	base := jobs.Request{Recipient: "self", From: from, To: to, Formats: []string{"ndjson"}}

	t.Run("a release request releases each named customer", func(t *testing.T) {
		req := base
		req.ID, req.Kind, req.Scope = "req-list", jobs.KindRelease, jobs.Scope{Customers: []string{"C1", "C2", "C3"}}
		rels, err := e.Execute(t.Context(), req, func(jobs.Progress) {})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, r := range rels {
			got[r.CustomerID] = r.Status
		}
		if got["C1"] != "committed" || got["C2"] != "no_consent" || got["C3"] != "committed" {
			t.Fatalf("releases = %v", got)
		}
	})

	t.Run("a bulk request releases everyone with consent once, through tasks", func(t *testing.T) {
		req := base
		req.ID, req.Kind, req.Scope = "req-bulk", jobs.KindBulk, jobs.Scope{All: true}
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
		req.ID, req.Kind, req.Scope, req.Formats = "req-bad", jobs.KindRelease, jobs.Scope{Customers: []string{"C1"}}, []string{"xlsx"}
		_, err := e.Execute(t.Context(), req, func(jobs.Progress) {})
		if !errors.Is(err, pipeline.ErrInvalidRequest) || errors.Is(err, jobs.ErrTransient) {
			t.Fatalf("err = %v, want an invalid request, not transient", err)
		}
	})
}

func TestConsentRecorderGrantsTheRequestAndLinksSignTheRelease(t *testing.T) {
	b := newBench(t, 2)
	seed(t, b, kafka.Murmur2Balancer{})
	r := b.runner(t, "murmur2", nil)
	prod := topics.NewProducer(topics.Connection{Brokers: b.brokers}, nil)
	defer prod.Close()
	// C9 never consented: the request itself is recorded as consent.
	rec := &pipeline.ConsentRecorder{Producer: prod, Topic: b.consent}
	if res, err := r.Run(t.Context(), request("C9")); err != nil || res.Status != pipeline.StatusNoConsent {
		t.Fatalf("before the request: %+v, %v; want no_consent", res, err)
	}
	id, err := rec.RecordRequest(t.Context(), "C9", from, to)
	if err != nil || !strings.HasPrefix(id, "K-self-C9-") {
		t.Fatalf("RecordRequest = %q, %v", id, err)
	}
	res, err := r.Run(t.Context(), request("C9"))
	if err != nil || res.Status != pipeline.StatusEmpty {
		t.Fatalf("after the request: %+v, %v; want an (empty) release", res, err)
	}
	links, err := r.Links(t.Context(), res.ReleaseID)
	if err != nil || len(links) != len(res.Files) {
		t.Fatalf("Links = %v, %v", links, err)
	}
	if _, err := r.Links(t.Context(), "r-nope"); !errors.Is(err, sinks.ErrNotFound) {
		t.Fatalf("Links of no release = %v, want ErrNotFound", err)
	}
}
