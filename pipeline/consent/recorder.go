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
type Recorder struct {
	Publisher Publisher
	Topic     string           // the consent topic (the caller's configuration); required
	Now       func() time.Time // default time.Now
	// TTL is how long the recorded grant lives; default 24 hours, enough
	// for the release to be made.
	TTL time.Duration
}

// RecordRequest publishes a self grant of every category for the period
// [from, to) and returns its consent id.
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
	id := "K-self-" + customerID + "-" + at.Format("20060102T150405Z")
	body, err := json.Marshal(map[string]any{
		"consent_id":  id,
		"customer_id": customerID,
		"recipient":   schemas.RecipientSelf,
		"status":      string(schemas.ConsentGranted),
		"categories":  schemas.AllCategories.Names(),
		"window_from": from.UTC().Format(time.RFC3339),
		"window_to":   to.UTC().Format(time.RFC3339),
		"expires_at":  at.Add(ttl).Format(time.RFC3339),
		"event_time":  at.Format(time.RFC3339),
	})
	if err != nil {
		return "", fmt.Errorf("encode consent event: %w", err)
	}
	if err := c.Publisher.Publish(ctx, topic, []byte(schemas.ConsentKey(customerID, schemas.RecipientSelf)), body); err != nil {
		return "", fmt.Errorf("record the request of %s as consent: %w", customerID, err)
	}
	return id, nil
}
