package jobs

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/midata/midata/pipeline/jobs/outcomes"
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
	// Dir is the folder where the View keeps the release outcomes, on
	// disk (see View): a folder of its own, locked while the View is open
	// (a second View, in this process or another, fails to open on it),
	// emptied at open and at Close, since the topic is the source of
	// truth. Default: a new folder in TempDir, removed at Close.
	Dir string
	// TempDir is where the default Dir is made. Default: the system's
	// temporary folder.
	TempDir string
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
	// After starts the list after this run (the last of the previous
	// page), in the list's order; zero: at the newest.
	After Cursor
}

// Cursor is a place in a list of runs, newest first: a run's creation
// time and id (the list's order: time descending, then id ascending).
type Cursor struct {
	CreatedAt time.Time
	ID        string
}

// CursorOf is the place of r.
func CursorOf(r Run) Cursor { return Cursor{r.CreatedAt, r.ID} }

// before reports whether r comes after c in the list's order.
func (c Cursor) before(r Run) bool {
	if c.ID == "" {
		return true
	}
	if d := r.CreatedAt.Compare(c.CreatedAt); d != 0 {
		return d < 0
	}
	return r.ID > c.ID
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

// View is the state of the ledger, rebuilt from the runs topic with a
// topics.View: at start it reads the topic up to its high watermarks
// (then Ready reports true) and it keeps reading new records until its
// context ends or Close. Run records are applied with the rules of merge,
// the same on every instance; release outcomes and leases replace their
// key's; a tombstone forgets its key. Runs and leases are held in memory;
// release outcomes, as many as the topic keeps, in an embedded store on
// disk (ViewConfig.Dir) indexed by run and by customer, whose memory is
// bounded (a block cache and memtables of a few MiB) whatever their
// number. It is safe for concurrent use.
type View struct {
	v        *topics.View[entry]
	idx      *index
	outcomes *outcomes.Store

	syncMu sync.Mutex
	synced map[string]time.Time // run id → UpdatedAt of its end record when the View synced after it
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
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	store, err := outcomes.Open(outcomes.Config{Dir: cfg.Dir, TempDir: cfg.TempDir, Logger: cfg.Logger})
	if err != nil {
		return nil, fmt.Errorf("open view: %w", err)
	}
	idx := newIndex()
	vc := viewConfig(cfg, idx)
	vc.Store = &ledgerStore{mem: map[string]entry{}, outcomes: store}
	v, err := topics.OpenView(ctx, cfg.Kafka, vc)
	if err != nil {
		return nil, errors.Join(err, store.Close())
	}
	return &View{v: v, idx: idx, outcomes: store, synced: map[string]time.Time{}}, nil
}

// Topic returns the runs topic.
func (v *View) Topic() string { return v.v.Topic() }

// Ready reports whether the View has applied every record that was on the
// topic when it opened, and its store of outcomes has not failed (a disk
// error, logged: the instance needs a restart to rebuild it).
func (v *View) Ready() bool { return v.v.Ready() && v.outcomes.Err() == nil }

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
	rel, ok := v.outcomes.Get(runID, customerID)
	if !ok {
		return Release{}, false
	}
	return entry{rel: rel}.release()
}

// Releases returns up to limit release outcomes of run runID (for a bulk
// run: those of its tasks), by customer id, starting after the customer id
// after ("": from the first). next is the after of the following page, ""
// when there is none.
func (v *View) Releases(runID, after string, limit int) (rels []Release, next string) {
	if limit <= 0 {
		return nil, ""
	}
	values, more := v.outcomes.Page(runID, after, limit)
	rels = make([]Release, 0, len(values))
	for _, b := range values {
		if r, ok := (entry{rel: b}).release(); ok {
			rels = append(rels, r)
		}
	}
	if more && len(rels) > 0 {
		next = rels[len(rels)-1].CustomerID
	}
	return rels, next
}

// syncedAfterEnd reports whether the View has synced since it had run as
// it is now (ended): then it holds every outcome written before run's end.
func (v *View) syncedAfterEnd(run Run) bool {
	v.syncMu.Lock()
	defer v.syncMu.Unlock()
	return v.synced[run.ID].Equal(run.UpdatedAt)
}

// syncAfterEnd syncs the View and notes that it holds every outcome
// written before run's end.
func (v *View) syncAfterEnd(ctx context.Context, run Run) error {
	if err := v.Sync(ctx); err != nil {
		return err
	}
	v.syncMu.Lock()
	defer v.syncMu.Unlock()
	v.synced[run.ID] = run.UpdatedAt
	return nil
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
	var released map[string]bool // the runs with an outcome for f.Customer
	if f.Customer != "" {
		released = v.outcomes.RunsOf(f.Customer)
	}
	for _, id := range v.idx.runIDs() {
		r, ok := v.Get(id)
		if !ok || !f.match(r) || !f.After.before(r) {
			continue
		}
		if f.Customer != "" && !released[id] && !slices.Contains(r.Request.Scope.Customers, f.Customer) {
			continue
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

// Close stops reading, waits for the readers to end and removes the store
// of outcomes. Waits in progress fail. Get and List still answer from the
// last state of the runs; Release and Releases find nothing.
func (v *View) Close() error { return errors.Join(v.v.Close(), v.outcomes.Close()) }

// viewConfig is the topics.View configuration of a View of cfg: how it
// decodes and merges the records of the runs topic, indexing them in idx.
func viewConfig(cfg ViewConfig, idx *index) topics.ViewConfig[entry] {
	return topics.ViewConfig[entry]{
		Topic: Topics{Runs: cfg.Topic}.withDefaults().Runs,
		Decode: func(m topics.Message) (entry, error) {
			return decodeEntry(m, cfg.Now())
		},
		// Outcomes and leases replace their key's entry: the store is not
		// asked for it first (outcomes are on disk).
		Replace: func(key []byte) bool {
			return bytes.Contains(key, []byte(keySep)) || bytes.HasPrefix(key, []byte(ActivityPrefix))
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
	}
}
