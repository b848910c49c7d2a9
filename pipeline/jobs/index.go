package jobs

import "sync"

// index is the set of run ids a View has seen, for List. Its lock is
// taken inside the View's (from merge) or alone, never the other way
// round, so readers copy the ids and then ask the View. An id forgotten
// by a tombstone may linger: readers skip what the View no longer has.
// The outcomes are indexed by run and by customer in the View's
// outcomeStore.
type index struct {
	mu   sync.Mutex
	runs map[string]struct{}
}

func newIndex() *index {
	return &index{runs: map[string]struct{}{}}
}

// addRun notes run id.
func (x *index) addRun(id string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.runs[id] = struct{}{}
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
