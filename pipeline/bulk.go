package pipeline

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/midata/midata/pipeline/bycustomer"
	"github.com/midata/midata/pipeline/consent"
	"github.com/midata/midata/pipeline/kafkasource"
	"github.com/midata/midata/pipeline/releasestore"
	"github.com/midata/midata/pipeline/spill"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/schemas"
	"github.com/midata/midata/schemas/release"
)

// Bulk asks for a release of every customer whose consent covers Recipient,
// for the period [From, To). ID is its idempotency key (required): each
// customer's release id derives from it, so a task handled twice makes one
// release per customer.
type Bulk struct {
	ID        string
	Recipient schemas.Recipient
	From, To  time.Time
	Formats   []string
}

// AllPartitions is the task partition of a bulk release that reads every
// partition at once (when the partitioner check failed).
const AllPartitions = -1

// PlanBulk freezes the snapshot of a bulk request, once per request id, and
// returns it with the tasks it splits into: one per partition when each
// customer's records are known to sit on one partition (Keyed), else one
// task over every partition (AllPartitions).
func (r *Runner) PlanBulk(ctx context.Context, b Bulk) (kafkasource.Snapshot, []int, error) {
	if b.ID == "" {
		return kafkasource.Snapshot{}, nil, errors.New("plan bulk release: no request id")
	}
	snap, err := r.planOnce(ctx, planKey(b.ID, "bulk"), func(ctx context.Context) (kafkasource.Snapshot, error) {
		return r.cfg.Source.PlanBulk(ctx, b.From)
	})
	if err != nil {
		return snap, nil, err
	}
	if !snap.Keyed {
		return snap, []int{AllPartitions}, nil
	}
	tasks := make([]int, 0, len(snap.Ranges))
	for _, rg := range snap.Ranges {
		tasks = append(tasks, rg.Partition)
	}
	return snap, tasks, nil
}

// BulkProgress is how far a bulk task is.
type BulkProgress struct {
	Scanned, ToScan int64
	CustomersDone   int64
	Customers       int64
}

// RunTask makes the releases of one task of a bulk request: one pass over
// its partition (or every partition) of the planned snapshot, records of
// consenting customers sorted by customer with bounded memory (spilling to
// disk), then one release per customer that the task owns, including empty
// ones for consenting customers without records, up to Config.CommitDepth
// at once. Memory beyond the sort is bounded by CommitDepth × CommitBuffer
// records and a release's write buffers. Consent is re-checked before each
// commit; a customer whose consent changed is cancelled alone. The results
// are in customer order; on error, those of the releases made so far. They
// carry no signed links.
func (r *Runner) RunTask(ctx context.Context, b Bulk, snap kafkasource.Snapshot, partition int, progress func(BulkProgress)) ([]*Result, error) {
	var results []*Result
	err := r.StreamTask(ctx, b, snap, partition, progress, func(res *Result) error {
		results = append(results, res)
		return nil
	})
	slices.SortFunc(results, func(a, b *Result) int { return strings.Compare(a.CustomerID, b.CustomerID) })
	return results, err
}

// StreamTask is RunTask handing each result to each as soon as the release
// is made or found, one call at a time, in no set order, instead of keeping
// them: a task of 100,000 customers holds none of their results. An error
// from each ends the task.
func (r *Runner) StreamTask(ctx context.Context, b Bulk, snap kafkasource.Snapshot, partition int, progress func(BulkProgress), each func(*Result) error) error {
	if progress == nil {
		progress = func(BulkProgress) {}
	}
	formats, err := b.Validate()
	if err != nil {
		return err
	}
	task := snap
	if partition != AllPartitions {
		i := slices.IndexFunc(snap.Ranges, func(rg kafkasource.Range) bool { return rg.Partition == partition })
		if i < 0 || !snap.Keyed {
			return fmt.Errorf("bulk task %s/%d: no such keyed partition in the plan", b.ID, partition)
		}
		task.Ranges = []kafkasource.Range{snap.Ranges[i]}
	}
	now := r.cfg.Now().UTC()
	if err := r.syncConsent(ctx); err != nil {
		return err
	}
	// The grants of the task's own customers only, built only for them:
	// the whole map (every consenting customer, about 470 bytes each) held
	// for the task's life was 40 % of serve's live heap in a run of
	// 100,000 customers, and building it for every task raised the peak.
	var keep func(string) bool
	if partition != AllPartitions {
		keep = func(c string) bool { return r.cfg.Source.Owner(c, snap.Partitions) == partition }
	}
	grants := r.cfg.Grants.GrantedWhere(b.Recipient, now, keep)
	owned := slices.Sorted(maps.Keys(grants))

	// One pass: records of owned, consenting customers, by customer.
	sorters := map[release.Order]*spill.Sorter{}
	for _, f := range formats {
		if sorters[f.Order] == nil {
			sorters[f.Order] = spill.New(r.cfg.TempDir, bycustomer.Less(lessFor(f.Order)), r.cfg.SpillRecords)
		}
	}
	defer func() {
		for _, s := range sorters {
			s.Close()
		}
	}()
	stats := map[string]*release.Counts{}
	for _, c := range owned {
		stats[c] = &release.Counts{Excluded: map[string]int64{}}
	}
	var scanned, quarantined int64
	toScan := task.Records()
	var t schemas.Transaction // one for every record: it escapes (fits), and the sorters copy it
	err = r.cfg.Source.Read(ctx, task, func(m topics.Message) error {
		if scanned++; scanned%10000 == 0 {
			progress(BulkProgress{Scanned: scanned, ToScan: toScan, Customers: int64(len(owned))})
		}
		var err error
		if t, err = schemas.DecodeTransaction(m.Key, m.Value); err != nil {
			quarantined++
			if st := stats[string(m.Key)]; st != nil {
				st.Quarantined++ // the key is the customer id
			}
			return r.quarantine(ctx, task.Topic, m, err)
		}
		t.Partition, t.Offset = m.Partition, m.Offset
		g, ok := grants[t.CustomerID]
		if !ok {
			return nil // no consent for this recipient: not in scope
		}
		st := stats[t.CustomerID]
		if st == nil {
			return fmt.Errorf("record of %s at %d/%d is not on the partition the partitioner gives it: re-run the bulk release after fixing the partitioner setting", t.CustomerID, m.Partition, m.Offset)
		}
		st.Scanned++
		f := consent.Filter{CustomerID: t.CustomerID, From: b.From, To: b.To, Grant: g}
		if reason := f.Check(&t); reason != consent.Released {
			st.Excluded[string(reason)]++
			return nil
		}
		if reason := fits(formats, &t, g.Categories()); reason != "" {
			st.Excluded[reason]++
			return nil
		}
		st.Released++
		for _, s := range sorters {
			if err := s.Add(&t); err != nil {
				return fmt.Errorf("sort records: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read %s: %w", task.Topic, err)
	}
	if err := r.cfg.Producer.Flush(ctx); err != nil {
		return fmt.Errorf("quarantine invalid records: %w", err)
	}
	progress(BulkProgress{Scanned: scanned, ToScan: toScan, Customers: int64(len(owned))})
	// Each manifest counts as a single release's does: every record read
	// to make it (the task's partition), those of other customers
	// excluded as other_customer, so scanned = released + excluded +
	// quarantined in both (bulk manifests said quarantined 0 and scanned
	// only the customer's own valid records).
	for _, st := range stats {
		if other := scanned - st.Scanned - st.Quarantined; other > 0 {
			st.Excluded[string(consent.OtherCustomer)] += other
		}
		st.Scanned = scanned
	}

	splitters := map[release.Order]*bycustomer.Splitter{}
	for order, s := range sorters {
		it, err := s.Sort()
		if err != nil {
			return fmt.Errorf("sort records: %w", err)
		}
		defer it.Close()
		var stream bycustomer.Stream = it
		if r.wrapSorted != nil {
			stream = r.wrapSorted(stream)
		}
		splitters[order] = bycustomer.NewSplitter(stream)
	}

	// One release per owned customer, in customer order, through a bounded
	// pipeline: up to CommitDepth releases are staged and committed at once.
	// A customer's records are taken from the sorted runs into memory (at
	// most CommitBuffer per row order) so the next customer's can be taken
	// while the release is made; a customer with more streams them from
	// the runs while the releases in flight go on. Which releases exist
	// already is one listing of the store, made only once a commit finds
	// its release committed (see releasestore.Index).
	reqs := make([]Request, len(owned))
	ids := make([]string, len(owned))
	for i, c := range owned {
		reqs[i] = Request{ID: b.ID, CustomerID: schemas.CustomerID(c), Recipient: b.Recipient, From: b.From, To: b.To, Formats: b.Formats}
		ids[i] = requestReleaseID(reqs[i], formats, grants[c].Hash())
	}
	known := releasestore.NewIndex(r.cfg.Sink, ids, r.cfg.Logger)
	var mu sync.Mutex
	var done int64
	finish := func(res *Result) error {
		r.observe(res)
		mu.Lock()
		defer mu.Unlock()
		if err := each(res); err != nil {
			return err
		}
		done++
		progress(BulkProgress{Scanned: scanned, ToScan: toScan, CustomersDone: done, Customers: int64(len(owned))})
		return nil
	}
	// CommitDepth long-lived goroutines make the releases: a goroutine per
	// release grew a fresh stack through the S3 client's deep call chain
	// every time (5 % of serve's CPU in a profile of the many-small shape).
	g, gctx := errgroup.WithContext(ctx)
	work := make(chan func() error)
	for range r.cfg.CommitDepth {
		g.Go(func() error {
			for one := range work {
				if err := one(); err != nil {
					return err
				}
			}
			return nil
		})
	}
	submit := func(one func() error) bool {
		select {
		case work <- one:
			return true
		case <-gctx.Done():
			return false // a release failed: the task stops
		}
	}
	var readErr error
customers:
	for i, c := range owned {
		if gctx.Err() != nil {
			break // a release failed: the task stops
		}
		runs, whole := bycustomer.Take(splitters, c, r.cfg.CommitBuffer)
		// A read failure cuts this customer's run short and leaves the
		// later ones unknown: none of them is released. Those in flight
		// were taken whole before it.
		if readErr = splittersErr(splitters); readErr != nil {
			break
		}
		sources := make(map[release.Order]records, len(runs))
		for order, run := range runs {
			sources[order] = run
		}
		one := func() error {
			rel := &customerRelease{id: ids[i], req: reqs[i], formats: formats, grant: grants[c], snap: task, stats: *stats[c], now: now, small: whole, noLinks: true, conflict: known.Conflict}
			res, err := r.releaseCustomer(gctx, rel, sources, known)
			if err != nil {
				return fmt.Errorf("release of %s: %w", c, err)
			}
			return finish(res)
		}
		if whole {
			if !submit(one) {
				break
			}
			continue
		}
		// Streamed from the sorted runs: the next customer's records come
		// after this one's, so the loop waits for it.
		streamed := make(chan struct{})
		if !submit(func() error {
			defer close(streamed)
			return one()
		}) {
			break
		}
		select {
		case <-streamed:
		case <-gctx.Done():
			break customers
		}
		for _, run := range runs {
			run.Drain()
		}
	}
	close(work)
	if err := g.Wait(); err != nil {
		return err
	}
	if readErr == nil {
		readErr = splittersErr(splitters)
	}
	if readErr != nil {
		return fmt.Errorf("read sorted records: %w", readErr)
	}
	return nil
}

// splittersErr returns the error that ended one of splitters' streams, if any.
func splittersErr(splitters map[release.Order]*bycustomer.Splitter) error {
	for _, p := range splitters {
		if err := p.Err(); err != nil {
			return err
		}
	}
	return nil
}

// releaseCustomer makes one customer's release c of a bulk task, unless
// known says it may be committed already and the store has its manifest.
func (r *Runner) releaseCustomer(ctx context.Context, c *customerRelease, sources map[release.Order]records, known *releasestore.Index) (*Result, error) {
	if known.MayBeCommitted(c.id) {
		if m, err := r.committed(ctx, c.id); err != nil {
			return nil, err
		} else if m != nil {
			return r.resultOf(ctx, m, release.StatusAlreadyCommitted, !c.noLinks, &c.grant)
		}
	}
	return r.complete(ctx, c, sources, func(ctx context.Context) (string, error) {
		return r.recheck(ctx, c.req, c.grant)
	})
}
