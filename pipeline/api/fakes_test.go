package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/midata/midata/pipeline"
	"github.com/midata/midata/pipeline/api/ports"
	"github.com/midata/midata/pipeline/api/wire"
	"github.com/midata/midata/pipeline/consent"
	"github.com/midata/midata/pipeline/jobs"
	"github.com/midata/midata/pipeline/schedule"
	"github.com/midata/midata/schemas"
	"github.com/midata/midata/sinks"
)

// The tokens of the tests and their roles.
const (
	tokOps      = "ops-token-0123456789abcdef"
	tokCustC1   = "customer-C1-token-0123456789"
	tokCustC2   = "customer-C2-token-0123456789"
	tokCustC1k  = "customer-C1-k-token-0123456789"
	tokPartnerX = "partner-px-token-0123456789"
	tokPartnerY = "partner-py-token-0123456789"
)

var testTokens = map[string]string{
	tokOps:      "ops",
	tokCustC1:   "customer:C1",
	tokCustC2:   "customer:C2",
	tokCustC1k:  "customer:C1-k",
	tokPartnerX: "partner:px",
	tokPartnerY: "partner:py",
}

// testNow is the clock of every test API.
var testNow = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// calls records, in order, the calls the fakes see that change something.
type calls struct {
	mu  sync.Mutex
	log []string
}

func (c *calls) add(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.log = append(c.log, fmt.Sprintf(format, args...))
}

func (c *calls) list() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.log)
}

// fakeRuns keeps runs in a map and filters them as the jobs view would.
type fakeRuns struct {
	calls     *calls
	mu        sync.Mutex
	runs      map[string]jobs.Run
	rels      map[string][]jobs.Release // by run, in customer order
	submitErr error
	filters   []jobs.RunFilter
}

func (f *fakeRuns) Submit(_ context.Context, req jobs.Request) (jobs.Run, error) {
	f.calls.add("submit %s", req.ID)
	if f.submitErr != nil {
		return jobs.Run{}, f.submitErr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	run := jobs.Run{ID: req.ID, Request: req, Status: jobs.StatusQueued, Worker: "w-1", CreatedAt: req.CreatedAt, UpdatedAt: req.CreatedAt}
	f.runs[req.ID] = run
	return run, nil
}

func (f *fakeRuns) Get(id string) (jobs.Run, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.runs[id]
	return r, ok
}

func (f *fakeRuns) List(flt jobs.RunFilter) []jobs.Run {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.filters = append(f.filters, flt)
	var out []jobs.Run
	for _, id := range slices.Sorted(maps.Keys(f.runs)) {
		r := f.runs[id]
		switch {
		case len(flt.Status) > 0 && !slices.Contains(flt.Status, r.Status),
			flt.ScheduleID != "" && r.Request.ScheduleID != flt.ScheduleID,
			flt.Recipient != "" && r.Request.Recipient != flt.Recipient,
			flt.Customer != "" && !slices.Contains(r.Request.Scope.Customers, flt.Customer) &&
				!slices.ContainsFunc(f.rels[id], func(rel jobs.Release) bool { return rel.CustomerID == flt.Customer }):
			continue
		}
		out = append(out, r)
	}
	// Newest first (time down, id up) to cut the page after the cursor,
	// then oldest first on purpose: the API orders the list itself.
	slices.SortFunc(out, func(a, b jobs.Run) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	if c := flt.After; c.ID != "" {
		out = slices.DeleteFunc(out, func(r jobs.Run) bool {
			return r.CreatedAt.After(c.CreatedAt) || r.CreatedAt.Equal(c.CreatedAt) && r.ID <= c.ID
		})
	}
	if len(out) > flt.Limit {
		out = out[:flt.Limit]
	}
	slices.Reverse(out)
	return out
}

func (f *fakeRuns) put(runs ...jobs.Run) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range runs {
		f.runs[r.ID] = r
	}
}

// owner is the customer and recipient of release id, as its manifest says.
func (f *fakeRuns) owner(id string) (pipeline.Owner, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for run, rels := range f.rels {
		for _, r := range rels {
			if r.ReleaseID == id {
				return pipeline.Owner{CustomerID: r.CustomerID, Recipient: f.runs[run].Request.Recipient}, true
			}
		}
	}
	return pipeline.Owner{}, false
}

// putReleases adds outcomes, kept by run in customer order as the view
// pages them.
func (f *fakeRuns) putReleases(rels ...jobs.Release) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.rels == nil {
		f.rels = map[string][]jobs.Release{}
	}
	for _, r := range rels {
		f.rels[r.RunID] = append(f.rels[r.RunID], r)
		slices.SortFunc(f.rels[r.RunID], func(a, b jobs.Release) int { return strings.Compare(a.CustomerID, b.CustomerID) })
	}
}

func (f *fakeRuns) Release(_ context.Context, runID, customerID string) (jobs.Release, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.rels[runID] {
		if r.CustomerID == customerID {
			return r, true, nil
		}
	}
	return jobs.Release{}, false, nil
}

func (f *fakeRuns) Releases(_ context.Context, runID, after string, limit int) ([]jobs.Release, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	all := f.rels[runID]
	i := 0
	for i < len(all) && all[i].CustomerID <= after {
		i++
	}
	end := min(len(all), i+limit)
	next := ""
	if end < len(all) {
		next = all[end-1].CustomerID
	}
	return slices.Clone(all[i:end]), next, nil
}

func (f *fakeRuns) lastFilter(t *testing.T) jobs.RunFilter {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.filters) == 0 {
		t.Fatal("List was not called")
	}
	return f.filters[len(f.filters)-1]
}

// fakeControl returns the run it is told to, or err.
type fakeControl struct {
	calls *calls
	runs  *fakeRuns
	err   error
}

func (f *fakeControl) Cancel(_ context.Context, id string) (jobs.Run, error) {
	f.calls.add("cancel %s", id)
	return f.change(id, jobs.StatusCancelling)
}

func (f *fakeControl) Retry(_ context.Context, id string) (jobs.Run, error) {
	f.calls.add("retry %s", id)
	return f.change(id, jobs.StatusQueued)
}

func (f *fakeControl) change(id string, st jobs.Status) (jobs.Run, error) {
	if f.err != nil {
		return jobs.Run{}, f.err
	}
	r, ok := f.runs.Get(id)
	if !ok {
		return jobs.Run{}, fmt.Errorf("run %s: %w", id, ErrNotFound)
	}
	r.Status = st
	f.runs.put(r)
	return r, nil
}

// fakeSchedules keeps schedules in a map.
type fakeSchedules struct {
	calls *calls
	mu    sync.Mutex
	byID  map[string]schedule.Entry
	err   error // returned by every change
}

func (f *fakeSchedules) Get(id string) (schedule.Entry, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.byID[id]
	return s, ok
}

func (f *fakeSchedules) List() []schedule.Entry {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []schedule.Entry
	for _, id := range slices.Sorted(maps.Keys(f.byID)) {
		out = append(out, f.byID[id])
	}
	return out
}

func (f *fakeSchedules) Put(_ context.Context, s schedule.Schedule) (schedule.Entry, error) {
	f.calls.add("put schedule %s", s.ID)
	if f.err != nil {
		return schedule.Entry{}, f.err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	e := schedule.Entry{Schedule: s, NextFire: testNow.Add(time.Hour)}
	f.byID[s.ID] = e
	return e, nil
}

func (f *fakeSchedules) Delete(_ context.Context, id string) error {
	f.calls.add("delete schedule %s", id)
	if f.err != nil {
		return f.err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.byID[id]; !ok {
		return fmt.Errorf("schedule %s: %w", id, schedule.ErrNotFound)
	}
	delete(f.byID, id)
	return nil
}

func (f *fakeSchedules) SetPaused(_ context.Context, id string, paused bool) (schedule.Entry, error) {
	f.calls.add("paused %s %t", id, paused)
	if f.err != nil {
		return schedule.Entry{}, f.err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.byID[id]
	if !ok {
		return schedule.Entry{}, fmt.Errorf("schedule %s: %w", id, schedule.ErrNotFound)
	}
	s.Paused = paused
	f.byID[id] = s
	return s, nil
}

func (f *fakeSchedules) RunNow(_ context.Context, id string) (jobs.Run, error) {
	f.calls.add("run schedule %s", id)
	if f.err != nil {
		return jobs.Run{}, f.err
	}
	s, ok := f.Get(id)
	if !ok {
		return jobs.Run{}, fmt.Errorf("schedule %s: %w", id, schedule.ErrNotFound)
	}
	req := jobs.Request{ID: id + "@" + testNow.Format(time.RFC3339), Kind: jobs.KindRelease, Recipient: s.Recipient,
		Scope: schemas.Scope{Customers: s.Scope.Customers}, ScheduleID: id, FireTime: testNow, CreatedAt: testNow}
	return jobs.Run{ID: req.ID, Request: req, Status: jobs.StatusQueued, CreatedAt: testNow}, nil
}

// harness is an API over fresh fakes.
type harness struct {
	api        *API
	handler    http.Handler
	calls      *calls
	runs       *fakeRuns
	control    *fakeControl
	schedules  *fakeSchedules
	grants     *fakeGrants
	consentErr error
	linksErr   error
	ready      error
	logs       bytes.Buffer
}

func newHarness(t *testing.T, edit ...func(*Config)) *harness {
	t.Helper()
	h := &harness{calls: &calls{}}
	h.runs = &fakeRuns{calls: h.calls, runs: map[string]jobs.Run{}}
	h.control = &fakeControl{calls: h.calls, runs: h.runs}
	h.schedules = &fakeSchedules{calls: h.calls, byID: map[string]schedule.Entry{}}
	h.grants = &fakeGrants{calls: h.calls}
	cfg := Config{
		Runs: h.runs, Control: h.control, Schedules: h.schedules,
		Consent: ports.ConsentFunc(func(_ context.Context, customerID string, from, to time.Time) (string, error) {
			h.calls.add("consent %s %s %s", customerID, from.Format(time.RFC3339), to.Format(time.RFC3339))
			if h.consentErr != nil {
				return "", h.consentErr
			}
			return "K-self-" + customerID, nil
		}),
		Links: ports.LinksFunc(func(_ context.Context, releaseID string, owner pipeline.Owner) ([]pipeline.Link, error) {
			h.calls.add("links %s %s %s", releaseID, owner.CustomerID, owner.Recipient)
			if h.linksErr != nil {
				return nil, h.linksErr
			}
			// The release's owner, as its manifest would say.
			if o, ok := h.runs.owner(releaseID); !ok || o.Recipient != owner.Recipient || owner.CustomerID != "" && o.CustomerID != owner.CustomerID {
				return nil, fmt.Errorf("release %s: %w", releaseID, sinks.ErrNotFound)
			}
			return []pipeline.Link{{Path: "releases/" + releaseID + "/transactions.csv",
				Link: sinks.Link{URL: "https://store.example/" + releaseID + "?sig=x", ExpiresAt: testNow.Add(time.Hour)}}}, nil
		}),
		Health:      ports.HealthFunc(func(context.Context) error { return h.ready }),
		Grants:      h.grants,
		Bundles:     fakeBundles{},
		SigningKeys: []byte("untrusted comment: midata signing key 00000000000000AA (current)\nRWTEST\n"),
		Metrics:     http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("midata_up 1\n")) }),
		Tokens:      testTokens,
		Logger:      slog.New(slog.NewJSONHandler(&h.logs, nil)),
		Now:         func() time.Time { return testNow },
		// The custody handlers answer 200 and record the call: their
		// behaviour is package custody's; here, who may reach them.
		Custody: func(resp ports.Responder) map[string]http.HandlerFunc {
			out := map[string]http.HandlerFunc{}
			for _, name := range []string{"links", "revoke-link", "revoke-release-links", "delete-release", "downloads", "download",
				"ops-revoke-release-links", "deliveries", "partner-deliveries", "audit", "quarantine"} {
				out[name] = func(w http.ResponseWriter, r *http.Request) {
					h.calls.add("custody %s %s", name, r.URL.Path)
					resp.JSON(w, r, http.StatusOK, map[string]string{"handler": name})
				}
			}
			return out
		},
	}
	for _, e := range edit {
		e(&cfg)
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.api, h.handler = a, a.Handler()
	return h
}

// do sends method path with body (a string, or a value to encode) and token.
func (h *harness) do(t *testing.T, method, path, token string, body any) *httptest.ResponseRecorder {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	req := httptest.NewRequestWithContext(t.Context(), method, path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.handler.ServeHTTP(rec, req)
	return rec
}

// errorOf checks rec is an error response of status want, one line of
// JSON {"error": "..."}, and returns the message.
func errorOf(t *testing.T, rec *httptest.ResponseRecorder, want int) string {
	t.Helper()
	if rec.Code != want {
		t.Fatalf("status %d, want %d; body %s", rec.Code, want, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	body := strings.TrimSuffix(rec.Body.String(), "\n")
	if strings.ContainsAny(body, "\n\r") {
		t.Errorf("error body is not one line: %q", body)
	}
	var e map[string]string
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil || len(e) != 1 || e["error"] == "" {
		t.Fatalf("error body %q: want exactly {\"error\": \"...\"} (decode: %v)", body, err)
	}
	if strings.ContainsAny(e["error"], "\n\r") {
		t.Errorf("error message is not one line: %q", e["error"])
	}
	return e["error"]
}

// decodeBody decodes the JSON body of rec into a T after checking status.
func decodeBody[T any](t *testing.T, rec *httptest.ResponseRecorder, want int) T {
	t.Helper()
	if rec.Code != want {
		t.Fatalf("status %d, want %d; body %s", rec.Code, want, rec.Body)
	}
	var v T
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %s: %v", rec.Body, err)
	}
	return v
}

func httptestRequest(t *testing.T, method, path string, body any) *http.Request {
	t.Helper()
	var rd io.Reader
	if body != nil {
		buf, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	return httptest.NewRequestWithContext(t.Context(), method, path, rd)
}

func serve(h *harness, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.handler.ServeHTTP(rec, req)
	return rec
}

// fakeGrants keeps each customer's latest event per recipient; it refuses
// a grant without a category as the consent package does.
type fakeGrants struct {
	calls *calls
	mu    sync.Mutex
	evs   map[string][]schemas.ConsentEvent
}

func (f *fakeGrants) CustomerGrants(_ context.Context, customerID string) ([]schemas.ConsentEvent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls.add("grants %s", customerID)
	return slices.Clone(f.evs[customerID]), nil
}

func (f *fakeGrants) SetGrant(_ context.Context, ch consent.Change) (schemas.ConsentEvent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls.add("set grant %s %s revoke=%v %s", ch.CustomerID, ch.Recipient, ch.Revoke, strings.Join(ch.Categories.Names(), ","))
	if !ch.Revoke && ch.Categories == 0 {
		return schemas.ConsentEvent{}, consent.ErrInvalidChange
	}
	ev := schemas.ConsentEvent{ConsentID: "K-" + ch.CustomerID, CustomerID: ch.CustomerID, Recipient: ch.Recipient, Status: schemas.ConsentGranted,
		Categories: ch.Categories, WindowFrom: ch.WindowFrom, WindowTo: ch.WindowTo, ExpiresAt: ch.ExpiresAt, EventTime: testNow}
	if ch.Revoke {
		ev.Status = schemas.ConsentRevoked
	}
	if f.evs == nil {
		f.evs = map[string][]schemas.ConsentEvent{}
	}
	list := slices.DeleteFunc(f.evs[ch.CustomerID], func(e schemas.ConsentEvent) bool { return e.Recipient == ch.Recipient })
	f.evs[ch.CustomerID] = append(list, ev)
	return ev, nil
}

// fakeBundles has one bundle, of release rel-p, for partner px.
type fakeBundles struct{}

func (fakeBundles) List(_ context.Context, partnerID string) ([]wire.Bundle, error) {
	if partnerID != "px" {
		return nil, fmt.Errorf("partner %s: %w", partnerID, sinks.ErrNotFound)
	}
	return []wire.Bundle{{ReleaseID: "rel-p", Key: "out/px/rel-p.tar.gz"}}, nil
}

func (fakeBundles) Link(_ context.Context, partnerID, releaseID string) (sinks.Link, error) {
	switch {
	case partnerID != "px" || releaseID != "rel-p" && releaseID != "rel-gone":
		return sinks.Link{}, fmt.Errorf("bundle %s: %w", releaseID, sinks.ErrNotFound)
	case releaseID == "rel-gone":
		return sinks.Link{}, fmt.Errorf("bundle %s: %w", releaseID, consent.ErrNoConsent)
	}
	return sinks.Link{URL: "https://store.example/out/px/rel-p.tar.gz?sig=x", ExpiresAt: testNow.Add(time.Hour)}, nil
}
