package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/schemas"
	"github.com/midata/midata/sinks"
)

// ConsentRecorder records a customer's own on-demand request as a consent
// event for recipient self, before the request is queued: every release is
// then explained by a consent event, whoever asked (DESIGN.md, Consent).
type ConsentRecorder struct {
	Producer *topics.Producer
	Topic    string           // the consent topic; default midata.consent
	Now      func() time.Time // default time.Now
	// TTL is how long the recorded grant lives; default 24 hours, enough
	// for the release to be made.
	TTL time.Duration
}

// RecordRequest publishes a self grant of every category for the period
// [from, to) and returns its consent id.
func (c *ConsentRecorder) RecordRequest(ctx context.Context, customerID string, from, to time.Time) (string, error) {
	now, topic, ttl := time.Now, c.Topic, c.TTL
	if c.Now != nil {
		now = c.Now
	}
	if topic == "" {
		topic = DefaultConsentTopic
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
	if err := c.Producer.Publish(ctx, topic, []byte(schemas.ConsentKey(customerID, schemas.RecipientSelf)), body); err != nil {
		return "", fmt.Errorf("record the request of %s as consent: %w", customerID, err)
	}
	return id, nil
}

// Links signs fresh download links to the files of a committed release; it
// returns an error wrapping sinks.ErrNotFound when there is no such release.
func (r *Runner) Links(ctx context.Context, releaseID string) ([]Link, error) {
	m, err := r.committed(ctx, releaseID)
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, fmt.Errorf("release %s: %w", releaseID, sinks.ErrNotFound)
	}
	res, err := r.resultOf(ctx, m, StatusCommitted)
	if err != nil {
		return nil, err
	}
	return res.Links, nil
}
