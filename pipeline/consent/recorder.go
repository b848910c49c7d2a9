package consent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/midata/midata/schemas"
)

// Publisher writes one message to a topic and returns once it is durably
// written: the Kafka producer of the service.
type Publisher interface {
	Publish(ctx context.Context, topic string, key, value []byte) error
}

// Recorder records a customer's own on-demand request as a consent event
// for recipient self, before the request is queued: every release is then
// explained by a consent event, whoever asked.
//
// A request never narrows, shortens or replaces a standing grant (the
// design's "Consent written by midata"): when the customer's current self
// grant covers the period, nothing is written and its consent id is
// returned; when it does not, the event written widens it (the window
// stretched over the period, the later expiry, its categories kept);
// only without a grant is a new one written, of every category, for the
// period, expiring after TTL. Every event written says actor "customer".
type Recorder struct {
	Publisher Publisher
	Topic     string           // the consent topic (the caller's configuration); required
	Now       func() time.Time // default time.Now
	// TTL is how long a grant made for a request lives when there was
	// none; default 24 hours, enough for the release to be made.
	TTL time.Duration
	// Grants answers the customer's current grant (synced first). Nil:
	// the Recorder knows of none and always writes a grant for the
	// request, which then replaces any standing one: set it in a service.
	Grants Current
}

// Current is what the Recorder reads of the consent view (*View has it).
type Current interface {
	Sync(ctx context.Context) error
	Grant(customerID string, recipient schemas.Recipient, now time.Time) (Grant, error)
}

// ActorCustomer is the actor of the consent events a customer's own act
// writes (the optional field actor of the input contract).
const ActorCustomer = "customer"

// RecordRequest records the request of customerID for the period
// [from, to) and returns the consent id that covers it.
func (c *Recorder) RecordRequest(ctx context.Context, customerID string, from, to time.Time) (string, error) {
	now, topic, ttl := time.Now, c.Topic, c.TTL
	if c.Now != nil {
		now = c.Now
	}
	if topic == "" {
		return "", errors.New("record request: no consent topic")
	}
	if ttl <= 0 {
		ttl = 24 * time.Hour
	}
	at := now().UTC().Truncate(time.Second)
	from, to = from.UTC(), to.UTC()
	ev := schemas.ConsentEvent{CustomerID: customerID, Recipient: schemas.RecipientSelf, Status: schemas.ConsentGranted,
		Categories: schemas.AllCategories, WindowFrom: from, WindowTo: to, ExpiresAt: at.Add(ttl)}
	if c.Grants != nil {
		if err := c.Grants.Sync(ctx); err != nil {
			return "", fmt.Errorf("record the request of %s: read its standing consent: %w", customerID, err)
		}
		if g, err := c.Grants.Grant(customerID, schemas.RecipientSelf, at); err == nil {
			cur := g.Event
			if covers(cur, from, to) {
				return cur.ConsentID, nil
			}
			ev = widened(cur, from, to, ev.ExpiresAt)
		}
	}
	ev.ConsentID = "K-self-" + customerID + "-" + at.Format("20060102T150405Z")
	ev.EventTime = at
	body, err := json.Marshal(eventJSON(ev))
	if err != nil {
		return "", fmt.Errorf("encode consent event: %w", err)
	}
	if err := c.Publisher.Publish(ctx, topic, []byte(schemas.ConsentKey(customerID, schemas.RecipientSelf)), body); err != nil {
		return "", fmt.Errorf("record the request of %s as consent: %w", customerID, err)
	}
	return ev.ConsentID, nil
}

// covers reports whether the grant's window holds the whole period.
func covers(ev schemas.ConsentEvent, from, to time.Time) bool {
	return (ev.WindowFrom.IsZero() || !from.Before(ev.WindowFrom)) && (ev.WindowTo.IsZero() || !to.After(ev.WindowTo))
}

// widened is cur stretched to hold the period [from, to) until at least
// expires: the earlier start, the later end, the later expiry (an open
// end or none stays open), the same categories.
func widened(cur schemas.ConsentEvent, from, to, expires time.Time) schemas.ConsentEvent {
	ev := cur
	if !ev.WindowFrom.IsZero() && from.Before(ev.WindowFrom) {
		ev.WindowFrom = from
	}
	if !ev.WindowTo.IsZero() && to.After(ev.WindowTo) {
		ev.WindowTo = to
	}
	if !ev.ExpiresAt.IsZero() && expires.After(ev.ExpiresAt) {
		ev.ExpiresAt = expires
	}
	return ev
}

// eventJSON is ev as the input contract writes it, with actor customer.
func eventJSON(ev schemas.ConsentEvent) map[string]any {
	optional := func(t time.Time) any {
		if t.IsZero() {
			return nil
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	return map[string]any{
		"consent_id":  ev.ConsentID,
		"customer_id": ev.CustomerID,
		"recipient":   ev.Recipient,
		"status":      string(ev.Status),
		"categories":  ev.Categories.Names(),
		"window_from": optional(ev.WindowFrom),
		"window_to":   optional(ev.WindowTo),
		"expires_at":  optional(ev.ExpiresAt),
		"event_time":  ev.EventTime.UTC().Format(time.RFC3339Nano),
		"actor":       ActorCustomer,
	}
}
