package schedule

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

// failAfter bounds every wait of a test for the Scheduler: reaching it is a
// failure, not a way of synchronising.
const failAfter = 10 * time.Second

// fakeClock is a Clock that moves only when the test sets it. Each call of
// After is announced on waits, so the test knows when the Scheduler waits and
// for how long.
type fakeClock struct {
	waits chan time.Time // the deadline of each After call

	mu     sync.Mutex
	now    time.Time
	timers []fakeTimer
}

type fakeTimer struct {
	at time.Time
	ch chan time.Time
}

var _ Clock = (*fakeClock)(nil)

func newFakeClock(now time.Time) *fakeClock {
	return &fakeClock{now: now, waits: make(chan time.Time, 1000)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.mu.Lock()
	at := c.now.Add(d)
	if d <= 0 {
		ch <- c.now
	} else {
		c.timers = append(c.timers, fakeTimer{at: at, ch: ch})
	}
	c.mu.Unlock()
	c.waits <- at
	return ch
}

// set moves the clock to now (forward or back) and fires the timers due.
func (c *fakeClock) set(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = now
	c.timers = slices.DeleteFunc(c.timers, func(tm fakeTimer) bool {
		if tm.at.After(now) {
			return false
		}
		tm.ch <- now
		return true
	})
}

// expire fires every timer, as if the waits had passed while the wall
// clock was set elsewhere.
func (c *fakeClock) expire() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, tm := range c.timers {
		tm.ch <- c.now
	}
	c.timers = nil
}

// fakeSource is a Source whose schedules the test changes.
type fakeSource struct {
	mu        sync.Mutex
	schedules []Schedule
	changed   chan struct{} // closed on the next change
}

var _ Source = (*fakeSource)(nil)

func newFakeSource(schedules ...Schedule) *fakeSource {
	return &fakeSource{schedules: schedules, changed: make(chan struct{})}
}

func (s *fakeSource) Schedules() []Schedule {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.schedules)
}

func (s *fakeSource) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// put replaces (or adds) the schedule of s.ID and announces the change.
func (s *fakeSource) put(sched Schedule) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.schedules, func(x Schedule) bool { return x.ID == sched.ID })
	if i < 0 {
		s.schedules = append(s.schedules, sched)
	} else {
		s.schedules[i] = sched
	}
	close(s.changed)
	s.changed = make(chan struct{})
}

// remove deletes the schedule id and announces the change.
func (s *fakeSource) remove(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.schedules = slices.DeleteFunc(s.schedules, func(x Schedule) bool { return x.ID == id })
	close(s.changed)
	s.changed = make(chan struct{})
}

// firingAt is a call of Fire: the firing and the clock's time then.
type firingAt struct {
	Firing
	now time.Time
}

// harness runs a Scheduler on a fake clock and records its firings.
type harness struct {
	t       *testing.T
	clock   *fakeClock
	pending time.Time // the deadline the Scheduler waits for; zero: not heard yet

	mu    sync.Mutex
	fired []firingAt
	fail  func(Firing) error // nil: every firing succeeds
}

// start runs a Scheduler over src on a fake clock at now until the test ends,
// and waits for its first wait.
func start(t *testing.T, now time.Time, src Source, tune func(*Config)) *harness {
	t.Helper()
	h := &harness{t: t, clock: newFakeClock(now)}
	cfg := Config{Source: src, Clock: h.clock, Fire: h.fire, MaxWait: time.Hour}
	if tune != nil {
		tune(&cfg)
	}
	r, err := NewScheduler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(failAfter):
			t.Errorf("Run did not return within %s of its ctx ending", failAfter)
		}
	})
	h.awaitWait()
	return h
}

func (h *harness) fire(ctx context.Context, f Firing) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fired = append(h.fired, firingAt{Firing: f, now: h.clock.Now()})
	if h.fail != nil {
		return h.fail(f)
	}
	return nil
}

// setFail makes Fire fail as fail says.
func (h *harness) setFail(fail func(Firing) error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fail = fail
}

// awaitWait waits for the Scheduler's next call of After, i.e. until it has
// finished its turn, and notes its deadline.
func (h *harness) awaitWait() time.Time {
	h.t.Helper()
	select {
	case at := <-h.clock.waits:
		h.pending = at
		return at
	case <-time.After(failAfter):
		h.t.Fatalf("the Scheduler did not wait within %s", failAfter)
		return time.Time{}
	}
}

// advanceTo moves the clock to target, stopping at every deadline the
// Scheduler waits for on the way and letting it finish that turn. On return,
// every fire time up to target has been fired.
func (h *harness) advanceTo(target time.Time) {
	h.t.Helper()
	for {
		if h.pending.IsZero() {
			h.awaitWait()
		}
		if h.pending.After(target) {
			h.clock.set(target)
			return
		}
		at := h.pending
		h.pending = time.Time{}
		h.clock.set(at)
	}
}

// jump sets the clock straight to now, past the Scheduler's deadline (a stall:
// the machine slept), and waits for the Scheduler's turn.
func (h *harness) jump(now time.Time) {
	h.t.Helper()
	if !h.pending.IsZero() && now.Before(h.pending) {
		h.t.Fatalf("jump to %s does not pass the deadline %s", now, h.pending)
	}
	h.clock.set(now)
	h.awaitWait()
}

// changed waits for the Scheduler's turn after the source announced a change.
func (h *harness) changed() time.Time {
	h.t.Helper()
	return h.awaitWait()
}

// take returns the firings so far and forgets them.
func (h *harness) take() []firingAt {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.fired
	h.fired = nil
	return out
}

// takeIDs returns the ids of the firings so far and forgets them.
func (h *harness) takeIDs() []string {
	var out []string
	for _, f := range h.take() {
		out = append(out, f.ID)
	}
	return out
}
