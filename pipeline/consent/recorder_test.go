package consent_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/midata/midata/pipeline/consent"
	"github.com/midata/midata/schemas"
)

// publishFunc is a consent.Publisher that calls itself.
type publishFunc func(ctx context.Context, topic string, key, value []byte) error

func (f publishFunc) Publish(ctx context.Context, topic string, key, value []byte) error {
	return f(ctx, topic, key, value)
}

func TestRecorderPublishesASelfGrantOfTheRequest(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	from, to := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var topic string
	var key, value []byte
	rec := &consent.Recorder{Topic: "midata.consent", Now: func() time.Time { return at }, Publisher: publishFunc(func(_ context.Context, tp string, k, v []byte) error {
		topic, key, value = tp, k, v
		return nil
	})}
	id, err := rec.RecordRequest(t.Context(), "C9", from, to)
	if err != nil || id != "K-self-C9-20260304T050607Z" {
		t.Fatalf("RecordRequest = %q, %v", id, err)
	}
	if topic != "midata.consent" {
		t.Errorf("topic = %q, want the Recorder's", topic)
	}
	ev, tombstone, err := schemas.DecodeConsentEvent(key, value)
	if err != nil || tombstone {
		t.Fatalf("the recorded event does not decode: %v (tombstone %v)", err, tombstone)
	}
	if ev.ConsentID != id || ev.CustomerID != "C9" || !ev.Recipient.IsSelf() || ev.Status != schemas.ConsentGranted ||
		ev.Categories != schemas.AllCategories || !ev.WindowFrom.Equal(from) || !ev.WindowTo.Equal(to) || !ev.ExpiresAt.Equal(at.Add(24*time.Hour)) {
		t.Errorf("recorded %+v", ev)
	}
	if !strings.Contains(string(value), `"actor":"customer"`) {
		t.Errorf("recorded %s, want actor customer", value)
	}
}

func TestRecorderSaysWhoseRequestWasNotRecorded(t *testing.T) {
	down := errors.New("broker down")
	rec := &consent.Recorder{Topic: "c", Publisher: publishFunc(func(context.Context, string, []byte, []byte) error { return down })}
	if _, err := rec.RecordRequest(t.Context(), "C9", time.Now().Add(-time.Hour), time.Now()); !errors.Is(err, down) {
		t.Fatalf("RecordRequest = %v, want the publisher's error", err)
	}
}

func TestRecorderWithoutATopicRecordsNothing(t *testing.T) {
	rec := &consent.Recorder{Publisher: publishFunc(func(context.Context, string, []byte, []byte) error {
		t.Error("published without a topic")
		return nil
	})}
	if _, err := rec.RecordRequest(t.Context(), "C9", time.Now().Add(-time.Hour), time.Now()); err == nil || !strings.Contains(err.Error(), "no consent topic") {
		t.Fatalf("RecordRequest = %v, want it to say the topic is missing", err)
	}
}
