package jobs

import (
	"context"
	"encoding/json"
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

// Ledger publishes Run events on the runs topic: every change of a run is
// the whole new Run, keyed by its id, so the latest record of a key is the
// run's state (the topic is compacted). A Queue built on it publishes its
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
// returns it as written, once the brokers have it.
func (l *Ledger) Publish(ctx context.Context, run Run) (Run, error) {
	if run.ID == "" {
		return Run{}, errors.New("publish run: empty id")
	}
	run.UpdatedAt = l.now().UTC()
	v, err := json.Marshal(run)
	if err != nil {
		return Run{}, fmt.Errorf("publish run %s: %w", run.ID, err)
	}
	if err := l.p.Publish(ctx, l.topic, []byte(run.ID), v); err != nil {
		return Run{}, fmt.Errorf("publish run %s %s: %w", run.ID, run.Status, err)
	}
	return run, nil
}

// Close closes the producer's connections.
func (l *Ledger) Close() error {
	if err := l.p.Close(); err != nil {
		return fmt.Errorf("close ledger: %w", err)
	}
	return nil
}
