package custody_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/pipeline/activity"
	"github.com/midata/midata/pipeline/api/custody"
	"github.com/midata/midata/pipeline/delivery"
	"github.com/midata/midata/pipeline/jobs"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/schemas"
	"github.com/midata/midata/schemas/release"
)

// auditBench is a runs topic with runs, outcomes and activity of two
// customers, a consent topic with their consent events, and the audit
// handler over views of both.
type auditBench struct {
	mux    *http.ServeMux
	reads  atomic.Int64 // reads of the consent topic
	at     time.Time
	events map[string]jobs.EventAt // consent id → where its event is
}

// consentEvents are published in this order on a one-partition consent
// topic: consent id, customer, recipient, actor.
var consentEvents = [][4]string{
	{"K-A-self", "CA", "self", "customer"},
	{"K-A-px", "CA", "partner:px", "ops"},
	{"K-B-self", "CB", "self", "customer"},
}

func newAuditBench(t *testing.T) *auditBench {
	t.Helper()
	ctx := t.Context()
	brokers := testbench.Kafka(t)
	conn := topics.Connection{Brokers: brokers}
	runs, consentTopic := testbench.UniqueName(t, "runs"), testbench.UniqueName(t, "consent")
	testbench.CreateTopic(t, brokers, runs, topics.RunsPartitions)
	testbench.CreateTopic(t, brokers, consentTopic, 1) // one partition: the events' offsets are their order
	b := &auditBench{at: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC), events: map[string]jobs.EventAt{}}

	prod := topics.NewProducer(conn, nil)
	defer prod.Close()
	for i, e := range consentEvents {
		v := fmt.Sprintf(`{"consent_id":%q,"customer_id":%q,"recipient":%q,"status":"granted","categories":["transactions"],"event_time":"2026-10-01T00:00:00Z","actor":%q}`, e[0], e[1], e[2], e[3])
		if err := prod.Publish(ctx, consentTopic, []byte(schemas.ConsentKey(e[1], schemas.Recipient(e[2]))), []byte(v)); err != nil {
			t.Fatal(err)
		}
		b.events[e[0]] = jobs.EventAt{Partition: 0, Offset: int64(i)}
	}

	jl, err := jobs.NewLedger(jobs.LedgerConfig{Kafka: conn, Topic: runs})
	if err != nil {
		t.Fatal(err)
	}
	defer jl.Close()
	for _, r := range b.runs() {
		if _, err := jl.Publish(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := jl.PublishReleases(ctx, b.outcomes()); err != nil {
		t.Fatal(err)
	}
	al := activity.NewLedger(conn, runs, nil)
	defer al.Close()
	for _, err := range b.activity(ctx, al) {
		if err != nil {
			t.Fatal(err)
		}
	}

	rv, err := jobs.OpenView(ctx, jobs.ViewConfig{Kafka: conn, Topic: runs, MaxWait: 250 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rv.Close() })
	av, err := activity.OpenView(ctx, conn, runs, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { av.Close() })
	actor := delivery.ActorFrom(conn, consentTopic)
	h := custody.AuditHandler(&custody.AuditBackend{Runs: rv, View: av, Now: func() time.Time { return b.at.Add(48 * time.Hour) },
		Actor: func(ctx context.Context, ev schemas.ConsentEvent) (string, error) {
			b.reads.Add(1)
			return actor(ctx, ev)
		}}, responder{})
	b.mux = http.NewServeMux()
	b.mux.Handle("GET /v1/audit/customers/{id}", h)
	return b
}

// ref is the consent reference of a release committed under consent id,
// as the executor records it.
func (b *auditBench) ref(id string) *jobs.ConsentRef {
	at := b.events[id]
	return &jobs.ConsentRef{ID: id, Categories: []string{"transactions"}, WindowFrom: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		ExpiresAt: time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC), Event: &at}
}

func files(rel string) []jobs.FileRef {
	return []jobs.FileRef{
		{Path: "s3://b/releases/" + rel + "/att1/transactions.csv", Format: "midata-csv", SHA256: strings.Repeat("a", 63) + rel[len(rel)-1:], Bytes: 120, Rows: 3},
		{Path: "s3://b/releases/" + rel + "/att1/README.txt", Format: "readme", SHA256: strings.Repeat("b", 64), Bytes: 40},
	}
}

// filesOf is files(rel) as an outcome records them.
func filesOf(rel string) *[]jobs.FileRef {
	f := files(rel)
	return &f
}

func auditRun(id string, kind jobs.Kind, recipient schemas.Recipient, scope schemas.Scope, status jobs.Status, created time.Time) jobs.Run {
	req := jobs.Request{ID: id, Kind: kind, Recipient: recipient, Scope: scope, From: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC),
		To: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), Formats: []string{"midata-csv"}, RequestedBy: "ops", CreatedAt: created}
	return jobs.Run{ID: id, Request: req, Status: status, CreatedAt: created}
}

// The runs: of CA a self release, a partner release, one without consent,
// a bulk run that found its release committed, and a failed run without
// an outcome; of CB a self release in a run of its own and one in the
// bulk run.
func (b *auditBench) runs() []jobs.Run {
	one := func(c string) schemas.Scope { return schemas.Scope{Customers: []string{c}} }
	return []jobs.Run{
		auditRun("r-a-self", jobs.KindRelease, "self", one("CA"), jobs.StatusSucceeded, b.at),
		auditRun("r-a-px", jobs.KindRelease, "partner:px", one("CA"), jobs.StatusSucceeded, b.at.Add(time.Hour)),
		auditRun("r-a-none", jobs.KindRelease, "partner:py", one("CA"), jobs.StatusNoConsent, b.at.Add(2*time.Hour)),
		auditRun("r-bulk", jobs.KindBulk, "partner:px", schemas.Scope{All: true}, jobs.StatusSucceeded, b.at.Add(3*time.Hour)),
		auditRun("r-a-failed", jobs.KindRelease, "self", one("CA"), jobs.StatusFailed, b.at.Add(4*time.Hour)),
		auditRun("r-b-self", jobs.KindRelease, "self", one("CB"), jobs.StatusSucceeded, b.at.Add(5*time.Hour)),
	}
}

func (b *auditBench) outcomes() []jobs.Release {
	return []jobs.Release{
		{RunID: "r-a-self", ReleaseID: "rel-a1", CustomerID: "CA", Status: release.StatusCommitted, Rows: 3, Manifest: "s3://b/releases/rel-a1/manifest.json",
			Consent: b.ref("K-A-self"), Files: filesOf("rel-a1")},
		{RunID: "r-a-px", ReleaseID: "rel-a2", CustomerID: "CA", Status: release.StatusCommitted, Rows: 3, Consent: b.ref("K-A-px"), Files: filesOf("rel-a2")},
		{RunID: "r-a-none", CustomerID: "CA", Status: release.StatusNoConsent, Reason: "no consent for partner:py"},
		{RunID: "r-bulk", TaskID: "r-bulk/p0", ReleaseID: "rel-a3", CustomerID: "CA", Status: release.StatusAlreadyCommitted, Rows: 3,
			Consent: b.ref("K-A-px"), Files: filesOf("rel-a3")},
		{RunID: "r-bulk", TaskID: "r-bulk/p0", ReleaseID: "rel-b2", CustomerID: "CB", Status: release.StatusEmpty,
			Consent: &jobs.ConsentRef{ID: "K-B-px", Categories: []string{"transactions"}}, Files: &[]jobs.FileRef{files("rel-b2")[1]}},
		{RunID: "r-b-self", ReleaseID: "rel-b1", CustomerID: "CB", Status: release.StatusCommitted, Rows: 3, Consent: b.ref("K-B-self"), Files: filesOf("rel-b1")},
	}
}

func (b *auditBench) activity(ctx context.Context, l *activity.Ledger) []error {
	at := b.at.Add(10 * time.Minute)
	link := func(id, rel, customer string) activity.Link {
		return activity.Link{ID: id, ReleaseID: rel, CustomerID: customer, Recipient: "self", File: "transactions.csv",
			Object: "releases/" + rel + "/att1/transactions.csv", IssuedAt: at, ExpiresAt: at.Add(7 * 24 * time.Hour)}
	}
	return []error{
		l.Link(ctx, link(strings.Repeat("1", 32), "rel-a1", "CA")),
		l.Download(ctx, activity.Download{LinkID: strings.Repeat("1", 32), ReleaseID: "rel-a1", CustomerID: "CA", File: "transactions.csv", At: at.Add(time.Minute)}),
		l.Download(ctx, activity.Download{LinkID: strings.Repeat("1", 32), ReleaseID: "rel-a1", CustomerID: "CA", File: "transactions.csv", At: at.Add(2 * time.Minute)}),
		l.Revoke(ctx, activity.Revocation{ReleaseID: "rel-a1", CustomerID: "CA", By: "customer", At: at.Add(time.Hour)}),
		l.Deleted(ctx, activity.Deletion{ReleaseID: "rel-a1", CustomerID: "CA", Recipient: "self", Objects: 3, By: "customer", At: at.Add(time.Hour)}),
		l.Delivery(ctx, activity.Delivery{Partner: "px", ReleaseID: "rel-a2", CustomerID: "CA", RunID: "r-a-px", Status: activity.DeliveryDelivered,
			Key: "bundles/rel-a2.tar", SHA256: strings.Repeat("c", 64), Bytes: 900, At: at.Add(time.Hour)}),
		l.Recall(ctx, activity.Recall{ID: "rc-1", Partner: "px", CustomerID: "CA", ConsentID: "K-A-px-revoked", Releases: []string{"rel-a2", "rel-a3"},
			Status: activity.RecallSent, At: at.Add(30 * time.Hour)}),
		// CB's, which CA's audit must not show.
		l.Link(ctx, link(strings.Repeat("2", 32), "rel-b1", "CB")),
		l.Download(ctx, activity.Download{LinkID: strings.Repeat("2", 32), ReleaseID: "rel-b1", CustomerID: "CB", File: "transactions.csv", At: at.Add(time.Minute)}),
		l.Delivery(ctx, activity.Delivery{Partner: "px", ReleaseID: "rel-b2", CustomerID: "CB", RunID: "r-bulk", Status: activity.DeliveryFailed, Error: "HTTP 500", At: at}),
	}
}

// get calls the handler, which syncs the views with the bench's writes.
func (b *auditBench) get(t *testing.T, path string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	b.mux.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), "GET", path, nil))
	return rec
}

func (b *auditBench) audit(t *testing.T, customer string) custody.Audit {
	t.Helper()
	rec := b.get(t, "/v1/audit/customers/"+customer)
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		t.Fatalf("audit of %s: %d %s", customer, rec.Code, rec.Body)
	}
	body := rec.Body.String()
	for _, secret := range []string{"token", "url", "sig=", "att1/transactions.csv?"} {
		if strings.Contains(strings.ToLower(body), secret) {
			t.Errorf("the audit shows %q: ops never see links or their tokens: %s", secret, body)
		}
	}
	var a custody.Audit
	if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
		t.Fatal(err)
	}
	return a
}

func TestTheAuditOfACustomerIsEveryReleaseAboutThemWithItsConsentFilesAndActivity(t *testing.T) {
	b := newAuditBench(t)
	a := b.audit(t, "CA")
	if a.CustomerID != "CA" || !a.GeneratedAt.Equal(b.at.Add(48*time.Hour)) {
		t.Errorf("customer %q generated %v", a.CustomerID, a.GeneratedAt)
	}
	var got []string
	for _, e := range a.Releases {
		got = append(got, e.RunID+"/"+e.ReleaseID+"/"+string(e.Status))
	}
	// Newest run first; the failed run has no outcome, CB's runs are not there.
	want := []string{"r-a-failed//", "r-bulk/rel-a3/already_committed", "r-a-none//no_consent", "r-a-px/rel-a2/committed", "r-a-self/rel-a1/committed"}
	if !slices.Equal(got, want) {
		t.Fatalf("releases %q, want %q", got, want)
	}
	by := map[string]custody.AuditRelease{}
	for _, e := range a.Releases {
		by[e.RunID] = e
	}
	for run, rel := range map[string]string{"r-a-self": "rel-a1", "r-a-px": "rel-a2", "r-bulk": "rel-a3"} {
		if !by[run].Released || !slices.Equal(by[run].Files, files(rel)) {
			t.Errorf("%s: released %v, files %+v; want released, files %+v", run, by[run].Released, by[run].Files, files(rel))
		}
	}
	if e := by["r-a-none"]; e.Released || e.Consent != nil || len(e.Files) != 0 || e.Reason != "no consent for partner:py" || e.Recipient != "partner:py" {
		t.Errorf("the release without consent: %+v", e)
	}
	if e := by["r-a-failed"]; e.Released || e.RunStatus != jobs.StatusFailed || e.ReleaseID != "" {
		t.Errorf("the failed run: %+v", e)
	}

	// The consent of each, its actor read from the consent topic.
	for run, want := range map[string][2]string{"r-a-self": {"K-A-self", "customer"}, "r-a-px": {"K-A-px", "ops"}, "r-bulk": {"K-A-px", "ops"}} {
		c := by[run].Consent
		ref := b.ref(want[0])
		if c == nil || c.ID != want[0] || c.Actor != want[1] || !slices.Equal(c.Categories, []string{"transactions"}) ||
			!c.WindowFrom.Equal(ref.WindowFrom) || !c.WindowTo.IsZero() || !c.ExpiresAt.Equal(ref.ExpiresAt) || c.Event == nil || *c.Event != *ref.Event || c.Unknown != "" {
			t.Errorf("%s: consent %+v, want %s granted by %s, as recorded", run, c, want[0], want[1])
		}
	}
	if n := b.reads.Load(); n != 2 {
		t.Errorf("%d reads of the consent topic, want 2: one per consent event", n)
	}

	// What happened to them after.
	self := by["r-a-self"]
	if self.Recipient != "self" || self.Period == nil || !self.Period.From.Equal(time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)) ||
		!self.CreatedAt.Equal(b.at) || self.Manifest != "s3://b/releases/rel-a1/manifest.json" || self.RequestedBy != "ops" {
		t.Errorf("the self release: %+v", self)
	}
	if len(self.Links) != 1 || self.Links[0].ID != strings.Repeat("1", 32) || self.Links[0].RevokedBy != "customer" {
		t.Errorf("links %+v, want the one link, revoked with its release by the customer", self.Links)
	}
	if len(self.Downloads) != 2 || self.Downloads[0].File != "transactions.csv" || !self.Downloads[0].At.Equal(b.at.Add(12*time.Minute)) {
		t.Errorf("downloads %+v, want two of transactions.csv, the latest first", self.Downloads)
	}
	if d := self.Deleted; d == nil || d.By != "customer" || d.Objects != 3 || self.LinksRevoked == nil || self.LinksRevoked.By != "customer" {
		t.Errorf("deleted %+v, links revoked %+v", d, self.LinksRevoked)
	}
	px := by["r-a-px"]
	if len(px.Deliveries) != 1 || px.Deliveries[0].Status != activity.DeliveryDelivered || len(px.Downloads) != 0 || px.Deleted != nil ||
		!slices.Equal(px.Recalls, []string{"rc-1"}) || !slices.Equal(by["r-bulk"].Recalls, []string{"rc-1"}) {
		t.Errorf("the partner release: deliveries %+v, downloads %+v, recalls %q", px.Deliveries, px.Downloads, px.Recalls)
	}
	if len(a.Recalls) != 1 || a.Recalls[0].ID != "rc-1" {
		t.Errorf("recalls %+v", a.Recalls)
	}
	for _, e := range a.Releases {
		for _, d := range e.Deliveries {
			if d.CustomerID != "CA" {
				t.Errorf("CA's audit shows %s's delivery %+v", d.CustomerID, d)
			}
		}
	}

	// CB's has CB's only: the empty bulk release, whose event was not at
	// hand, says so.
	bb := b.audit(t, "CB")
	got = nil
	for _, e := range bb.Releases {
		got = append(got, e.ReleaseID)
	}
	if !slices.Equal(got, []string{"rel-b1", "rel-b2"}) {
		t.Fatalf("CB's releases %q", got)
	}
	if e := bb.Releases[1]; e.Released || e.Consent == nil || e.Consent.ID != "K-B-px" || e.Consent.Actor != "" || e.Consent.Unknown == "" ||
		len(e.Deliveries) != 1 || e.Deliveries[0].Status != activity.DeliveryFailed {
		t.Errorf("CB's bulk release: %+v", e)
	}
	if e := bb.Releases[0]; e.Consent == nil || e.Consent.Actor != "customer" || len(e.Downloads) != 1 {
		t.Errorf("CB's self release: %+v", e)
	}
}

func TestTheAuditAsCSVIsOneRowPerReleaseAndFile(t *testing.T) {
	b := newAuditBench(t)
	rec := b.get(t, "/v1/audit/customers/CA?format=csv")
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "text/csv; charset=utf-8" {
		t.Fatalf("csv: %d %q %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
	rows, err := csv.NewReader(rec.Body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	header := []string{"customer_id", "release_id", "run_id", "recipient", "run_status", "status", "released", "rows",
		"period_from", "period_to", "created_at", "requested_by",
		"consent_id", "consent_actor", "consent_categories", "consent_window_from", "consent_window_to", "consent_expires_at",
		"consent_partition", "consent_offset",
		"file_path", "file_format", "file_sha256", "file_bytes", "file_rows", "file_downloads", "last_download_at",
		"delivery_status", "delivered_at", "links", "links_revoked_at", "deleted_at", "deleted_by", "recalls"}
	if len(rows) == 0 || !slices.Equal(rows[0], header) {
		t.Fatalf("header %q, want %q", rows[0], header)
	}
	col := func(row []string, name string) string { return row[slices.Index(header, name)] }
	// 3 releases with 2 files, and a row each for the run without consent
	// and the failed one.
	if len(rows) != 1+3*2+2 {
		t.Fatalf("%d rows, want 9: %q", len(rows), rows)
	}
	var self []string
	for _, r := range rows[1:] {
		if col(r, "customer_id") != "CA" {
			t.Errorf("row of %s", col(r, "customer_id"))
		}
		if col(r, "release_id") == "rel-a1" && strings.HasSuffix(col(r, "file_path"), "/transactions.csv") {
			self = r
		}
	}
	if self == nil {
		t.Fatal("no row of rel-a1's transactions.csv")
	}
	for name, want := range map[string]string{"run_id": "r-a-self", "recipient": "self", "status": "committed", "released": "true", "rows": "3",
		"consent_id": "K-A-self", "consent_actor": "customer", "consent_categories": "transactions", "consent_window_from": "2026-01-01T00:00:00Z",
		"consent_window_to": "", "consent_partition": "0", "consent_offset": "0", "file_sha256": files("rel-a1")[0].SHA256, "file_bytes": "120",
		"file_downloads": "2", "last_download_at": "2026-11-02T09:12:00Z", "links": "1", "deleted_by": "customer", "deleted_at": "2026-11-02T10:10:00Z",
		"period_from": "2026-10-01T00:00:00Z", "period_to": "2026-11-01T00:00:00Z"} {
		if got := col(self, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}

func TestTheAuditRefusesABadCustomerOrFormat(t *testing.T) {
	b := newAuditBench(t)
	for _, path := range []string{"/v1/audit/customers/C%7C1", "/v1/audit/customers/CA?format=xml"} {
		if rec := b.get(t, path); rec.Code != 400 {
			t.Errorf("GET %s: %d %s, want 400", path, rec.Code, rec.Body)
		}
	}
}
