package schedule

import (
	"fmt"
	"strings"
	"time"
)

// Period says which period [from, to) a firing releases, derived from its
// fire time. Calendar periods are whole days, weeks or months of the
// schedule's zone (the spec's CRON_TZ, else UTC) before the one the fire
// time falls in; a rolling period ends at the fire time.
type Period string

// The periods. A fire time at 2026-05-01T00:00 Europe/London (BST, 23:00Z
// the day before) gives, for each:
//
//	previous_day   [2026-04-29T23:00Z, 2026-04-30T23:00Z)   the day before the fire's day
//	previous_week  [2026-04-19T23:00Z, 2026-04-26T23:00Z)   Monday to Sunday, the week before the fire's week
//	previous_month [2026-03-31T23:00Z, 2026-04-30T23:00Z)   the month before the fire's month
//	previous_year  [2025-01-01T00:00Z, 2026-01-01T00:00Z)   the year before the fire's year
//	last:720h      [2026-03-31T23:00Z, 2026-04-30T23:00Z)   the 720 hours before the fire time
const (
	PreviousDay   Period = "previous_day"
	PreviousWeek  Period = "previous_week"
	PreviousMonth Period = "previous_month"
	PreviousYear  Period = "previous_year"
)

// lastPrefix starts a rolling period: "last:" and a Go duration.
const lastPrefix = "last:"

// Last returns the rolling period of d before each fire time, "last:<d>".
func Last(d time.Duration) Period { return Period(lastPrefix + d.String()) }

// periodHint lists the periods in error messages.
const periodHint = "want previous_day, previous_week (Monday to Sunday), previous_month, previous_year, or last:<duration> such as last:720h"

// Validate reports whether p is one of the periods; the error matches
// ErrInvalid and names the field.
func (p Period) Validate() error {
	_, err := p.rolling()
	return err
}

// rolling returns the duration of a rolling period, 0 for a calendar one.
func (p Period) rolling() (time.Duration, error) {
	switch p {
	case PreviousDay, PreviousWeek, PreviousMonth, PreviousYear:
		return 0, nil
	}
	s, ok := strings.CutPrefix(string(p), lastPrefix)
	if !ok {
		return 0, invalidf("period %q: %s", p, periodHint)
	}
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		return 0, invalidf("period %q: %v (%s)", p, err, periodHint)
	case d < time.Second:
		return 0, invalidf("period %q: want at least 1s", p)
	}
	return d, nil
}

// Range returns the period [from, to), in UTC, that a firing at instant at
// releases, computing calendar periods in loc.
func (p Period) Range(at time.Time, loc *time.Location) (from, to time.Time, err error) {
	d, err := p.rolling()
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	if d > 0 {
		return at.Add(-d).UTC(), at.UTC(), nil
	}
	l := at.In(loc)
	y, m, day := l.Date()
	switch p {
	case PreviousDay:
		return startOfDay(y, m, day-1, loc), startOfDay(y, m, day, loc), nil
	case PreviousWeek:
		monday := day - (int(l.Weekday())+6)%7
		return startOfDay(y, m, monday-7, loc), startOfDay(y, m, monday, loc), nil
	case PreviousMonth:
		return startOfDay(y, m-1, 1, loc), startOfDay(y, m, 1, loc), nil
	case PreviousYear:
		return startOfDay(y-1, time.January, 1, loc), startOfDay(y, time.January, 1, loc), nil
	}
	return time.Time{}, time.Time{}, fmt.Errorf("period %q: no range", p) // unreachable: rolling checked p
}
