package jobs

import (
	"context"
	"errors"
	"time"

	"github.com/midata/midata/schemas"
	"github.com/midata/midata/schemas/release"
)

// DefaultGroupID is the consumer group of the workers. The topic names
// and their defaults are package topics'.
const DefaultGroupID = "midata-workers"

// Kind is what a request asks for.
type Kind string

// The kinds of request.
const (
	KindRelease Kind = "release" // one customer, or a list of customers
	KindBulk    Kind = "bulk"    // everyone with consent for the recipient: fans out one task per partition
	KindTask    Kind = "task"    // one partition of a bulk request
)

// Request is one message of midata.requests (key: ID). Its ID is
// deterministic where duplicates can arise (a schedule's firing on several
// instances: "<schedule id>@<fire time>"; an API call's idempotency key), so
// the same request handled twice gives one release.
type Request struct {
	ID          string            `json:"id"`
	Kind        Kind              `json:"kind"`
	Recipient   schemas.Recipient `json:"recipient"` // "self" or "partner:<id>"
	Scope       schemas.Scope     `json:"scope"`     // whose records: a list of customers, or everyone with consent
	From        time.Time         `json:"from"`
	To          time.Time         `json:"to"`
	Formats     []string          `json:"formats"`
	ScheduleID  string            `json:"schedule_id,omitempty"`
	FireTime    time.Time         `json:"fire_time,omitzero"`
	RequestedBy string            `json:"requested_by,omitempty"` // the token's role, e.g. "ops", "customer:C000123"
	CreatedAt   time.Time         `json:"created_at"`

	// For KindTask: the bulk request it belongs to and its partition.
	Parent    string `json:"parent,omitempty"`
	Partition int    `json:"partition,omitzero"`

	// Retry is the round of the request: 0 when first submitted, n after
	// the nth Queue.Retry of a failed or cancelled run. A request message
	// whose Retry is older than its run's is stale and skipped; one whose
	// run already ended in the same round is a duplicate and skipped. The
	// ID stays the same in every round, so the release ids and the
	// conditional commit still make one release.
	Retry int `json:"retry,omitzero"`
}

// Status is the state of a run. Each release of a run has a status of its
// own, a release.Status.
type Status string

// The states of a run. Queued, Running and Cancelling are transient; the
// others are final.
const (
	StatusQueued     Status = "queued"
	StatusRunning    Status = "running"
	StatusCancelling Status = "cancelling" // cancel asked; the worker stops and publishes nothing partial
	StatusSucceeded  Status = "succeeded"  // every release of the run committed (or was already, or empty)
	StatusNoConsent  Status = "no_consent" // nothing released: no consent covers it
	StatusCancelled  Status = "cancelled"  // by a person, or by a revocation before commit
	StatusFailed     Status = "failed"     // kept failing after retries; Error says why
)

// Final reports whether s ends a run.
func (s Status) Final() bool {
	switch s {
	case StatusSucceeded, StatusNoConsent, StatusCancelled, StatusFailed:
		return true
	}
	return false
}

// Progress is how far a running run is.
type Progress struct {
	RecordsScanned int64 `json:"records_scanned"`
	RecordsToScan  int64 `json:"records_to_scan"`
	CustomersDone  int64 `json:"customers_done"`
	Customers      int64 `json:"customers,omitzero"`
}

// Release is one release a run made (or found already made).
type Release struct {
	ReleaseID  string         `json:"release_id"`
	CustomerID string         `json:"customer_id"`
	Status     release.Status `json:"status"` // committed, empty, no_consent, already_committed, cancelled
	Rows       int64          `json:"rows"`
	Manifest   string         `json:"manifest,omitempty"`
	Reason     string         `json:"reason,omitempty"`
}

// Run is the state of one request: the latest event of its key on
// midata.runs. Every change of a run is published as the whole new Run.
type Run struct {
	ID        string    `json:"id"` // the request id
	Request   Request   `json:"request"`
	Status    Status    `json:"status"`
	Attempt   int       `json:"attempt"`          // Executor calls in this round, also by workers that died; a hand back does not count
	Worker    string    `json:"worker,omitempty"` // the instance handling it
	Progress  Progress  `json:"progress"`
	Releases  []Release `json:"releases,omitempty"`
	Error     string    `json:"error,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`

	// Note says in words what happened last, when Status does not:
	// "handed back by <worker>: shutting down", "attempt 2 failed,
	// retrying in 3s", "cancel asked".
	Note string `json:"note,omitempty"`
}

// Executor makes the releases of one request. It reports progress through
// report as it goes, honours ctx (cancellation: nothing partial is
// published), and returns the releases made. An error wrapping
// ErrTransient is retried with backoff, unless it is also Permanent; any
// other error fails the run.
type Executor interface {
	Execute(ctx context.Context, req Request, report func(Progress)) ([]Release, error)
}

// ExecutorFunc adapts a function to Executor.
type ExecutorFunc func(ctx context.Context, req Request, report func(Progress)) ([]Release, error)

// Execute calls f.
func (f ExecutorFunc) Execute(ctx context.Context, req Request, report func(Progress)) ([]Release, error) {
	return f(ctx, req, report)
}

// ErrTransient marks an error worth retrying (a broker or store that did not
// answer); wrap it with fmt.Errorf("…: %w", ErrTransient) or errors.Join.
var ErrTransient = errors.New("transient")

// Errors of Queue.Cancel and Queue.Retry that callers branch on.
var (
	ErrNotFound = errors.New("no such run")                // no run has that id
	ErrConflict = errors.New("not possible in this state") // cancel a finished run, retry one that did not fail
)
