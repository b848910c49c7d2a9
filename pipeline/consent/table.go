// Package consent owns the consent state of midata: the table rebuilt from
// the compacted midata.consent topic (latest event per customer|recipient in
// offset order; a tombstone means no consent) and the decision whether a
// record may be released to a recipient; and the Recorder, which writes a
// customer's own request as a consent event through a Publisher. It is
// pure: no Kafka, no clock of its own (callers pass "now").
//
// It does not read Kafka or decode events: the pipeline feeds it validated
// schemas.ConsentEvent values in offset order, and the caller gives the
// Recorder its producer.
package consent

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/midata/midata/schemas"
)

// ErrNoConsent is wrapped by every refusal of Table.Grant; the message says
// which rule refused (no record, revoked, expired, category missing).
var ErrNoConsent = errors.New("no consent")

// Table is the consent state: the latest event of each customer|recipient
// key. The zero value is not usable; call NewTable.
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
		return Grant{}, fmt.Errorf("%w: consent events for %s to %s are on two partitions, so which is latest is unknown: republish them with the topic's partitioner", ErrNoConsent, customerID, recipient)
	}
	ev, ok := t.Lookup(customerID, recipient)
	if !ok {
		return Grant{}, fmt.Errorf("%w: no consent record for %s to %s", ErrNoConsent, customerID, recipient)
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

// GrantOf checks one consent state at now.
func GrantOf(ev schemas.ConsentEvent, now time.Time) (Grant, error) {
	switch {
	case ev.Status != schemas.ConsentGranted:
		return Grant{}, fmt.Errorf("%w: consent %s for %s to %s is %s", ErrNoConsent, ev.ConsentID, ev.CustomerID, ev.Recipient, ev.Status)
	case !ev.ExpiresAt.IsZero() && !now.Before(ev.ExpiresAt):
		return Grant{}, fmt.Errorf("%w: consent %s for %s to %s expired at %s", ErrNoConsent, ev.ConsentID, ev.CustomerID, ev.Recipient, ev.ExpiresAt.UTC().Format(time.RFC3339))
	case !ev.Categories.Has(schemas.Transactions):
		return Grant{}, fmt.Errorf("%w: consent %s for %s to %s does not grant the transactions category", ErrNoConsent, ev.ConsentID, ev.CustomerID, ev.Recipient)
	}
	return Grant{Event: ev}, nil
}

// Grant is a consent state that allows a release.
type Grant struct {
	Event schemas.ConsentEvent
}

// Categories returns the granted categories: fields outside them are not
// written at all.
func (g Grant) Categories() schemas.Category { return g.Event.Categories }

// InWindow reports whether t lies in the consent's window [from, to).
func (g Grant) InWindow(t time.Time) bool {
	if !g.Event.WindowFrom.IsZero() && t.Before(g.Event.WindowFrom) {
		return false
	}
	if !g.Event.WindowTo.IsZero() && !t.Before(g.Event.WindowTo) {
		return false
	}
	return true
}

// Hash is a SHA-256 over everything in the grant that decides what is
// released (not its offset), so a release can say which consent state it
// used, and a changed state is noticed before commit.
func (g Grant) Hash() string {
	e := g.Event
	ts := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	s := strings.Join([]string{e.ConsentID, e.CustomerID, string(e.Recipient), string(e.Status), e.Categories.String(),
		ts(e.WindowFrom), ts(e.WindowTo), ts(e.ExpiresAt), ts(e.EventTime)}, "\x1f")
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
