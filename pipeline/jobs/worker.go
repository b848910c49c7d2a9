package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/schemas/release"
)

// Defaults of WorkerConfig.
const (
	DefaultConcurrency      = 2
	DefaultBulkConcurrency  = 1
	DefaultMaxAttempts      = 5
	DefaultBackoffBase      = time.Second
	DefaultBackoffMax       = time.Minute
	DefaultDrainTimeout     = 30 * time.Second
	DefaultProgressInterval = time.Second
)

// Bounds of the worker's own calls to the brokers.
const (
	syncTimeout    = 10 * time.Second // a View.Sync before deciding on a message
	publishTimeout = 10 * time.Second // one try of a publication after shutdown began
)

// WorkerConfig configures a Worker. The zero value of every optional field
// means its default.
type WorkerConfig struct {
	// Kafka is how to reach the cluster. Its Brokers are required.
	Kafka topics.Connection
	// GroupID is the consumer group the workers of every instance share.
	// Default DefaultGroupID.
	GroupID string
	// RequestsTopic is the topic of requests. Default topics.DefaultRequests.
	RequestsTopic string
	// InstanceID names this worker in the runs it handles. Default
	// <hostname>-<pid>.
	InstanceID string

	// Executor makes the releases. Required.
	Executor Executor
	// Ledger publishes the runs' steps. Required.
	Ledger *Ledger
	// View is the view of the Ledger's topic: the worker reads a run's
	// state from it before it starts (a duplicate is skipped) and watches
	// it for a cancel. Required.
	View *View

	// Concurrency is how many release and task requests run at once.
	// Default 2.
	Concurrency int
	// BulkConcurrency is how many bulk requests run at once, apart from
	// Concurrency: a bulk run waits for its tasks, which need the other
	// slots. Default 1.
	BulkConcurrency int
	// MaxAttempts is how many times a run is attempted in one round before
	// it fails: transient errors are retried up to it, and attempts cut
	// short by a dying worker count too. Default 5.
	MaxAttempts int
	// BackoffBase and BackoffMax bound the wait before attempt n+1: a
	// uniformly random duration from 0 to min(BackoffMax,
	// BackoffBase·2^(n-1)) ("full jitter"). Default 1s and 1m.
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// DrainTimeout is how long Run lets in-flight runs finish after its
	// context ends, before it cancels them and hands them back. Default 30s.
	DrainTimeout time.Duration
	// ProgressInterval is the least time between two progress events of
	// one run on the ledger. Default 1s.
	ProgressInterval time.Duration

	// SessionTimeout, HeartbeatInterval and RebalanceTimeout tune the
	// consumer group (kafka-go's defaults 30s, 3s, 30s). A member that
	// joins is given partitions after the others' next heartbeat.
	SessionTimeout    time.Duration
	HeartbeatInterval time.Duration
	RebalanceTimeout  time.Duration

	// Logger receives the worker's events. Default: discard.
	Logger *slog.Logger
	// Jitter returns a uniformly random duration in [0, d]. Default
	// math/rand/v2.
	Jitter func(d time.Duration) time.Duration
	// After waits like time.After. Default time.After.
	After func(d time.Duration) <-chan time.Time
	// Now is the clock of progress throttling. Default time.Now.
	Now func() time.Time
}

// Validate reports what is wrong with the configuration, all at once.
func (c WorkerConfig) Validate() error {
	var errs []error
	if err := c.Kafka.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Executor == nil {
		errs = append(errs, errors.New("no executor"))
	}
	if c.Ledger == nil || c.View == nil {
		errs = append(errs, errors.New("a ledger and a view are required"))
	} else if c.View.Topic() != c.Ledger.topic {
		errs = append(errs, fmt.Errorf("the view reads %s but the ledger writes %s", c.View.Topic(), c.Ledger.topic))
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"concurrency", c.Concurrency}, {"bulk concurrency", c.BulkConcurrency}, {"max attempts", c.MaxAttempts}} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("%s %d: want 0 (default) or more", f.name, f.v))
		}
	}
	for _, f := range []struct {
		name string
		v    time.Duration
	}{{"backoff base", c.BackoffBase}, {"backoff max", c.BackoffMax}, {"drain timeout", c.DrainTimeout},
		{"progress interval", c.ProgressInterval}, {"session timeout", c.SessionTimeout},
		{"heartbeat interval", c.HeartbeatInterval}, {"rebalance timeout", c.RebalanceTimeout}} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("%s %v: want 0 (default) or more", f.name, f.v))
		}
	}
	if c.BackoffBase > 0 && c.BackoffMax > 0 && c.BackoffMax < c.BackoffBase {
		errs = append(errs, fmt.Errorf("backoff max %v is below backoff base %v", c.BackoffMax, c.BackoffBase))
	}
	return errors.Join(errs...)
}

func (c WorkerConfig) withDefaults() WorkerConfig {
	if c.GroupID == "" {
		c.GroupID = DefaultGroupID
	}
	c.RequestsTopic = Topics{Requests: c.RequestsTopic}.withDefaults().Requests
	if c.InstanceID == "" {
		host, err := os.Hostname()
		if err != nil || host == "" {
			host = "worker"
		}
		c.InstanceID = host + "-" + strconv.Itoa(os.Getpid())
	}
	setDefault(&c.Concurrency, DefaultConcurrency)
	setDefault(&c.BulkConcurrency, DefaultBulkConcurrency)
	setDefault(&c.MaxAttempts, DefaultMaxAttempts)
	setDefault(&c.BackoffBase, DefaultBackoffBase)
	setDefault(&c.BackoffMax, max(DefaultBackoffMax, c.BackoffBase))
	setDefault(&c.DrainTimeout, DefaultDrainTimeout)
	setDefault(&c.ProgressInterval, DefaultProgressInterval)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Jitter == nil {
		c.Jitter = func(d time.Duration) time.Duration {
			if d <= 0 {
				return 0
			}
			return rand.N(d + 1)
		}
	}
	if c.After == nil {
		c.After = time.After
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v == 0 {
		*v = def
	}
}

// backoff is the most the wait after the nth failed attempt may be:
// base·2^(n-1), at most limit.
func backoff(n int, base, limit time.Duration) time.Duration {
	d := base
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// errCancelAsked is the cause of a run's context when a cancel was asked.
var errCancelAsked = errors.New("cancel asked")

// Worker takes requests from the requests topic as one member of a
// consumer group and runs them with the Executor, publishing each step on
// the ledger. Several Workers (on one or many machines) with one GroupID
// share the requests by partition.
type Worker struct {
	cfg     WorkerConfig
	log     *slog.Logger
	started atomic.Bool
}

// NewWorker returns a Worker; Run starts it.
func NewWorker(cfg WorkerConfig) (*Worker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("new worker: %w", err)
	}
	cfg = cfg.withDefaults()
	return &Worker{cfg: cfg, log: cfg.Logger.With("worker", cfg.InstanceID)}, nil
}

// ID returns the instance id the worker records in the runs it handles.
func (w *Worker) ID() string { return w.cfg.InstanceID }

// Run joins the consumer group and runs requests until ctx ends, then shuts
// down in two phases: it stops fetching, lets the runs in flight finish for
// up to DrainTimeout, then cancels them and publishes them queued again
// ("handed back") without committing their offsets, so that the next
// owner of their partitions takes them. It commits the offsets of the
// finished runs, leaves the group and returns nil. A Worker runs once.
func (w *Worker) Run(ctx context.Context) error {
	if !w.started.CompareAndSwap(false, true) {
		return errors.New("run worker: it ran already")
	}
	cfg := w.cfg
	r, err := topics.NewConsumer(cfg.Kafka, topics.ConsumerConfig{
		Group:             cfg.GroupID,
		Topic:             cfg.RequestsTopic,
		ClientID:          cfg.Kafka.WithDefaults().ClientID + "-" + cfg.InstanceID,
		SessionTimeout:    cfg.SessionTimeout,
		HeartbeatInterval: cfg.HeartbeatInterval,
		RebalanceTimeout:  cfg.RebalanceTimeout,
		Logger:            w.log,
	})
	if err != nil {
		return fmt.Errorf("run worker: %w", err)
	}
	// hard ends the runs in flight: only after the drain.
	hard, stopHard := context.WithCancel(context.WithoutCancel(ctx))
	defer stopHard()
	s := &session{
		w:        w,
		r:        r,
		intake:   ctx,
		hard:     hard,
		slots:    make(chan struct{}, cfg.Concurrency),
		inflight: map[jobKey]*job{},
	}
	w.log.Info("worker started", "group", cfg.GroupID, "topic", cfg.RequestsTopic, "concurrency", cfg.Concurrency)
	s.fetch()

	drained := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(drained)
	}()
	select {
	case <-drained:
	case <-cfg.After(cfg.DrainTimeout):
		w.log.Warn("drain timeout: cancelling the runs in flight", "drain_timeout", cfg.DrainTimeout)
		stopHard()
		<-drained
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
	s.commit(cctx)
	cancel()
	err = r.Close()
	w.log.Info("worker stopped")
	if err != nil {
		return fmt.Errorf("stop worker: %w", err)
	}
	return nil
}

// jobKey names a run's round: duplicates of one round wait for each other.
type jobKey struct {
	id    string
	retry int
}

// job is one request taken, with the messages that carried it (the first
// and any duplicates that arrived while it was in flight).
type job struct {
	key  jobKey
	req  Request
	msgs []topics.Message
}

// session is one Run of a Worker.
type session struct {
	w      *Worker
	r      *topics.Consumer
	intake context.Context // ends: stop fetching
	hard   context.Context // ends: cancel the runs in flight
	slots  chan struct{}   // a send takes a slot for a release or task request
	wg     sync.WaitGroup  // the runs in flight

	mu       sync.Mutex
	inflight map[jobKey]*job
	parked   []*job // bulk requests waiting for a bulk slot
	bulk     int    // bulk requests running
}

// fetch takes messages until the intake context ends.
func (s *session) fetch() {
	log := s.w.log
	wait := 50 * time.Millisecond
	for {
		select {
		case s.slots <- struct{}{}:
		case <-s.intake.Done():
			return
		}
		m, err := s.r.Fetch(s.intake)
		if err != nil {
			<-s.slots
			if s.intake.Err() != nil {
				return
			}
			log.Warn("fetch request", "error", err, "retry_in", wait)
			select {
			case <-s.intake.Done():
				return
			case <-s.w.cfg.After(wait):
			}
			wait = min(2*wait, 5*time.Second)
			continue
		}
		wait = 50 * time.Millisecond
		req, err := decodeRequest(s.r.Topic(), m)
		if err != nil {
			<-s.slots
			log.Error("skip undecodable request", "error", err)
			s.finish(nil, []topics.Message{m}, true)
			continue
		}
		s.take(m, req)
	}
}

// take starts the request req carried by m, holding a slot, or attaches m
// to the same round in flight, or parks a bulk request.
func (s *session) take(m topics.Message, req Request) {
	key := jobKey{id: req.ID, retry: req.Retry}
	s.mu.Lock()
	defer s.mu.Unlock()
	if j, ok := s.inflight[key]; ok {
		<-s.slots
		j.msgs = append(j.msgs, m)
		s.w.log.Debug("duplicate request waits for the one in flight", "run", req.ID, "offset", m.Offset)
		return
	}
	j := &job{key: key, req: req, msgs: []topics.Message{m}}
	s.inflight[key] = j
	if req.Kind != KindBulk {
		s.start(j, false)
		return
	}
	<-s.slots // bulk requests have slots of their own
	if s.bulk < s.w.cfg.BulkConcurrency {
		s.bulk++
		s.start(j, true)
		return
	}
	s.parked = append(s.parked, j)
	s.w.log.Info("bulk request parked: every bulk slot is busy", "run", req.ID, "parked", len(s.parked))
}

// start runs j in its own goroutine. s.mu is held.
func (s *session) start(j *job, bulk bool) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		done := s.w.handle(s.hard, j.req)
		s.finish(j, nil, done)
		if !bulk {
			<-s.slots
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.bulk--
		if len(s.parked) > 0 && s.intake.Err() == nil {
			next := s.parked[0]
			s.parked = s.parked[1:]
			s.bulk++
			s.start(next, true)
		}
	}()
}

// finish ends job j (or the loose messages msgs): when done, their work is
// on the ledger and their offsets may be committed.
func (s *session) finish(j *job, msgs []topics.Message, done bool) {
	if j != nil {
		s.mu.Lock()
		delete(s.inflight, j.key)
		msgs = j.msgs
		s.mu.Unlock()
	}
	if !done {
		return
	}
	s.r.Done(msgs...)
	if s.hard.Err() == nil { // else Run commits once more at the end
		s.commit(s.hard)
	}
}

// commit commits what the consumer allows. A failed commit is logged; the
// next one covers it.
func (s *session) commit(ctx context.Context) {
	if err := s.r.CommitDone(ctx); err != nil {
		s.w.log.Warn("commit offsets", "error", err)
	}
}

// handle runs one request to its end and reports whether that end is on
// the ledger (false: handed back, the offset must not be committed).
func (w *Worker) handle(ctx context.Context, req Request) bool {
	log := w.log.With("run", req.ID, "retry", req.Retry, "kind", req.Kind)
	sctx, cancel := context.WithTimeout(ctx, syncTimeout)
	if err := w.cfg.View.Sync(sctx); err != nil {
		log.Warn("decide on a view that may be behind", "error", err)
	}
	cancel()
	cur, ok := w.cfg.View.Get(req.ID)
	switch {
	case ok && cur.Request.Retry > req.Retry:
		log.Info("skip request of an earlier round", "run_retry", cur.Request.Retry)
		return true
	case ok && cur.Request.Retry == req.Retry && cur.Status.Final():
		log.Info("skip duplicate request of an ended run", "status", cur.Status)
		return w.publishEnd(ctx, cur) // keep the end the latest record of the key
	}
	run := Run{ID: req.ID, Request: req, Status: StatusQueued, CreatedAt: req.CreatedAt}
	if ok && cur.Request.Retry == req.Retry {
		run = cur
		run.Request = req
	}
	if run.Status == StatusCancelling {
		run.Status, run.Note, run.Worker = StatusCancelled, "cancelled before it started", w.cfg.InstanceID
		return w.publishEnd(ctx, run)
	}

	rctx, stop := context.WithCancelCause(ctx)
	var watch sync.WaitGroup
	watch.Add(1)
	go func() {
		defer watch.Done()
		_, err := w.cfg.View.Wait(rctx, req.ID, func(r Run) bool {
			return r.Request.Retry == req.Retry && r.Status == StatusCancelling
		})
		if err == nil {
			stop(errCancelAsked)
		}
	}()
	defer func() {
		stop(nil)
		watch.Wait()
	}()

	for {
		run.Attempt++
		if run.Attempt > w.cfg.MaxAttempts {
			run.Status, run.Worker = StatusFailed, w.cfg.InstanceID
			run.Error = fmt.Sprintf("gave up: %d attempts made in this round without an end (workers stopped during them)", run.Attempt-1)
			log.Error("run failed", "error", run.Error)
			return w.publishEnd(ctx, run)
		}
		run.Status, run.Worker, run.Note = StatusRunning, w.cfg.InstanceID, ""
		w.publish(rctx, run)
		log.Info("run attempt", "attempt", run.Attempt)
		rels, err := w.execute(rctx, &run)
		if err != nil && rctx.Err() != nil {
			return w.interrupted(ctx, rctx, run, rels)
		}
		switch {
		case err == nil:
			run.Status, run.Releases, run.Error = StatusSucceeded, rels, ""
			if noConsent(rels) {
				run.Status = StatusNoConsent
			}
			log.Info("run ended", "status", run.Status, "releases", len(rels))
			return w.publishEnd(ctx, run)
		case retryable(err) && run.Attempt < w.cfg.MaxAttempts:
			d := w.cfg.Jitter(backoff(run.Attempt, w.cfg.BackoffBase, w.cfg.BackoffMax))
			run.Error = err.Error()
			run.Note = fmt.Sprintf("attempt %d failed, retrying in %v", run.Attempt, d.Round(time.Millisecond))
			log.Warn("attempt failed, retrying", "attempt", run.Attempt, "error", err, "retry_in", d)
			w.publish(rctx, run)
			select {
			case <-rctx.Done():
				return w.interrupted(ctx, rctx, run, rels)
			case <-w.cfg.After(d):
			}
		default:
			run.Status, run.Releases, run.Error = StatusFailed, rels, err.Error()
			run.Note = fmt.Sprintf("failed at attempt %d", run.Attempt)
			log.Error("run failed", "attempt", run.Attempt, "error", err)
			return w.publishEnd(ctx, run)
		}
	}
}

// noConsent reports whether every release said no_consent.
func noConsent(rels []Release) bool {
	for _, r := range rels {
		if r.Status != release.StatusNoConsent {
			return false
		}
	}
	return len(rels) > 0
}

// interrupted ends a run whose context rctx ended: cancelled when a cancel
// was asked, else (shutdown) handed back.
func (w *Worker) interrupted(ctx, rctx context.Context, run Run, rels []Release) bool {
	if errors.Is(context.Cause(rctx), errCancelAsked) {
		run.Status, run.Releases, run.Error, run.Note = StatusCancelled, rels, "", "cancelled on request"
		w.log.Info("run cancelled", "run", run.ID)
		return w.publishEnd(ctx, run)
	}
	return w.handBack(ctx, run)
}

// execute calls the Executor once, publishing its progress at most every
// ProgressInterval. It updates run.Progress.
func (w *Worker) execute(ctx context.Context, run *Run) (rels []Release, err error) {
	var (
		mu       sync.Mutex
		finished bool
		last     time.Time
	)
	report := func(p Progress) {
		mu.Lock()
		defer mu.Unlock()
		if finished {
			return // the Executor returned: a late report must not follow the end
		}
		run.Progress = p
		if now := w.cfg.Now(); now.Sub(last) >= w.cfg.ProgressInterval {
			last = now
			w.publish(ctx, *run)
		}
	}
	defer func() {
		if v := recover(); v != nil {
			w.log.Error("executor panicked", "run", run.ID, "panic", v, "stack", string(debug.Stack()))
			err = fmt.Errorf("executor panicked: %v", v)
		}
		mu.Lock()
		finished = true
		mu.Unlock()
	}()
	return w.cfg.Executor.Execute(ctx, run.Request, report)
}

// publish writes a transient step of run. A cancel asked is kept (the
// View keeps it anyway; writing it keeps it in the compacted topic). A
// failure is logged: the end is what must be written.
func (w *Worker) publish(ctx context.Context, run Run) {
	if cur, ok := w.cfg.View.Get(run.ID); ok && cur.Request.Retry == run.Request.Retry && cur.Status == StatusCancelling {
		run.Status = StatusCancelling
	}
	if _, err := w.cfg.Ledger.Publish(ctx, run); err != nil && ctx.Err() == nil {
		w.log.Warn("publish run step", "run", run.ID, "status", run.Status, "error", err)
	}
}

// publishEnd writes the final run, trying again with backoff until it is
// written or the shutdown's hard phase; it reports whether it was written.
func (w *Worker) publishEnd(ctx context.Context, run Run) bool {
	for n := 1; ; n++ {
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
		_, err := w.cfg.Ledger.Publish(pctx, run)
		cancel()
		if err == nil {
			return true
		}
		d := w.cfg.Jitter(backoff(n, w.cfg.BackoffBase, w.cfg.BackoffMax))
		w.log.Error("publish run end", "run", run.ID, "status", run.Status, "error", err, "retry_in", d)
		select {
		case <-ctx.Done():
			return false // not written: the offset stays, the request comes again
		case <-w.cfg.After(d):
		}
	}
}

// handBack publishes run queued again after shutdown cancelled it; its
// offset is not committed, so the next owner of the partition takes it.
// It returns false, unless a cancel was asked meanwhile: then the run ends
// cancelled and true is returned.
func (w *Worker) handBack(ctx context.Context, run Run) bool {
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
	defer cancel()
	if cur, ok := w.cfg.View.Get(run.ID); ok && cur.Request.Retry == run.Request.Retry && cur.Status == StatusCancelling {
		run.Status, run.Error, run.Note = StatusCancelled, "", "cancelled on request"
		_, err := w.cfg.Ledger.Publish(pctx, run)
		return err == nil
	}
	run.Status, run.Worker, run.Error = StatusQueued, "", ""
	run.Attempt-- // not the request's fault
	run.Note = "handed back by " + w.cfg.InstanceID + ": shutting down"
	if _, err := w.cfg.Ledger.Publish(pctx, run); err != nil {
		w.log.Error("hand back run", "run", run.ID, "error", err)
		return false
	}
	w.log.Info("run handed back", "run", run.ID)
	// If another worker ended the run meanwhile, the View ignored the hand
	// back, but compaction would keep it: write the end again after it.
	if err := w.cfg.View.Sync(pctx); err == nil {
		if cur, ok := w.cfg.View.Get(run.ID); ok && cur.Request.Retry == run.Request.Retry && cur.Status.Final() {
			if _, err := w.cfg.Ledger.Publish(pctx, cur); err != nil {
				w.log.Warn("re-publish run end after hand back", "run", run.ID, "error", err)
			}
		}
	}
	return false
}
