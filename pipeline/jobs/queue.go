package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// QueueConfig configures a Queue.
type QueueConfig struct {
	// Ledger publishes the runs and, through the same producer, the
	// requests. Required.
	Ledger *Ledger
	// View is the view of the Ledger's topic. Required.
	View *View
	// RequestsTopic is where requests go. Default topics.DefaultRequests.
	RequestsTopic string
	// Now stamps a request's CreatedAt when it has none. Default time.Now.
	Now func() time.Time
}

// Queue submits requests to the workers and changes runs on an operator's
// word: cancel, retry. It reads the runs from its View. It is safe for
// concurrent use and owns nothing: close its Ledger and View.
type Queue struct {
	ledger *Ledger
	view   *View
	topic  string
	now    func() time.Time
}

// NewQueue returns a Queue.
func NewQueue(cfg QueueConfig) (*Queue, error) {
	if cfg.Ledger == nil || cfg.View == nil {
		return nil, errors.New("new queue: a ledger and a view are required")
	}
	if cfg.View.Topic() != cfg.Ledger.topic {
		return nil, fmt.Errorf("new queue: the view reads %s but the ledger writes %s", cfg.View.Topic(), cfg.Ledger.topic)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Queue{
		ledger: cfg.Ledger,
		view:   cfg.View,
		topic:  Topics{Requests: cfg.RequestsTopic}.withDefaults().Requests,
		now:    cfg.Now,
	}, nil
}

// unavailable marks err, from the brokers, as worth trying again.
func unavailable(err error) error { return errors.Join(err, ErrTransient) }

// Submit queues req and returns its run as queued. It publishes the queued
// Run on the ledger first, then the request on the requests topic, and
// returns once its own View has the run (read-your-writes: Get and Await
// see it, or a later state).
//
// Submit is idempotent by request id. When a run with req.ID exists it is
// returned and nothing new is queued, with two exceptions: a run still
// queued in req's round gets its request message published again (in case
// an earlier Submit failed between the two writes; the worker drops the
// duplicate), and a failed or cancelled run is queued again as round
// req.Retry when req carries a newer Retry (Queue.Retry does that; a bulk
// run's retry resubmits its tasks that way). A succeeded run is never run
// again. Two instances submitting one id at the same moment may both
// publish: the worker side makes that one run.
//
// A request that does not fit the ledger (Request.CheckBounds) is refused
// with an error wrapping ErrTooLarge. Errors from the brokers wrap
// ErrTransient.
func (q *Queue) Submit(ctx context.Context, req Request) (Run, error) {
	if req.ID == "" {
		return Run{}, errors.New("submit: empty request id")
	}
	if req.Retry < 0 {
		return Run{}, fmt.Errorf("submit %s: negative retry %d", req.ID, req.Retry)
	}
	if err := req.CheckBounds(); err != nil {
		return Run{}, fmt.Errorf("submit: %w", errors.Join(err, ErrTooLarge))
	}
	if req.CreatedAt.IsZero() {
		req.CreatedAt = q.now().UTC()
	}
	if err := q.view.Sync(ctx); err != nil {
		return Run{}, fmt.Errorf("submit %s: %w", req.ID, unavailable(err))
	}
	run := Run{ID: req.ID, Request: req, Status: StatusQueued, CreatedAt: req.CreatedAt}
	if cur, ok := q.view.Get(req.ID); ok {
		switch {
		case req.Retry > cur.Request.Retry && (cur.Status == StatusFailed || cur.Status == StatusCancelled):
			run.CreatedAt = cur.CreatedAt // a new round of the same run
		case req.Retry == cur.Request.Retry && cur.Status == StatusQueued:
			if err := q.publishRequest(ctx, cur.Request); err != nil {
				return Run{}, fmt.Errorf("submit %s: %w", req.ID, err)
			}
			return cur, nil
		default:
			return cur, nil
		}
	}
	run, err := q.ledger.Publish(ctx, run)
	if err != nil {
		return Run{}, fmt.Errorf("submit %s: %w", req.ID, unavailable(err))
	}
	if err := q.publishRequest(ctx, req); err != nil {
		return Run{}, fmt.Errorf("submit %s: %w (the run is recorded as queued: submitting it again sends the request)", req.ID, err)
	}
	// Queued all the same if Sync fails: the view catches up on its own.
	_ = q.view.Sync(ctx)
	return run, nil
}

// publishRequest writes req on the requests topic, keyed by its id.
func (q *Queue) publishRequest(ctx context.Context, req Request) error {
	v, err := marshalRequest(req)
	if err != nil {
		return err
	}
	if err := q.ledger.p.Publish(ctx, q.topic, []byte(req.ID), v); err != nil {
		return fmt.Errorf("publish request: %w", unavailable(err))
	}
	return nil
}

// Cancel asks the run id to stop: it publishes the run as cancelling, and
// the worker that runs it cancels the Executor's context and publishes it
// cancelled (a run not started yet is cancelled when a worker takes it).
// Cancelling a run already cancelling returns it as it is. The error wraps
// ErrNotFound for an unknown id and ErrConflict for a finished run, also
// when the run ended otherwise than cancelled just as the cancel arrived.
// The run returned is cancelling, or already cancelled.
func (q *Queue) Cancel(ctx context.Context, id string) (Run, error) {
	if err := q.view.Sync(ctx); err != nil {
		return Run{}, fmt.Errorf("cancel run %s: %w", id, unavailable(err))
	}
	cur, ok := q.view.Get(id)
	switch {
	case !ok:
		return Run{}, fmt.Errorf("cancel run %s: %w", id, ErrNotFound)
	case cur.Status.Final():
		return cur, fmt.Errorf("cancel run %s: it is %s: %w", id, cur.Status, ErrConflict)
	case cur.Status == StatusCancelling:
		return cur, nil
	}
	ask := cur
	ask.Status, ask.Note = StatusCancelling, "cancel asked"
	if _, err := q.ledger.Publish(ctx, ask); err != nil {
		return Run{}, fmt.Errorf("cancel run %s: %w", id, unavailable(err))
	}
	if err := q.view.Sync(ctx); err != nil {
		return ask, nil // asked; the view catches up on its own
	}
	now, _ := q.view.Get(id)
	if now.Status.Final() && now.Status != StatusCancelled && now.Request.Retry == cur.Request.Retry {
		// The run ended before the cancel took effect: the View ignored
		// the cancel, or the end came after it. Re-publishing the end
		// keeps it the latest record of the key, which compaction keeps.
		if _, err := q.ledger.Publish(ctx, now); err != nil {
			return now, fmt.Errorf("cancel run %s: re-publish its end: %w", id, unavailable(err))
		}
		return now, fmt.Errorf("cancel run %s: it ended %s first: %w", id, now.Status, ErrConflict)
	}
	return now, nil
}

// Retry queues the failed or cancelled run id again as a new round
// (Request.Retry+1) with the same request id, so the releases keep their
// ids and the object store's conditional commit still makes one release.
// The error wraps ErrNotFound for an unknown id and ErrConflict for a run
// that is not failed or cancelled.
func (q *Queue) Retry(ctx context.Context, id string) (Run, error) {
	if err := q.view.Sync(ctx); err != nil {
		return Run{}, fmt.Errorf("retry run %s: %w", id, unavailable(err))
	}
	cur, ok := q.view.Get(id)
	switch {
	case !ok:
		return Run{}, fmt.Errorf("retry run %s: %w", id, ErrNotFound)
	case cur.Status != StatusFailed && cur.Status != StatusCancelled:
		return cur, fmt.Errorf("retry run %s: it is %s, only failed or cancelled runs are retried: %w", id, cur.Status, ErrConflict)
	}
	req := cur.Request
	req.Retry++
	run, err := q.Submit(ctx, req)
	if err != nil {
		return Run{}, fmt.Errorf("retry run %s: %w", id, err)
	}
	return run, nil
}

// Release returns the outcome of customerID's release in run runID, as
// View.Release, after catchUp.
func (q *Queue) Release(ctx context.Context, runID, customerID string) (Release, bool, error) {
	if err := q.catchUp(ctx, runID); err != nil {
		return Release{}, false, err
	}
	r, ok := q.view.Release(runID, customerID)
	return r, ok, nil
}

// Releases returns a page of run runID's release outcomes, as
// View.Releases, after catchUp.
func (q *Queue) Releases(ctx context.Context, runID, after string, limit int) ([]Release, string, error) {
	if err := q.catchUp(ctx, runID); err != nil {
		return nil, "", err
	}
	rels, next := q.view.Releases(runID, after, limit)
	return rels, next, nil
}

// catchUp syncs the View once after it has seen the run runID end (and
// again after each later end record of it, a retry's say): the outcomes
// are on other partitions than the run record, and may reach the View
// after the run's end, but they were written before it, so a Sync after
// the end holds them all. A task's outcomes are its bulk run's: nothing
// to wait for.
func (q *Queue) catchUp(ctx context.Context, runID string) error {
	run, ok := q.view.Get(runID)
	if !ok || !run.Status.Final() || run.Request.Kind == KindTask || q.view.syncedAfterEnd(run) {
		return nil
	}
	if err := q.view.syncAfterEnd(ctx, run); err != nil {
		return fmt.Errorf("read the releases of run %s: %w", runID, unavailable(err))
	}
	return nil
}

// Get returns the run id as the View has it.
func (q *Queue) Get(id string) (Run, bool) { return q.view.Get(id) }

// List returns the runs f selects, as View.List.
func (q *Queue) List(f RunFilter) []Run { return q.view.List(f) }

// Await returns the run id once it has ended (in its latest round, as the
// View has it). Submit first: Submit returns once the View shows the new
// round, so Await does not return an earlier round's end.
func (q *Queue) Await(ctx context.Context, id string) (Run, error) {
	return q.view.Wait(ctx, id, func(r Run) bool { return r.Status.Final() })
}
