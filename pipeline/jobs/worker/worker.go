// Package worker owns the workers of `midata serve`: members of one
// consumer group on midata.requests that take requests, hold a lease on
// each run they execute (a heartbeat on the ledger), call the Executor,
// put its progress, counts and release outcomes on the ledger, and commit
// a request's offset once its run's end is written. What is guaranteed is
// said in package jobs, which owns the records, the queue and the view.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/midata/midata/pipeline/jobs"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/pipeline/topics/consumer"
)

// Defaults of Config.
const (
	DefaultLeaseInterval    = 3 * time.Second
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

// Config configures a Worker. The zero value of every optional field
// means its default.
type Config struct {
	// Kafka is how to reach the cluster. Its Brokers are required.
	Kafka topics.Connection
	// GroupID is the consumer group the workers of every instance share.
	// Default jobs.DefaultGroupID.
	GroupID string
	// RequestsTopic is the topic of requests. Default topics.DefaultRequests.
	RequestsTopic string
	// InstanceID names this worker in the runs it handles. Default
	// <hostname>-<pid>.
	InstanceID string

	// Executor makes the releases. Required.
	Executor jobs.Executor
	// Ledger publishes the runs' steps. Required.
	Ledger *jobs.Ledger
	// View is the view of the Ledger's topic: the worker reads a run's
	// state from it before it starts (a duplicate is skipped) and watches
	// it for a cancel. Required.
	View *jobs.View

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
	// LeaseInterval is the time between two heartbeats of the lease on a
	// run the worker executes. Default 3s.
	LeaseInterval time.Duration
	// LeaseTTL is how long a lease holds after its last heartbeat
	// arrived: a worker that takes a request whose run is leased by
	// another waits until then. Default 3 × LeaseInterval.
	LeaseTTL time.Duration

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
	// Now is the clock of progress throttling and of leases; it must be
	// the View's (ViewConfig.Now). Default time.Now.
	Now func() time.Time
}

// Validate reports what is wrong with the configuration, all at once.
func (c Config) Validate() error {
	var errs []error
	if err := c.Kafka.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Executor == nil {
		errs = append(errs, errors.New("no executor"))
	}
	if c.Ledger == nil || c.View == nil {
		errs = append(errs, errors.New("a ledger and a view are required"))
	} else if c.View.Topic() != c.Ledger.Topic() {
		errs = append(errs, fmt.Errorf("the view reads %s but the ledger writes %s", c.View.Topic(), c.Ledger.Topic()))
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
		{"heartbeat interval", c.HeartbeatInterval}, {"rebalance timeout", c.RebalanceTimeout},
		{"lease interval", c.LeaseInterval}, {"lease ttl", c.LeaseTTL}} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("%s %v: want 0 (default) or more", f.name, f.v))
		}
	}
	if c.BackoffBase > 0 && c.BackoffMax > 0 && c.BackoffMax < c.BackoffBase {
		errs = append(errs, fmt.Errorf("backoff max %v is below backoff base %v", c.BackoffMax, c.BackoffBase))
	}
	if c.LeaseInterval > 0 && c.LeaseTTL > 0 && c.LeaseTTL <= c.LeaseInterval {
		errs = append(errs, fmt.Errorf("lease ttl %v is not above lease interval %v: a live lease would expire between heartbeats", c.LeaseTTL, c.LeaseInterval))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.GroupID == "" {
		c.GroupID = jobs.DefaultGroupID
	}
	if c.RequestsTopic == "" {
		c.RequestsTopic = topics.DefaultRequests
	}
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
	setDefault(&c.LeaseInterval, DefaultLeaseInterval)
	setDefault(&c.LeaseTTL, 3*c.LeaseInterval)
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
	cfg     Config
	log     *slog.Logger
	started atomic.Bool
}

// New returns a Worker; Run starts it.
func New(cfg Config) (*Worker, error) {
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
	r, err := consumer.New(cfg.Kafka, consumer.Config{
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
	req  jobs.Request
	msgs []topics.Message
}

// session is one Run of a Worker.
type session struct {
	w      *Worker
	r      *consumer.Consumer
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
		req, err := jobs.DecodeRequest(s.r.Topic(), m)
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
func (s *session) take(m topics.Message, req jobs.Request) {
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
	if req.Kind != jobs.KindBulk {
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
		done := s.w.handle(s.intake, s.hard, j.req)
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
