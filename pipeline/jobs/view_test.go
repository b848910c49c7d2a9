package jobs_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/midata/midata/pipeline/jobs"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/schemas"
)

// day is the creation time of the ledger runs of day d.
func day(d int) time.Time { return time.Date(2026, 3, d, 9, 0, 0, 0, time.UTC) }

// ledgerRuns are published before any view opens.
func ledgerRuns() []jobs.Run {
	run := func(id string, st jobs.Status, created time.Time, edit func(*jobs.Run)) jobs.Run {
		r := jobs.Run{ID: id, Status: st, CreatedAt: created, Request: jobs.Request{ID: id, Kind: jobs.KindRelease,
			Recipient: "self", Scope: schemas.Scope{Customers: []string{"C1"}}, CreatedAt: created}}
		if edit != nil {
			edit(&r)
		}
		return r
	}
	return []jobs.Run{
		run("a", jobs.StatusQueued, day(1), nil),
		run("b", jobs.StatusSucceeded, day(2), func(r *jobs.Run) {
			r.Request.ScheduleID, r.Request.Recipient = "monthly-p1", "partner:p1"
		}),
		run("c", jobs.StatusFailed, day(3), func(r *jobs.Run) {
			r.Request.ScheduleID, r.Request.Recipient = "monthly-p1", "partner:p1"
			r.Request.Scope = schemas.Scope{All: true}
		}),
		run("d", jobs.StatusRunning, day(4), func(r *jobs.Run) { r.Request.Scope.Customers = []string{"C2", "C3"} }),
		// d ends; a late running event of d's round does not undo that.
		run("d", jobs.StatusSucceeded, day(4), func(r *jobs.Run) { r.Request.Scope.Customers = []string{"C2", "C3"} }),
		run("d", jobs.StatusRunning, day(4), func(r *jobs.Run) { r.Request.Scope.Customers = []string{"C2", "C3"} }),
	}
}

func TestAViewRebuildsRunsPublishedBeforeItOpened(t *testing.T) {
	b := newBench(t)
	inst := b.newInstance(t)
	for _, r := range ledgerRuns() {
		if _, err := inst.ledger.Publish(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
	// c released for C9: an outcome of its own.
	if err := inst.ledger.PublishReleases(t.Context(), []jobs.Release{{RunID: "c", CustomerID: "C9", Status: "committed"}}); err != nil {
		t.Fatal(err)
	}
	v := b.openView(t) // ready: everything before it opened is applied
	for id, want := range map[string]jobs.Status{"a": jobs.StatusQueued, "b": jobs.StatusSucceeded, "c": jobs.StatusFailed, "d": jobs.StatusSucceeded} {
		got, ok := v.Get(id)
		if !ok || got.Status != want {
			t.Errorf("Get(%s) = %s, %v; want %s", id, got.Status, ok, want)
		}
		if ok && got.UpdatedAt.IsZero() {
			t.Errorf("run %s has no UpdatedAt: the ledger stamps it", id)
		}
	}
	if _, ok := v.Get("zz"); ok {
		t.Error("Get of an unknown id found a run")
	}

	tests := []struct {
		name   string
		filter jobs.RunFilter
		want   []string
	}{
		{"no filter lists every run newest first", jobs.RunFilter{}, []string{"d", "c", "b", "a"}},
		{"a limit keeps the newest", jobs.RunFilter{Limit: 2}, []string{"d", "c"}},
		{"statuses select any of them", jobs.RunFilter{Status: []jobs.Status{jobs.StatusQueued, jobs.StatusFailed}}, []string{"c", "a"}},
		{"a schedule selects its firings", jobs.RunFilter{ScheduleID: "monthly-p1"}, []string{"c", "b"}},
		{"a customer selects runs naming them", jobs.RunFilter{Customer: "C3"}, []string{"d"}},
		{"a customer selects runs that released for them", jobs.RunFilter{Customer: "C9"}, []string{"c"}},
		{"a recipient selects its runs", jobs.RunFilter{Recipient: "self"}, []string{"d", "a"}},
		{"filters combine", jobs.RunFilter{Recipient: "partner:p1", Status: []jobs.Status{jobs.StatusSucceeded}}, []string{"b"}},
		{"nothing matches an unknown customer", jobs.RunFilter{Customer: "C404"}, nil},
		{"a cursor starts after its run", jobs.RunFilter{After: jobs.Cursor{CreatedAt: day(3), ID: "c"}, Limit: 1}, []string{"b"}},
		{"a cursor and a filter combine", jobs.RunFilter{After: jobs.Cursor{CreatedAt: day(4), ID: "d"}, Recipient: "self"}, []string{"a"}},
		{"a cursor at the oldest ends the list", jobs.RunFilter{After: jobs.Cursor{CreatedAt: day(1), ID: "a"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, r := range v.List(tt.filter) {
				got = append(got, r.ID)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("List(%+v) = %v, want %v", tt.filter, got, tt.want)
			}
		})
	}
}

func TestAViewFollowsEventsPublishedAfterItOpened(t *testing.T) {
	b := newBench(t)
	inst := b.newInstance(t)
	other := b.openView(t)
	run := jobs.Run{ID: "live", Status: jobs.StatusQueued, Request: jobs.Request{ID: "live"}}
	if _, err := inst.ledger.Publish(t.Context(), run); err != nil {
		t.Fatal(err)
	}
	// Sync is read-your-writes: no waiting needed after it.
	if err := other.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got, ok := other.Get("live"); !ok || got.Status != jobs.StatusQueued {
		t.Fatalf("after Sync: %+v, %v; want queued", got, ok)
	}
	done := make(chan jobs.Run, 1)
	go func() {
		r, err := other.Wait(t.Context(), "live", func(r jobs.Run) bool { return r.Status == jobs.StatusSucceeded })
		if err != nil {
			t.Errorf("Wait: %v", err)
		}
		done <- r
	}()
	run.Status = jobs.StatusSucceeded
	if _, err := inst.ledger.Publish(t.Context(), run); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r.Status != jobs.StatusSucceeded {
			t.Errorf("Wait returned %s", r.Status)
		}
	case <-time.After(testTimeout):
		t.Fatal("Wait did not return")
	}
}

func TestWaitEndsWithItsContextAndWithTheView(t *testing.T) {
	b := newBench(t)
	v := b.openView(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := v.Wait(ctx, "never", func(jobs.Run) bool { return true }); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait with a cancelled context: %v, want context.Canceled", err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := v.Wait(t.Context(), "never", func(jobs.Run) bool { return true })
		errc <- err
	}()
	if err := v.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-errc:
		if err == nil {
			t.Error("Wait on a closed view returned no error")
		}
	case <-time.After(testTimeout):
		t.Fatal("Wait did not return when the view closed")
	}
}

func TestOpenViewOfAMissingTopicSaysHowToCreateIt(t *testing.T) {
	b := newBench(t)
	_, err := jobs.OpenView(t.Context(), jobs.ViewConfig{Kafka: b.kafka(), Topic: "no-such-topic-" + b.topics.Runs})
	if err == nil || !strings.Contains(err.Error(), "create it with topics.Ensure") {
		t.Fatalf("OpenView of a missing topic: %v; want it to say how to create it", err)
	}
}

func TestTheJobTopicsAreARequestsAndACompactedRunsTopic(t *testing.T) {
	specs := jobs.Topics{Runs: "r"}.Specs()
	if len(specs) != 2 || specs[0].Name != topics.DefaultRequests || specs[0].Partitions != topics.RequestsPartitions || specs[0].Compacted ||
		specs[1].Name != "r" || specs[1].Partitions != topics.RunsPartitions || !specs[1].Compacted {
		t.Errorf("Specs() = %+v, want the requests topic and a compacted runs topic", specs)
	}
}
