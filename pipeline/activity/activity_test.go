package activity_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/pipeline/activity"
	"github.com/midata/midata/pipeline/jobs"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/schemas"
)

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The activity records share the runs topic with the runs: a view of each
// keeps its own, and neither mistakes the other's for its own.
func TestActivityRecordsShareTheRunsTopicWithRunsAndNeitherViewKeepsTheOthers(t *testing.T) {
	brokers := testbench.Kafka(t)
	runs := testbench.UniqueName(t, "runs")
	testbench.CreateTopic(t, brokers, runs, topics.RunsPartitions)
	conn := topics.Connection{Brokers: brokers}
	ctx := t.Context()

	jl, err := jobs.NewLedger(jobs.LedgerConfig{Kafka: conn, Topic: runs})
	if err != nil {
		t.Fatal(err)
	}
	defer jl.Close()
	at := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	req := jobs.Request{ID: "r1", Kind: jobs.KindRelease, Recipient: "partner:p1", Scope: schemas.Scope{Customers: []string{"C1"}}, CreatedAt: at}
	if _, err := jl.Publish(ctx, jobs.Run{ID: "r1", Request: req, Status: jobs.StatusSucceeded, CreatedAt: at}); err != nil {
		t.Fatal(err)
	}
	if err := jl.PublishReleases(ctx, []jobs.Release{{RunID: "r1", CustomerID: "C1", ReleaseID: "rel-1", Status: "committed"}}); err != nil {
		t.Fatal(err)
	}

	l := activity.NewLedger(conn, runs, nil)
	defer l.Close()
	exp := at.Add(24 * time.Hour)
	for _, err := range []error{
		l.Delivery(ctx, activity.Delivery{Partner: "p1", ReleaseID: "rel-1", CustomerID: "C1", RunID: "r1", Status: activity.DeliveryStarted, At: at}),
		l.Delivery(ctx, activity.Delivery{Partner: "p1", ReleaseID: "rel-1", CustomerID: "C1", RunID: "r1", Status: activity.DeliveryDelivered, Attempts: 2, HTTPStatus: 204, At: at.Add(time.Second)}),
		l.Delivery(ctx, activity.Delivery{Partner: "p1", ReleaseID: "rel-2", CustomerID: "C2", Status: activity.DeliveryFailed, Error: "HTTP 500", At: at.Add(2 * time.Second)}),
		l.Link(ctx, activity.Link{ID: "aa", ReleaseID: "rel-s", CustomerID: "C1", Recipient: "self", File: "data.csv", Object: "releases/rel-s/data.csv", IssuedAt: at, ExpiresAt: exp}),
		l.Link(ctx, activity.Link{ID: "bb", ReleaseID: "rel-s", CustomerID: "C1", Recipient: "self", File: "data.json", Object: "releases/rel-s/data.json", IssuedAt: at.Add(time.Minute), ExpiresAt: exp}),
		l.Download(ctx, activity.Download{LinkID: "aa", ReleaseID: "rel-s", CustomerID: "C1", File: "data.csv", At: at.Add(time.Hour)}),
		l.Download(ctx, activity.Download{LinkID: "aa", ReleaseID: "rel-s", CustomerID: "C1", File: "data.csv", At: at.Add(2 * time.Hour)}),
		l.Revoke(ctx, activity.Revocation{ReleaseID: "rel-s", By: "ops", At: at.Add(3 * time.Hour)}),
		l.Deleted(ctx, activity.Deletion{ReleaseID: "rel-d", CustomerID: "C1", Recipient: "self", Objects: 4, By: "customer", At: at}),
		l.Recall(ctx, activity.Recall{ID: "rc1", Partner: "p1", CustomerID: "C1", Releases: []string{"rel-1"}, Status: activity.RecallSent, At: at}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}

	v, err := activity.OpenView(ctx, conn, runs, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	eventually(t, "activity view ready", v.Ready)
	if d, ok := v.Delivery("p1", "rel-1"); !ok || d.Status != activity.DeliveryDelivered || d.Attempts != 2 {
		t.Errorf("delivery p1/rel-1 = %+v, %v; want the latest state, delivered after 2 attempts", d, ok)
	}
	if got := v.Deliveries(activity.DeliveryFilter{Status: activity.DeliveryFailed}); len(got) != 1 || got[0].ReleaseID != "rel-2" {
		t.Errorf("failed deliveries = %+v, want rel-2 only", got)
	}
	if got := v.Deliveries(activity.DeliveryFilter{Partner: "p1"}); len(got) != 2 || got[0].ReleaseID != "rel-2" {
		t.Errorf("deliveries of p1 = %+v, want rel-2 (latest) then rel-1", got)
	}
	c := v.Of("C1")
	if len(c.Deliveries) != 1 || len(c.Links) != 2 || len(c.Downloads) != 2 || len(c.Deletions) != 1 || len(c.Recalls) != 1 {
		t.Errorf("C1's activity: %d deliveries, %d links, %d downloads, %d deletions, %d recalls; want 1, 2, 2, 1, 1",
			len(c.Deliveries), len(c.Links), len(c.Downloads), len(c.Deletions), len(c.Recalls))
	}
	if len(c.Links) == 2 && c.Links[0].ID != "bb" {
		t.Errorf("C1's links start with %s, want the latest (bb)", c.Links[0].ID)
	}
	if r, ok := v.Revocation("rel-s"); !ok || r.By != "ops" {
		t.Errorf("revocation of rel-s = %+v, %v", r, ok)
	}
	if d, ok := v.Deletion("rel-d"); !ok || d.Objects != 4 {
		t.Errorf("deletion of rel-d = %+v, %v", d, ok)
	}
	if got := v.Of("C2"); len(got.Deliveries) != 1 || len(got.Links) != 0 {
		t.Errorf("C2's activity = %+v, want its one delivery", got)
	}

	// A link revoked later replaces its record.
	now := at.Add(4 * time.Hour)
	if err := l.Link(ctx, activity.Link{ID: "aa", ReleaseID: "rel-s", CustomerID: "C1", Recipient: "self", File: "data.csv", Object: "releases/rel-s/data.csv", IssuedAt: at, ExpiresAt: exp, RevokedAt: &now, RevokedBy: "customer"}); err != nil {
		t.Fatal(err)
	}
	if err := v.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if k, ok := v.Link("aa"); !ok || k.RevokedAt == nil || k.RevokedBy != "customer" {
		t.Errorf("link aa after its revocation = %+v", k)
	}
	// bb was minted before every link of rel-s was revoked: it is revoked
	// too, and not about to expire for anyone.
	if bb, _ := v.Link("bb"); v.Effective(bb).RevokedAt == nil || v.Effective(bb).RevokedBy != "ops" {
		t.Errorf("bb after its release's links were revoked = %+v, want revoked by ops", v.Effective(bb))
	}
	if err := l.Link(ctx, activity.Link{ID: "cc", ReleaseID: "rel-s", CustomerID: "C1", Recipient: "self", File: "data.csv", Object: "releases/rel-s/data.csv", IssuedAt: at.Add(5 * time.Hour), ExpiresAt: exp}); err != nil {
		t.Fatal(err)
	}
	if err := l.Link(ctx, activity.Link{ID: "dd", ReleaseID: "rel-d", CustomerID: "C1", Recipient: "self", File: "data.csv", Object: "releases/rel-d/data.csv", IssuedAt: at.Add(5 * time.Hour), ExpiresAt: exp}); err != nil {
		t.Fatal(err)
	}
	if err := v.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := v.Expiring(at, exp.Add(time.Minute)); len(got) != 1 || got[0].ID != "cc" {
		t.Errorf("expiring links = %+v, want cc only (aa revoked, bb revoked with its release, dd of a deleted release)", got)
	}

	// The runs view sees its run and its outcome, and nothing of the rest:
	// no run, no outcome under an activity key.
	jv, err := jobs.OpenView(ctx, jobs.ViewConfig{Kafka: conn, Topic: runs, MaxWait: 250 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer jv.Close()
	eventually(t, "runs view ready", jv.Ready)
	if got := jv.List(jobs.RunFilter{Limit: 100}); len(got) != 1 || got[0].ID != "r1" {
		t.Errorf("runs = %v, want r1 only", got)
	}
	if _, ok := jv.Release("r1", "C1"); !ok {
		t.Error("the outcome of r1 for C1 is missing")
	}
	for _, runID := range []string{"~delivery", "~link", "~download", "~recall"} {
		if rels, _ := jv.Releases(runID, "", 10); len(rels) != 0 {
			t.Errorf("the runs view holds outcomes of %q: %v", runID, rels)
		}
	}
}

func TestARecordWithoutItsIdsOrTooLargeIsRefusedBeforeItIsWritten(t *testing.T) {
	// No broker: refused before any connection.
	l := activity.NewLedger(topics.Connection{Brokers: []string{"127.0.0.1:1"}}, "runs", nil)
	defer l.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := l.Delivery(ctx, activity.Delivery{Partner: "p1", ReleaseID: "rel-1"}); err == nil || !strings.Contains(err.Error(), "required id") {
		t.Errorf("a delivery without its customer: %v, want refused", err)
	}
	many := make([]string, activity.MaxRecallReleases+1)
	for i := range many {
		many[i] = "r"
	}
	if err := l.Recall(ctx, activity.Recall{ID: "x", Partner: "p", CustomerID: "c", Releases: many}); err == nil || !strings.Contains(err.Error(), "at most") {
		t.Errorf("a recall of %d releases: %v, want refused", len(many), err)
	}
	big := strings.Repeat("x", jobs.MaxRecordBytes)
	if err := l.Delivery(ctx, activity.Delivery{Partner: "p", ReleaseID: "r", CustomerID: "c", Error: big}); !errors.Is(err, jobs.ErrRecordTooLarge) || !jobs.IsPermanent(err) {
		t.Errorf("a delivery record over %d bytes: %v, want ErrRecordTooLarge, permanent", jobs.MaxRecordBytes, err)
	}
}

func TestARequestIDMayNotStartWithTheActivityPrefix(t *testing.T) {
	req := jobs.Request{ID: "~link", Kind: jobs.KindRelease}
	if err := req.CheckBounds(); err == nil {
		t.Error("a request id starting with ~ is accepted: its run record would be taken for an activity record")
	}
}
