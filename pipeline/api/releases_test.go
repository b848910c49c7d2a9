package api

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/midata/midata/pipeline/consent"
	"github.com/midata/midata/pipeline/jobs"
	"github.com/midata/midata/schemas"
)

func custBody(key string, formats ...string) map[string]any {
	if len(formats) == 0 {
		formats = []string{"midata-csv"}
	}
	b := map[string]any{"from": "2026-01-01", "to": "2026-02-01T00:00:00Z", "formats": formats}
	if key != "" {
		b["idempotency_key"] = key
	}
	return b
}

func TestCustomerRequestRecordsConsentBeforeItIsQueued(t *testing.T) {
	h := newHarness(t)
	rec := h.do(t, "POST", "/v1/customers/C1/releases", tokCustC1, custBody("k1"))
	run := decodeBody[RunView](t, rec, 202)

	want := []string{"consent C1 2026-01-01T00:00:00Z 2026-02-01T00:00:00Z", "submit cust-C1~k1"}
	if got := h.calls.list(); !slices.Equal(got, want) {
		t.Fatalf("calls %q, want %q", got, want)
	}
	req, _ := h.runs.Get("cust-C1~k1")
	wantReq := jobs.Request{
		ID: "cust-C1~k1", Kind: jobs.KindRelease, Recipient: "self", Scope: schemas.Scope{Customers: []string{"C1"}},
		From: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC),
		Formats: []string{"midata-csv"}, RequestedBy: "customer:C1", CreatedAt: testNow,
	}
	if !sameRequest(req.Request, wantReq) || req.Request.ID != wantReq.ID || req.Request.RequestedBy != wantReq.RequestedBy || !req.Request.CreatedAt.Equal(testNow) {
		t.Errorf("queued %+v, want %+v", req.Request, wantReq)
	}
	if run.ID != "cust-C1~k1" || run.Status != jobs.StatusQueued {
		t.Errorf("answered run %s %s, want cust-C1~k1 queued", run.ID, run.Status)
	}
	if run.Worker != "" {
		t.Errorf("a customer sees the worker %q", run.Worker)
	}
}

func TestCustomerRequestIsNotQueuedWhenConsentIsNotRecorded(t *testing.T) {
	h := newHarness(t)
	h.consentErr = fmt.Errorf("publish to midata.consent: %w", jobs.ErrTransient)
	rec := h.do(t, "POST", "/v1/customers/C1/releases", tokCustC1, custBody("k1"))
	errorOf(t, rec, 503)
	if rec.Header().Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	if got := h.calls.list(); !slices.Equal(got, []string{"consent C1 2026-01-01T00:00:00Z 2026-02-01T00:00:00Z"}) {
		t.Errorf("calls %q: want the consent attempt and no submit", got)
	}
}

func TestCustomerRequestWithAnIdempotencyKeyMakesOneRun(t *testing.T) {
	h := newHarness(t)
	first := decodeBody[RunView](t, h.do(t, "POST", "/v1/customers/C1/releases", tokCustC1, custBody("k1")), 202)
	again := h.do(t, "POST", "/v1/customers/C1/releases", tokCustC1, custBody("k1"))
	second := decodeBody[RunView](t, again, 202)
	if first.ID != second.ID {
		t.Errorf("retried POST gave run %s, first %s", second.ID, first.ID)
	}
	if again.Header().Get("Idempotent-Replayed") != "true" {
		t.Error("the replay is not marked Idempotent-Replayed: true")
	}
	if got := h.calls.list(); len(got) != 2 {
		t.Errorf("calls %q: want one consent and one submit for two POSTs", got)
	}

	msg := errorOf(t, h.do(t, "POST", "/v1/customers/C1/releases", tokCustC1, custBody("k1", "ndjson")), 409)
	if !strings.Contains(msg, "new key") {
		t.Errorf("409 message %q does not say to use a new key", msg)
	}
	if got := h.calls.list(); len(got) != 2 {
		t.Errorf("the reused key with another request reached the backends: %q", got)
	}
}

func TestCustomerRequestsWithoutAKeyAreDistinct(t *testing.T) {
	h := newHarness(t)
	a := decodeBody[RunView](t, h.do(t, "POST", "/v1/customers/C1/releases", tokCustC1, custBody("")), 202)
	b := decodeBody[RunView](t, h.do(t, "POST", "/v1/customers/C1/releases", tokCustC1, custBody("")), 202)
	if a.ID == b.ID || !strings.HasPrefix(a.ID, "cust-C1~") || !strings.HasPrefix(b.ID, "cust-C1~") {
		t.Errorf("ids %s and %s: want two different cust-C1~… ids", a.ID, b.ID)
	}
}

// Trust issue, finding 11: C1's key k-x and customer C1-k's key x made the
// same request id (cust-C1-k-x), so the second got 409.
func TestIdempotencyKeysOfTwoCustomersNeverCollide(t *testing.T) {
	h := newHarness(t)
	a := decodeBody[RunView](t, h.do(t, "POST", "/v1/customers/C1/releases", tokCustC1, custBody("k-x")), 202)
	b := decodeBody[RunView](t, h.do(t, "POST", "/v1/customers/C1-k/releases", tokCustC1k, custBody("x", "ndjson")), 202)
	if a.ID == b.ID {
		t.Fatalf("both requests are run %s", a.ID)
	}
}

// Trust issue, finding 2: an ops POST on a customer's route recorded a
// full self grant in the customer's name (over a revocation) and queued a
// run; an ops GET returned the customer's download links. Both are 403,
// and nothing reaches the consent topic or the queue.
func TestOpsNeverActAsACustomer(t *testing.T) {
	h := newHarness(t)
	errorOf(t, h.do(t, "POST", "/v1/customers/C2/releases", tokOps, custBody("k9")), 403)
	errorOf(t, h.do(t, "GET", "/v1/customers/C2/releases", tokOps, nil), 403)
	errorOf(t, h.do(t, "GET", "/v1/partners/px/releases", tokOps, nil), 403)
	if got := h.calls.list(); len(got) != 0 {
		t.Errorf("ops on customer routes reached the backends: %q", got)
	}
}

func TestBadRequestsAreRefusedBeforeAnythingHappens(t *testing.T) {
	rejectAll := func(*Config) {}
	tests := []struct {
		name   string
		path   string
		body   any
		edit   func(*Config)
		status int
		want   string
	}{
		{"a date that does not exist is refused", "/v1/customers/C1/releases",
			map[string]any{"from": "2026-13-01", "to": "2026-02-01", "formats": []string{"midata-csv"}}, rejectAll, 400, `"from" is "2026-13-01"`},
		{"a missing to is refused", "/v1/customers/C1/releases",
			map[string]any{"from": "2026-01-01", "formats": []string{"midata-csv"}}, rejectAll, 400, `"to" is missing`},
		{"from after to is refused", "/v1/customers/C1/releases",
			map[string]any{"from": "2026-02-01", "to": "2026-01-01", "formats": []string{"midata-csv"}}, rejectAll, 400, "is not before to"},
		{"from equal to to is refused", "/v1/customers/C1/releases",
			map[string]any{"from": "2026-02-01", "to": "2026-02-01T00:00:00Z", "formats": []string{"midata-csv"}}, rejectAll, 400, "is not before to"},
		{"an unknown format is refused by the default validation", "/v1/customers/C1/releases",
			custBody("", "xlsx"), rejectAll, 400, `unknown format "xlsx"`},
		{"no format is refused", "/v1/customers/C1/releases",
			map[string]any{"from": "2026-01-01", "to": "2026-02-01"}, rejectAll, 400, "no format"},
		{"the Validate hook decides", "/v1/customers/C1/releases", custBody(""),
			func(c *Config) {
				c.Validate = func(r jobs.Request) error { return fmt.Errorf("format %q is switched off here", r.Formats[0]) }
			}, 400, `format "midata-csv" is switched off here`},
		{"an unknown field is refused by name", "/v1/customers/C1/releases",
			map[string]any{"form": "2026-01-01", "to": "2026-02-01", "formats": []string{"midata-csv"}}, rejectAll, 400, `unknown field "form"`},
		{"a field of the wrong type is refused by name", "/v1/customers/C1/releases",
			map[string]any{"from": "2026-01-01", "to": "2026-02-01", "formats": "midata-csv"}, rejectAll, 400, `field "formats"`},
		{"a body that is not JSON is refused", "/v1/customers/C1/releases", "{from:", rejectAll, 400, "not JSON"},
		{"an empty body is refused", "/v1/customers/C1/releases", "", rejectAll, 400, "empty"},
		{"two objects are refused", "/v1/customers/C1/releases",
			`{"from":"2026-01-01","to":"2026-02-01","formats":["ndjson"]} {}`, rejectAll, 400, "more after its JSON object"},
		{"a body over 1 MiB is refused", "/v1/customers/C1/releases",
			`{"from":"` + strings.Repeat("x", MaxBodyBytes) + `"}`, rejectAll, 413, "over 1048576 bytes"},
		{"a bad idempotency key is refused", "/v1/customers/C1/releases", custBody("a key with spaces"), rejectAll, 400, "idempotency_key"},
		{"a customer id of bad characters is refused", "/v1/releases",
			map[string]any{"recipient": "self", "customers": []string{"C*1"}, "from": "2026-01-01", "to": "2026-02-01", "formats": []string{"ndjson"}}, rejectAll, 400, `C*1`},
		{"a release naming customers and all is refused", "/v1/releases",
			map[string]any{"recipient": "partner:px", "customers": []string{"C1"}, "all": true, "from": "2026-01-01", "to": "2026-02-01", "formats": []string{"ndjson"}},
			rejectAll, 400, `both "all" and "customers"`},
		{"a release naming nobody is refused", "/v1/releases",
			map[string]any{"recipient": "partner:px", "from": "2026-01-01", "to": "2026-02-01", "formats": []string{"ndjson"}}, rejectAll, 400, `neither "all" nor "customers"`},
		{"a release to a bad recipient is refused", "/v1/releases",
			map[string]any{"recipient": "acme", "customers": []string{"C1"}, "from": "2026-01-01", "to": "2026-02-01", "formats": []string{"ndjson"}}, rejectAll, 400, `recipient "acme"`},
		{"the summary format to a partner is refused", "/v1/releases",
			map[string]any{"recipient": "partner:px", "customers": []string{"C1"}, "from": "2026-01-01", "to": "2026-02-01", "formats": []string{"html"}}, rejectAll, 400, "only for recipient self"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.edit)
			tok := tokOps // each route's own role
			if strings.HasPrefix(tt.path, "/v1/customers/C1/") {
				tok = tokCustC1
			}
			msg := errorOf(t, h.do(t, "POST", tt.path, tok, tt.body), tt.status)
			if !strings.Contains(msg, tt.want) {
				t.Errorf("message %q does not contain %q", msg, tt.want)
			}
			if got := h.calls.list(); len(got) > 0 {
				t.Errorf("a refused request reached the backends: %q", got)
			}
		})
	}
}

func TestATextBodyIsRefusedAsTheWrongMediaType(t *testing.T) {
	h := newHarness(t)
	req := httptestRequest(t, "POST", "/v1/customers/C1/releases", custBody(""))
	req.Header.Set("Authorization", "Bearer "+tokCustC1)
	req.Header.Set("Content-Type", "text/plain")
	msg := errorOf(t, serve(h, req), 415)
	if !strings.Contains(msg, "application/json") {
		t.Errorf("415 message %q does not say to send JSON", msg)
	}
}

func TestAMultiLineValidationErrorIsAnsweredOnOneLine(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Validate = func(jobs.Request) error {
			return errors.Join(errors.New("first problem"), errors.New("second problem"))
		}
	})
	msg := errorOf(t, h.do(t, "POST", "/v1/customers/C1/releases", tokCustC1, custBody("")), 400)
	if !strings.Contains(msg, "first problem; second problem") {
		t.Errorf("message %q: want both problems on one line", msg)
	}
}

func TestOpsReleasesQueueTheRightKind(t *testing.T) {
	tests := []struct {
		name      string
		body      map[string]any
		wantID    string
		wantKind  jobs.Kind
		wantScope schemas.Scope
	}{
		{"a list of customers is one release request, duplicates dropped",
			map[string]any{"recipient": "partner:px", "customers": []string{"C1", "C2", "C1"}, "from": "2026-01-01", "to": "2026-02-01", "formats": []string{"ndjson"}, "idempotency_key": "jan"},
			"ops-jan", jobs.KindRelease, schemas.Scope{Customers: []string{"C1", "C2"}}},
		{"everyone with consent is a bulk request",
			map[string]any{"recipient": "partner:px", "all": true, "from": "2026-01-01", "to": "2026-02-01", "formats": []string{"ndjson"}, "idempotency_key": "all-jan"},
			"ops-all-jan", jobs.KindBulk, schemas.Scope{All: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			run := decodeBody[RunView](t, h.do(t, "POST", "/v1/releases", tokOps, tt.body), 202)
			if run.ID != tt.wantID || run.Request.Kind != tt.wantKind || run.Request.Recipient != "partner:px" ||
				run.Request.Scope.All != tt.wantScope.All || !slices.Equal(run.Request.Scope.Customers, tt.wantScope.Customers) {
				t.Errorf("queued %s %s %+v to %s, want %s %s %+v to partner:px", run.ID, run.Request.Kind, run.Request.Scope, run.Request.Recipient, tt.wantID, tt.wantKind, tt.wantScope)
			}
			if got := h.calls.list(); !slices.Equal(got, []string{"submit " + tt.wantID}) {
				t.Errorf("calls %q: want one submit and no consent recorded on the customers' behalf", got)
			}
			if run.Worker != "w-1" {
				t.Errorf("operations do not see the worker: %q", run.Worker)
			}
		})
	}
}

// customerRuns seeds runs of C1 and C2, to self and to a partner, and
// their release outcomes.
func customerRuns(h *harness) {
	t1, t2, t3 := testNow.Add(-3*time.Hour), testNow.Add(-2*time.Hour), testNow.Add(-time.Hour)
	h.runs.put(
		jobs.Run{ID: "own", Status: jobs.StatusSucceeded, Worker: "w-1", CreatedAt: t1,
			Request: jobs.Request{ID: "own", Kind: jobs.KindRelease, Recipient: "self", Scope: schemas.Scope{Customers: []string{"C1"}}}},
		jobs.Run{ID: "list", Status: jobs.StatusSucceeded, Worker: "w-2", CreatedAt: t2,
			Request: jobs.Request{ID: "list", Kind: jobs.KindRelease, Recipient: "self", Scope: schemas.Scope{Customers: []string{"C1", "C2"}}}},
		jobs.Run{ID: "none", Status: jobs.StatusNoConsent, CreatedAt: t3,
			Request: jobs.Request{ID: "none", Kind: jobs.KindRelease, Recipient: "self", Scope: schemas.Scope{Customers: []string{"C1"}}}},
		jobs.Run{ID: "other", Status: jobs.StatusSucceeded, CreatedAt: t3,
			Request: jobs.Request{ID: "other", Kind: jobs.KindRelease, Recipient: "self", Scope: schemas.Scope{Customers: []string{"C2"}}}},
		jobs.Run{ID: "to-px", Status: jobs.StatusSucceeded, Worker: "w-3", CreatedAt: t1,
			Request: jobs.Request{ID: "to-px", Kind: jobs.KindBulk, Recipient: "partner:px", Scope: schemas.Scope{All: true}}},
		jobs.Run{ID: "to-py", Status: jobs.StatusSucceeded, CreatedAt: t2,
			Request: jobs.Request{ID: "to-py", Kind: jobs.KindRelease, Recipient: "partner:py", Scope: schemas.Scope{Customers: []string{"C1"}}}},
	)
	h.runs.putReleases(
		jobs.Release{RunID: "own", ReleaseID: "rel-own", CustomerID: "C1", Status: "committed", Rows: 3},
		jobs.Release{RunID: "list", ReleaseID: "rel-c1", CustomerID: "C1", Status: "already_committed", Rows: 1},
		jobs.Release{RunID: "list", ReleaseID: "rel-c2", CustomerID: "C2", Status: "committed", Rows: 9},
		jobs.Release{RunID: "none", ReleaseID: "rel-none", CustomerID: "C1", Status: "no_consent"},
		jobs.Release{RunID: "other", ReleaseID: "rel-other", CustomerID: "C2", Status: "committed"},
		jobs.Release{RunID: "to-px", TaskID: "to-px/p0", ReleaseID: "rel-px1", CustomerID: "C1", Status: "committed"},
		jobs.Release{RunID: "to-px", TaskID: "to-px/p1", ReleaseID: "rel-px2", CustomerID: "C2", Status: "empty"},
		jobs.Release{RunID: "to-py", ReleaseID: "rel-py", CustomerID: "C1", Status: "committed"},
	)
}

func TestACustomerSeesOnlyTheirOwnReleasesWithLinks(t *testing.T) {
	h := newHarness(t)
	customerRuns(h)
	list := decodeBody[RunList](t, h.do(t, "GET", "/v1/customers/C1/releases", tokCustC1, nil), 200)

	var ids []string
	for _, r := range list.Runs {
		ids = append(ids, r.ID)
	}
	if want := []string{"none", "list", "own"}; !slices.Equal(ids, want) {
		t.Fatalf("runs %q, want %q (the customer's, to self, newest first)", ids, want)
	}
	if f := h.runs.lastFilter(t); f.Customer != "C1" || f.Recipient != "self" || f.Limit != DefaultListLimit+1 {
		t.Errorf("filter %+v, want customer C1, recipient self, limit %d (one more: a next page?)", f, DefaultListLimit+1)
	}
	shared := list.Runs[1]
	if !slices.Equal(shared.Request.Scope.Customers, []string{"C1"}) {
		t.Errorf("the customer sees the scope %q of a shared run, want only themself", shared.Request.Scope.Customers)
	}
	if len(shared.Releases) != 1 || shared.Releases[0].CustomerID != "C1" {
		t.Fatalf("the customer sees releases %+v of a shared run, want only their own", shared.Releases)
	}
	if p := shared.Releases[0].LinksPath; p != "/v1/customers/C1/releases/rel-c1/links" {
		t.Errorf("links path %q, want the links route of rel-c1", p)
	}
	if shared.Worker != "" {
		t.Errorf("a customer sees the worker %q", shared.Worker)
	}
	if rel := list.Runs[0].Releases; len(rel) != 1 || rel[0].LinksPath != "" {
		t.Errorf("a no_consent release has links: %+v", rel)
	}
	// Trust issue, finding 7: a listing signed a link of every release (a
	// manifest read each). It signs none.
	if calls := h.calls.list(); len(calls) != 0 {
		t.Errorf("a listing signed links: %q", calls)
	}
	links := decodeBody[ReleaseLinks](t, h.do(t, "GET", "/v1/customers/C1/releases/rel-c1/links", tokCustC1, nil), 200)
	if l := links.Links; len(l) != 1 || !strings.Contains(l[0].URL, "rel-c1") || l[0].Path == "" || l[0].ExpiresAt.IsZero() {
		t.Errorf("links %+v, want the signed link of rel-c1", l)
	}
	if calls := h.calls.list(); !slices.Equal(calls, []string{"links rel-c1 C1 self"}) {
		t.Errorf("links asked %q, want rel-c1's for C1 to self", calls)
	}
}

// Trust issue, finding 8: nothing compared a release's customer and
// recipient with the caller, and links were signed with no check of
// consent. Another's release is not found; a withdrawn consent is 410.
func TestLinksAreTheOwnersOnlyAndNeverOutliveConsent(t *testing.T) {
	h := newHarness(t)
	customerRuns(h)
	for _, tc := range []struct{ path, tok string }{
		{"/v1/customers/C1/releases/rel-c2/links", tokCustC1},   // C2's release
		{"/v1/customers/C1/releases/rel-px1/links", tokCustC1},  // C1's, but to partner px
		{"/v1/partners/py/releases/rel-px1/links", tokPartnerY}, // px's
		{"/v1/customers/C1/releases/nope/links", tokCustC1},
	} {
		errorOf(t, h.do(t, "GET", tc.path, tc.tok, nil), 404)
	}
	if l := decodeBody[ReleaseLinks](t, h.do(t, "GET", "/v1/partners/px/releases/rel-px1/links", tokPartnerX, nil), 200); len(l.Links) != 1 {
		t.Errorf("partner px's links of its release: %+v", l)
	}
	h.linksErr = fmt.Errorf("links of release rel-c1: %w: consent K-1 for C1 to self is revoked", consent.ErrNoConsent)
	msg := errorOf(t, h.do(t, "GET", "/v1/customers/C1/releases/rel-c1/links", tokCustC1, nil), 410)
	if !strings.Contains(msg, "withdrawn") {
		t.Errorf("410 message %q does not say the consent was withdrawn", msg)
	}
}

func TestALinkThatCannotBeSignedIsReportedNotFatal(t *testing.T) {
	h := newHarness(t)
	customerRuns(h)
	h.linksErr = errors.New("presign: store at 10.1.2.3 refused")
	rec := h.do(t, "GET", "/v1/customers/C1/releases/rel-own/links", tokCustC1, nil)
	errorOf(t, rec, 500)
	if strings.Contains(rec.Body.String(), "10.1.2.3") {
		t.Error("the store's error detail reached the customer")
	}
}

func TestAPartnerSeesTheReleasesMadeForItWithLinks(t *testing.T) {
	h := newHarness(t)
	customerRuns(h)
	list := decodeBody[RunList](t, h.do(t, "GET", "/v1/partners/px/releases?limit=5", tokPartnerX, nil), 200)
	if len(list.Runs) != 1 || list.Runs[0].ID != "to-px" {
		t.Fatalf("runs %+v, want to-px only", list.Runs)
	}
	if f := h.runs.lastFilter(t); f.Recipient != "partner:px" || f.Limit != 6 || f.Customer != "" {
		t.Errorf("filter %+v, want recipient partner:px, limit 6 (5 and one more)", f)
	}
	rels := list.Runs[0].Releases
	if len(rels) != 2 || rels[0].LinksPath != "/v1/partners/px/releases/rel-px1/links" || rels[1].LinksPath == "" {
		t.Errorf("releases %+v: want both (committed and empty) with their links path", rels)
	}
	if list.Runs[0].Worker != "" {
		t.Errorf("a partner sees the worker %q", list.Runs[0].Worker)
	}
}

func TestACustomerListRefusesAFilterItDoesNotTake(t *testing.T) {
	h := newHarness(t)
	msg := errorOf(t, h.do(t, "GET", "/v1/customers/C1/releases?recipient=partner:px", tokCustC1, nil), 400)
	if !strings.Contains(msg, `unknown query parameter "recipient"`) {
		t.Errorf("message %q", msg)
	}
}

// Trust issue, finding 6: a customer listing an ops run over [C1, C2] saw
// the run's error (C2's, with store paths and request ids) and its
// progress over everyone; a partner saw every customer of the request's
// scope, no_consent outcomes of people who never consented to it among
// them, and counts that numbered them.
func TestRunViewsShowCustomersAndPartnersNothingOfOthers(t *testing.T) {
	h := newHarness(t)
	leak := "release of C2: put s3://releases/r-9/C2/x: AccessDenied, request id 4F2A"
	h.runs.put(
		jobs.Run{ID: "mixed", Status: jobs.StatusFailed, CreatedAt: testNow, Error: leak,
			Progress: jobs.Progress{RecordsScanned: 5000, CustomersDone: 2, Customers: 2},
			Request:  jobs.Request{ID: "mixed", Kind: jobs.KindRelease, Recipient: "self", Scope: schemas.Scope{Customers: []string{"C1", "C2"}}}},
		jobs.Run{ID: "to-px", Status: jobs.StatusFailed, CreatedAt: testNow, Error: leak,
			Counts:  jobs.Counts{Releases: 3, Committed: 1, NoConsent: 1, Cancelled: 1},
			Request: jobs.Request{ID: "to-px", Kind: jobs.KindRelease, Recipient: "partner:px", Scope: schemas.Scope{Customers: []string{"C1", "C2", "C3"}}}},
	)
	h.runs.putReleases(
		jobs.Release{RunID: "mixed", ReleaseID: "rel-m1", CustomerID: "C1", Status: "committed", Rows: 3},
		jobs.Release{RunID: "to-px", ReleaseID: "rel-p1", CustomerID: "C1", Status: "committed"},
		jobs.Release{RunID: "to-px", ReleaseID: "rel-p2", CustomerID: "C2", Status: "no_consent"},
		jobs.Release{RunID: "to-px", ReleaseID: "rel-p3", CustomerID: "C3", Status: "cancelled"},
	)
	rec := h.do(t, "GET", "/v1/customers/C1/releases", tokCustC1, nil)
	body := rec.Body.String()
	list := decodeBody[RunList](t, rec, 200)
	if len(list.Runs) != 1 {
		t.Fatalf("customer runs %+v, want mixed", list.Runs)
	}
	if strings.Contains(body, "C2") || strings.Contains(body, "s3://") || strings.Contains(body, "4F2A") {
		t.Errorf("the customer's view shows others or internals: %s", body)
	}
	if r := list.Runs[0]; r.Error == "" || r.Progress != (jobs.Progress{}) {
		t.Errorf("customer view: error %q progress %+v; want a plain error and no run-wide progress", r.Error, r.Progress)
	}

	rec = h.do(t, "GET", "/v1/partners/px/releases", tokPartnerX, nil)
	body = rec.Body.String()
	plist := decodeBody[RunList](t, rec, 200)
	if len(plist.Runs) != 1 {
		t.Fatalf("partner runs %+v, want to-px", plist.Runs)
	}
	r := plist.Runs[0]
	if len(r.Releases) != 1 || r.Releases[0].CustomerID != "C1" {
		t.Errorf("partner releases %+v, want only C1's committed one", r.Releases)
	}
	if strings.Contains(body, "C2") || strings.Contains(body, "C3") || strings.Contains(body, "4F2A") || r.Counts != (jobs.Counts{}) {
		t.Errorf("the partner's view shows customers who did not consent, counts or internals: %s", body)
	}
}

// Trust issue, finding 13: a period of dates is the organisation's
// calendar days (the UK's June), not UTC's.
func TestAPeriodOfDatesIsTheOrganisationsDays(t *testing.T) {
	london, _ := time.LoadLocation("Europe/London")
	h := newHarness(t, func(c *Config) { c.Location = london })
	body := map[string]any{"from": "2026-06-01", "to": "2026-07-01", "formats": []string{"ndjson"}, "idempotency_key": "june"}
	decodeBody[RunView](t, h.do(t, "POST", "/v1/customers/C1/releases", tokCustC1, body), 202)
	run, _ := h.runs.Get("cust-C1~june")
	if from, to := run.Request.From, run.Request.To; !from.Equal(time.Date(2026, 5, 31, 23, 0, 0, 0, time.UTC)) || !to.Equal(time.Date(2026, 6, 30, 23, 0, 0, 0, time.UTC)) {
		t.Errorf("June in London: [%s, %s), want [2026-05-31T23:00Z, 2026-06-30T23:00Z)", from, to)
	}
}

func TestAPartnerPullsItsBundles(t *testing.T) {
	h := newHarness(t)
	r := h.do(t, "GET", "/v1/partners/px/bundles", tokPartnerX, nil)
	if r.Code != 200 || !strings.Contains(r.Body.String(), `"link_path":"/v1/partners/px/bundles/rel-p"`) {
		t.Errorf("list: %d %s", r.Code, r.Body)
	}
	if r := h.do(t, "GET", "/v1/partners/px/bundles/rel-p", tokPartnerX, nil); r.Code != 200 || !strings.Contains(r.Body.String(), "sig=x") {
		t.Errorf("link: %d %s", r.Code, r.Body)
	}
	if r := h.do(t, "GET", "/v1/partners/px/bundles/rel-gone", tokPartnerX, nil); r.Code != 410 {
		t.Errorf("a withdrawn release's bundle: %d %s, want 410", r.Code, r.Body)
	}
	if r := h.do(t, "GET", "/v1/partners/px/bundles/rel-none", tokPartnerX, nil); r.Code != 404 {
		t.Errorf("no such bundle: %d, want 404", r.Code)
	}
	h = newHarness(t, func(c *Config) { c.Bundles = nil })
	if r := h.do(t, "GET", "/v1/partners/px/bundles", tokPartnerX, nil); r.Code != 404 {
		t.Errorf("no partners configured: %d", r.Code)
	}
}
