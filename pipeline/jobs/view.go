package jobs

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/schemas"
)

// ViewConfig configures a View.
type ViewConfig struct {
	// Kafka is how to reach the cluster. Its Brokers are required.
	Kafka topics.Connection
	// Topic is the runs topic. Default topics.DefaultRuns.
	Topic string
	// Logger receives read errors and undecodable events. Default: discard.
	Logger *slog.Logger
	// MaxWait is how long one fetch waits for new events before asking
	// again; new events arrive as soon as they are written whatever it is.
	// Default 1s.
	MaxWait time.Duration
}

// Validate reports what is wrong with the configuration.
func (c ViewConfig) Validate() error {
	var errs []error
	if err := c.Kafka.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.MaxWait < 0 {
		errs = append(errs, fmt.Errorf("max wait %v: want 0 (default %v) or more", c.MaxWait, topics.DefaultViewMaxWait))
	}
	return errors.Join(errs...)
}

// RunFilter selects runs for View.List. Zero fields match everything. It
// is also the filter of the API's lists of runs (pipeline/api).
type RunFilter struct {
	Status     []Status          // any of these; empty: any status
	ScheduleID string            // runs fired by this schedule
	Customer   string            // runs whose scope names this customer, or that released for them
	Recipient  schemas.Recipient // "self" or "partner:<id>"
	Limit      int               // at most this many, newest first; 0: all
}

// match reports whether r passes f.
func (f RunFilter) match(r Run) bool {
	if len(f.Status) > 0 && !slices.Contains(f.Status, r.Status) {
		return false
	}
	if f.ScheduleID != "" && r.Request.ScheduleID != f.ScheduleID {
		return false
	}
	if f.Recipient != "" && r.Request.Recipient != f.Recipient {
		return false
	}
	if f.Customer != "" && !slices.Contains(r.Request.Scope.Customers, f.Customer) &&
		!slices.ContainsFunc(r.Releases, func(rel Release) bool { return rel.CustomerID == f.Customer }) {
		return false
	}
	return true
}

// View is the in-memory state of every run, rebuilt from the runs topic
// with a topics.View: at start it reads the topic up to its high
// watermarks (then Ready reports true) and it keeps reading new events
// until its context ends or Close. Events are applied with the rules of
// merge, the same on every instance; a tombstone forgets its run. It is
// safe for concurrent use.
type View struct {
	v *topics.View[Run]
}

// decodeRun decodes an event of the runs topic: the JSON of a Run whose id
// is the record's key.
func decodeRun(m topics.Message) (Run, error) {
	var r Run
	if err := json.Unmarshal(m.Value, &r); err != nil {
		return Run{}, err
	}
	if r.ID != string(m.Key) {
		return Run{}, fmt.Errorf("run id %q under key %q", r.ID, m.Key)
	}
	return r, nil
}

// OpenView starts a View of cfg.Topic, which must exist. The View reads
// until ctx ends or Close is called; call Close in any case to wait for it.
// It returns before the View is Ready.
func OpenView(ctx context.Context, cfg ViewConfig) (*View, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("open view: %w", err)
	}
	v, err := topics.OpenView(ctx, cfg.Kafka, topics.ViewConfig[Run]{
		Topic:   Topics{Runs: cfg.Topic}.withDefaults().Runs,
		Decode:  decodeRun,
		Merge:   merge,
		Logger:  cfg.Logger,
		MaxWait: cfg.MaxWait,
	})
	if err != nil {
		return nil, err
	}
	return &View{v: v}, nil
}

// Topic returns the runs topic.
func (v *View) Topic() string { return v.v.Topic() }

// Ready reports whether the View has applied every event that was on the
// topic when it opened.
func (v *View) Ready() bool { return v.v.Ready() }

// Sync returns once the View has applied every event written before the
// call (read-your-writes across instances): it asks the brokers for the
// high watermarks and waits for the readers to reach them.
func (v *View) Sync(ctx context.Context) error { return v.v.Sync(ctx) }

// Get returns the run id.
func (v *View) Get(id string) (Run, bool) { return v.v.Get(id) }

// List returns the runs f selects, newest (CreatedAt) first, ties by id;
// at most f.Limit when it is positive.
func (v *View) List(f RunFilter) []Run {
	out := make([]Run, 0, max(f.Limit, 16))
	v.v.Range(func(_ string, r Run) bool {
		if f.match(r) {
			out = append(out, r)
		}
		return true
	})
	slices.SortFunc(out, func(a, b Run) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out
}

// Wait blocks until the run id exists and satisfies ok, and returns it.
// It fails when ctx ends or the View closes.
func (v *View) Wait(ctx context.Context, id string, ok func(Run) bool) (Run, error) {
	r, err := v.v.Wait(ctx, id, ok)
	if err != nil {
		return Run{}, fmt.Errorf("wait for run %s: %w", id, err)
	}
	return r, nil
}

// Close stops reading and waits for the readers to end. Waits in progress
// fail. Get and List still answer from the last state.
func (v *View) Close() error { return v.v.Close() }
