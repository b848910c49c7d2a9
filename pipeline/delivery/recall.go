package delivery

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/midata/midata/pipeline/activity"
	"github.com/midata/midata/pipeline/notify"
	"github.com/midata/midata/pipeline/partners"
	"github.com/midata/midata/pipeline/webhook"
	"github.com/midata/midata/schemas"
)

// RecallNotice is the body of the release.recall webhook: the partner is
// to delete the bundles of these releases, whose customer withdrew the
// partner's grant.
type RecallNotice struct {
	Type        string    `json:"type"` // release.recall
	RecallID    string    `json:"recall_id"`
	Releases    []string  `json:"releases"`
	Reason      string    `json:"reason"` // consent_withdrawn
	WithdrawnAt time.Time `json:"withdrawn_at"`
}

// Recaller recalls what partners hold of a customer after the customer
// withdraws their grant: every release whose bundle was written to the
// partner (delivered, or ready and then failed) is named in a signed
// release.recall webhook (webhook-id "recall-<recall id>"), at most
// activity.MaxRecallReleases a recall. Each recall is on the ledger
// (sending, then sent or failed) and a recall.sent notification follows
// a sent one. Links and pulls of the partner's releases stop by
// themselves: both check the grant at each use.
type Recaller struct {
	Partners []partners.Partner
	View     *activity.View
	Ledger   *activity.Ledger
	Webhooks *webhook.Sender
	Notifier *notify.Notifier // optional
	Logger   *slog.Logger
	Now      func() time.Time
}

// RecallID is the id of the n-th recall that the revocation event
// consentID of customerID's grant to partner makes: the same revocation
// always gives the same ids, so a recall sent twice has one webhook-id.
func RecallID(partner, customerID, consentID string, n int) string {
	h := sha256.Sum256(fmt.Appendf(nil, "%s|%s|%s|%d", partner, customerID, consentID, n))
	return "rc-" + hex.EncodeToString(h[:12])
}

// Withdrawn recalls what partner p holds of the customer of revocation
// ev (a consent event revoking a partner's grant). It returns the
// recalls, as recorded.
func (r *Recaller) Withdrawn(ctx context.Context, ev schemas.ConsentEvent) ([]activity.Recall, error) {
	partnerID, ok := ev.Recipient.PartnerID()
	if !ok {
		return nil, nil
	}
	idx := slices.IndexFunc(r.Partners, func(p partners.Partner) bool { return p.ID == partnerID })
	if idx < 0 {
		return nil, nil
	}
	p := r.Partners[idx]
	if err := r.View.Sync(ctx); err != nil {
		return nil, err
	}
	var held []string
	for _, d := range r.View.Deliveries(activity.DeliveryFilter{Partner: partnerID, CustomerID: ev.CustomerID, Limit: 1 << 30}) {
		if d.Key != "" && d.Status != activity.DeliveryStarted {
			held = append(held, d.ReleaseID)
		}
	}
	slices.Sort(held)
	var out []activity.Recall
	for n := 0; len(held) > 0; n++ {
		chunk := held[:min(len(held), activity.MaxRecallReleases)]
		held = held[len(chunk):]
		rc, err := r.send(ctx, p, activity.Recall{ID: RecallID(partnerID, ev.CustomerID, ev.ConsentID, n), Partner: partnerID,
			CustomerID: ev.CustomerID, ConsentID: ev.ConsentID, Releases: chunk}, ev.EventTime)
		out = append(out, rc)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

func (r *Recaller) now() time.Time {
	if r.Now != nil {
		return r.Now().UTC()
	}
	return time.Now().UTC()
}

func (r *Recaller) send(ctx context.Context, p partners.Partner, rc activity.Recall, withdrawn time.Time) (activity.Recall, error) {
	if prev, ok := r.View.Recall(rc.ID); ok && prev.Status == activity.RecallSent {
		return prev, nil
	}
	rc.Status, rc.At = activity.RecallSending, r.now()
	if err := r.Ledger.Recall(ctx, rc); err != nil {
		return rc, err
	}
	if p.WebhookURL == "" {
		rc.Status, rc.Error = activity.RecallFailed, "the partner has no webhook: tell it by other means"
		return rc, r.Ledger.Recall(ctx, rc)
	}
	secret, err := p.WebhookSecret()
	if err != nil {
		rc.Status, rc.Error = activity.RecallFailed, err.Error()
		return rc, r.Ledger.Recall(ctx, rc)
	}
	body, _ := json.Marshal(RecallNotice{Type: "release.recall", RecallID: rc.ID, Releases: rc.Releases, Reason: "consent_withdrawn", WithdrawnAt: withdrawn.UTC()})
	sender := r.Webhooks
	if sender == nil {
		sender = p.Sender()
	}
	res := sender.Send(ctx, p.WebhookURL, secret, "recall-"+rc.ID, body)
	rc.Attempts, rc.HTTPStatus, rc.At = res.Attempts, res.Status, r.now()
	if res.Delivered {
		rc.Status = activity.RecallSent
	} else {
		rc.Status, rc.Error = activity.RecallFailed, res.Err.Error()
	}
	if err := r.Ledger.Recall(ctx, rc); err != nil {
		return rc, err
	}
	if rc.Status == activity.RecallSent {
		if err := r.Notifier.Publish(ctx, notify.RecallSentEvent(rc.At, p.ID, rc.CustomerID, rc.ID, rc.Releases)); err != nil && r.Logger != nil {
			r.Logger.WarnContext(ctx, "recall.sent notification not published", "recall", rc.ID, "err", err)
		}
	}
	return rc, nil
}

// Consent is the consent view as Sweep reads it.
type Consent interface {
	Sync(ctx context.Context) error
	EventsOf(customerID string) []schemas.ConsentEvent
}

// Sweep recalls what no revocation made through the API recalled: a
// revocation written upstream on the consent topic, or one that arrived
// while no instance ran. For every customer and partner with a bundle
// delivered, it looks at the customer's current consent event for the
// partner and, when it is a revocation, recalls (Withdrawn: a recall
// already sent is not sent again). It returns the recalls it made or
// found.
func (r *Recaller) Sweep(ctx context.Context, consent Consent) ([]activity.Recall, error) {
	if err := r.View.Sync(ctx); err != nil {
		return nil, err
	}
	if err := consent.Sync(ctx); err != nil {
		return nil, err
	}
	type pair struct{ customer, partner string }
	held := map[pair]bool{}
	for _, d := range r.View.Deliveries(activity.DeliveryFilter{Limit: 1 << 30}) {
		if d.Key != "" && d.Status != activity.DeliveryStarted {
			held[pair{d.CustomerID, d.Partner}] = true
		}
	}
	var out []activity.Recall
	var errs []error
	for p := range held {
		for _, ev := range consent.EventsOf(p.customer) {
			if id, ok := ev.Recipient.PartnerID(); !ok || id != p.partner || ev.Status != schemas.ConsentRevoked {
				continue
			}
			rcs, err := r.Withdrawn(ctx, ev)
			out = append(out, rcs...)
			if err != nil {
				errs = append(errs, err)
			}
		}
	}
	return out, errors.Join(errs...)
}
