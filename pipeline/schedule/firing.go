package schedule

import (
	"slices"
	"time"

	"github.com/midata/midata/schemas"
)

// MaxDue is the most firings Due returns: after a long stall only the
// latest MaxDue missed fire times fire, so a restarted loop does not flood
// the queue.
const MaxDue = 100

// Firing is one fire time of one schedule: what to release, for which
// period, under an id that every instance gives it alike.
type Firing struct {
	// ID is "<schedule id>@<At, RFC 3339 UTC>", e.g.
	// "statements@2026-03-01T00:00:00Z"; for RunNow,
	// "<schedule id>@now-<RFC 3339 UTC>". Schedule ids hold no "@".
	ID         string    `json:"id"`
	ScheduleID string    `json:"schedule_id"`
	At         time.Time `json:"at"`   // the scheduled instant, UTC, whole seconds
	From       time.Time `json:"from"` // the period released, [From, To), UTC
	To         time.Time `json:"to"`

	// What to release: the schedule's fields at the time it fired.
	Recipient schemas.Recipient `json:"recipient"`
	Scope     schemas.Scope     `json:"scope"`
	Formats   []string          `json:"formats"`
}

// Next returns the schedule's first fire time strictly after after, in
// UTC, whether or not it is paused; the zero time when the spec is invalid
// or never fires again.
func (s Schedule) Next(after time.Time) time.Time {
	t, err := parseTimetable(s.Spec)
	if err != nil {
		return time.Time{}
	}
	return t.Next(after)
}

// Due returns the firings of the fire times in (last, now], oldest first,
// whether or not the schedule is paused (the Scheduler checks that). Of more
// than MaxDue fire times it returns the latest MaxDue, and dropped reports
// that older ones were left out. A schedule that does not Validate has no
// firings.
func (s Schedule) Due(last, now time.Time) (firings []Firing, dropped bool) {
	if s.Validate() != nil {
		return nil, false
	}
	t, err := parseTimetable(s.Spec)
	if err != nil {
		return nil, false
	}
	return s.due(t, last, now)
}

// due is Due for a valid schedule whose spec parsed to t.
func (s Schedule) due(t timetable, last, now time.Time) (firings []Firing, dropped bool) {
	if !now.After(last) {
		return nil, false
	}
	// Look back from now over windows that double until one holds MaxDue
	// fire times or reaches last: the cost follows the fire times returned,
	// not the length of (last, now].
	for window := MaxDue * time.Second; ; window *= 2 { // fire times are whole seconds: at most MaxDue in the first
		start := last
		if window < now.Sub(last) && window < maxWindow {
			start = now.Add(-window)
		}
		ats, more := latest(t, start, now)
		if len(ats) == MaxDue || start.Equal(last) {
			dropped = more
			if start.After(last) {
				next := t.Next(last)
				dropped = dropped || (!next.IsZero() && !next.After(start))
			}
			return s.firings(t, ats), dropped
		}
	}
}

// maxWindow bounds Due's look-back windows, well inside time.Duration.
const maxWindow = 100 * 365 * 24 * time.Hour

// latest returns the last MaxDue fire times in (start, now], oldest first,
// and whether there were more.
func latest(t timetable, start, now time.Time) (ats []time.Time, more bool) {
	ring := make([]time.Time, 0, MaxDue)
	n := 0
	for at := t.Next(start); !at.IsZero() && !at.After(now); at = t.Next(at) {
		if len(ring) < MaxDue {
			ring = append(ring, at)
		} else {
			ring[n%MaxDue] = at
		}
		n++
	}
	if n <= MaxDue {
		return ring, false
	}
	k := n % MaxDue
	return append(ring[k:], ring[:k]...), true
}

// firings makes the firings of the fire times ats.
func (s Schedule) firings(t timetable, ats []time.Time) []Firing {
	out := make([]Firing, 0, len(ats))
	for _, at := range ats {
		out = append(out, s.firing(t, at, s.ID+"@"+at.Format(time.RFC3339)))
	}
	return out
}

func (s Schedule) firing(t timetable, at time.Time, id string) Firing {
	from, to, _ := s.Period.Range(at, t.loc) // the schedule validated: no error
	return Firing{
		ID: id, ScheduleID: s.ID, At: at, From: from, To: to,
		Recipient: s.Recipient,
		Scope:     schemas.Scope{Customers: slices.Clone(s.Scope.Customers), All: s.Scope.All},
		Formats:   slices.Clone(s.Formats),
	}
}

// RunNow returns the firing of the schedule at now, outside its fire times
// (the API's "run now"), whether or not it is paused. Its id,
// "<schedule id>@now-<now to the second, RFC 3339 UTC>", differs from any
// scheduled firing's and is the same for calls within one second. The
// error is Validate's.
func RunNow(s Schedule, now time.Time) (Firing, error) {
	if err := s.Validate(); err != nil {
		return Firing{}, err
	}
	t, err := parseTimetable(s.Spec)
	if err != nil {
		return Firing{}, err
	}
	at := now.UTC().Truncate(time.Second)
	return s.firing(t, at, s.ID+"@now-"+at.Format(time.RFC3339)), nil
}
