package serve

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/midata/midata/pipeline/activity"
	"github.com/midata/midata/pipeline/api/custody"
	"github.com/midata/midata/pipeline/api/ports"
	"github.com/midata/midata/pipeline/consent"
	"github.com/midata/midata/pipeline/delivery"
	"github.com/midata/midata/pipeline/downloads"
	"github.com/midata/midata/pipeline/jobs"
	"github.com/midata/midata/pipeline/links"
	"github.com/midata/midata/pipeline/notify"
	"github.com/midata/midata/pipeline/quarantine"
	"github.com/midata/midata/pipeline/signing"
	"github.com/midata/midata/schemas"
	"github.com/midata/midata/schemas/release"
)

// Serve's chores: ExpiringWithin is how long before a link expires that its
// customer is told (link.expiring), ExpiringEvery how often it looks;
// RecallEvery how often it looks for revocations no recall followed
// (delivery.Recaller's Sweep); SweepEvery how often, from its start, it
// sweeps the bucket (releasestore.Sweep, of what is older than DefaultSweepAge).
var (
	ExpiringWithin = 24 * time.Hour
	ExpiringEvery  = 10 * time.Minute
	RecallEvery    = 5 * time.Minute
	SweepEvery     = time.Hour
)

// every runs fn now and then every d until ctx ends, logging its error
// as what.
func every(ctx context.Context, d time.Duration, logger *slog.Logger, what string, fn func(context.Context) error) error {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		if err := fn(ctx); err != nil && ctx.Err() == nil {
			logger.Warn(what, "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// newDownloads is the service of stable links, downloads and deletions:
// it needs the signing key, from which the links' key is derived. Without
// one, customers get presigned links, as partners do.
func newDownloads(keys *signing.Keys, svc downloads.Service) (*downloads.Service, error) {
	if keys == nil {
		return nil, nil
	}
	signer, err := links.NewSigner(links.DeriveKey(keys.Secret()))
	if err != nil {
		return nil, err
	}
	svc.Signer = signer
	return &svc, nil
}

// custodyHandlers gives the API the handlers of package custody: the audit
// always, the others with the downloads service (a signing key).
func custodyHandlers(dl *downloads.Service, view *activity.View, runs custody.RunLedger, actor func(context.Context, schemas.ConsentEvent) (string, error),
	q *quarantine.View, logger *slog.Logger) func(ports.Responder) map[string]http.HandlerFunc {
	return func(resp ports.Responder) map[string]http.HandlerFunc {
		hs := map[string]http.HandlerFunc{}
		if dl != nil {
			hs = custody.Handlers(&custody.Backend{Service: dl, View: view, Logger: logger}, resp)
		}
		hs["audit"] = custody.AuditHandler(&custody.AuditBackend{Runs: runs, View: view, Actor: actor, Logger: logger}, resp)
		hs["quarantine"] = custody.QuarantineHandler(q, resp)
		return hs
	}
}

// notifying publishes a release.ready notification for each committed
// release of e's runs, once it is on the ledger (and, for a partner,
// delivered). A release found committed by a retry is told again, under
// the same event id: consumers drop the repeat.
func notifying(e jobs.Executor, n *notify.Notifier, logger *slog.Logger) jobs.Executor {
	return jobs.ExecutorFunc(func(ctx context.Context, req jobs.Request, rep jobs.Reporter) error {
		return e.Execute(ctx, req, &notifyingReporter{Reporter: rep, n: n, recipient: string(req.Recipient), log: logger})
	})
}

type notifyingReporter struct {
	jobs.Reporter
	n         *notify.Notifier
	recipient string
	log       *slog.Logger
}

func (r *notifyingReporter) Release(ctx context.Context, rel jobs.Release) error {
	if err := r.Reporter.Release(ctx, rel); err != nil || rel.Status != release.StatusCommitted && rel.Status != release.StatusAlreadyCommitted ||
		strings.HasPrefix(rel.Reason, delivery.NotDelivered) {
		return err
	}
	if err := r.n.Publish(ctx, notify.ReleaseReadyEvent(time.Now(), rel.CustomerID, r.recipient, rel.ReleaseID)); err != nil {
		r.log.WarnContext(ctx, "release.ready notification not published", "release", rel.ReleaseID, "err", err)
	}
	return nil
}

// recallingGrants recalls what partners hold once a customer revokes
// their grant through the API: the revocation is in force when SetGrant
// returns; the recall (a webhook with retries) goes on in the background,
// on the ledger as it goes.
type recallingGrants struct {
	ports.Grants
	recaller *delivery.Recaller
	logger   *slog.Logger
	ctx      context.Context // the service's: a recall outlives its request
}

func (g recallingGrants) SetGrant(ctx context.Context, ch consent.Change) (schemas.ConsentEvent, error) {
	ev, err := g.Grants.SetGrant(ctx, ch)
	if err != nil || !ch.Revoke || ch.Recipient.IsSelf() {
		return ev, err
	}
	go func() {
		rctx, cancel := context.WithTimeout(g.ctx, time.Hour)
		defer cancel()
		rcs, err := g.recaller.Withdrawn(rctx, ev)
		for _, rc := range rcs {
			g.logger.Info("recall", "recall", rc.ID, "partner", rc.Partner, "releases", len(rc.Releases), "status", rc.Status)
		}
		if err != nil {
			g.logger.Error("recall not recorded", "partner", ch.Recipient, "err", err)
		}
	}()
	return ev, nil
}
