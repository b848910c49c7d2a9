package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/midata/midata/pipeline/topics"
)

// LedgerConfig configures a Ledger.
type LedgerConfig struct {
	// Kafka is how to reach the cluster. Its Brokers are required.
	Kafka topics.Connection
	// Topic is the runs topic. Default topics.DefaultRuns.
	Topic string
	// Logger receives the producer's warnings. Default: discard.
	Logger *slog.Logger
	// Now stamps UpdatedAt. Default time.Now.
	Now func() time.Time
}

// Validate reports what is wrong with the configuration.
func (c LedgerConfig) Validate() error {
	return c.Kafka.Validate()
}

// Ledger publishes the records of the runs topic: every change of a run is
// the whole new Run, keyed by its id, so the latest record of a key is the
// run's state (the topic is compacted); each release outcome and each
// lease is a record of its own (ReleaseKey, LeaseKey). No record exceeds
// MaxRecordBytes. A Queue built on it publishes its
// requests through the same producer. It is safe for concurrent
// use.
type Ledger struct {
	p     *topics.Producer
	topic string
	now   func() time.Time
}

// NewLedger returns a Ledger writing to cfg.Kafka. It does not connect:
// the first Publish does.
func NewLedger(cfg LedgerConfig) (*Ledger, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("new ledger: %w", err)
	}
	t := Topics{Runs: cfg.Topic}.withDefaults()
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Ledger{
		p:     topics.NewProducer(cfg.Kafka, cfg.Logger),
		topic: t.Runs,
		now:   cfg.Now,
	}, nil
}

// Topic returns the runs topic.
func (l *Ledger) Topic() string { return l.topic }

// Publish stamps run.UpdatedAt (UTC), writes run on the runs topic and
// returns it as written, once the brokers have it. A run record larger
// than MaxRecordBytes, or one the brokers refuse for good, is a Permanent
// error.
func (l *Ledger) Publish(ctx context.Context, run Run) (Run, error) {
	if run.ID == "" {
		return Run{}, errors.New("publish run: empty id")
	}
	run.UpdatedAt = l.now().UTC()
	rec, err := encodeRecord(run.ID, run)
	if err != nil {
		return Run{}, fmt.Errorf("publish run %s: %w", run.ID, err)
	}
	if err := l.p.Publish(ctx, l.topic, rec.Key, rec.Value); err != nil {
		return Run{}, fmt.Errorf("publish run %s %s: %w", run.ID, run.Status, published(err))
	}
	return run, nil
}

// PublishReleases writes the outcomes rels, each a record of its own keyed
// by ReleaseKey, in one batch, and returns once the brokers have them all.
// An outcome larger than MaxRecordBytes fails the batch before anything
// is written, as a Permanent error; so does one the brokers refuse.
func (l *Ledger) PublishReleases(ctx context.Context, rels []Release) error {
	recs := make([]topics.Record, len(rels))
	for i, r := range rels {
		if r.RunID == "" || r.CustomerID == "" {
			return fmt.Errorf("publish release %q: it names no run or no customer", r.ReleaseID)
		}
		rec, err := encodeRecord(ReleaseKey(r.RunID, r.CustomerID), r)
		if err != nil {
			return fmt.Errorf("publish releases of run %s: %w", r.RunID, err)
		}
		recs[i] = rec
	}
	if err := l.p.PublishBatch(ctx, l.topic, recs); err != nil {
		return fmt.Errorf("publish %d releases: %w", len(rels), published(err))
	}
	return nil
}

// PublishLease writes a heartbeat of lease (its At stamped now, UTC).
func (l *Ledger) PublishLease(ctx context.Context, lease Lease) error {
	lease.At = l.now().UTC()
	rec, err := encodeRecord(LeaseKey(lease.RunID), lease)
	if err != nil {
		return fmt.Errorf("publish lease of run %s: %w", lease.RunID, err)
	}
	if err := l.p.Publish(ctx, l.topic, rec.Key, rec.Value); err != nil {
		return fmt.Errorf("publish lease of run %s: %w", lease.RunID, published(err))
	}
	return nil
}

// DropLease writes a tombstone for the lease on run runID: the run is free
// for the next worker at once.
func (l *Ledger) DropLease(ctx context.Context, runID string) error {
	if err := l.p.Publish(ctx, l.topic, []byte(LeaseKey(runID)), nil); err != nil {
		return fmt.Errorf("drop lease of run %s: %w", runID, published(err))
	}
	return nil
}

// Close closes the producer's connections.
func (l *Ledger) Close() error {
	if err := l.p.Close(); err != nil {
		return fmt.Errorf("close ledger: %w", err)
	}
	return nil
}
