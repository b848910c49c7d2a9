package serve

import (
	"context"
	"errors"
	"fmt"

	"github.com/midata/midata/pipeline/api"
)

// Health is the readiness of one instance, what /readyz answers: the view
// of runs rebuilt from the ledger, Kafka reachable and the object store
// reachable, checked in that order. Every field is required.
type Health struct {
	Runs  interface{ Ready() bool }       // the view of runs: *jobs.View
	Kafka func(ctx context.Context) error // the brokers answer (the ends of the requests topic)
	Store func(ctx context.Context) error // the object store answers (s3sink.Sink.Check)
}

var _ api.Health = Health{}

// Ready returns nil when the instance can serve, else what is not ready.
func (h Health) Ready(ctx context.Context) error {
	if !h.Runs.Ready() {
		return errors.New("the run view is not rebuilt yet")
	}
	if err := h.Kafka(ctx); err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	return h.Store(ctx)
}
