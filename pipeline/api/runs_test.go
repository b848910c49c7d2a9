package api

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/midata/midata/pipeline/jobs"
	"github.com/midata/midata/schemas"
	"github.com/midata/midata/sinks"
)

func TestRunFiltersReachTheView(t *testing.T) {
	tests := []struct {
		name  string
		query string
		want  jobs.RunFilter
	}{
		{"no filter lists the newest 50", "", jobs.RunFilter{Limit: 50}},
		{"every filter is passed on", "?status=failed,cancelled&schedule=monthly&customer=C1&recipient=partner:px&limit=10",
			jobs.RunFilter{Status: []jobs.Status{jobs.StatusFailed, jobs.StatusCancelled}, ScheduleID: "monthly", Customer: "C1", Recipient: "partner:px", Limit: 10}},
		{"recipient self is a filter", "?recipient=self&limit=1000", jobs.RunFilter{Recipient: "self", Limit: 1000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			decodeBody[RunList](t, h.do(t, "GET", "/v1/runs"+tt.query, tokOps, nil), 200)
			got := h.runs.lastFilter(t)
			if !slices.Equal(got.Status, tt.want.Status) || got.ScheduleID != tt.want.ScheduleID || got.Customer != tt.want.Customer ||
				got.Recipient != tt.want.Recipient || got.Limit != tt.want.Limit+1 { // one more: is there a next page?
				t.Errorf("filter %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestBadRunFiltersAreRefused(t *testing.T) {
	tests := []struct{ name, query, want string }{
		{"an unknown status is refused", "?status=done", `status "done"`},
		{"a zero limit is refused", "?limit=0", `limit "0"`},
		{"a limit over 1000 is refused", "?limit=1001", `limit "1001"`},
		{"a limit that is not a number is refused", "?limit=ten", `limit "ten"`},
		{"a misspelt parameter is refused", "?stauts=failed", `unknown query parameter "stauts"`},
		{"a repeated parameter is refused", "?status=failed&status=running", "given 2 times"},
		{"a bad recipient is refused", "?recipient=acme", `recipient "acme"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			msg := errorOf(t, h.do(t, "GET", "/v1/runs"+tt.query, tokOps, nil), 400)
			if !strings.Contains(msg, tt.want) {
				t.Errorf("message %q does not contain %q", msg, tt.want)
			}
		})
	}
}

func TestRunListsAreNewestFirstWithoutLinks(t *testing.T) {
	h := newHarness(t)
	customerRuns(h)
	list := decodeBody[RunList](t, h.do(t, "GET", "/v1/runs?status=succeeded", tokOps, nil), 200)
	var ids []string
	for i, r := range list.Runs {
		ids = append(ids, r.ID)
		if i > 0 && r.CreatedAt.After(list.Runs[i-1].CreatedAt) {
			t.Errorf("run %s is newer than the one before it", r.ID)
		}
	}
	if want := []string{"other", "list", "to-py", "own", "to-px"}; !slices.Equal(ids, want) {
		t.Errorf("runs %q, want %q", ids, want)
	}
	if got := h.calls.list(); len(got) > 0 {
		t.Errorf("operations' list signed links: %q", got)
	}
}

func TestGetRun(t *testing.T) {
	h := newHarness(t)
	customerRuns(h)
	run := decodeBody[RunView](t, h.do(t, "GET", "/v1/runs/list", tokOps, nil), 200)
	if run.ID != "list" || len(run.Releases) != 2 || run.Worker != "w-2" {
		t.Errorf("run %+v: want the whole run list", run)
	}
	msg := errorOf(t, h.do(t, "GET", "/v1/runs/nope", tokOps, nil), 404)
	if !strings.Contains(msg, "nope") {
		t.Errorf("404 message %q does not name the run", msg)
	}
}

func TestCancelAndRetryPassThrough(t *testing.T) {
	tests := []struct {
		name       string
		action     string
		err        error
		status     int
		wantStatus jobs.Status
		want       string
	}{
		{"cancel asks the run to stop", "cancel", nil, 202, jobs.StatusCancelling, ""},
		{"retry queues the run again", "retry", nil, 202, jobs.StatusQueued, ""},
		{"cancelling an unknown run is 404", "cancel", fmt.Errorf("run r1: %w", ErrNotFound), 404, "", "not found"},
		{"retrying a run that has not failed is 409", "retry", fmt.Errorf("run r1 is running: %w", ErrConflict), 409, "", "is running"},
		{"cancelling a finished run is 409", "cancel", fmt.Errorf("run r1 has succeeded: %w", ErrConflict), 409, "", "has succeeded"},
		{"a broker that does not answer is 503", "retry", fmt.Errorf("publish: %w", jobs.ErrTransient), 503, "", "try again"},
		{"a timeout is 503", "cancel", fmt.Errorf("publish: %w", context.DeadlineExceeded), 503, "", "try again"},
		{"anything else is 500 without its detail", "retry", errors.New("broker 10.0.0.7:9092: secret detail"), 500, "", "tell operations"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := seeded(t)
			h.control.err = tt.err
			rec := h.do(t, "POST", "/v1/runs/r1/"+tt.action, tokOps, nil)
			if want := []string{tt.action + " r1"}; !slices.Equal(h.calls.list(), want) {
				t.Errorf("calls %q, want %q", h.calls.list(), want)
			}
			if tt.err == nil {
				run := decodeBody[RunView](t, rec, tt.status)
				if run.ID != "r1" || run.Status != tt.wantStatus {
					t.Errorf("run %s %s, want r1 %s", run.ID, run.Status, tt.wantStatus)
				}
				return
			}
			msg := errorOf(t, rec, tt.status)
			if !strings.Contains(msg, tt.want) {
				t.Errorf("message %q does not contain %q", msg, tt.want)
			}
			if strings.Contains(msg, "secret detail") {
				t.Errorf("a 500 leaks its cause: %q", msg)
			}
			if tt.status == 500 && !strings.Contains(h.logs.String(), "secret detail") {
				t.Errorf("a 500's cause is not logged: %s", h.logs.String())
			}
		})
	}
}

func TestStoreNotFoundIs404(t *testing.T) {
	h := seeded(t)
	h.control.err = fmt.Errorf("release x: %w", sinks.ErrNotFound)
	errorOf(t, h.do(t, "POST", "/v1/runs/r1/retry", tokOps, nil), 404)
}

func TestARunsReleasesArePagedByCustomer(t *testing.T) {
	h := newHarness(t)
	h.runs.put(jobs.Run{ID: "big", Status: jobs.StatusSucceeded, CreatedAt: testNow,
		Request: jobs.Request{ID: "big", Kind: jobs.KindBulk, Recipient: "self", Scope: schemas.Scope{All: true}},
		Counts:  jobs.Counts{Releases: 250, Committed: 250}})
	var rels []jobs.Release
	for i := range 250 {
		rels = append(rels, jobs.Release{RunID: "big", TaskID: "big/p0", CustomerID: fmt.Sprintf("C%04d", i), Status: "committed"})
	}
	h.runs.putReleases(rels...)

	run := decodeBody[RunView](t, h.do(t, "GET", "/v1/runs/big", tokOps, nil), 200)
	if run.Counts.Releases != 250 || len(run.Releases) != InlineReleases || !run.MoreReleases {
		t.Errorf("run shows counts %+v, %d releases inline, more %v; want 250, %d and more", run.Counts, len(run.Releases), run.MoreReleases, InlineReleases)
	}
	var got []string
	after := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		path := "/v1/runs/big/releases?limit=100"
		if after != "" {
			path += "&after=" + after
		}
		page := decodeBody[ReleaseList](t, h.do(t, "GET", path, tokOps, nil), 200)
		for _, r := range page.Releases {
			got = append(got, r.CustomerID)
		}
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	if len(got) != 250 || !slices.IsSorted(got) || got[0] != "C0000" || got[249] != "C0249" {
		t.Errorf("pages gave %d customers (%v … %v), want all 250 in order", len(got), got[:1], got[len(got)-1:])
	}
	for _, tt := range []struct{ path, want string }{
		{"/v1/runs/big/releases?limit=0", "limit"},
		{"/v1/runs/big/releases?page=2", "unknown query parameter"},
		{"/v1/runs/big/releases?after=C%7C1", "after"},
	} {
		if msg := errorOf(t, h.do(t, "GET", tt.path, tokOps, nil), 400); !strings.Contains(msg, tt.want) {
			t.Errorf("GET %s: %q, want it to say %q", tt.path, msg, tt.want)
		}
	}
	errorOf(t, h.do(t, "GET", "/v1/runs/nope/releases", tokOps, nil), 404)
}

func TestARequestNamingMoreCustomersThanTheLedgerHoldsIsRefused(t *testing.T) {
	h := newHarness(t)
	customers := make([]string, jobs.MaxCustomers+1)
	for i := range customers {
		customers[i] = fmt.Sprintf("C%04d", i)
	}
	body := map[string]any{"recipient": "self", "customers": customers, "from": "2026-01-01", "to": "2026-02-01", "formats": []string{"ndjson"}}
	msg := errorOf(t, h.do(t, "POST", "/v1/releases", tokOps, body), 400)
	if !strings.Contains(msg, "at most 500") || !strings.Contains(msg, `"all": true`) {
		t.Errorf("400 message %q: want the bound and what to ask instead", msg)
	}
	if got := h.calls.list(); len(got) > 0 {
		t.Errorf("a refused request reached the backends: %q", got)
	}
	body["customers"] = customers[:jobs.MaxCustomers]
	decodeBody[RunView](t, h.do(t, "POST", "/v1/releases", tokOps, body), 202)
}

// Trust issue, "paged listings": a list stopped at its limit with no way
// to the rest. Each page now ends with the cursor of the next; following
// them lists every run once, newest first, for ops, a customer and a
// partner alike.
func TestListsArePagedWithACursor(t *testing.T) {
	h := newHarness(t)
	var want []string
	for i := range 7 {
		id := fmt.Sprintf("r%d", i)
		h.runs.put(jobs.Run{ID: id, Status: jobs.StatusSucceeded, CreatedAt: testNow.Add(-time.Duration(i/2) * time.Minute), // pairs share a time
			Request: jobs.Request{ID: id, Kind: jobs.KindRelease, Recipient: "partner:px", Scope: schemas.Scope{Customers: []string{"C1"}}}})
	}
	for i := range 7 {
		want = append(want, fmt.Sprintf("r%d", i))
	}
	for _, c := range []struct{ path, token string }{{"/v1/runs", tokOps}, {"/v1/partners/px/releases", tokPartnerX}} {
		var got []string
		next, pages := "", 0
		for {
			path := c.path + "?limit=3"
			if next != "" {
				path += "&cursor=" + next
			}
			page := decodeBody[RunList](t, h.do(t, "GET", path, c.token, nil), 200)
			for _, r := range page.Runs {
				got = append(got, r.ID)
			}
			pages++
			if next = page.Next; next == "" || pages > 5 {
				break
			}
		}
		if !slices.Equal(got, want) || pages != 3 {
			t.Errorf("%s in pages of 3: %v in %d pages, want %v in 3", c.path, got, pages, want)
		}
	}
	if rec := h.do(t, "GET", "/v1/runs?cursor=not-a-cursor", tokOps, nil); rec.Code != 400 {
		t.Errorf("a bad cursor: %d", rec.Code)
	}
}
