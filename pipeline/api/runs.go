package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/midata/midata/pipeline/api/wire"
	"github.com/midata/midata/pipeline/jobs"
	"github.com/midata/midata/schemas"
)

// Limits of the lists of runs (package wire reads them).
const (
	DefaultListLimit = wire.DefaultListLimit
	MaxListLimit     = wire.MaxListLimit
)

func runFilter(r *http.Request, params ...string) (jobs.RunFilter, error) {
	return wire.RunFilter(r.URL.Query(), params...)
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
		list.Next = wire.EncodeCursor(jobs.CursorOf(runs[limit-1]))
	}
	for _, run := range runs {
		list.Runs = append(list.Runs, view(run))
	}
	a.writeJSON(w, r, http.StatusOK, list)
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
