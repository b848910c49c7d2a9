package delivery

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/midata/midata/pipeline"
	"github.com/midata/midata/pipeline/activity"
	"github.com/midata/midata/pipeline/api/wire"
	"github.com/midata/midata/pipeline/consent"
	"github.com/midata/midata/pipeline/jobs"
	"github.com/midata/midata/pipeline/notify"
	"github.com/midata/midata/pipeline/partners"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/pipeline/webhook"
	"github.com/midata/midata/schemas"
	"github.com/midata/midata/schemas/release"
	"github.com/midata/midata/sinks"
)

// Deliverer delivers each committed release of a configured partner to
// it (package delivery) as the worker records the release's outcome, and
// before the outcome goes to the ledger: a run succeeds only once every
// partner bundle of it is delivered. A delivery that fails on the store is
// retried with the run (jobs.ErrTransient: the same bundle key, the same
// bytes and the same webhook-id again); one whose webhook is refused
// after all its retries fails the run for good (jobs.Permanent), with the
// reason, for ops to see and retry. A release the ledger already has
// delivered to the partner is not delivered again.
type Deliverer struct {
	Partners []partners.Partner
	Config   Config
	// Targets are the partners' buckets by partner id; one not in it
	// gets Config.Target.
	Targets map[string]sinks.Sink
	Grants  interface {
		Grant(customerID string, recipient schemas.Recipient, now time.Time) (consent.Grant, error)
	}
	Controller string // the organisation, named in consent receipts
	// Activity, when set, gets each step of each delivery; Notifier, when
	// set, a delivery.failed event for each failure.
	Activity *activity.Ledger
	Notifier *notify.Notifier
	// Actor, when set, names who gave a consent event (its actor field,
	// which the compact consent view does not keep); "" when it names
	// none.
	Actor func(ctx context.Context, ev schemas.ConsentEvent) (string, error)
	// View, when set, is the activity ledger as read: a release it has
	// delivered to the partner is not delivered again, and a run's end
	// counts the deliveries of all its tasks.
	View   *activity.View
	Logger *slog.Logger
	Now    func() time.Time
}

// Wrap returns e with deliveries after its partner releases.
func (d *Deliverer) Wrap(e jobs.Executor) jobs.Executor {
	return jobs.ExecutorFunc(func(ctx context.Context, req jobs.Request, rep jobs.Reporter) error {
		for _, p := range d.Partners {
			if p.Recipient() == req.Recipient {
				if err := p.CheckFormats(req.Formats); err != nil { // a schedule made before the limit, say
					return jobs.Permanent(err)
				}
				if d.View != nil {
					if err := d.View.Sync(ctx); err != nil {
						return errors.Join(jobs.ErrTransient, err)
					}
				}
				dr := &deliveringReporter{Reporter: rep, d: d, p: p, runID: cmp.Or(req.Parent, req.ID)}
				if req.Kind == jobs.KindTask { // its bulk run tells the partner
					return e.Execute(ctx, req, dr)
				}
				d.lifecycle(ctx, p, req, "run.started", nil)
				err := e.Execute(ctx, req, dr)
				if err == nil || jobs.IsPermanent(err) { // the run's end, not an attempt's
					d.lifecycle(ctx, p, req, "run.finished", d.summary(ctx, p, req.ID, dr, err))
				}
				return err
			}
		}
		return e.Execute(ctx, req, rep)
	})
}

// summary counts the deliveries of run runID to p: from the ledger when
// the Deliverer has a View (every task's), else those dr saw.
func (d *Deliverer) summary(ctx context.Context, p partners.Partner, runID string, dr *deliveringReporter, err error) *runSummary {
	sum := &runSummary{Delivered: dr.delivered.Load(), Failed: dr.failed.Load(), Succeeded: err == nil}
	if d.View == nil || d.View.Sync(ctx) != nil {
		return sum
	}
	sum.Delivered, sum.Failed = 0, 0
	for _, dl := range d.View.Deliveries(activity.DeliveryFilter{Partner: p.ID, Limit: 1 << 30}) {
		switch {
		case dl.RunID != runID:
		case dl.Status == activity.DeliveryDelivered:
			sum.Delivered++
		case dl.Status == activity.DeliveryFailed:
			sum.Failed++
		}
	}
	return sum
}

// actor is the actor of ev, "" when unknown; a failure to read it is
// logged, the receipt then says upstream.
func (d *Deliverer) actor(ctx context.Context, ev schemas.ConsentEvent) string {
	if d.Actor == nil {
		return ""
	}
	a, err := d.Actor(ctx, ev)
	if err != nil && d.Logger != nil {
		d.Logger.WarnContext(ctx, "consent receipt: the event's actor not read", "consent", ev.ConsentID, "err", err)
	}
	return a
}

// ActorFrom reads the actor of a consent event from the consent topic, at
// the event's partition and offset.
func ActorFrom(conn topics.Connection, topic string) func(ctx context.Context, ev schemas.ConsentEvent) (string, error) {
	return func(ctx context.Context, ev schemas.ConsentEvent) (string, error) {
		m, err := topics.ReadAt(ctx, conn, topic, ev.Partition, ev.Offset)
		if err != nil {
			return "", err
		}
		var v struct {
			Actor string `json:"actor"`
		}
		if err := json.Unmarshal(m.Value, &v); err != nil {
			return "", fmt.Errorf("consent event %s: %w", ev.ConsentID, err)
		}
		return v.Actor, nil
	}
}

// errWithdrawnWhileWriting stops a delivery whose grant was withdrawn
// while its bundle was written.
var errWithdrawnWhileWriting = errors.New("consent withdrawn while the bundle was written")

// stillGranted checks the grant of customerID to recipient again, the
// consent view synced when it can be: errWithdrawnWhileWriting when it
// no longer stands.
func (d *Deliverer) stillGranted(ctx context.Context, customerID string, recipient schemas.Recipient, now time.Time) error {
	if s, ok := d.Grants.(interface{ Sync(context.Context) error }); ok {
		if err := s.Sync(ctx); err != nil {
			return fmt.Errorf("re-check consent before the webhook: %w", err)
		}
	}
	if _, err := d.Grants.Grant(customerID, recipient, now); err != nil {
		return errWithdrawnWhileWriting
	}
	return nil
}

// NotDelivered starts the reason of a committed partner release that was
// not delivered (its consent was withdrawn since the commit): no
// release.ready follows it.
const NotDelivered = "not delivered: "

// delivered returns the ledger's delivery of releaseID to partner, when
// it is delivered.
func (d *Deliverer) delivered(partner, releaseID string) (activity.Delivery, bool) {
	if d.View == nil {
		return activity.Delivery{}, false
	}
	dl, ok := d.View.Delivery(partner, releaseID)
	return dl, ok && dl.Status == activity.DeliveryDelivered
}

func (r *deliveringReporter) notifyFailed(ctx context.Context, rel jobs.Release, why string) {
	if err := r.d.Notifier.Publish(ctx, notify.DeliveryFailedEvent(time.Now(), r.p.ID, rel.CustomerID, rel.ReleaseID, why)); err != nil && r.d.Logger != nil {
		r.d.Logger.WarnContext(ctx, "delivery.failed notification not published", "release", rel.ReleaseID, "err", err)
	}
}

type deliveringReporter struct {
	jobs.Reporter
	d                 *Deliverer
	p                 partners.Partner
	runID             string // the run's, or a task's bulk run's
	delivered, failed atomic.Int64
}

// runSummary is what run.finished tells a partner: how many of its
// releases were delivered and failed, never who did not consent.
type runSummary struct {
	Succeeded bool  `json:"succeeded"`
	Delivered int64 `json:"delivered"`
	Failed    int64 `json:"failed"`
}

// lifecycle tells p's webhook that a run for it started or finished
// (run.started, run.finished, webhook-id "<type>-<run>-<round>"), once,
// for information: the release.delivered messages are the ones retried
// and counted, so a receiver that misses these loses nothing.
func (d *Deliverer) lifecycle(ctx context.Context, p partners.Partner, req jobs.Request, typ string, sum *runSummary) {
	if p.WebhookURL == "" {
		return
	}
	secret, err := p.WebhookSecret()
	if err != nil {
		return
	}
	body, _ := json.Marshal(struct {
		Type    string    `json:"type"`
		RunID   string    `json:"run_id"`
		From    time.Time `json:"from"`
		To      time.Time `json:"to"`
		Formats []string  `json:"formats"`
		*runSummary
	}{typ, req.ID, req.From, req.To, req.Formats, sum})
	res := (&webhook.Sender{MaxAttempts: 1}).Send(ctx, p.WebhookURL, secret, fmt.Sprintf("%s-%s-%d", typ, req.ID, req.Retry), body)
	if !res.Delivered && d.Logger != nil {
		d.Logger.WarnContext(ctx, "lifecycle webhook not delivered", "type", typ, "partner", p.ID, "run", req.ID, "err", res.Err)
	}
}

// Release delivers a committed release, then records its outcome. Each
// step of the delivery is on the ledger (started, ready, delivered or
// failed); a failure is also a delivery.failed notification.
func (r *deliveringReporter) Release(ctx context.Context, rel jobs.Release) error {
	if rel.Status != release.StatusCommitted && rel.Status != release.StatusAlreadyCommitted {
		return r.Reporter.Release(ctx, rel)
	}
	now := time.Now
	if r.d.Now != nil {
		now = r.d.Now
	}
	rec := activity.Delivery{Partner: r.p.ID, ReleaseID: rel.ReleaseID, CustomerID: rel.CustomerID, RunID: r.runID}
	put := func(st activity.DeliveryStatus, errText string) error {
		if r.d.Activity == nil {
			return nil
		}
		rec.Status, rec.Error, rec.At = st, errText, now().UTC()
		return r.d.Activity.Delivery(ctx, rec)
	}
	// The grant again, at delivery: a withdrawal since the commit beats
	// the delivery, and nothing goes.
	g, err := r.d.Grants.Grant(rel.CustomerID, r.p.Recipient(), now())
	if err != nil {
		if r.d.Logger != nil {
			r.d.Logger.WarnContext(ctx, "release not delivered: consent withdrawn", "release", rel.ReleaseID, "partner", r.p.ID)
		}
		const why = "consent withdrawn before delivery: nothing was sent"
		if err := put(activity.DeliveryFailed, why); err != nil {
			return errors.Join(jobs.ErrTransient, err)
		}
		r.notifyFailed(ctx, rel, why)
		rel.Reason = NotDelivered + why
		return r.Reporter.Release(ctx, rel)
	}
	if d, ok := r.d.delivered(r.p.ID, rel.ReleaseID); ok {
		if r.d.Logger != nil {
			r.d.Logger.InfoContext(ctx, "release already delivered", "release", rel.ReleaseID, "partner", r.p.ID, "at", d.At)
		}
		r.delivered.Add(1)
		return r.Reporter.Release(ctx, rel)
	}
	if err := put(activity.DeliveryStarted, ""); err != nil {
		return errors.Join(jobs.ErrTransient, err)
	}
	cfg := r.d.Config
	if t, ok := r.d.Targets[r.p.ID]; ok {
		cfg.Target = t
	}
	cfg.Ready = func(ctx context.Context, out Outcome) error {
		rec.Key, rec.SHA256, rec.Bytes, rec.Encrypted = out.Key, out.SHA256, out.Bytes, out.Encrypted
		if err := put(activity.DeliveryReady, ""); err != nil {
			return err
		}
		// The grant once more, the bundle written and on the ledger, before
		// the partner is told: a withdrawal while the bundle was written
		// stops the webhook, and one after this check finds the bundle on
		// the ledger (ready), so its recall names it.
		return r.d.stillGranted(ctx, rel.CustomerID, r.p.Recipient(), now())
	}
	actor := r.d.actor(ctx, g.Event)
	out, err := Deliver(ctx, cfg, r.p, pipeline.Prefix(rel.ReleaseID)+release.ManifestFile, func(m *release.Manifest) []byte {
		return ReceiptOf(g.Event, actor, r.d.Controller, rel.ReleaseID, m.Created) // the same bytes at every delivery
	})
	rec.WebhookID, rec.Attempts, rec.HTTPStatus = out.Webhook.ID, out.Webhook.Attempts, out.Webhook.Status
	if errors.Is(err, errWithdrawnWhileWriting) {
		// The partner was not told: the bundle goes too, so it holds
		// nothing of the customer. One that cannot be removed stays on the
		// ledger with its key, for the recall.
		why := "consent withdrawn while the bundle was written: the bundle was removed and the partner was not told"
		if del, ok := cfg.Target.(sinks.Deleter); !ok {
			why = "consent withdrawn while the bundle was written: the partner was not told; the store cannot remove the bundle, it is recalled"
		} else if derr := del.Delete(context.WithoutCancel(ctx), out.Key); derr != nil {
			why = fmt.Sprintf("consent withdrawn while the bundle was written: the partner was not told; the bundle was not removed (%v), it is recalled", derr)
		} else {
			rec.Key, rec.SHA256, rec.Bytes, rec.Encrypted = "", "", 0, false
		}
		if r.d.Logger != nil {
			r.d.Logger.WarnContext(ctx, "release not delivered: consent withdrawn while its bundle was written", "release", rel.ReleaseID, "partner", r.p.ID)
		}
		if err := put(activity.DeliveryFailed, why); err != nil {
			return errors.Join(jobs.ErrTransient, err)
		}
		r.notifyFailed(ctx, rel, why)
		rel.Reason = NotDelivered + why
		return r.Reporter.Release(ctx, rel)
	}
	if err != nil {
		refused := out.Key != "" && out.Webhook.ID != "" && !out.Webhook.Delivered
		if perr := put(activity.DeliveryFailed, err.Error()); perr != nil {
			err = errors.Join(err, perr)
		}
		r.notifyFailed(ctx, rel, err.Error())
		r.failed.Add(1)
		if refused { // after all its retries: retrying the run would not help
			return jobs.Permanent(fmt.Errorf("deliver release %s to %s: %w", rel.ReleaseID, r.p.ID, err))
		}
		return errors.Join(jobs.ErrTransient, fmt.Errorf("deliver release %s to %s: %w", rel.ReleaseID, r.p.ID, err))
	}
	if err := put(activity.DeliveryDelivered, ""); err != nil {
		return errors.Join(jobs.ErrTransient, err)
	}
	r.delivered.Add(1)
	if r.d.Logger != nil {
		r.d.Logger.InfoContext(ctx, "release delivered", "release", rel.ReleaseID, "partner", r.p.ID, "key", out.Key, "sha256", out.SHA256)
	}
	return r.Reporter.Release(ctx, rel)
}

// Bundles lets partners pull what was delivered to them: the bundles under
// each partner's prefix, and a fresh link to one once its release is
// checked to be the partner's with the grant still standing (Check:
// pipeline.Runner's LinksFor).
type Bundles struct {
	Partners []partners.Partner
	Stores   map[string]sinks.Sink // each partner's bucket, by partner id: a Lister and a Linker
	Check    func(ctx context.Context, releaseID string, owner pipeline.Owner) ([]pipeline.Link, error)
	TTL      time.Duration
}

func (b *Bundles) partner(id string) (partners.Partner, error) {
	for _, p := range b.Partners {
		if p.ID == id {
			return p, nil
		}
	}
	return partners.Partner{}, fmt.Errorf("partner %s: no bundles: it is not a configured partner: %w", id, sinks.ErrNotFound)
}

// List implements ports.Bundles.
func (b *Bundles) List(ctx context.Context, partnerID string) ([]wire.Bundle, error) {
	p, err := b.partner(partnerID)
	if err != nil {
		return nil, err
	}
	l, ok := b.Stores[p.ID].(sinks.Lister)
	if !ok {
		return nil, errors.New("list bundles: the store cannot list")
	}
	var out []wire.Bundle
	err = l.List(ctx, p.Prefix, func(key string) error {
		name := strings.TrimPrefix(key, p.Prefix)
		id, ok := strings.CutSuffix(strings.TrimSuffix(name, ".age"), ".tar.gz")
		if ok && !strings.Contains(id, "/") {
			out = append(out, wire.Bundle{ReleaseID: id, Key: key})
		}
		return nil
	})
	return out, err
}

// Link implements ports.Bundles.
func (b *Bundles) Link(ctx context.Context, partnerID, releaseID string) (sinks.Link, error) {
	p, err := b.partner(partnerID)
	if err != nil {
		return sinks.Link{}, err
	}
	if _, err := b.Check(ctx, releaseID, pipeline.Owner{Recipient: p.Recipient()}); err != nil {
		return sinks.Link{}, err
	}
	key := p.Prefix + releaseID + ".tar.gz"
	if p.AgeRecipient != "" {
		key += ".age"
	}
	store, ok := b.Stores[p.ID].(interface {
		sinks.Sink
		sinks.Linker
	})
	if !ok {
		return sinks.Link{}, errors.New("bundle link: the store cannot sign links")
	}
	rc, err := store.Open(ctx, key)
	if err != nil {
		return sinks.Link{}, fmt.Errorf("bundle of %s: %w", releaseID, err)
	}
	rc.Close()
	ttl := b.TTL
	if ttl <= 0 || ttl > time.Hour {
		ttl = time.Hour
	}
	return store.Link(ctx, key, ttl)
}

// LimitedGrants are the grants the runner sees: a configured partner's
// hold only the categories it may receive (partners.Partner.Granted); a
// grant of none of them grants nothing.
type LimitedGrants struct {
	pipeline.Grants
	Partners []partners.Partner
}

func (g LimitedGrants) limit(recipient schemas.Recipient, gr consent.Grant) (consent.Grant, bool) {
	for _, p := range g.Partners {
		if p.Recipient() == recipient {
			gr.Event.Categories = p.Granted(gr.Event.Categories)
			return gr, gr.Event.Categories != 0
		}
	}
	return gr, true
}

func (g LimitedGrants) Grant(customerID string, recipient schemas.Recipient, now time.Time) (consent.Grant, error) {
	gr, err := g.Grants.Grant(customerID, recipient, now)
	if err != nil {
		return gr, err
	}
	if gr, ok := g.limit(recipient, gr); ok {
		return gr, nil
	}
	return consent.Grant{}, fmt.Errorf("%s may receive none of the categories %s granted: %w", recipient, customerID, consent.ErrNoConsent)
}

func (g LimitedGrants) GrantedWhere(recipient schemas.Recipient, now time.Time, keep func(string) bool) map[string]consent.Grant {
	out := g.Grants.GrantedWhere(recipient, now, keep)
	for id, gr := range out {
		if gr, ok := g.limit(recipient, gr); ok {
			out[id] = gr
		} else {
			delete(out, id)
		}
	}
	return out
}

// PartnerFormats refuses a request for a partner in a format it may not
// receive, before anything is read (partners.Partner.CheckFormats).
func PartnerFormats(list []partners.Partner, next func(jobs.Request) error) func(jobs.Request) error {
	return func(req jobs.Request) error {
		if err := next(req); err != nil {
			return err
		}
		for _, p := range list {
			if p.Recipient() == req.Recipient {
				return p.CheckFormats(req.Formats)
			}
		}
		return nil
	}
}
