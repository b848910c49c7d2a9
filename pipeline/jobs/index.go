package jobs

import (
	"slices"
	"sort"
	"sync"
)

// index is what a View knows of its keys beyond the entries themselves:
// the run ids, and the release outcomes by run and by customer. It holds
// ids only (strings shared with the entries); the outcomes stay in the
// View. Its lock is taken inside the View's (from merge) or alone, never
// the other way round, so readers copy what they need and then ask the
// View. Keys forgotten by a tombstone may linger: readers skip what the
// View no longer has.
type index struct {
	mu         sync.Mutex
	runs       map[string]struct{}
	byRun      map[string]*runReleases
	byCustomer map[string][]string // customer id → ids of runs with an outcome for them
}

// runReleases are the customers with an outcome in one run.
type runReleases struct {
	customers []string
	sorted    bool
}

func newIndex() *index {
	return &index{runs: map[string]struct{}{}, byRun: map[string]*runReleases{}, byCustomer: map[string][]string{}}
}

// add notes a new key's entry e.
func (x *index) add(e entry) {
	x.mu.Lock()
	defer x.mu.Unlock()
	switch {
	case e.run != nil:
		x.runs[e.run.ID] = struct{}{}
	case e.rel != nil:
		rr := x.byRun[e.rel.RunID]
		if rr == nil {
			rr = &runReleases{sorted: true}
			x.byRun[e.rel.RunID] = rr
		}
		if n := len(rr.customers); n > 0 && rr.customers[n-1] >= e.rel.CustomerID {
			rr.sorted = false
		}
		rr.customers = append(rr.customers, e.rel.CustomerID)
		if runs := x.byCustomer[e.rel.CustomerID]; !slices.Contains(runs, e.rel.RunID) {
			x.byCustomer[e.rel.CustomerID] = append(runs, e.rel.RunID)
		}
	}
}

// runIDs returns every run id known.
func (x *index) runIDs() []string {
	x.mu.Lock()
	defer x.mu.Unlock()
	out := make([]string, 0, len(x.runs))
	for id := range x.runs {
		out = append(out, id)
	}
	return out
}

// releasedFor reports whether run runID has an outcome for customer.
func (x *index) releasedFor(customer, runID string) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return slices.Contains(x.byCustomer[customer], runID)
}

// count returns how many outcomes run runID has, at least (a key seen
// twice may count twice until the next page sorts them).
func (x *index) count(runID string) int {
	x.mu.Lock()
	defer x.mu.Unlock()
	if rr := x.byRun[runID]; rr != nil {
		return len(rr.customers)
	}
	return 0
}

// page returns up to limit customers of run runID after the customer id
// after, in order, and whether more follow.
func (x *index) page(runID, after string, limit int) ([]string, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	rr := x.byRun[runID]
	if rr == nil {
		return nil, false
	}
	if !rr.sorted {
		slices.Sort(rr.customers)
		rr.customers = slices.Compact(rr.customers)
		rr.sorted = true
	}
	i := 0
	if after != "" {
		i = sort.SearchStrings(rr.customers, after)
		if i < len(rr.customers) && rr.customers[i] == after {
			i++
		}
	}
	end := min(len(rr.customers), i+limit)
	return slices.Clone(rr.customers[i:end]), end < len(rr.customers)
}
