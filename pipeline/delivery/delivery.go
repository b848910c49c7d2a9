// Package delivery hands a committed release to a partner: it packs the
// release as a signed (and, for a partner with an age recipient,
// encrypted) bundle, writes it under the partner's prefix, and tells the
// partner's webhook, Standard Webhooks style, with the bundle's key,
// sha256 and a fresh presigned link.
//
// It reads only the committed release (its manifest and the objects the
// manifest names) and writes only the bundle: a failed delivery leaves
// the release as it was, and delivering again writes the same key and
// sends the same webhook-id, so a receiver that saw the first one can tell.
//
// Around Deliver: the Deliverer runs it for each committed release of a
// partner run (jobs.Executor), with each step on the ledger (package
// activity) and the run's start and end told to the partner; Bundles lets
// partners pull what was delivered; LimitedGrants and PartnerFormats keep
// a partner's releases to the categories and formats it may ask for; the
// Recaller tells partners to delete what they hold of a customer who
// withdrew their grant.
package delivery

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"time"

	"filippo.io/age"

	"github.com/midata/midata/pipeline/bundle"
	"github.com/midata/midata/pipeline/partners"
	"github.com/midata/midata/pipeline/signing"
	"github.com/midata/midata/pipeline/webhook"
	"github.com/midata/midata/schemas"
	"github.com/midata/midata/schemas/release"
	"github.com/midata/midata/sinks"
)

// Config is what a delivery needs.
type Config struct {
	Releases sinks.Sink    // where the committed release is
	Target   sinks.Sink    // where the partner's bundles go (its bucket); it must sign links
	Keys     *signing.Keys // the organisation's signing key
	Webhooks *webhook.Sender
	LinkTTL  time.Duration // of the link in the webhook; default 24h
	// Ready, when set, is told when the bundle is in the target and its
	// link signed, before the webhook goes; an error stops the delivery.
	Ready func(ctx context.Context, out Outcome) error
}

// Outcome is what a delivery did.
type Outcome struct {
	ReleaseID string
	Key       string // the bundle's key in the target
	SHA256    string
	Bytes     int64
	Encrypted bool
	Link      sinks.Link
	Webhook   webhook.Result // zero when the partner has no webhook
}

// Delivered says whether the partner has the bundle and was told (or has
// no webhook).
func (o Outcome) Delivered() bool { return o.Key != "" && (o.Webhook.ID == "" || o.Webhook.Delivered) }

// Notice is the body of the release.delivered webhook: no personal data
// beyond what the partner's grant already gives it (the release id).
type Notice struct {
	Type      string    `json:"type"`
	ReleaseID string    `json:"release_id"`
	Objects   []Object  `json:"objects"`
	Link      string    `json:"link"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Object is one delivered object.
type Object struct {
	Key    string `json:"key"`
	SHA256 string `json:"sha256"`
	Bytes  int64  `json:"bytes"`
}

// Deliver delivers the release whose manifest is at manifestKey to p,
// with the customer's consent receipt that receipt makes for its
// manifest.
func Deliver(ctx context.Context, cfg Config, p partners.Partner, manifestKey string, receipt func(*release.Manifest) []byte) (Outcome, error) {
	var out Outcome
	mb, err := readAll(ctx, cfg.Releases, manifestKey)
	if err != nil {
		return out, fmt.Errorf("deliver: read manifest %s: %w", manifestKey, err)
	}
	var m release.Manifest
	if err := json.Unmarshal(mb, &m); err != nil {
		return out, fmt.Errorf("deliver: manifest %s: %w", manifestKey, err)
	}
	if m.Midata.Recipient != p.Recipient() {
		return out, fmt.Errorf("deliver: release %s is for %s, not %s", m.ID, m.Midata.Recipient, p.Recipient())
	}
	b := bundle.Bundle{ReleaseID: m.ID, Manifest: mb, Receipt: receipt(&m), Created: m.Created}
	dir := path.Dir(manifestKey)
	for _, res := range m.Resources {
		if res.Name == "readme" {
			continue // the bundle has its own README.txt
		}
		obj := res.Object
		if obj == "" {
			obj = res.Path
		}
		key := dir + "/" + obj
		b.Files = append(b.Files, bundle.File{Path: res.Path, Size: res.Bytes,
			Open: func() (io.ReadCloser, error) { return cfg.Releases.Open(ctx, key) }})
	}
	var recipients []age.Recipient
	if r, err := p.AgeRecipientKey(); err != nil {
		return out, err
	} else if r != nil {
		recipients, out.Encrypted = append(recipients, r), true
	}
	out.ReleaseID, out.Key = m.ID, p.Prefix+m.ID+".tar.gz"
	if out.Encrypted {
		out.Key += ".age"
	}
	w, err := cfg.Target.Create(ctx, out.Key)
	if err != nil {
		return Outcome{}, fmt.Errorf("deliver %s: %w", m.ID, err)
	}
	h, n := sha256.New(), &counter{}
	if err := bundle.Write(io.MultiWriter(w, h, n), b, cfg.Keys, recipients...); err != nil {
		w.Abort()
		return Outcome{}, fmt.Errorf("deliver %s: %w", m.ID, err)
	}
	if err := w.Close(); err != nil {
		return Outcome{}, fmt.Errorf("deliver %s: %w", m.ID, err)
	}
	out.SHA256, out.Bytes = "sha256:"+hex.EncodeToString(h.Sum(nil)), n.n
	linker, ok := cfg.Target.(sinks.Linker)
	if !ok {
		return out, errors.New("deliver: the target store cannot sign links")
	}
	ttl := cfg.LinkTTL
	if ttl <= 0 {
		ttl = 24 * time.Hour
	}
	if out.Link, err = linker.Link(ctx, out.Key, ttl); err != nil {
		return out, fmt.Errorf("deliver %s: sign the link: %w", m.ID, err)
	}
	if cfg.Ready != nil {
		if err := cfg.Ready(ctx, out); err != nil {
			return out, err
		}
	}
	if p.WebhookURL == "" {
		return out, nil
	}
	secret, err := p.WebhookSecret()
	if err != nil {
		return out, err
	}
	body, _ := json.Marshal(Notice{Type: "release.delivered", ReleaseID: m.ID,
		Objects: []Object{{Key: out.Key, SHA256: out.SHA256, Bytes: out.Bytes}}, Link: out.Link.URL, ExpiresAt: out.Link.ExpiresAt})
	sender := cfg.Webhooks
	if sender == nil {
		sender = p.Sender()
	}
	out.Webhook = sender.Send(ctx, p.WebhookURL, secret, "delivered-"+m.ID, body)
	if !out.Webhook.Delivered {
		return out, fmt.Errorf("deliver %s: webhook: %w", m.ID, out.Webhook.Err)
	}
	return out, nil
}

// Receipt is the customer's consent receipt in a bundle, shaped after
// ISO/IEC TS 27560 (consent record information structure) and the Kantara
// consent receipt: who holds the data, whose it is, to whom it goes, what,
// for which period, until when, and since when.
type Receipt struct {
	Version    string     `json:"version"`
	ReceiptID  string     `json:"receipt_id"`
	IssuedAt   time.Time  `json:"issued_at"`
	Controller string     `json:"controller"`
	Subject    string     `json:"subject"`
	ConsentID  string     `json:"consent_id"`
	Status     string     `json:"status"`
	Actor      string     `json:"actor"` // who gave the consent: customer, partner, or upstream (the organisation's own consent system, which names none)
	Recipient  string     `json:"recipient"`
	Categories []string   `json:"categories"`
	WindowFrom *time.Time `json:"window_from,omitempty"`
	WindowTo   *time.Time `json:"window_to,omitempty"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	GrantedAt  time.Time  `json:"granted_at"`
}

// ReceiptOf is the receipt of ev, given by actor ("" when the event
// names none: upstream), for release releaseID, as JSON.
func ReceiptOf(ev schemas.ConsentEvent, actor, controller, releaseID string, at time.Time) []byte {
	if actor == "" {
		actor = "upstream"
	}
	opt := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		return &t
	}
	b, _ := json.MarshalIndent(Receipt{Version: "1", ReceiptID: releaseID + "/" + ev.ConsentID, IssuedAt: at.UTC(), Controller: controller,
		Subject: ev.CustomerID, ConsentID: ev.ConsentID, Status: string(ev.Status), Actor: actor, Recipient: string(ev.Recipient),
		Categories: append([]string{}, ev.Categories.Names()...), WindowFrom: opt(ev.WindowFrom), WindowTo: opt(ev.WindowTo),
		ExpiresAt: opt(ev.ExpiresAt), GrantedAt: ev.EventTime}, "", "  ")
	return append(b, '\n')
}

func readAll(ctx context.Context, s sinks.Sink, key string) ([]byte, error) {
	rc, err := s.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, 16<<20))
}

type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }
