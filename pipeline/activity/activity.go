// Package activity is the part of the ledger about what happens to a
// release after its run commits it: each delivery to a partner and its
// webhook outcome, each download link minted for a customer and its
// revocation, each download, each deletion of a release by its customer,
// and each recall sent to partners after a withdrawal of consent.
//
// Its records share the runs topic (midata.runs) with the runs, release
// outcomes and leases of package jobs, under keys that start with
// jobs.ActivityPrefix ("~"), which a view of runs keeps none of. Each is
// bounded (jobs.MaxRecordBytes) and keyed so that compaction keeps what
// must be kept:
//
//	~delivery|<partner>|<release id>   the latest state of one delivery
//	~link|<link id>                    one link, revoked or not
//	~download|<link id>|<unix nanos>   one download, never replaced
//	~revoked|<release id>              every link of the release minted before it is revoked
//	~deleted|<release id>              the release was deleted: the fact, not the data
//	~recall|<recall id>                one recall and its webhook outcome
//
// A record names no more personal data than its purpose needs: the
// customer id (for the customer's own history and the audit answer) and
// release ids, never a file's contents, a presigned URL or a token.
package activity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/midata/midata/pipeline/jobs"
	"github.com/midata/midata/pipeline/topics"
)

// DeliveryStatus is the state of one delivery to a partner.
type DeliveryStatus string

// The lifecycle of a delivery: started (the bundle is being made), ready
// (the bundle is in the partner's prefix, the webhook is being sent),
// delivered (the webhook was answered 2xx, or the partner has none) and
// failed (the bundle could not be written, or the webhook was refused or
// not answered after its last retry).
const (
	DeliveryStarted   DeliveryStatus = "started"
	DeliveryReady     DeliveryStatus = "ready"
	DeliveryDelivered DeliveryStatus = "delivered"
	DeliveryFailed    DeliveryStatus = "failed"
)

// Delivery is the latest state of the delivery of one release to one
// partner.
type Delivery struct {
	Partner    string         `json:"partner"`
	ReleaseID  string         `json:"release_id"`
	CustomerID string         `json:"customer_id"`
	RunID      string         `json:"run_id,omitempty"`
	Status     DeliveryStatus `json:"status"`
	Key        string         `json:"key,omitempty"` // the bundle's key
	SHA256     string         `json:"sha256,omitempty"`
	Bytes      int64          `json:"bytes,omitempty"`
	Encrypted  bool           `json:"encrypted,omitempty"`
	WebhookID  string         `json:"webhook_id,omitempty"`
	Attempts   int            `json:"attempts,omitempty"`    // of the webhook
	HTTPStatus int            `json:"http_status,omitempty"` // the webhook's last answer
	Error      string         `json:"error,omitempty"`
	At         time.Time      `json:"at"`
}

// Link is one download link minted for a customer: the token the customer
// holds names its ID only; the rest is here.
type Link struct {
	ID         string     `json:"id"`
	ReleaseID  string     `json:"release_id"`
	CustomerID string     `json:"customer_id"`
	Recipient  string     `json:"recipient"`
	File       string     `json:"file"`   // the file's path in the release
	Object     string     `json:"object"` // its key in the releases store
	IssuedAt   time.Time  `json:"issued_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	RevokedBy  string     `json:"revoked_by,omitempty"` // customer or ops
	Notified   bool       `json:"expiring_notified,omitempty"`
}

// Download is one visit of a link that was redirected to the file.
type Download struct {
	LinkID     string    `json:"link_id"`
	ReleaseID  string    `json:"release_id"`
	CustomerID string    `json:"customer_id"`
	File       string    `json:"file"`
	At         time.Time `json:"at"`
}

// Revocation revokes every link of a release minted before At.
type Revocation struct {
	ReleaseID  string    `json:"release_id"`
	CustomerID string    `json:"customer_id,omitempty"`
	By         string    `json:"by"` // customer or ops
	At         time.Time `json:"at"`
}

// Deletion is the fact that a release was deleted by its customer: its
// objects are gone; this record is what remains.
type Deletion struct {
	ReleaseID  string    `json:"release_id"`
	CustomerID string    `json:"customer_id"`
	Recipient  string    `json:"recipient"`
	Objects    int       `json:"objects"` // deleted from the store
	By         string    `json:"by"`
	At         time.Time `json:"at"`
}

// RecallStatus is the state of one recall.
type RecallStatus string

// A recall is sending until its webhook is answered 2xx (sent) or its last
// retry fails (failed).
const (
	RecallSending RecallStatus = "sending"
	RecallSent    RecallStatus = "sent"
	RecallFailed  RecallStatus = "failed"
)

// MaxRecallReleases is the most release ids one recall names; a
// withdrawal that recalls more sends several recalls.
const MaxRecallReleases = 1000

// Recall asks a partner to delete the bundles of a customer's releases
// it holds, after the customer withdrew the partner's grant.
type Recall struct {
	ID         string       `json:"id"`
	Partner    string       `json:"partner"`
	CustomerID string       `json:"customer_id"`
	ConsentID  string       `json:"consent_id,omitempty"` // the revocation's event
	Releases   []string     `json:"releases"`
	Status     RecallStatus `json:"status"`
	Attempts   int          `json:"attempts,omitempty"`
	HTTPStatus int          `json:"http_status,omitempty"`
	Error      string       `json:"error,omitempty"`
	At         time.Time    `json:"at"`
}

// record is the value of an activity record: its kind and one of the
// rest.
type record struct {
	Kind       string      `json:"kind"`
	Delivery   *Delivery   `json:"delivery,omitempty"`
	Link       *Link       `json:"link,omitempty"`
	Download   *Download   `json:"download,omitempty"`
	Revocation *Revocation `json:"revocation,omitempty"`
	Deletion   *Deletion   `json:"deletion,omitempty"`
	Recall     *Recall     `json:"recall,omitempty"`
}

const (
	kindDelivery   = "delivery"
	kindLink       = "link"
	kindDownload   = "download"
	kindRevocation = "revoked"
	kindDeletion   = "deleted"
	kindRecall     = "recall"
)

func key(kind string, parts ...string) string {
	k := jobs.ActivityPrefix + kind
	for _, p := range parts {
		k += "|" + p
	}
	return k
}

// keyOf is the key of r, and what is wrong with it.
func keyOf(r record) (string, error) {
	need := func(what ...string) error {
		for _, s := range what {
			if s == "" {
				return fmt.Errorf("activity %s: a required id is empty", r.Kind)
			}
		}
		return nil
	}
	switch {
	case r.Delivery != nil:
		return key(kindDelivery, r.Delivery.Partner, r.Delivery.ReleaseID), need(r.Delivery.Partner, r.Delivery.ReleaseID, r.Delivery.CustomerID)
	case r.Link != nil:
		return key(kindLink, r.Link.ID), need(r.Link.ID, r.Link.ReleaseID, r.Link.CustomerID, r.Link.Object)
	case r.Download != nil:
		return key(kindDownload, r.Download.LinkID, strconv.FormatInt(r.Download.At.UnixNano(), 10)), need(r.Download.LinkID, r.Download.ReleaseID, r.Download.CustomerID)
	case r.Revocation != nil:
		return key(kindRevocation, r.Revocation.ReleaseID), need(r.Revocation.ReleaseID)
	case r.Deletion != nil:
		return key(kindDeletion, r.Deletion.ReleaseID), need(r.Deletion.ReleaseID, r.Deletion.CustomerID)
	case r.Recall != nil:
		if len(r.Recall.Releases) > MaxRecallReleases {
			return "", fmt.Errorf("recall %s names %d releases, at most %d", r.Recall.ID, len(r.Recall.Releases), MaxRecallReleases)
		}
		return key(kindRecall, r.Recall.ID), need(r.Recall.ID, r.Recall.Partner, r.Recall.CustomerID)
	}
	return "", errors.New("activity: empty record")
}

// Ledger writes activity records on the runs topic. It is safe for
// concurrent use.
type Ledger struct {
	p     *topics.Producer
	topic string
}

// NewLedger returns a Ledger writing to topic (default the runs topic)
// through conn. It does not connect: the first record does.
func NewLedger(conn topics.Connection, topic string, logger *slog.Logger) *Ledger {
	if topic == "" {
		topic = topics.DefaultRuns
	}
	return &Ledger{p: topics.NewProducer(conn, logger), topic: topic}
}

func (l *Ledger) put(ctx context.Context, r record) error {
	k, err := keyOf(r)
	if err != nil {
		return err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("activity %s: %w", k, err)
	}
	if n := len(k) + len(b); n > jobs.MaxRecordBytes {
		return jobs.Permanent(fmt.Errorf("activity %s: %d bytes, at most %d: %w", k, n, jobs.MaxRecordBytes, jobs.ErrRecordTooLarge))
	}
	if err := l.p.Publish(ctx, l.topic, []byte(k), b); err != nil {
		return fmt.Errorf("record %s on the ledger: %w", k, err)
	}
	return nil
}

// Delivery records the state of a delivery.
func (l *Ledger) Delivery(ctx context.Context, d Delivery) error {
	return l.put(ctx, record{Kind: kindDelivery, Delivery: &d})
}

// Link records a link, minted or revoked.
func (l *Ledger) Link(ctx context.Context, k Link) error {
	return l.put(ctx, record{Kind: kindLink, Link: &k})
}

// Download records a download.
func (l *Ledger) Download(ctx context.Context, d Download) error {
	return l.put(ctx, record{Kind: kindDownload, Download: &d})
}

// Revoke records that every link of a release minted before r.At is
// revoked.
func (l *Ledger) Revoke(ctx context.Context, r Revocation) error {
	return l.put(ctx, record{Kind: kindRevocation, Revocation: &r})
}

// Deleted records the deletion of a release.
func (l *Ledger) Deleted(ctx context.Context, d Deletion) error {
	return l.put(ctx, record{Kind: kindDeletion, Deletion: &d})
}

// Recall records the state of a recall.
func (l *Ledger) Recall(ctx context.Context, r Recall) error {
	return l.put(ctx, record{Kind: kindRecall, Recall: &r})
}

// Close closes the producer.
func (l *Ledger) Close() error { return l.p.Close() }
