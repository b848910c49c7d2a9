package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// newFlagSet returns a flag set that prints its usage to w and returns
// errors instead of exiting.
func newFlagSet(name, synopsis string, w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(w)
	fs.Usage = func() {
		fmt.Fprintf(w, "Usage: midata %s\n\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// env returns the value of the environment variable, or def when unset.
func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

// duration is a flag value that takes Go durations plus days ("7d").
type duration struct{ d *time.Duration }

func (v duration) String() string {
	if v.d == nil {
		return ""
	}
	if *v.d%(24*time.Hour) == 0 && *v.d > 0 {
		return strconv.FormatInt(int64(*v.d/(24*time.Hour)), 10) + "d"
	}
	return v.d.String()
}

func (v duration) Set(s string) error {
	d, err := parseDuration(s)
	if err != nil {
		return err
	}
	*v.d = d
	return nil
}

func parseDuration(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil {
			return 0, fmt.Errorf("duration %q: want e.g. 7d, 36h or 90m", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("duration %q: want e.g. 7d, 36h or 90m", s)
	}
	return d, nil
}

// parseTime takes a date (2026-02-01, midnight UTC) or an RFC 3339 time.
func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q: want a date (2026-02-01) or RFC 3339 (2026-02-01T00:00:00Z)", s)
	}
	return t.UTC(), nil
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
