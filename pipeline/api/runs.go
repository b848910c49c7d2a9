package api

import (
	"context"
	"encoding/base64"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/midata/midata/pipeline/jobs"
	"github.com/midata/midata/schemas"
)

// Limits of the lists of runs.
const (
	DefaultListLimit = 50
	MaxListLimit     = 1000
)

var statuses = []jobs.Status{
	jobs.StatusQueued, jobs.StatusRunning, jobs.StatusCancelling,
	jobs.StatusSucceeded, jobs.StatusNoConsent, jobs.StatusCancelled, jobs.StatusFailed,
}

// runFilter reads the query parameters named in params: status (comma
// separated), schedule, customer, recipient, limit. Any other parameter is
// refused, so that a misspelt filter does not silently match everything.
func runFilter(r *http.Request, params ...string) (jobs.RunFilter, error) {
	f := jobs.RunFilter{Limit: DefaultListLimit}
	q := r.URL.Query()
	for name, values := range q {
		if !slices.Contains(params, name) {
			return jobs.RunFilter{}, badRequest("unknown query parameter %q: use %s", name, strings.Join(params, ", "))
		}
		if len(values) > 1 {
			return jobs.RunFilter{}, badRequest("query parameter %q given %d times: give it once", name, len(values))
		}
	}
	if s := q.Get("status"); s != "" {
		for _, name := range strings.Split(s, ",") {
			st := jobs.Status(strings.TrimSpace(name))
			if !slices.Contains(statuses, st) {
				return jobs.RunFilter{}, badRequest("status %q: want any of %s, comma separated", st, statusNames())
			}
			f.Status = append(f.Status, st)
		}
	}
	f.ScheduleID = q.Get("schedule")
	if c := q.Get("customer"); c != "" {
		if err := schemas.CustomerID(c).Validate(); err != nil {
			return jobs.RunFilter{}, badRequest("%v", err)
		}
		f.Customer = c
	}
	if rc := q.Get("recipient"); rc != "" {
		recipient, err := schemas.ParseRecipient(rc)
		if err != nil {
			return jobs.RunFilter{}, badRequest("%v", err)
		}
		f.Recipient = recipient
	}
	if c := q.Get("cursor"); c != "" {
		cur, err := parseCursor(c)
		if err != nil {
			return jobs.RunFilter{}, err
		}
		f.After = cur
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > MaxListLimit {
			return jobs.RunFilter{}, badRequest("limit %q: want a whole number from 1 to %d", l, MaxListLimit)
		}
		f.Limit = n
	}
	return f, nil
}

func statusNames() string {
	names := make([]string, len(statuses))
	for i, s := range statuses {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

func (a *API) listRuns(w http.ResponseWriter, r *http.Request) {
	f, err := runFilter(r, "status", "schedule", "customer", "recipient", "limit", "cursor")
	if err != nil {
		a.failErr(w, r, "list runs", err)
		return
	}
	a.writePage(w, r, f, func(run jobs.Run) RunView { return a.opsView(r.Context(), run) })
}

// writePage answers one page of the runs f selects, each as view shows
// it, with the cursor of the next page when there is one.
func (a *API) writePage(w http.ResponseWriter, r *http.Request, f jobs.RunFilter, view func(jobs.Run) RunView) {
	limit := f.Limit
	f.Limit++ // one more tells whether there is a next page
	runs := a.runs.List(f)
	newestFirst(runs)
	list := RunList{Runs: []RunView{}}
	if len(runs) > limit {
		runs = runs[:limit]
		c := jobs.CursorOf(runs[limit-1])
		list.Next = base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.CreatedAt.UnixNano(), 10) + " " + c.ID))
	}
	for _, run := range runs {
		list.Runs = append(list.Runs, view(run))
	}
	a.writeJSON(w, r, http.StatusOK, list)
}

// parseCursor reads the cursor writePage wrote.
func parseCursor(s string) (jobs.Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	ns, id, ok := strings.Cut(string(b), " ")
	n, nerr := strconv.ParseInt(ns, 10, 64)
	if err != nil || !ok || nerr != nil || id == "" || len(id) > 512 {
		return jobs.Cursor{}, badRequest("cursor %q: not a cursor of this API: send the next of the previous page", s)
	}
	return jobs.Cursor{CreatedAt: time.Unix(0, n).UTC(), ID: id}, nil
}

func (a *API) getRun(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	run, ok := a.runs.Get(id)
	if !ok {
		a.fail(w, r, http.StatusNotFound, "get run "+id+": no such run: list runs with GET /v1/runs")
		return
	}
	a.writeJSON(w, r, http.StatusOK, a.opsView(r.Context(), run))
}

// listRunReleases pages through a run's release outcomes, by customer id
// (for a bulk run: its tasks'), without links.
func (a *API) listRunReleases(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	op := "list releases of run " + id
	q := r.URL.Query()
	for name, values := range q {
		if name != "after" && name != "limit" {
			a.failErr(w, r, op, badRequest("unknown query parameter %q: use after, limit", name))
			return
		}
		if len(values) > 1 {
			a.failErr(w, r, op, badRequest("query parameter %q given %d times: give it once", name, len(values)))
			return
		}
	}
	limit := DefaultListLimit
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > MaxListLimit {
			a.failErr(w, r, op, badRequest("limit %q: want a whole number from 1 to %d", l, MaxListLimit))
			return
		}
		limit = n
	}
	after := q.Get("after")
	if after != "" {
		if err := schemas.CustomerID(after).Validate(); err != nil {
			a.failErr(w, r, op, badRequest("after: %v", err))
			return
		}
	}
	if _, ok := a.runs.Get(id); !ok {
		a.fail(w, r, http.StatusNotFound, op+": no such run: list runs with GET /v1/runs")
		return
	}
	rels, next, err := a.runs.Releases(r.Context(), id, after, limit)
	if err != nil {
		a.failErr(w, r, op, err)
		return
	}
	list := ReleaseList{Releases: make([]ReleaseView, 0, len(rels)), Next: next}
	for _, rel := range rels {
		list.Releases = append(list.Releases, ReleaseView{Release: rel})
	}
	a.writeJSON(w, r, http.StatusOK, list)
}

func (a *API) cancelRun(w http.ResponseWriter, r *http.Request) {
	a.controlRun(w, r, "cancel run", "run cancel asked", a.control.Cancel)
}

func (a *API) retryRun(w http.ResponseWriter, r *http.Request) {
	a.controlRun(w, r, "retry run", "run retried", a.control.Retry)
}

// controlRun asks do of the run in the path and answers 202 with the run.
func (a *API) controlRun(w http.ResponseWriter, r *http.Request, op, logged string, do func(context.Context, string) (jobs.Run, error)) {
	id := r.PathValue("id")
	run, err := do(r.Context(), id)
	if err != nil {
		a.failErr(w, r, op+" "+id, err)
		return
	}
	a.log.InfoContext(r.Context(), logged, "request_id", requestIDOf(r.Context()), "run", id, "role", roleOf(r.Context()))
	a.writeJSON(w, r, http.StatusAccepted, a.opsView(r.Context(), run))
}
