package schedule

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"
)

// Clock tells the time and waits: the Scheduler's only source of time, so
// that tests drive it without sleeping.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

// SystemClock is the Clock of the machine: time.Now and time.After.
type SystemClock struct{}

var _ Clock = SystemClock{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// After returns time.After(d).
func (SystemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Source gives the Scheduler the schedules, e.g. the view of the schedules
// topic, or a List from the config file.
type Source interface {
	// Schedules returns a snapshot of the schedules, which the caller
	// does not modify.
	Schedules() []Schedule
	// Changed returns a channel that receives a value, or is closed, when
	// the schedules change after the call; nil if they never change. The
	// Scheduler calls it before Schedules on each turn, so either style loses
	// no change; a closed channel must not be returned again.
	Changed() <-chan struct{}
}

// List is a Source of schedules that never change.
type List []Schedule

var _ Source = List(nil)

// Schedules returns l.
func (l List) Schedules() []Schedule { return l }

// Changed returns nil: l never changes.
func (List) Changed() <-chan struct{} { return nil }

// Config configures a Scheduler.
type Config struct {
	// Source gives the schedules. Required.
	Source Source
	// Fire queues one firing, honouring ctx, and returns once it is
	// durably queued. Several instances fire the same firings with the same
	// ids: downstream makes one release of each id. Required.
	Fire func(ctx context.Context, f Firing) error
	// Clock tells the time and waits. Default SystemClock{}.
	Clock Clock
	// Logger receives warnings (invalid schedules, dropped fire times,
	// failed firings) and a debug line per firing. Default: discard.
	Logger *slog.Logger
	// MaxWait is the longest the Scheduler waits without looking at the
	// clock again, so that it notices the wall clock being set. Default 1m.
	MaxWait time.Duration
	// RetryDelay is the wait before a failed firing is tried again; it
	// doubles with each failure in a row, up to MaxRetryDelay. Defaults 10s
	// and 5m.
	RetryDelay, MaxRetryDelay time.Duration
}

// Validate checks the config, defaults applied.
func (c Config) Validate() error {
	var errs []error
	if c.Source == nil {
		errs = append(errs, errors.New("Source is nil: give the schedules"))
	}
	if c.Fire == nil {
		errs = append(errs, errors.New("Fire is nil: give the function that queues a firing"))
	}
	if c.MaxWait < 0 || c.RetryDelay < 0 || c.MaxRetryDelay < 0 {
		errs = append(errs, fmt.Errorf("MaxWait %s, RetryDelay %s, MaxRetryDelay %s: want 0 (default) or more", c.MaxWait, c.RetryDelay, c.MaxRetryDelay))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("scheduler config: %w", err)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Clock == nil {
		c.Clock = SystemClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.MaxWait == 0 {
		c.MaxWait = time.Minute
	}
	if c.RetryDelay == 0 {
		c.RetryDelay = 10 * time.Second
	}
	if c.MaxRetryDelay == 0 {
		c.MaxRetryDelay = 5 * time.Minute
	}
	return c
}

// Scheduler fires the schedules of a Source when they are due. Run it on
// every instance that schedules: the firings' ids are the same everywhere.
//
// What it fires: for each schedule not paused, every fire time after the
// later of the moment the Scheduler first saw it and the moment it was last
// resumed. The fire times before (while the process was down, or while
// paused) are not caught up: a restart starts from now. A stall in
// between (a suspended machine) fires the missed times, at most MaxDue of
// them per schedule (the latest).
//
// When Fire fails, the Scheduler logs it and tries that firing again, with
// the later ones of its schedule, after RetryDelay, doubling up to
// MaxRetryDelay, until it succeeds or the schedule is paused or deleted;
// other schedules go on firing meanwhile.
type Scheduler struct {
	cfg Config

	// The state of Run, kept between turns; only Run's goroutine touches it.
	state  map[string]*progress // per valid schedule in the source
	warned map[warning]string   // the problem logged last, so it is logged once
}

// progress is how far the Scheduler has fired one schedule.
type progress struct {
	last     time.Time // every fire time up to here is fired
	paused   bool      // as of the last turn
	failures int       // failed firings in a row
	retryAt  time.Time // with failures: when to fire again
}

// warning names a kind of problem of one schedule.
type warning struct{ id, kind string }

// NewScheduler returns a Scheduler for cfg, or the error of cfg.Validate.
func NewScheduler(cfg Config) (*Scheduler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Scheduler{cfg: cfg.withDefaults()}, nil
}

// Run fires the schedules as they fall due until ctx is done, then returns
// nil. It blocks; call it once, from the goroutine that owns it.
func (r *Scheduler) Run(ctx context.Context) error {
	r.state = make(map[string]*progress)
	r.warned = make(map[warning]string)
	for {
		changed := r.cfg.Source.Changed()
		wait := r.turn(ctx, r.cfg.Clock.Now().UTC(), r.cfg.Source.Schedules())
		if ctx.Err() != nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		case <-r.cfg.Clock.After(wait):
		}
	}
}

// active is a schedule that may fire, with its parsed spec.
type active struct {
	Schedule
	t timetable
	p *progress
}

// turn fires what is due at now and returns how long to wait for the next.
func (r *Scheduler) turn(ctx context.Context, now time.Time, schedules []Schedule) time.Duration {
	actives := r.actives(ctx, now, schedules)

	var due []Firing
	for _, a := range actives {
		if a.p.failures > 0 && now.Before(a.p.retryAt) {
			continue
		}
		fs, dropped := a.due(a.t, a.p.last, now)
		if dropped {
			r.cfg.Logger.WarnContext(ctx, "schedule missed more fire times than it fires at once: the older are dropped",
				"schedule", a.ID, "since", a.p.last, "now", now, "firing", len(fs))
		}
		due = append(due, fs...)
	}
	slices.SortFunc(due, func(a, b Firing) int {
		return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.ScheduleID, b.ScheduleID))
	})
	failed := make(map[string]bool)
	for _, f := range due {
		if failed[f.ScheduleID] {
			continue
		}
		err := r.cfg.Fire(ctx, f)
		if ctx.Err() != nil {
			return 0
		}
		if err != nil {
			failed[f.ScheduleID] = true
			p := r.state[f.ScheduleID]
			p.failures++
			p.retryAt = now.Add(r.backoff(p.failures))
			p.last = f.At.Add(-time.Nanosecond) // so that Due gives f again
			r.cfg.Logger.WarnContext(ctx, "schedule firing failed: retrying later",
				"schedule", f.ScheduleID, "firing", f.ID, "failures", p.failures, "retry_at", p.retryAt, "err", err)
			continue
		}
		r.cfg.Logger.DebugContext(ctx, "schedule fired", "schedule", f.ScheduleID, "firing", f.ID, "from", f.From, "to", f.To)
	}

	next := now.Add(r.cfg.MaxWait)
	for _, a := range actives {
		if a.p.failures > 0 && (failed[a.ID] || now.Before(a.p.retryAt)) {
			next = earliest(next, a.p.retryAt)
			continue
		}
		a.p.failures, a.p.retryAt = 0, time.Time{}
		if a.p.last.Before(now) {
			a.p.last = now
		}
		if at := a.t.Next(now); !at.IsZero() {
			next = earliest(next, at)
		}
	}
	return max(next.Sub(now), 0)
}

// actives returns the valid, unpaused schedules, sorted by id, and brings
// the Scheduler's state up to date: a schedule new, paused or just resumed
// starts from now, a deleted or invalid one is forgotten.
func (r *Scheduler) actives(ctx context.Context, now time.Time, schedules []Schedule) []active {
	sorted := slices.Clone(schedules)
	slices.SortStableFunc(sorted, func(a, b Schedule) int { return cmp.Compare(a.ID, b.ID) })
	seen := make(map[string]bool, len(sorted))
	var out []active
	for _, s := range sorted {
		if seen[s.ID] {
			r.warnOnce(ctx, warning{s.ID, "twice"}, "twice in the source: the first is used", "spec", s.Spec)
			continue
		}
		seen[s.ID] = true
		t, err := parseTimetable(s.Spec)
		if err == nil {
			err = s.Validate()
		}
		if err != nil {
			r.warnOnce(ctx, warning{s.ID, "invalid"}, "invalid: not firing", "err", err)
			delete(r.state, s.ID)
			continue
		}
		delete(r.warned, warning{s.ID, "invalid"})
		p, ok := r.state[s.ID]
		if !ok || s.Paused || p.paused {
			p = &progress{last: now}
			r.state[s.ID] = p
		}
		p.paused = s.Paused
		if !s.Paused {
			out = append(out, active{Schedule: s, t: t, p: p})
		}
	}
	for id := range r.state {
		if !seen[id] {
			delete(r.state, id)
		}
	}
	for w := range r.warned {
		if !seen[w.id] {
			delete(r.warned, w)
		}
	}
	return out
}

// warnOnce logs a problem of a schedule unless it is the one logged last.
func (r *Scheduler) warnOnce(ctx context.Context, w warning, problem string, args ...any) {
	text := fmt.Sprint(problem, args)
	if r.warned[w] == text {
		return
	}
	r.warned[w] = text
	r.cfg.Logger.WarnContext(ctx, "schedule "+problem, append([]any{"schedule", w.id}, args...)...)
}

// backoff returns the wait after the n-th failure in a row (n ≥ 1).
func (r *Scheduler) backoff(n int) time.Duration {
	d := r.cfg.RetryDelay
	for i := 1; i < n && d < r.cfg.MaxRetryDelay; i++ {
		d *= 2
	}
	return min(d, r.cfg.MaxRetryDelay)
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
