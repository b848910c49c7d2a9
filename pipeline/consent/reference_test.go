package consent

import (
	"slices"
	"time"

	"github.com/midata/midata/schemas"
)

// Table is the consent state as the runner kept it before the consent
// view: a map of decoded events, rebuilt from the whole topic for every
// release. It stays here as the reference model the view is checked
// against, and as the baseline of its benchmarks. The zero value is not
// usable; call NewTable.
type Table struct {
	states    map[string]schemas.ConsentEvent
	partition map[string]int      // the partition each key's events came from
	split     map[string]struct{} // keys seen on two partitions: order unknown
}

// NewTable returns an empty table.
func NewTable() *Table {
	return &Table{states: map[string]schemas.ConsentEvent{}, partition: map[string]int{}, split: map[string]struct{}{}}
}

// Apply records ev as the state of its key. Events must be applied in offset
// order of their partition (a key lives on one partition, so that is the
// order compaction keeps). A tombstone erases the key's state. Events of
// one key found on two partitions have no known order: the key then has no
// consent (Split lists it) rather than whichever partition was read last.
func (t *Table) Apply(ev schemas.ConsentEvent, tombstone bool) {
	key := schemas.ConsentKey(ev.CustomerID, ev.Recipient)
	if p, ok := t.partition[key]; ok && p != ev.Partition {
		t.split[key] = struct{}{}
	}
	t.partition[key] = ev.Partition
	if tombstone {
		delete(t.states, key)
		return
	}
	t.states[key] = ev
}

// Split returns the keys whose events were found on more than one
// partition, sorted: their order is unknown, so they grant nothing.
func (t *Table) Split() []string {
	keys := make([]string, 0, len(t.split))
	for k := range t.split {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Len returns the number of keys with a state.
func (t *Table) Len() int { return len(t.states) }

// Lookup returns the state of (customer, recipient), if any.
func (t *Table) Lookup(customerID string, recipient schemas.Recipient) (schemas.ConsentEvent, bool) {
	ev, ok := t.states[schemas.ConsentKey(customerID, recipient)]
	return ev, ok
}

// Grant returns the grant that lets records of customerID go to recipient at
// now, or an error wrapping ErrNoConsent that says why not.
func (t *Table) Grant(customerID string, recipient schemas.Recipient, now time.Time) (Grant, error) {
	if _, split := t.split[schemas.ConsentKey(customerID, recipient)]; split {
		return Grant{}, splitKey(customerID, recipient)
	}
	ev, ok := t.Lookup(customerID, recipient)
	if !ok {
		return Grant{}, noRecord(customerID, recipient)
	}
	return GrantOf(ev, now)
}

// Granted returns the grant of every customer whose consent lets records go
// to recipient at now, by customer id.
func (t *Table) Granted(recipient schemas.Recipient, now time.Time) map[string]Grant {
	out := map[string]Grant{}
	for key, ev := range t.states {
		if _, split := t.split[key]; split || ev.Recipient != recipient {
			continue
		}
		if g, err := GrantOf(ev, now); err == nil {
			out[ev.CustomerID] = g
		}
	}
	return out
}
