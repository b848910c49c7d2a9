package jobs

import (
	"bytes"

	"github.com/midata/midata/pipeline/jobs/outcomes"
	"github.com/midata/midata/pipeline/topics"
)

// ledgerStore is the topics.Store of a View: run records and leases, which
// are few (one of each per run), in a map; release outcomes, which are as
// many as a bank's customers in every bulk run the topic keeps, in an
// outcomes.Store on disk.
type ledgerStore struct {
	mem      map[string]entry // runs and leases; only the View's lock guards it
	outcomes *outcomes.Store
}

var _ topics.Store[entry] = (*ledgerStore)(nil)

// outcomeKey splits key into a run id and a customer id when it is a
// release outcome's, "<run id>|<customer id>", not a run's or a lease's.
func outcomeKey(key []byte) (runID, customerID []byte, ok bool) {
	runID, customerID, sub := bytes.Cut(key, []byte(keySep))
	return runID, customerID, sub && string(customerID) != leaseTag && !bytes.HasPrefix(key, []byte(ActivityPrefix))
}

func (s *ledgerStore) Put(m topics.Message, e entry) {
	if e.run == nil && e.rel == nil && e.lease == nil {
		return // an activity record (ActivityPrefix): not the View's
	}
	if runID, customerID, ok := outcomeKey(m.Key); ok {
		s.outcomes.Put(runID, customerID, e.rel)
		return
	}
	s.mem[string(m.Key)] = e
}

func (s *ledgerStore) Delete(m topics.Message) bool {
	if runID, customerID, ok := outcomeKey(m.Key); ok {
		return s.outcomes.Delete(runID, customerID)
	}
	_, ok := s.mem[string(m.Key)]
	delete(s.mem, string(m.Key))
	return ok
}

func (s *ledgerStore) Get(key string) (entry, bool) {
	if runID, customerID, ok := outcomeKey([]byte(key)); ok {
		rel, ok := s.outcomes.Get(string(runID), string(customerID))
		return entry{rel: rel}, ok
	}
	e, ok := s.mem[key]
	return e, ok
}

// Len counts the outcomes by reading them all (topics.View.Len holds its
// lock meanwhile); View never asks for it.
func (s *ledgerStore) Len() int { return len(s.mem) + s.outcomes.Len() }

func (s *ledgerStore) Range(fn func(key string, e entry) bool) {
	for k, e := range s.mem {
		if !fn(k, e) {
			return
		}
	}
	s.outcomes.Each(func(runID, customerID, value []byte) bool {
		return fn(ReleaseKey(string(runID), string(customerID)), entry{rel: bytes.Clone(value)})
	})
}
