package schemas

import (
	"fmt"
	"time"
	_ "time/tzdata" // the zones, whatever the machine or image has
)

// DefaultTimezone is the organisation's time zone unless configured.
const DefaultTimezone = "Europe/London"

// ParseTimeIn is the one reading of a time given by a person, on a flag or
// in a request: a date (2026-02-01) is midnight of that calendar day in
// loc, the organisation's time zone (so "July" is the UK's July and the
// midata CSV's UK dates agree with it); an RFC 3339 time
// (2026-02-01T00:00:00Z, any offset) is that instant. The result is UTC.
func ParseTimeIn(s string, loc *time.Location) (time.Time, error) {
	if loc == nil {
		loc = time.UTC
	}
	if t, err := time.ParseInLocation(time.DateOnly, s, loc); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q: want a date (2026-02-01) or RFC 3339 (2026-02-01T00:00:00Z)", s)
	}
	return t.UTC(), nil
}
