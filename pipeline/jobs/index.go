package jobs

import (
	"slices"
	"sort"
	"sync"
)

// index is what a View knows of its keys beyond the entries themselves:
// the run ids, and the customers with an outcome in each run, in order for
// paging. It holds ids only; the outcomes stay in the View, under keys
// "<run id>|<customer id>", which are the index by run and customer: the
// runs that released for a customer are found by one lookup per run. Its lock is taken inside the View's (from merge) or alone, never
// the other way round, so readers copy what they need and then ask the
// View. Keys forgotten by a tombstone may linger: readers skip what the
// View no longer has.
type index struct {
	mu    sync.Mutex
	runs  map[string]struct{}
	byRun map[string]*runReleases
}

// runReleases are the customers with an outcome in one run.
type runReleases struct {
	customers []string
	sorted    bool
}

func newIndex() *index {
	return &index{runs: map[string]struct{}{}, byRun: map[string]*runReleases{}}
}

// addRun notes run id.
func (x *index) addRun(id string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.runs[id] = struct{}{}
}

// addRelease notes an outcome for customer in run runID.
func (x *index) addRelease(runID, customer string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	rr := x.byRun[runID]
	if rr == nil {
		rr = &runReleases{sorted: true}
		x.byRun[runID] = rr
	}
	if n := len(rr.customers); n > 0 && rr.customers[n-1] >= customer {
		rr.sorted = false
	}
	rr.customers = append(rr.customers, customer)
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
