package wire

import (
	"time"

	"github.com/midata/midata/pipeline/api/jsonbody"
	"github.com/midata/midata/schemas"
)

// ParseTime reads a time given as a date (2026-01-31, midnight in loc, the
// organisation's time zone) or as RFC 3339 (2026-01-31T12:00:00Z), as the
// CLI's flags do (config.ParseTimeIn); the result is UTC.
func ParseTime(field, s string, loc *time.Location) (time.Time, error) {
	if s == "" {
		return time.Time{}, jsonbody.BadRequest("%q is missing: give a date like 2026-01-31 or a time like 2026-01-31T00:00:00Z", field)
	}
	if t, err := schemas.ParseTimeIn(s, loc); err == nil {
		return t, nil
	}
	return time.Time{}, jsonbody.BadRequest("%q is %q: give a date like 2026-01-31 or a time like 2026-01-31T00:00:00Z", field, s)
}

// Period reads [from, to) and checks from is before to.
func Period(from, to string, loc *time.Location) (time.Time, time.Time, error) {
	f, err := ParseTime("from", from, loc)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	t, err := ParseTime("to", to, loc)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	if !f.Before(t) {
		return time.Time{}, time.Time{}, jsonbody.BadRequest("from %s is not before to %s: the period is [from, to)", f.Format(time.RFC3339), t.Format(time.RFC3339))
	}
	return f, t, nil
}
