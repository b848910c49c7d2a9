// Package consent owns the consent state of midata: the consent view, a
// compact in-memory state of the compacted midata.consent topic built and
// tailed with topics.View (latest event per customer|recipient in offset
// order; a tombstone means no consent); the decision whether a record may
// be released to a recipient (Grant, Filter); and the Recorder, which
// writes a customer's own request as a consent event through a Publisher.
// It has no clock of its own: callers pass "now".
package consent

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/midata/midata/schemas"
)

// ErrNoConsent is wrapped by every refusal of View.Grant; the message says
// which rule refused (no record, revoked, expired, category missing).
var ErrNoConsent = errors.New("no consent")

// noRecord is the refusal of a key without a state.
func noRecord(customerID string, recipient schemas.Recipient) error {
	return fmt.Errorf("%w: no consent record for %s to %s", ErrNoConsent, customerID, recipient)
}

// splitKey is the refusal of a key whose events are on two partitions.
func splitKey(customerID string, recipient schemas.Recipient) error {
	return fmt.Errorf("%w: consent events for %s to %s are on two partitions, so which is latest is unknown: republish them with the topic's partitioner", ErrNoConsent, customerID, recipient)
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
