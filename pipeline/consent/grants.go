package consent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/midata/midata/schemas"
)

// ErrInvalidChange marks a change of a grant that can never be written as
// it is (no category, a window that ends before it starts, an expiry in
// the past, an unknown recipient).
var ErrInvalidChange = errors.New("invalid change of consent")

// Lister is what the Recorder reads of the consent view to list a
// customer's grants (*View has it).
type Lister interface {
	Current
	EventsOf(customerID string) []schemas.ConsentEvent
}

// Change is a customer's own change of their consent for one recipient:
// a grant of the categories, for the window, until the expiry (zero times
// mean open), or a revocation.
type Change struct {
	CustomerID string
	Recipient  schemas.Recipient
	Revoke     bool
	Categories schemas.Category
	WindowFrom time.Time
	WindowTo   time.Time
	ExpiresAt  time.Time
}

// CustomerGrants returns the customer's consent per recipient, read after
// a Sync so the customer's last change is in it.
func (c *Recorder) CustomerGrants(ctx context.Context, customerID string) ([]schemas.ConsentEvent, error) {
	l, ok := c.Grants.(Lister)
	if !ok {
		return nil, errors.New("list grants: the recorder has no consent view")
	}
	if err := l.Sync(ctx); err != nil {
		return nil, fmt.Errorf("list the grants of %s: %w", customerID, err)
	}
	return l.EventsOf(customerID), nil
}

// SetGrant writes ch as the customer's own consent event (actor customer)
// and returns it once the view has read it back, so it is in force at
// once: a revocation stops the next release and every link from then on.
// The event is checked by the decoder every reader of the consent topic
// uses before it is written.
func (c *Recorder) SetGrant(ctx context.Context, ch Change) (schemas.ConsentEvent, error) {
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	at := now().UTC().Truncate(time.Second)
	if err := ch.Recipient.Validate(); err != nil {
		return schemas.ConsentEvent{}, fmt.Errorf("%w: recipient %q: %v", ErrInvalidChange, ch.Recipient, err)
	}
	ev := schemas.ConsentEvent{CustomerID: ch.CustomerID, Recipient: ch.Recipient, Status: schemas.ConsentGranted,
		Categories: ch.Categories, WindowFrom: ch.WindowFrom.UTC(), WindowTo: ch.WindowTo.UTC(), ExpiresAt: ch.ExpiresAt.UTC(), EventTime: at}
	switch {
	case ch.Revoke:
		ev.Status, ev.Categories = schemas.ConsentRevoked, 0
		ev.WindowFrom, ev.WindowTo, ev.ExpiresAt = time.Time{}, time.Time{}, time.Time{}
	case ch.Categories == 0:
		return ev, fmt.Errorf("%w: no category: grant one or more of %s, or revoke", ErrInvalidChange, strings.Join(schemas.AllCategories.Names(), ", "))
	case !ch.WindowFrom.IsZero() && !ch.WindowTo.IsZero() && !ch.WindowFrom.Before(ch.WindowTo):
		return ev, fmt.Errorf("%w: window_from must be before window_to", ErrInvalidChange)
	case !ch.ExpiresAt.IsZero() && !ch.ExpiresAt.After(at):
		return ev, fmt.Errorf("%w: expires_at is not in the future", ErrInvalidChange)
	}
	ev.ConsentID = "K-" + strings.ReplaceAll(string(ch.Recipient), ":", "-") + "-" + ch.CustomerID + "-" + at.Format("20060102T150405Z")
	key := []byte(schemas.ConsentKey(ch.CustomerID, ch.Recipient))
	body, err := json.Marshal(eventJSON(ev))
	if err != nil {
		return ev, fmt.Errorf("encode consent event: %w", err)
	}
	if _, _, err := schemas.DecodeConsentEvent(key, body); err != nil {
		return ev, fmt.Errorf("%w: %v", ErrInvalidChange, err)
	}
	if c.Topic == "" {
		return ev, errors.New("set grant: no consent topic")
	}
	if err := c.Publisher.Publish(ctx, c.Topic, key, body); err != nil {
		return ev, fmt.Errorf("record the consent of %s for %s: %w", ch.CustomerID, ch.Recipient, err)
	}
	if c.Grants != nil {
		if err := c.Grants.Sync(ctx); err != nil {
			return ev, fmt.Errorf("consent of %s for %s written, not yet read back: %w", ch.CustomerID, ch.Recipient, err)
		}
	}
	return ev, nil
}
