package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/midata/midata/pipeline/config"
	"github.com/midata/midata/schemas"
)

// Trust issue, finding 13: periods given as dates were UTC while the
// midata CSV dates are UK dates: a June release (to 2026-07-01) held 30
// June 23:30 UTC, dated 01/07/2026 in its CSV. A date is now midnight in
// the organisation's time zone, Europe/London unless configured.
func TestADateIsMidnightInTheOrganisationsTimeZone(t *testing.T) {
	london := config.Default().Location()
	if london.String() != "Europe/London" {
		t.Fatalf("default time zone %s, want Europe/London", london)
	}
	for _, tc := range []struct {
		in   string
		loc  *time.Location
		want string
	}{
		{"2026-07-01", london, "2026-06-30T23:00:00Z"}, // BST
		{"2026-06-01", london, "2026-05-31T23:00:00Z"},
		{"2026-01-01", london, "2026-01-01T00:00:00Z"}, // GMT
		{"2026-03-29", london, "2026-03-29T00:00:00Z"}, // the day BST starts, at 01:00 GMT
		{"2026-07-01T00:00:00Z", london, "2026-07-01T00:00:00Z"},
		{"2026-07-01T01:00:00+02:00", london, "2026-06-30T23:00:00Z"},
		{"2026-07-01", time.UTC, "2026-07-01T00:00:00Z"},
	} {
		got, err := schemas.ParseTimeIn(tc.in, tc.loc)
		if err != nil || got.Format(time.RFC3339) != tc.want || got.Location() != time.UTC {
			t.Errorf("ParseTimeIn(%s, %s) = %v, %v; want %s", tc.in, tc.loc, got, err, tc.want)
		}
	}
	june30 := time.Date(2026, 6, 30, 23, 30, 0, 0, time.UTC) // 1 July 00:30 in London
	to, _ := schemas.ParseTimeIn("2026-07-01", london)
	if june30.Before(to) {
		t.Errorf("30 June 23:30 UTC is before the end of a June period (%s): it is July in the UK", to)
	}
	if _, err := schemas.ParseTimeIn("2026-02-30", london); err == nil {
		t.Error("a date that does not exist parsed")
	}
}

func TestTimezoneMustBeAZone(t *testing.T) {
	for _, tz := range []string{"Mars/Olympus", "Local", ""} {
		c := config.Default()
		c.Timezone = tz
		if err := c.Validate(config.CommandExport); err == nil || !strings.Contains(err.Error(), "timezone") {
			t.Errorf("timezone %q: %v, want it refused by name", tz, err)
		}
	}
	c := config.Default()
	if err := c.Validate(config.CommandExport); err != nil && strings.Contains(err.Error(), "timezone") {
		t.Errorf("the default time zone is refused: %v", err)
	}
}
