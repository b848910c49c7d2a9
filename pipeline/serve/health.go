package serve

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/midata/midata/pipeline/api/ports"
)

// Health is the readiness of one instance, what /readyz answers: the view
// of runs rebuilt from the ledger, Kafka reachable and the object store
// reachable, checked in that order. Every field is required. A check of
// Kafka and the store is reused for Every (default 5 s): probes and anyone
// else asking /readyz do not make a broker request and a HeadBucket each.
type Health struct {
	Runs  interface{ Ready() bool }       // the view of runs: *jobs.View
	Kafka func(ctx context.Context) error // the brokers answer (the ends of the requests topic)
	Store func(ctx context.Context) error // the object store answers (s3sink.Sink.Check)
	Every time.Duration                   // how long a check of Kafka and the store is reused
	Now   func() time.Time                // default time.Now

	last *lastCheck
}

// lastCheck is the outcome of the last check of Kafka and the store.
type lastCheck struct {
	mu  sync.Mutex
	at  time.Time
	err error
}

var _ ports.Health = Health{}

// NewHealth returns h ready to reuse its checks.
func NewHealth(h Health) Health {
	h.last = &lastCheck{}
	if h.Every <= 0 {
		h.Every = 5 * time.Second
	}
	if h.Now == nil {
		h.Now = time.Now
	}
	return h
}

// Ready returns nil when the instance can serve, else an *ports.NotReady
// naming what is not ready.
func (h Health) Ready(ctx context.Context) error {
	if !h.Runs.Ready() {
		return &ports.NotReady{Part: "run view", Err: errors.New("the run view is not rebuilt yet")}
	}
	if h.last == nil {
		return h.check(ctx)
	}
	h.last.mu.Lock()
	defer h.last.mu.Unlock()
	if now := h.Now(); h.last.at.IsZero() || now.Sub(h.last.at) >= h.Every {
		h.last.err, h.last.at = h.check(ctx), now
	}
	return h.last.err
}

// check asks Kafka, then the store.
func (h Health) check(ctx context.Context) error {
	if err := h.Kafka(ctx); err != nil {
		return &ports.NotReady{Part: "kafka", Err: err}
	}
	if err := h.Store(ctx); err != nil {
		return &ports.NotReady{Part: "object store", Err: err}
	}
	return nil
}
