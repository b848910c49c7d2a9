package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/midata/midata/pipeline/kafkasource"
	"github.com/midata/midata/sinks"
)

// planKey is where the snapshot of a request (for one customer, or "bulk")
// is kept.
func planKey(requestID, part string) string { return "plans/" + requestID + "/" + part + ".json" }

// planOnce returns the snapshot stored at key, or plans one and stores it
// with a conditional write: the first planner of a request wins, and every
// later handling of the same request (a duplicate, a retry, another
// machine) reads the same offsets, so it writes the same bytes.
func (r *Runner) planOnce(ctx context.Context, key string, plan func(context.Context) (kafkasource.Snapshot, error)) (kafkasource.Snapshot, error) {
	if snap, ok, err := r.storedPlan(ctx, key); err != nil || ok {
		return snap, err
	}
	snap, err := plan(ctx)
	if err != nil {
		return snap, fmt.Errorf("plan release: %w", err)
	}
	body, err := json.Marshal(snap)
	if err != nil {
		return snap, fmt.Errorf("encode plan: %w", err)
	}
	switch err := r.cfg.Sink.Commit(ctx, key, body); {
	case errors.Is(err, sinks.ErrAlreadyCommitted):
		snap, ok, err := r.storedPlan(ctx, key)
		if err == nil && !ok {
			err = fmt.Errorf("plan %s vanished after a conditional write lost", key)
		}
		return snap, err
	case err != nil:
		return snap, fmt.Errorf("store plan %s: %w", key, err)
	}
	return snap, nil
}

func (r *Runner) storedPlan(ctx context.Context, key string) (kafkasource.Snapshot, bool, error) {
	var snap kafkasource.Snapshot
	rc, err := r.cfg.Sink.Open(ctx, key)
	if errors.Is(err, sinks.ErrNotFound) {
		return snap, false, nil
	}
	if err != nil {
		return snap, false, fmt.Errorf("read plan %s: %w", key, err)
	}
	defer rc.Close()
	body, err := io.ReadAll(io.LimitReader(rc, 4<<20))
	if err != nil {
		return snap, false, fmt.Errorf("read plan %s: %w", key, err)
	}
	if err := json.Unmarshal(body, &snap); err != nil {
		return snap, false, fmt.Errorf("decode plan %s: %w", key, err)
	}
	return snap, true, nil
}
