// Package ports is what the HTTP API (pipeline/api) needs of the rest of
// midata: the runs and their control, consent recording, release links,
// health and schedules, as small interfaces with function adapters. The
// API's Config takes them; pipeline/serve gives the real ones.
package ports

import (
	"context"
	"net/http"
	"time"

	"github.com/midata/midata/pipeline"
	"github.com/midata/midata/pipeline/api/wire"
	"github.com/midata/midata/pipeline/consent"
	"github.com/midata/midata/pipeline/jobs"
	"github.com/midata/midata/pipeline/schedule"
	"github.com/midata/midata/schemas"
	"github.com/midata/midata/sinks"
)

// Runs is the run queue and the view of runs rebuilt from the ledger.
type Runs interface {
	// Submit queues req (its ID is set) and returns the run as queued.
	// Submitting an ID already queued must not make a second release.
	Submit(ctx context.Context, req jobs.Request) (jobs.Run, error)
	// Get returns the run with the request id id.
	Get(id string) (jobs.Run, bool)
	// List returns the runs f selects, newest (CreatedAt) first, at most
	// f.Limit (the API always sets it: 1 to MaxListLimit). *jobs.Queue
	// implements Runs.
	List(f jobs.RunFilter) []jobs.Run
	// Release returns the outcome of customerID's release in run runID.
	Release(ctx context.Context, runID, customerID string) (jobs.Release, bool, error)
	// Releases returns up to limit outcomes of run runID by customer id,
	// after the customer id after; next is the after of the next page,
	// "" at the end. Both see every outcome of a run that has ended.
	Releases(ctx context.Context, runID, after string, limit int) (rels []jobs.Release, next string, err error)
}

// RunControl changes runs on an operator's word. Errors wrap ErrNotFound
// for an unknown id and ErrConflict when the run's state does not allow it
// (cancel a finished run, retry one that has not failed).
type RunControl interface {
	// Cancel asks the run to stop; nothing partial is published.
	Cancel(ctx context.Context, id string) (jobs.Run, error)
	// Retry queues a failed or cancelled run again as a new attempt.
	Retry(ctx context.Context, id string) (jobs.Run, error)
}

// Consent records a customer's own on-demand request as a consent event
// for recipient self, before the request is queued. *consent.Recorder
// implements it.
type Consent interface {
	RecordRequest(ctx context.Context, customerID string, from, to time.Time) (consentID string, err error)
}

// Grants reads and changes a customer's own consent, per recipient:
// SetGrant writes the change as the customer's act (actor customer) and
// returns once it is in force; its error wraps consent.ErrInvalidChange
// for a change that can never be written. *consent.Recorder implements it.
type Grants interface {
	CustomerGrants(ctx context.Context, customerID string) ([]schemas.ConsentEvent, error)
	SetGrant(ctx context.Context, ch consent.Change) (schemas.ConsentEvent, error)
}

// Bundles are the bundles delivered to a partner, for it to pull: List
// names them (release id, key, size), Link signs a fresh link to one after
// checking that its release is the partner's and the grant still stands
// (errors as Links'). serve's delivery implements it.
type Bundles interface {
	List(ctx context.Context, partnerID string) ([]wire.Bundle, error)
	Link(ctx context.Context, partnerID, releaseID string) (sinks.Link, error)
}

// ConsentFunc adapts a function to Consent.
type ConsentFunc func(ctx context.Context, customerID string, from, to time.Time) (string, error)

// RecordRequest calls f.
func (f ConsentFunc) RecordRequest(ctx context.Context, customerID string, from, to time.Time) (string, error) {
	return f(ctx, customerID, from, to)
}

// Links signs fresh download links to the files of a committed release
// for its owner, once it checked that the release is the owner's and that
// the grant still stands: the error wraps sinks.ErrNotFound (or
// ErrNotFound) when there is no such release of the owner's, and
// consent.ErrNoConsent when the grant was withdrawn or expired.
// *pipeline.Runner's LinksFor implements it (LinksFunc(runner.LinksFor)).
type Links interface {
	Links(ctx context.Context, releaseID string, owner pipeline.Owner) ([]pipeline.Link, error)
}

// LinksFunc adapts a function to Links.
type LinksFunc func(ctx context.Context, releaseID string, owner pipeline.Owner) ([]pipeline.Link, error)

// Links calls f.
func (f LinksFunc) Links(ctx context.Context, releaseID string, owner pipeline.Owner) ([]pipeline.Link, error) {
	return f(ctx, releaseID, owner)
}

// Responder is how the handlers of other packages (api.Config.Custody)
// answer as the API's own do: JSON, and an error with the status it calls
// for. *api.API implements it.
type Responder interface {
	JSON(w http.ResponseWriter, r *http.Request, status int, v any)
	Fail(w http.ResponseWriter, r *http.Request, op string, err error)
}

// Health says whether the instance can serve: Kafka and the object store
// reachable, the views rebuilt. The error says what is not ready.
type Health interface {
	Ready(ctx context.Context) error
}

// NotReady is the error of a Health that names the part not ready. /readyz
// answers anyone, so it shows the part ("kafka", "object store") and not
// the error, which may hold broker addresses, bucket names or request ids:
// that goes to the service's log.
type NotReady struct {
	Part string
	Err  error
}

func (e *NotReady) Error() string { return e.Part + ": " + e.Err.Error() }

func (e *NotReady) Unwrap() error { return e.Err }

// HealthFunc adapts a function to Health.
type HealthFunc func(ctx context.Context) error

// Ready calls f.
func (f HealthFunc) Ready(ctx context.Context) error { return f(ctx) }

// ScheduleReader reads the schedules (declared in the config file or made
// through the API), as rebuilt from the schedules topic.
type ScheduleReader interface {
	Get(id string) (schedule.Entry, bool)
	List() []schedule.Entry // sorted by id
}

// ScheduleWriter changes schedules. Errors wrap schedule.ErrNotFound (or
// ErrNotFound) for an unknown id, schedule.ErrInvalid (or ErrInvalid) for a
// schedule that can never work (a bad cron spec), schedule.ErrReadOnly (or
// ErrConflict) for one that may not be changed (declared in the config
// file) and schedule.ErrUnavailable (or ErrUnavailable) when the store did
// not answer.
type ScheduleWriter interface {
	// Put creates or replaces the schedule s.ID and returns it as stored.
	Put(ctx context.Context, s schedule.Schedule) (schedule.Entry, error)
	// Delete removes the schedule id.
	Delete(ctx context.Context, id string) error
	// SetPaused pauses (true) or resumes (false) the schedule id.
	SetPaused(ctx context.Context, id string, paused bool) (schedule.Entry, error)
}

// ScheduleRunner fires a schedule now, outside its cron times.
type ScheduleRunner interface {
	RunNow(ctx context.Context, id string) (jobs.Run, error)
}

// Schedules is everything the API does with schedules.
type Schedules interface {
	ScheduleReader
	ScheduleWriter
	ScheduleRunner
}

// The pipeline's own types serve as Runs, RunControl, Consent and Links
// unchanged.
var (
	_ Runs       = (*jobs.Queue)(nil)
	_ RunControl = (*jobs.Queue)(nil)
	_ Consent    = (*consent.Recorder)(nil)
	_ Grants     = (*consent.Recorder)(nil)
	_ Links      = LinksFunc((*pipeline.Runner)(nil).LinksFor)
)
