package schedule

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// sched returns a valid schedule with the given id and spec.
func sched(id, spec string) Schedule {
	s := valid()
	s.ID, s.Spec = id, spec
	return s
}

func TestRunnerFiresEachFireTimeOnceFromItsStart(t *testing.T) {
	t.Parallel()
	h := start(t, utc(t, "2026-01-01T10:30:00Z"), List{sched("hourly", "0 * * * *")}, nil)
	if want := utc(t, "2026-01-01T11:00:00Z"); !h.pending.Equal(want) {
		t.Errorf("first wait until %s, want the next fire time %s", h.pending, want)
	}
	h.advanceTo(utc(t, "2026-01-01T13:30:00Z"))
	got := h.take()
	want := []string{"hourly@2026-01-01T11:00:00Z", "hourly@2026-01-01T12:00:00Z", "hourly@2026-01-01T13:00:00Z"}
	if ids := ids(firings(got)); !slices.Equal(ids, want) {
		t.Fatalf("fired %q, want %q (10:00, before the start, is not caught up)", ids, want)
	}
	for _, f := range got {
		if !f.now.Equal(f.At) {
			t.Errorf("%s fired at %s, not at its time", f.ID, f.now)
		}
	}
}

func firings(fs []firingAt) []Firing {
	out := make([]Firing, 0, len(fs))
	for _, f := range fs {
		out = append(out, f.Firing)
	}
	return out
}

func TestRunnerFiresSchedulesInTimeThenIDOrder(t *testing.T) {
	t.Parallel()
	src := List{sched("b", "0 */2 * * *"), sched("a", "0 * * * *"), sched("c", "30 * * * *")}
	h := start(t, utc(t, "2026-01-01T00:00:00Z"), src, nil)
	h.jump(utc(t, "2026-01-01T02:00:00Z")) // all due in one turn
	want := []string{"c@2026-01-01T00:30:00Z", "a@2026-01-01T01:00:00Z", "c@2026-01-01T01:30:00Z", "a@2026-01-01T02:00:00Z", "b@2026-01-01T02:00:00Z"}
	if got := h.takeIDs(); !slices.Equal(got, want) {
		t.Errorf("fired %q, want %q", got, want)
	}
}

func TestTwoRunnersOnTwoClocksFireTheSameIDs(t *testing.T) {
	t.Parallel()
	src := List{
		sched("london-daily", "CRON_TZ=Europe/London 0 1 * * *"),
		sched("every-7h", "@every 7h"),
		sched("seconds", "30 15 */5 * * *"),
		sched("monthly", "CRON_TZ=Europe/London @monthly"),
	}
	end := utc(t, "2026-04-03T00:00:00Z")
	// Two instances started at different times, looking at the clock at
	// different moments (MaxWait differs), over the spring change.
	a := start(t, utc(t, "2026-03-26T00:00:00Z"), src, func(c *Config) { c.MaxWait = 7 * time.Minute })
	b := start(t, utc(t, "2026-03-27T05:17:03.25Z"), src, func(c *Config) { c.MaxWait = time.Hour })
	a.advanceTo(end)
	b.advanceTo(end)
	fa, fb := firings(a.take()), firings(b.take())
	bStart := utc(t, "2026-03-27T05:17:03.25Z")
	var common []Firing
	for _, f := range fa {
		if f.At.After(bStart) {
			common = append(common, f)
		}
	}
	if len(fb) < 10 || !slices.EqualFunc(common, fb, func(x, y Firing) bool { return x.ID == y.ID && x.From.Equal(y.From) && x.To.Equal(y.To) }) {
		t.Fatalf("instance A fired, after B started:\n %q\ninstance B fired:\n %q", ids(common), ids(fb))
	}
	for _, want := range []string{
		"london-daily@2026-03-28T01:00:00Z", "london-daily@2026-03-29T01:00:00Z", "london-daily@2026-03-30T00:00:00Z",
		"monthly@2026-03-31T23:00:00Z",
	} {
		if !slices.Contains(ids(fb), want) {
			t.Errorf("B did not fire %s", want)
		}
	}
	every := 0
	for _, f := range fb {
		if f.ScheduleID == "every-7h" {
			every++
			if f.At.Unix()%(7*3600) != 0 {
				t.Errorf("%s is not a multiple of 7h since the epoch", f.ID)
			}
		}
	}
	if every != 23 { // 162.7 hours
		t.Errorf("B fired every-7h %d times in 162.7 hours, want 23", every)
	}
}

func TestRunnerPauseStopsFiringAndResumeDoesNotCatchUp(t *testing.T) {
	t.Parallel()
	s := sched("hourly", "0 * * * *")
	src := newFakeSource(s)
	h := start(t, utc(t, "2026-01-01T10:30:00Z"), src, nil)
	h.advanceTo(utc(t, "2026-01-01T11:30:00Z"))
	if got := h.takeIDs(); !slices.Equal(got, []string{"hourly@2026-01-01T11:00:00Z"}) {
		t.Fatalf("before the pause: fired %q", got)
	}

	s.Paused = true
	src.put(s)
	h.changed()
	h.advanceTo(utc(t, "2026-01-01T14:15:00Z")) // the Scheduler last looked at 13:30
	if got := h.takeIDs(); len(got) != 0 {
		t.Fatalf("while paused: fired %q", got)
	}

	s.Paused = false
	src.put(s)
	h.changed()
	h.advanceTo(utc(t, "2026-01-01T16:00:00Z"))
	want := []string{"hourly@2026-01-01T15:00:00Z", "hourly@2026-01-01T16:00:00Z"}
	if got := h.takeIDs(); !slices.Equal(got, want) {
		t.Errorf("after the resume at 14:15: fired %q, want %q", got, want)
	}
}

func TestRunnerChangedWakesTheLoop(t *testing.T) {
	t.Parallel()
	src := newFakeSource()
	h := start(t, utc(t, "2026-01-01T10:00:00Z"), src, nil) // MaxWait 1h
	if want := utc(t, "2026-01-01T11:00:00Z"); !h.pending.Equal(want) {
		t.Fatalf("with no schedules: waits until %s, want MaxWait later, %s", h.pending, want)
	}
	h.advanceTo(utc(t, "2026-01-01T10:02:00Z"))
	src.put(sched("soon", "5 10 * * *"))
	if got, want := h.changed(), utc(t, "2026-01-01T10:05:00Z"); !got.Equal(want) {
		t.Fatalf("after the change: waits until %s, want the new schedule's fire time %s", got, want)
	}
	h.advanceTo(utc(t, "2026-01-01T10:06:00Z"))
	if got := h.takeIDs(); !slices.Equal(got, []string{"soon@2026-01-01T10:05:00Z"}) {
		t.Errorf("fired %q, want the new schedule at 10:05", got)
	}

	src.remove("soon")
	h.changed()
	h.advanceTo(utc(t, "2026-01-03T00:00:00Z"))
	if got := h.takeIDs(); len(got) != 0 {
		t.Errorf("after its deletion: fired %q", got)
	}
}

func TestRunnerChangedSpecTakesEffect(t *testing.T) {
	t.Parallel()
	s := sched("s", "0 12 * * *")
	src := newFakeSource(s)
	h := start(t, utc(t, "2026-01-01T10:00:00Z"), src, nil)
	h.advanceTo(utc(t, "2026-01-01T10:10:00Z"))
	s.Spec = "15 10 * * *"
	src.put(s)
	h.changed()
	h.advanceTo(utc(t, "2026-01-01T12:30:00Z"))
	if got := h.takeIDs(); !slices.Equal(got, []string{"s@2026-01-01T10:15:00Z"}) {
		t.Errorf("fired %q, want the new spec's 10:15 only", got)
	}
}

func TestRunnerSkipsInvalidSchedulesAndFiresTheOthers(t *testing.T) {
	t.Parallel()
	bad := sched("bad", "61 * * * *")
	dup := sched("good", "30 * * * *") // the same id twice: the first (in source order) wins
	h := start(t, utc(t, "2026-01-01T10:00:00Z"), List{bad, sched("good", "0 * * * *"), dup}, nil)
	h.advanceTo(utc(t, "2026-01-01T12:00:00Z"))
	want := []string{"good@2026-01-01T11:00:00Z", "good@2026-01-01T12:00:00Z"}
	if got := h.takeIDs(); !slices.Equal(got, want) {
		t.Errorf("fired %q, want %q", got, want)
	}
}

func TestRunnerRetriesAFailedFiringWithBackoff(t *testing.T) {
	t.Parallel()
	src := List{sched("flaky", "0 * * * *"), sched("steady", "0,1 11 * * *")}
	h := start(t, utc(t, "2026-01-01T10:30:00Z"), src, func(c *Config) {
		c.RetryDelay, c.MaxRetryDelay = 10*time.Second, 25*time.Second
	})
	attempts := 0
	h.setFail(func(f Firing) error {
		if f.ScheduleID != "flaky" {
			return nil
		}
		attempts++
		if attempts <= 3 {
			return errors.New("queue unavailable")
		}
		return nil
	})
	h.advanceTo(utc(t, "2026-01-01T12:00:00Z"))
	type call struct{ id, now string }
	var got []call
	for _, f := range h.take() {
		got = append(got, call{f.ID, f.now.Format("15:04:05")})
	}
	want := []call{
		{"flaky@2026-01-01T11:00:00Z", "11:00:00"},  // fails
		{"steady@2026-01-01T11:00:00Z", "11:00:00"}, // other schedules go on
		{"flaky@2026-01-01T11:00:00Z", "11:00:10"},  // fails: 10s
		{"flaky@2026-01-01T11:00:00Z", "11:00:30"},  // fails: 20s
		{"flaky@2026-01-01T11:00:00Z", "11:00:55"},  // succeeds: 40s capped at 25s
		{"steady@2026-01-01T11:01:00Z", "11:01:00"},
		{"flaky@2026-01-01T12:00:00Z", "12:00:00"}, // fired once, no retry left over
	}
	if !slices.Equal(got, want) {
		t.Errorf("calls of Fire:\n got %v\nwant %v", got, want)
	}
}

func TestRunnerRetriesHoldBackTheLaterFiringsOfTheirSchedule(t *testing.T) {
	t.Parallel()
	h := start(t, utc(t, "2026-01-01T10:59:00Z"), List{sched("m", "* * * * *")}, func(c *Config) {
		c.RetryDelay, c.MaxRetryDelay = 90*time.Second, 90*time.Second
	})
	h.setFail(func(Firing) error { return errors.New("down") })
	h.advanceTo(utc(t, "2026-01-01T11:00:00Z"))
	if got := h.takeIDs(); !slices.Equal(got, []string{"m@2026-01-01T11:00:00Z"}) {
		t.Fatalf("fired %q", got)
	}
	h.setFail(nil)
	h.advanceTo(utc(t, "2026-01-01T11:01:30Z"))
	want := []string{"m@2026-01-01T11:00:00Z", "m@2026-01-01T11:01:00Z"} // at the retry, in order
	if got := h.take(); !slices.Equal(ids(firings(got)), want) || !got[0].now.Equal(utc(t, "2026-01-01T11:01:30Z")) {
		t.Errorf("fired %q at %v, want %q at 11:01:30", ids(firings(got)), got, want)
	}
}

func TestRunnerRetryDoesNotRefireWhatWentThrough(t *testing.T) {
	t.Parallel()
	h := start(t, utc(t, "2026-01-01T10:00:30Z"), List{sched("m", "* * * * *")}, func(c *Config) {
		c.RetryDelay = 30 * time.Second
	})
	h.setFail(func(f Firing) error {
		if f.ID == "m@2026-01-01T10:02:00Z" {
			return errors.New("down")
		}
		return nil
	})
	h.jump(utc(t, "2026-01-01T10:03:30Z")) // a stall: 10:01, 10:02 and 10:03 are due at once
	h.setFail(nil)
	h.advanceTo(utc(t, "2026-01-01T10:04:00Z"))
	want := []string{
		"m@2026-01-01T10:01:00Z", "m@2026-01-01T10:02:00Z", // fails, so 10:03 waits
		"m@2026-01-01T10:02:00Z", "m@2026-01-01T10:03:00Z", // the retry at 10:04:00, without 10:01
		"m@2026-01-01T10:04:00Z",
	}
	if got := h.takeIDs(); !slices.Equal(got, want) {
		t.Errorf("fired\n %q\nwant\n %q", got, want)
	}
}

func TestRunnerAfterAStallFiresTheLatestMaxDue(t *testing.T) {
	t.Parallel()
	h := start(t, utc(t, "2026-01-01T00:00:30Z"), List{sched("m", "* * * * *")}, nil)
	h.jump(utc(t, "2026-01-01T05:00:30Z")) // 300 fire times passed
	got := h.takeIDs()
	if len(got) != MaxDue || got[0] != "m@2026-01-01T03:21:00Z" || got[MaxDue-1] != "m@2026-01-01T05:00:00Z" {
		t.Errorf("after the stall: %d firings, %q … %q; want %d from 03:21 to 05:00", len(got), got[0], got[len(got)-1], MaxDue)
	}
}

func TestRunnerDoesNotFireAgainWhenTheClockGoesBack(t *testing.T) {
	t.Parallel()
	h := start(t, utc(t, "2026-01-01T10:30:00Z"), List{sched("hourly", "0 * * * *")}, func(c *Config) { c.MaxWait = time.Minute })
	h.advanceTo(utc(t, "2026-01-01T11:30:00Z"))
	if got := h.takeIDs(); len(got) != 1 {
		t.Fatalf("fired %q", got)
	}
	h.clock.set(utc(t, "2026-01-01T10:45:00Z")) // the wall clock is set back,
	h.clock.expire()                            // and the Scheduler's minute passes
	h.awaitWait()
	h.advanceTo(utc(t, "2026-01-01T11:59:00Z"))
	if got := h.takeIDs(); len(got) != 0 {
		t.Errorf("fired %q again", got)
	}
}

func TestRunnerStopsWhenCtxEnds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		block bool // Fire blocks until its ctx ends
	}{
		{name: "while it waits"},
		{name: "while Fire blocks", block: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock(utc(t, "2026-01-01T10:59:00Z"))
			firing := make(chan struct{}, 1)
			r, err := NewScheduler(Config{
				Source: List{sched("hourly", "0 * * * *")}, Clock: clock,
				Fire: func(ctx context.Context, f Firing) error {
					firing <- struct{}{}
					<-ctx.Done()
					return ctx.Err()
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() { done <- r.Run(ctx) }()
			<-clock.waits
			if tt.block {
				clock.set(utc(t, "2026-01-01T11:00:00Z"))
				select {
				case <-firing:
				case <-time.After(failAfter):
					t.Fatal("Fire not called")
				}
			}
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run = %v, want nil", err)
				}
			case <-time.After(failAfter):
				t.Fatal("Run did not return after ctx ended")
			}
		})
	}
}

func TestNewRunnerChecksItsConfig(t *testing.T) {
	t.Parallel()
	fire := func(context.Context, Firing) error { return nil }
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"a config without a source is refused", Config{Fire: fire}, "Source is nil"},
		{"a config without Fire is refused", Config{Source: List{}}, "Fire is nil"},
		{"a negative wait is refused", Config{Source: List{}, Fire: fire, MaxWait: -time.Second}, "MaxWait -1s"},
		{"a config with a source and Fire is enough", Config{Source: List{}, Fire: fire}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := NewScheduler(tt.cfg)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("NewScheduler: %v", err)
				}
				if r.cfg.MaxWait != time.Minute || r.cfg.Clock != (SystemClock{}) {
					t.Errorf("NewScheduler = %+v, %v; want the defaults", r, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewScheduler: %v, want %q", err, tt.want)
			}
		})
	}
}
