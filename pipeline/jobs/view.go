package jobs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
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
	// Now is the clock that stamps when a lease's heartbeat arrived
	// (Lease.Seen). Default time.Now.
	Now func() time.Time
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
	Customer   string            // runs whose scope names this customer, or with a release outcome for them
	Recipient  schemas.Recipient // "self" or "partner:<id>"
	Limit      int               // at most this many, newest first; 0: all
}

// match reports whether r passes f, but for f.Customer.
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
	return true
}

// View is the in-memory state of the ledger, rebuilt from the runs topic
// with a topics.View: at start it reads the topic up to its high
// watermarks (then Ready reports true) and it keeps reading new records
// until its context ends or Close. Run records are applied with the rules
// of merge, the same on every instance; release outcomes and leases
// replace their key's; a tombstone forgets its key. Release outcomes are
// indexed by run and by customer. It is safe for concurrent use.
type View struct {
	v   *topics.View[entry]
	idx *index
}

// OpenView starts a View of cfg.Topic, which must exist. The View reads
// until ctx ends or Close is called; call Close in any case to wait for it.
// It returns before the View is Ready.
func OpenView(ctx context.Context, cfg ViewConfig) (*View, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("open view: %w", err)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	idx := newIndex()
	v, err := topics.OpenView(ctx, cfg.Kafka, topics.ViewConfig[entry]{
		Topic: Topics{Runs: cfg.Topic}.withDefaults().Runs,
		Decode: func(m topics.Message) (entry, error) {
			e, err := decodeEntry(m, cfg.Now())
			if err == nil && e.rel != nil {
				// Index the outcome here, before the View has it, so that
				// a page never misses an outcome Get finds. A key seen
				// again is compacted away when a page sorts.
				runID, customer, _ := strings.Cut(string(m.Key), keySep)
				idx.addRelease(runID, customer)
			}
			return e, err
		},
		Merge: func(cur entry, ok bool, next entry) (entry, bool) {
			if !ok && next.run != nil {
				idx.addRun(next.run.ID)
			}
			if next.run == nil {
				return next, true
			}
			if ok && cur.run == nil {
				ok = false
			}
			var r Run
			if cur.run != nil {
				r = *cur.run
			}
			merged, changed := merge(r, ok, *next.run)
			if !changed {
				return cur, false
			}
			return entry{run: &merged}, true
		},
		Logger:  cfg.Logger,
		MaxWait: cfg.MaxWait,
	})
	if err != nil {
		return nil, err
	}
	return &View{v: v, idx: idx}, nil
}

// Topic returns the runs topic.
func (v *View) Topic() string { return v.v.Topic() }

// Ready reports whether the View has applied every record that was on the
// topic when it opened.
func (v *View) Ready() bool { return v.v.Ready() }

// Sync returns once the View has applied every record written before the
// call (read-your-writes across instances): it asks the brokers for the
// high watermarks and waits for the readers to reach them.
func (v *View) Sync(ctx context.Context) error { return v.v.Sync(ctx) }

// Get returns the run id.
func (v *View) Get(id string) (Run, bool) {
	e, ok := v.v.Get(id)
	if !ok || e.run == nil {
		return Run{}, false
	}
	return *e.run, true
}

// Release returns the outcome of customerID's release in run runID.
func (v *View) Release(runID, customerID string) (Release, bool) {
	e, ok := v.v.Get(ReleaseKey(runID, customerID))
	if !ok {
		return Release{}, false
	}
	return e.release()
}

// Releases returns up to limit release outcomes of run runID (for a bulk
// run: those of its tasks), by customer id, starting after the customer id
// after ("": from the first). next is the after of the following page, ""
// when there is none.
func (v *View) Releases(runID, after string, limit int) (rels []Release, next string) {
	if limit <= 0 {
		return nil, ""
	}
	customers, more := v.idx.page(runID, after, limit)
	rels = make([]Release, 0, len(customers))
	for _, c := range customers {
		if r, ok := v.Release(runID, c); ok {
			rels = append(rels, r)
		}
	}
	if more && len(customers) > 0 {
		next = customers[len(customers)-1]
	}
	return rels, next
}

// Lease returns the lease on run runID, if one was seen and not dropped.
func (v *View) Lease(runID string) (Lease, bool) {
	e, ok := v.v.Get(LeaseKey(runID))
	if !ok || e.lease == nil {
		return Lease{}, false
	}
	return *e.lease, true
}

// List returns the runs f selects, newest (CreatedAt) first, ties by id;
// at most f.Limit when it is positive.
func (v *View) List(f RunFilter) []Run {
	out := make([]Run, 0, max(f.Limit, 16))
	for _, id := range v.idx.runIDs() {
		r, ok := v.Get(id)
		if !ok || !f.match(r) {
			continue
		}
		if f.Customer != "" && !slices.Contains(r.Request.Scope.Customers, f.Customer) {
			if _, released := v.v.Get(ReleaseKey(id, f.Customer)); !released {
				continue
			}
		}
		out = append(out, r)
	}
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
	e, err := v.v.Wait(ctx, id, func(e entry) bool { return e.run != nil && ok(*e.run) })
	if err != nil {
		return Run{}, fmt.Errorf("wait for run %s: %w", id, err)
	}
	return *e.run, nil
}

// Close stops reading and waits for the readers to end. Waits in progress
// fail. Get and List still answer from the last state.
func (v *View) Close() error { return v.v.Close() }
