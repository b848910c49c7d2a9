package config

import (
	"fmt"
	"time"
)

// ParseTime is the one reading of a time given by a person, on a flag or
// in a request: a date (2026-02-01, midnight UTC) or an RFC 3339 time
// (2026-02-01T00:00:00Z, any offset). The result is UTC.
func ParseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q: want a date (2026-02-01) or RFC 3339 (2026-02-01T00:00:00Z)", s)
	}
	return t.UTC(), nil
}
