package jobs

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/midata/midata/pipeline/topics"
)

// MaxRecordBytes bounds every record of the ledger, key and value: a
// record that would be larger is refused before it is published
// (ErrRecordTooLarge, Permanent), whatever the size of its run. Far below
// Kafka's default message limit of 1 MiB.
const MaxRecordBytes = 64 << 10

// ErrRecordTooLarge is the cause of a ledger record refused for its size.
var ErrRecordTooLarge = errors.New("ledger record too large")

// The keys of the ledger: a run record is keyed by its run id; a release
// outcome by ReleaseKey, a lease by LeaseKey. A run id never holds keySep
// (Request.CheckBounds), nor does a customer id, so the keys of one run
// never collide with another's.
const (
	// ActivityPrefix starts the keys of the records about what happened to
	// releases after their run (deliveries, links, downloads, recalls,
	// deletions: package activity), which share the runs topic; a View of
	// runs keeps none of them. No run id starts with it.
	ActivityPrefix = "~"

	keySep   = "|"
	leaseTag = "~lease" // not a customer id: '~' is not allowed in one
)

// ReleaseKey is the key of the outcome of customerID's release in run
// runID: "<run id>|<customer id>".
func ReleaseKey(runID, customerID string) string { return runID + keySep + customerID }

// LeaseKey is the key of the lease on run runID: "<run id>|~lease".
func LeaseKey(runID string) string { return runID + keySep + leaseTag }

// Lease is a worker's claim on the run it executes, renewed by heartbeats
// (a record each worker.Config.LeaseInterval) and dropped (a tombstone) when
// the run ends or is handed back. While it is live, another worker that
// takes the same request waits instead of starting it.
type Lease struct {
	RunID  string        `json:"run_id"`
	Retry  int           `json:"retry"` // the round of the run it holds
	Worker string        `json:"worker"`
	TTL    time.Duration `json:"ttl_ns"` // how long after its last heartbeat it holds
	At     time.Time     `json:"at"`     // the holder's clock at the heartbeat
	Seen   time.Time     `json:"-"`      // the reader's clock when its view applied the heartbeat
}

// Live reports whether the lease still holds at now, on the clock of the
// view that saw it: less than TTL since its last heartbeat arrived. Clocks
// of different machines are never compared.
func (l Lease) Live(now time.Time) bool { return now.Sub(l.Seen) < l.TTL }

// entry is one key of the ledger as a View holds it: exactly one of its
// fields is set. A release outcome is kept as the JSON it was published
// as (checked when it arrived), one allocation of ~200 bytes, and decoded
// when it is read: a View holds millions of them.
type entry struct {
	run   *Run
	rel   []byte
	lease *Lease
}

// release decodes the outcome e holds.
func (e entry) release() (Release, bool) {
	var r Release
	if e.rel == nil || json.Unmarshal(e.rel, &r) != nil {
		return Release{}, false
	}
	return r, true
}

// decodeEntry decodes a record of the runs topic by the form of its key;
// now stamps a lease's Seen.
func decodeEntry(m topics.Message, now time.Time) (entry, error) {
	key := string(m.Key)
	if strings.HasPrefix(key, ActivityPrefix) {
		return entry{}, nil // not a run's: the store drops it
	}
	runID, rest, isSub := strings.Cut(key, keySep)
	switch {
	case !isSub:
		var r Run
		if err := json.Unmarshal(m.Value, &r); err != nil {
			return entry{}, err
		}
		if r.ID != key {
			return entry{}, fmt.Errorf("run id %q under key %q", r.ID, key)
		}
		return entry{run: &r}, nil
	case rest == leaseTag:
		var l Lease
		if err := json.Unmarshal(m.Value, &l); err != nil {
			return entry{}, err
		}
		if l.RunID != runID {
			return entry{}, fmt.Errorf("lease of run %q under key %q", l.RunID, key)
		}
		l.Seen = now
		return entry{lease: &l}, nil
	default:
		var r Release
		if err := json.Unmarshal(m.Value, &r); err != nil {
			return entry{}, err
		}
		if r.RunID != runID || r.CustomerID != rest {
			return entry{}, fmt.Errorf("release of run %q customer %q under key %q", r.RunID, r.CustomerID, key)
		}
		return entry{rel: m.Value}, nil
	}
}

// encodeRecord encodes v as the value of key, refusing what exceeds
// MaxRecordBytes.
func encodeRecord(key string, v any) (topics.Record, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return topics.Record{}, fmt.Errorf("encode %s: %w", key, err)
	}
	if n := len(key) + len(b); n > MaxRecordBytes {
		return topics.Record{}, Permanent(fmt.Errorf("encode %s: %d bytes, at most %d: %w", key, n, MaxRecordBytes, ErrRecordTooLarge))
	}
	return topics.Record{Key: []byte(key), Value: b}, nil
}

// published classifies a producer's error: one that no retry mends (the
// brokers refused the record as too large, say) is Permanent.
func published(err error) error {
	if err != nil && topics.Permanent(err) {
		return Permanent(err)
	}
	return err
}
