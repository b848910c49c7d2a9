package api

import (
	"context"
	"slices"

	"github.com/midata/midata/pipeline"
	"github.com/midata/midata/pipeline/jobs"
)

// RunView is a run as the API shows it: for customers and partners, with
// signed download links to the files of each committed release.
type RunView struct {
	jobs.Run
	Releases []ReleaseView `json:"releases,omitempty"`
}

// ReleaseView is one release of a run, with its links where the caller
// may download it.
type ReleaseView struct {
	jobs.Release
	Links      []pipeline.Link `json:"links,omitempty"`
	LinksError string          `json:"links_error,omitempty"` // why there are no links although the release is committed
}

// RunList is the body of every list of runs.
type RunList struct {
	Runs []RunView `json:"runs"`
}

// ScheduleList is the body of GET /v1/schedules.
type ScheduleList struct {
	Schedules []Schedule `json:"schedules"`
}

// opsView shows run whole, without links: operations watch runs, they do
// not download customers' data.
func opsView(run jobs.Run) RunView {
	v := RunView{Run: run}
	for _, rel := range run.Releases {
		v.Releases = append(v.Releases, ReleaseView{Release: rel})
	}
	return v
}

// customerView shows the customer only what is theirs: their own place in
// the scope and their own releases, with links.
func (a *API) customerView(ctx context.Context, run jobs.Run, customerID string) RunView {
	run.Worker = ""
	if len(run.Request.Scope.Customers) > 0 {
		run.Request.Scope.Customers = []string{customerID}
	}
	run.Releases = slices.DeleteFunc(slices.Clone(run.Releases), func(r jobs.Release) bool { return r.CustomerID != customerID })
	return a.linkedView(ctx, run)
}

// partnerView shows a partner the releases made for it, with links.
func (a *API) partnerView(ctx context.Context, run jobs.Run) RunView {
	run.Worker = ""
	return a.linkedView(ctx, run)
}

func (a *API) linkedView(ctx context.Context, run jobs.Run) RunView {
	v := RunView{Run: run}
	for _, rel := range run.Releases {
		rv := ReleaseView{Release: rel}
		if rel.Status.HasFiles() && rel.ReleaseID != "" {
			links, err := a.links.Links(ctx, rel.ReleaseID)
			if err != nil {
				a.log.WarnContext(ctx, "sign release links", "request_id", requestIDOf(ctx), "release_id", rel.ReleaseID, "err", err)
				rv.LinksError = "the links could not be signed: try again later"
			}
			rv.Links = links
		}
		v.Releases = append(v.Releases, rv)
	}
	return v
}

// newestFirst orders runs by creation time, newest first, then by id.
func newestFirst(runs []jobs.Run) {
	slices.SortStableFunc(runs, func(a, b jobs.Run) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
}
