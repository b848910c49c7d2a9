package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/midata/midata/pipeline/activity"
	"github.com/midata/midata/pipeline/config"
	"github.com/midata/midata/pipeline/consent"
	"github.com/midata/midata/pipeline/delivery"
	"github.com/midata/midata/pipeline/jobs"
	"github.com/midata/midata/pipeline/notify"
	"github.com/midata/midata/pipeline/signing"
	"github.com/midata/midata/sinks"
	"github.com/midata/midata/sinks/s3sink"
)

// partnerTargets opens the bucket of each partner (the releases bucket
// when it names none or s3.bucket), with s3's endpoint, region and
// credentials, and checks that it answers.
func partnerTargets(ctx context.Context, cfg config.Config, releases sinks.Sink) (map[string]sinks.Sink, []func() error, error) {
	out, byBucket := map[string]sinks.Sink{}, map[string]sinks.Sink{}
	var closers []func() error
	for _, p := range cfg.Partners {
		if p.Bucket == "" || p.Bucket == cfg.S3.Bucket {
			out[p.ID] = releases
			continue
		}
		if s, ok := byBucket[p.Bucket]; ok {
			out[p.ID] = s
			continue
		}
		s, err := s3sink.New(ctx, s3Config(cfg, p.Bucket))
		if err != nil {
			return nil, closers, fmt.Errorf("partner %s: bucket %s: %w", p.ID, p.Bucket, err)
		}
		closers = append(closers, s.Close)
		if err := s.Check(ctx); err != nil {
			return nil, closers, fmt.Errorf("partner %s: bucket %s: %w", p.ID, p.Bucket, err)
		}
		out[p.ID], byBucket[p.Bucket] = s, s
	}
	return out, closers, nil
}

// delivering wraps e with the deliveries to the configured partners, each
// into its bucket (targets) under its prefix: they need the signing key (a
// bundle is never sent unsigned).
func delivering(cfg config.Config, e jobs.Executor, keys *signing.Keys, store sinks.Sink, targets map[string]sinks.Sink, grants *consent.View, act *activity.Ledger, view *activity.View, n *notify.Notifier, logger *slog.Logger) (jobs.Executor, error) {
	if keys == nil {
		return nil, invalid{errors.New("partners are declared but signing.key_file is not set: bundles are never sent unsigned (midata keys generate makes a key)")}
	}
	conn, _ := cfg.KafkaConnection() // checked by New
	d := &delivery.Deliverer{Partners: cfg.Partners, Grants: grants, Controller: cfg.Organisation, Logger: logger, Activity: act, Notifier: n,
		Actor: delivery.ActorFrom(conn, cfg.Topics.Consent), Targets: targets, View: view,
		Config: delivery.Config{Releases: store, Target: store, Keys: keys, LinkTTL: time.Duration(cfg.Links.TTL)}}
	return d.Wrap(e), nil
}
