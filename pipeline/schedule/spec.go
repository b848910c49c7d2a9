package schedule

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// specParser reads the syntax of a spec without its zone prefix.
var specParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// specHint is appended to every spec error: what a spec looks like.
const specHint = `want 5 fields "minute hour day-of-month month day-of-week", 6 with seconds first, ` +
	`optionally after CRON_TZ=<zone>, or @yearly, @monthly, @weekly, @daily, @hourly, @every <duration>`

// Parse reads a cron spec (see the package doc for the syntax) into a
// cron.Schedule whose Next follows this package's rules: zone UTC unless
// the spec names one, each wall-clock time fired once across clock changes,
// @every anchored at the Unix epoch. Its Next returns the zero time when the
// spec never fires again. Errors wrap ErrInvalid and quote the spec.
func Parse(spec string) (cron.Schedule, error) {
	t, err := parseTimetable(spec)
	if err != nil {
		return nil, err
	}
	return t, nil
}

// InZone returns spec with its zone written out: spec itself when it names
// one (CRON_TZ= or TZ=) or loc is UTC (a spec's default), else spec
// after CRON_TZ=<loc>. midata serve gives
// every schedule made without a zone the organisation's time zone this
// way, when it is made, so its wall clock and its periods are calendar
// days there, and every instance reads the same zone from the schedule.
func InZone(spec string, loc *time.Location) string {
	s := strings.TrimSpace(spec)
	if loc == nil || loc == time.UTC || s == "" || strings.HasPrefix(s, "TZ=") || strings.HasPrefix(s, "CRON_TZ=") {
		return spec
	}
	return "CRON_TZ=" + loc.String() + " " + s
}

// timetable is a parsed spec: the fire times of a schedule.
type timetable struct {
	loc   *time.Location // the zone of the wall clock and of the period's calendar
	wall  cron.Schedule  // the fields, matched against the wall clock written as UTC; nil for @every
	every time.Duration  // for @every: the step from the Unix epoch, whole seconds, at least 1s
}

var _ cron.Schedule = timetable{}

func parseTimetable(spec string) (timetable, error) {
	fail := func(format string, args ...any) (timetable, error) {
		return timetable{}, invalidf("spec %q: %s (%s)", spec, fmt.Sprintf(format, args...), specHint)
	}
	rest := strings.TrimSpace(spec)
	if rest == "" {
		return fail("empty")
	}
	loc := time.UTC
	if strings.HasPrefix(rest, "TZ=") || strings.HasPrefix(rest, "CRON_TZ=") {
		prefix, after, ok := strings.Cut(rest, " ")
		if !ok {
			return fail("nothing after the zone %s", prefix)
		}
		_, name, _ := strings.Cut(prefix, "=")
		switch name {
		case "":
			return fail("no zone after %s", prefix)
		case "Local":
			return fail("zone Local differs between machines: name one, e.g. Europe/London")
		}
		var err error
		if loc, err = time.LoadLocation(name); err != nil {
			return fail("zone %q: %v", name, err)
		}
		rest = strings.TrimSpace(after)
	}
	if d, ok := strings.CutPrefix(rest, "@every"); ok {
		every, err := time.ParseDuration(strings.TrimSpace(d))
		switch {
		case err != nil:
			return fail("@every: %v", err)
		case every < time.Second || every%time.Second != 0:
			return fail("@every %s: want whole seconds, at least 1s", every)
		}
		return timetable{loc: loc, every: every}, nil
	}
	parsed, err := specParser.Parse(rest)
	if err != nil {
		return fail("%v", err)
	}
	fields, ok := parsed.(*cron.SpecSchedule)
	if !ok {
		return fail("unexpected schedule type %T", parsed)
	}
	wall := *fields
	wall.Location = time.UTC
	t := timetable{loc: loc, wall: &wall}
	// robfig/cron gives up after five years: a spec like "0 0 30 2 *" never fires.
	if t.Next(neverProbe).IsZero() {
		return fail("never fires")
	}
	return t, nil
}

// neverProbe is where a new spec is checked to fire at all: a fixed time, so
// that validation does not depend on the clock.
var neverProbe = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Next returns the first fire time strictly after after, in UTC, or the
// zero time if there is none within five years.
func (t timetable) Next(after time.Time) time.Time {
	if t.every > 0 {
		step := int64(t.every / time.Second)
		secs := after.Unix() // floor of after in seconds
		k := secs / step
		if secs%step < 0 {
			k-- // floor division for instants before the epoch
		}
		return time.Unix((k+1)*step, 0).UTC()
	}
	// Candidates are wall-clock times after after's wall clock; while the
	// clocks go back, the first of them may have happened already (in the
	// first pass of the repeated hour): skip those.
	for c := t.wall.Next(wallClock(after, t.loc)); !c.IsZero(); c = t.wall.Next(c) {
		if at := instant(c, t.loc); at.After(after) {
			return at
		}
	}
	return time.Time{}
}

// wallClock returns the wall-clock time of instant t in loc, written as UTC.
func wallClock(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), l.Nanosecond(), time.UTC)
}

// instant returns the instant, in UTC, at which the wall clock of loc shows
// wall (a wall-clock time written as UTC): its first occurrence when the
// clocks go back and show it twice; the instant the clocks change when they
// go forward over it.
func instant(wall time.Time, loc *time.Location) time.Time {
	if loc == time.UTC {
		return wall
	}
	at := time.Date(wall.Year(), wall.Month(), wall.Day(), wall.Hour(), wall.Minute(), wall.Second(), wall.Nanosecond(), loc)
	shown := wallClock(at, loc)
	start, end := at.ZoneBounds()
	switch {
	case shown.After(wall): // skipped: at lies after the change
		return start.UTC()
	case shown.Before(wall): // skipped: at lies before the change
		return end.UTC()
	}
	// Shown twice? Then the zone before at's shows it too, earlier.
	if !start.IsZero() {
		_, off := at.Zone()
		_, prevOff := start.Add(-time.Nanosecond).Zone()
		if prevOff > off {
			earlier := at.Add(-time.Duration(prevOff-off) * time.Second)
			if earlier.Before(start) && wallClock(earlier, loc).Equal(wall) {
				return earlier.UTC()
			}
		}
	}
	return at.UTC()
}

// startOfDay returns the first instant of the local day y-m-d in loc, in
// UTC; out-of-range days and months normalise as in time.Date.
func startOfDay(y int, m time.Month, d int, loc *time.Location) time.Time {
	return instant(time.Date(y, m, d, 0, 0, 0, 0, time.UTC), loc)
}
