// Package notify publishes midata's notifications: events on the Kafka
// topic midata.notifications that the organisation's messaging systems turn
// into messages. An event says that a release is ready, that a download
// link expires soon, that a partner delivery failed or that partners were
// told to delete a customer's bundles. It never carries a download link, a
// token, data or an amount. Its id is its type and its subject, so the
// same fact has the same id and consumers drop repeats; events are keyed
// by customer id, else partner, so one customer's stay in order. The
// schema is docs/notifications.md.
package notify

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/schemas"
)

// The topic, its spec and the schema of its events.
const (
	DefaultTopic = topics.DefaultNotifications // when the configuration names none
	Schema       = "midata.notification/1"     // in every event's schema field
	Partitions   = 3                           // of the topic as Spec creates it
	Retention    = 7 * 24 * time.Hour          // how long the topic keeps an event
	// MaxReleases is the most release ids one recall.sent event lists. A
	// larger recall is sent as several, each with a recall id of its own.
	MaxReleases = 1000
	// maxReason is the longest reason, in bytes, DeliveryFailedEvent keeps.
	maxReason = 500
)

// Spec is the spec of the notifications topic: a stream of events, not
// compacted, kept for Retention. An empty name means DefaultTopic.
func Spec(name string) topics.Spec {
	return topics.NotificationsSpec(cmp.Or(name, DefaultTopic))
}

// Type is what an event says happened.
type Type string

// The types of events.
const (
	ReleaseReady   Type = "release.ready"   // a release was committed and its files can be downloaded
	LinkExpiring   Type = "link.expiring"   // a customer's download link expires within a day
	DeliveryFailed Type = "delivery.failed" // a partner delivery failed after its retries
	RecallSent     Type = "recall.sent"     // partners were told to delete a customer's bundles after consent was withdrawn
)

// Event is one notification, as it is written to the topic in JSON. Make
// it with the constructor of its type, which sets the schema, the type and
// the id.
type Event struct {
	Schema     string     `json:"schema"`
	ID         string     `json:"id"` // "<type>:<subject>": the same fact, the same id
	Type       Type       `json:"type"`
	At         time.Time  `json:"at"` // when it happened, written in UTC
	CustomerID string     `json:"customer_id,omitempty"`
	Recipient  string     `json:"recipient,omitempty"` // "self" or "partner:<id>"
	ReleaseID  string     `json:"release_id,omitempty"`
	Partner    string     `json:"partner,omitempty"`
	LinkID     string     `json:"link_id,omitempty"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"` // link.expiring: when the link expires
	Reason     string     `json:"reason,omitempty"`     // delivery.failed: why
	Releases   []string   `json:"releases,omitempty"`   // recall.sent: the releases recalled
}

// event returns an event of type t about subject, at at in UTC.
func event(t Type, subject string, at time.Time) Event {
	return Event{Schema: Schema, ID: string(t) + ":" + subject, Type: t, At: at.UTC()}
}

// ReleaseReadyEvent says that release releaseID of customerID for
// recipient ("self" or "partner:<id>") was committed at at. Its id is
// "release.ready:<release id>".
func ReleaseReadyEvent(at time.Time, customerID, recipient, releaseID string) Event {
	e := event(ReleaseReady, releaseID, at)
	e.CustomerID, e.Recipient, e.ReleaseID = customerID, recipient, releaseID
	return e
}

// LinkExpiringEvent says that download link linkID of customerID's
// release releaseID expires at expires. Its id is "link.expiring:<link id>".
func LinkExpiringEvent(at time.Time, customerID, releaseID, linkID string, expires time.Time) Event {
	e := event(LinkExpiring, linkID, at)
	expires = expires.UTC()
	e.CustomerID, e.ReleaseID, e.LinkID, e.ExpiresAt = customerID, releaseID, linkID, &expires
	return e
}

// DeliveryFailedEvent says that the delivery of release releaseID (of
// customerID, which may be empty) to partner failed after its retries,
// for reason. Any URL in reason is replaced by "<url>" and a long reason
// is cut to 500 bytes, so a webhook address or a signed link in an error
// never reaches the topic. Its id is "delivery.failed:<partner>/<release id>".
func DeliveryFailedEvent(at time.Time, partner, customerID, releaseID, reason string) Event {
	e := event(DeliveryFailed, partner+"/"+releaseID, at)
	e.Partner, e.CustomerID, e.ReleaseID, e.Reason = partner, customerID, releaseID, cleanReason(reason)
	return e
}

// RecallSentEvent says that partner was told, in recall recallID, to
// delete the bundles of releases, after customerID (which may be empty)
// withdrew consent. Its id is "recall.sent:<partner>/<recall id>": one
// recall sent to two partners is two facts.
func RecallSentEvent(at time.Time, partner, customerID, recallID string, releases []string) Event {
	e := event(RecallSent, partner+"/"+recallID, at)
	e.Partner, e.CustomerID, e.Releases = partner, customerID, append([]string(nil), releases...)
	return e
}

// urlPattern matches a URL, up to the next space.
var urlPattern = regexp.MustCompile(`\S*://\S*`)

// cleanReason replaces every URL in s by "<url>" and cuts the result to
// maxReason bytes, on a character boundary.
func cleanReason(s string) string {
	if s = urlPattern.ReplaceAllString(s, "<url>"); len(s) > maxReason {
		s = strings.ToValidUTF8(s[:maxReason], "")
	}
	return s
}

// Validate reports everything wrong with e, all at once: the schema, the
// id, the type and the time, the fields its type needs, and any field
// holding a URL.
func (e Event) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	need := func(fieldValues ...string) { // field, value, field, value...
		for i := 0; i+1 < len(fieldValues); i += 2 {
			if fieldValues[i+1] == "" {
				bad("%s: required for %s", fieldValues[i], e.Type)
			}
		}
	}
	if e.Schema != Schema {
		bad("schema %q: want %q", e.Schema, Schema)
	}
	if !strings.HasPrefix(e.ID, string(e.Type)+":") || e.ID == string(e.Type)+":" {
		bad("id %q: want %s:<subject>", e.ID, e.Type)
	}
	if e.At.IsZero() {
		bad("at: required")
	}
	if e.CustomerID != "" && schemas.CustomerID(e.CustomerID).Validate() != nil {
		bad("customer_id %q: want 1-64 of A-Z a-z 0-9 . _ -", e.CustomerID)
	}
	if e.Partner != "" && !schemas.ValidPartnerID(e.Partner) {
		bad("partner %q: want 1-64 of a-z 0-9 . _ -", e.Partner)
	}
	switch e.Type {
	case ReleaseReady:
		need("customer_id", e.CustomerID, "release_id", e.ReleaseID)
		if err := schemas.Recipient(e.Recipient).Validate(); err != nil {
			bad("%w", err)
		}
	case LinkExpiring:
		need("customer_id", e.CustomerID, "release_id", e.ReleaseID, "link_id", e.LinkID)
		if e.ExpiresAt == nil || e.ExpiresAt.IsZero() {
			bad("expires_at: required for %s", e.Type)
		}
	case DeliveryFailed:
		need("partner", e.Partner, "release_id", e.ReleaseID, "reason", e.Reason)
	case RecallSent:
		need("partner", e.Partner)
		if len(e.Releases) == 0 || len(e.Releases) > MaxReleases {
			bad("releases: %d, want 1 to %d for %s", len(e.Releases), MaxReleases, e.Type)
		}
		if slices.Contains(e.Releases, "") {
			bad("releases: an empty release id")
		}
	default:
		bad("type %q: want %s, %s, %s or %s", e.Type, ReleaseReady, LinkExpiring, DeliveryFailed, RecallSent)
	}
	if e.Type != DeliveryFailed && e.Reason != "" || e.Type != RecallSent && len(e.Releases) > 0 {
		bad("%s: reason is only for %s and releases only for %s", e.Type, DeliveryFailed, RecallSent)
	}
	for _, f := range append([]string{e.ID, e.CustomerID, e.Recipient, e.ReleaseID, e.Partner, e.LinkID, e.Reason}, e.Releases...) {
		if strings.Contains(f, "://") {
			bad("%q holds a URL: no links in notifications", f)
		}
	}
	return errors.Join(errs...)
}

// Notifier publishes events to the notifications topic. A nil *Notifier
// is one for a deployment without notifications: it publishes nothing.
// It is safe for concurrent use.
type Notifier struct {
	p     *topics.Producer
	topic string
}

// New returns a Notifier writing to topic (DefaultTopic when empty) on
// conn. A nil logger discards. It does not connect: the first Publish
// does. The topic is not created: call topics.Ensure with Spec first.
func New(conn topics.Connection, topic string, logger *slog.Logger) *Notifier {
	return &Notifier{p: topics.NewProducer(conn, logger), topic: cmp.Or(topic, DefaultTopic)}
}

// Publish validates e and writes it, keyed by its customer id, else by its
// partner, and returns when the brokers have it. An error names the event's
// id. On a nil Notifier it does nothing and returns nil.
func (n *Notifier) Publish(ctx context.Context, e Event) error {
	if n == nil {
		return nil
	}
	if err := e.Validate(); err != nil {
		return fmt.Errorf("notification %s: %w", e.ID, err)
	}
	if e.At = e.At.UTC(); e.ExpiresAt != nil {
		t := e.ExpiresAt.UTC()
		e.ExpiresAt = &t
	}
	value, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("notification %s: encode: %w", e.ID, err)
	}
	if err := n.p.Publish(ctx, n.topic, []byte(cmp.Or(e.CustomerID, e.Partner)), value); err != nil {
		return fmt.Errorf("notification %s: %w", e.ID, err)
	}
	return nil
}

// Topic returns the topic n writes to, or "" for a nil Notifier.
func (n *Notifier) Topic() string {
	if n == nil {
		return ""
	}
	return n.topic
}

// Close closes n's connections. On a nil Notifier it returns nil.
func (n *Notifier) Close() error {
	if n == nil {
		return nil
	}
	return n.p.Close()
}
