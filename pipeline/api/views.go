package api

import (
	"context"
	"slices"

	"github.com/midata/midata/pipeline/jobs"
)

// InlineReleases is how many release outcomes a run shows inline; the
// rest are paged through GET /v1/runs/{id}/releases.
const InlineReleases = 100

// ScheduleList is the body of GET /v1/schedules.
type ScheduleList struct {
	Schedules []Schedule `json:"schedules"`
}

// opsView shows run with its counts and first outcomes, without links:
// operations watch runs, they do not download customers' data.
func (a *API) opsView(ctx context.Context, run jobs.Run) RunView {
	rels, next := a.firstReleases(ctx, run.ID)
	v := RunView{Run: run, MoreReleases: next != ""}
	for _, rel := range rels {
		v.Releases = append(v.Releases, ReleaseView{Release: rel})
	}
	return v
}

// customerView shows the customer only what is theirs: their own place in
// the scope and their own release, with links. The counts and progress
// are the run's, which may be a bulk run's of everyone, and its error may
// name others' releases, store paths or request ids (trust issue, finding
// 6): they are left out, the error said in plain words.
func (a *API) customerView(ctx context.Context, run jobs.Run, customerID string) RunView {
	run.Worker = ""
	run.Counts = jobs.Counts{}
	run.Progress = jobs.Progress{}
	if run.Error != "" {
		run.Error = runFailedForCustomer
	}
	if len(run.Request.Scope.Customers) > 0 {
		run.Request.Scope.Customers = []string{customerID}
	}
	var rels []jobs.Release
	rel, ok, err := a.runs.Release(ctx, run.ID, customerID)
	if err != nil {
		a.log.WarnContext(ctx, "read the customer's release", "request_id", requestIDOf(ctx), "run", run.ID, "err", err)
	}
	if ok {
		rels = []jobs.Release{rel}
	}
	return linkedView(run, rels, false, "/v1/customers/"+customerID+"/releases/")
}

// runFailedForCustomer is what a customer reads of a run's error.
const runFailedForCustomer = "the release could not be made this time; it is retried, or ask again later"

// partnerView shows a partner the releases made for it, with links, and
// nothing of the customers who did not consent to it: not the request's
// list of customers, not their no_consent or cancelled outcomes, not the
// counts that number them, not the run's error (trust issue, finding 6:
// a partner learnt who banks here).
func (a *API) partnerView(ctx context.Context, run jobs.Run) RunView {
	run.Worker = ""
	run.Counts = jobs.Counts{}
	run.Progress = jobs.Progress{}
	run.Request.Scope.Customers = nil
	if run.Error != "" {
		run.Error = "the run failed; it is retried"
	}
	rels, next := a.firstReleases(ctx, run.ID)
	mine := rels[:0:0]
	for _, rel := range rels {
		if rel.Status.HasFiles() {
			mine = append(mine, rel)
		}
	}
	partner, _ := run.Request.Recipient.PartnerID()
	return linkedView(run, mine, next != "", "/v1/partners/"+partner+"/releases/")
}

// firstReleases returns the first InlineReleases outcomes of run id; what
// the view has if it could not catch up (logged).
func (a *API) firstReleases(ctx context.Context, id string) ([]jobs.Release, string) {
	rels, next, err := a.runs.Releases(ctx, id, "", InlineReleases)
	if err != nil {
		a.log.WarnContext(ctx, "read the releases of a run", "request_id", requestIDOf(ctx), "run", id, "err", err)
	}
	return rels, next
}

// linkedView is run with rels, each with files pointing at its links
// under base.
func linkedView(run jobs.Run, rels []jobs.Release, more bool, base string) RunView {
	v := RunView{Run: run, MoreReleases: more}
	for _, rel := range rels {
		rv := ReleaseView{Release: rel}
		if rel.Status.HasFiles() && rel.ReleaseID != "" {
			rv.LinksPath = base + rel.ReleaseID + "/links"
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
