package jobs

import (
	"context"
	"errors"
	"fmt"
	"strings"
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

// Release is the outcome of one release of a run: a record of its own on
// the ledger, keyed by ReleaseKey(RunID, CustomerID), so compaction keeps
// the latest outcome of each customer of each run.
type Release struct {
	// RunID is the run the release belongs to: for a task, its bulk run.
	RunID string `json:"run_id"`
	// TaskID is the task that made it, for the releases of a bulk run.
	TaskID     string         `json:"task_id,omitempty"`
	ReleaseID  string         `json:"release_id"`
	CustomerID string         `json:"customer_id"`
	Status     release.Status `json:"status"` // committed, empty, no_consent, already_committed, cancelled
	Rows       int64          `json:"rows"`
	Manifest   string         `json:"manifest,omitempty"`
	Reason     string         `json:"reason,omitempty"`
	// Consent and Files, for a committed release (committed, empty or
	// already_committed), are the consent it was committed under and its
	// files: what an audit of the customer answers from the ledger alone.
	// Outcomes recorded before they existed have neither. Both are
	// pointers so that a Release stays comparable.
	Consent *ConsentRef `json:"consent,omitempty"`
	Files   *[]FileRef  `json:"files,omitempty"`
}

// ConsentRef is the consent a release was committed under: the id and
// categories its manifest names and, when the grant it was committed
// under was at hand (Event is set), that grant's window (zero: open) and
// expiry (zero: never), and where its consent event is on the consent
// topic, from which its actor is read back. A release found committed
// under a grant no longer at hand has the id and categories only.
type ConsentRef struct {
	ID         string    `json:"id"`
	Categories []string  `json:"categories,omitempty"`
	WindowFrom time.Time `json:"window_from,omitzero"`
	WindowTo   time.Time `json:"window_to,omitzero"` // exclusive
	ExpiresAt  time.Time `json:"expires_at,omitzero"`
	Event      *EventAt  `json:"event,omitempty"`
}

// EventAt is where a record is on its topic.
type EventAt struct {
	Partition int   `json:"partition"`
	Offset    int64 `json:"offset"`
}

// FileRef is one file of a committed release, as its manifest describes
// it.
type FileRef struct {
	Path   string `json:"path"` // its location in the releases store
	Format string `json:"format"`
	SHA256 string `json:"sha256"` // hex
	Bytes  int64  `json:"bytes"`
	Rows   int64  `json:"rows"`
}

// Counts are a run's release outcomes by status, and the rows they
// released.
type Counts struct {
	Releases         int64 `json:"releases"` // every outcome recorded
	Committed        int64 `json:"committed"`
	AlreadyCommitted int64 `json:"already_committed"`
	Empty            int64 `json:"empty"`
	NoConsent        int64 `json:"no_consent"`
	Cancelled        int64 `json:"cancelled"`
	Rows             int64 `json:"rows"`
}

// Add counts r.
func (c *Counts) Add(r Release) {
	c.Releases++
	c.Rows += r.Rows
	switch r.Status {
	case release.StatusCommitted:
		c.Committed++
	case release.StatusAlreadyCommitted:
		c.AlreadyCommitted++
	case release.StatusEmpty:
		c.Empty++
	case release.StatusNoConsent:
		c.NoConsent++
	case release.StatusCancelled:
		c.Cancelled++
	}
}

// Plus returns the sum of c and d.
func (c Counts) Plus(d Counts) Counts {
	return Counts{
		Releases: c.Releases + d.Releases, Committed: c.Committed + d.Committed,
		AlreadyCommitted: c.AlreadyCommitted + d.AlreadyCommitted, Empty: c.Empty + d.Empty,
		NoConsent: c.NoConsent + d.NoConsent, Cancelled: c.Cancelled + d.Cancelled, Rows: c.Rows + d.Rows,
	}
}

// Run is the state of one request: the latest run record of its key on
// midata.runs. Every change of a run is published as the whole new Run,
// which is bounded (MaxRecordBytes): the release outcomes are records of
// their own (Release), and Counts sums them.
type Run struct {
	ID        string    `json:"id"` // the request id
	Request   Request   `json:"request"`
	Status    Status    `json:"status"`
	Attempt   int       `json:"attempt"`          // Executor calls in this round, also by workers that died; a hand back does not count
	Worker    string    `json:"worker,omitempty"` // the instance handling it
	Progress  Progress  `json:"progress"`
	Counts    Counts    `json:"counts"`
	Error     string    `json:"error,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`

	// Note says in words what happened last, when Status does not:
	// "handed back by <worker>: shutting down", "attempt 2 failed,
	// retrying in 3s", "cancel asked".
	Note string `json:"note,omitempty"`
}

// Reporter is how an Executor reports as it goes. The worker implements it
// and puts what it is told on the ledger.
type Reporter interface {
	// Progress says how far the run is; the worker publishes it at most
	// every ProgressInterval.
	Progress(p Progress)
	// Release records the outcome of one release (RunID and TaskID are
	// the worker's to fill). It may buffer: the worker writes every
	// outcome before the run's end. An error ends the attempt; a
	// Permanent one (a record the brokers refuse) fails the run.
	Release(ctx context.Context, r Release) error
	// Counts sets the counts of releases recorded by others (a bulk
	// run's tasks); the run's Counts are these plus its own Releases.
	Counts(c Counts)
}

// Executor makes the releases of one request. It reports progress and
// each release's outcome through rep as it goes and honours ctx
// (cancellation: nothing partial is published). An error wrapping
// ErrTransient is retried with backoff, unless it is also Permanent; any
// other error fails the run.
type Executor interface {
	Execute(ctx context.Context, req Request, rep Reporter) error
}

// ExecutorFunc adapts a function to Executor.
type ExecutorFunc func(ctx context.Context, req Request, rep Reporter) error

// Execute calls f.
func (f ExecutorFunc) Execute(ctx context.Context, req Request, rep Reporter) error {
	return f(ctx, req, rep)
}

// MaxCustomers is the most customers a request may name. Larger sets are
// bulk requests (Scope.All): a request travels whole in its run record,
// which is bounded.
const MaxCustomers = 500

// CheckBounds reports whether req fits the ledger: at most MaxCustomers
// customers, and ids that the ledger's keys can carry.
func (req Request) CheckBounds() error {
	if n := len(req.Scope.Customers); n > MaxCustomers {
		return fmt.Errorf("request %s names %d customers, at most %d may be named: ask for everyone with consent (a bulk release) instead", req.ID, n, MaxCustomers)
	}
	if strings.Contains(req.ID, keySep) {
		return fmt.Errorf("request id %q: %q is not allowed in it", req.ID, keySep)
	}
	if strings.HasPrefix(req.ID, ActivityPrefix) {
		return fmt.Errorf("request id %q: it may not start with %q", req.ID, ActivityPrefix)
	}
	return nil
}

// ErrTransient marks an error worth retrying (a broker or store that did not
// answer); wrap it with fmt.Errorf("…: %w", ErrTransient) or errors.Join.
var ErrTransient = errors.New("transient")

// Errors of Queue.Cancel and Queue.Retry that callers branch on.
var (
	ErrNotFound = errors.New("no such run")                // no run has that id
	ErrConflict = errors.New("not possible in this state") // cancel a finished run, retry one that did not fail
	ErrTooLarge = errors.New("too large for the ledger")   // a request naming more than MaxCustomers customers
)
