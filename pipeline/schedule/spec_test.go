package schedule

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/midata/midata/schemas"
)

// utc parses an RFC 3339 time; tests write instants in UTC.
func utc(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return v.UTC()
}

func zone(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load zone %s: %v", name, err)
	}
	return loc
}

func TestParseFireTimes(t *testing.T) {
	t.Parallel()
	newYork := zone(t, "America/New_York")
	tests := []struct {
		name  string
		spec  string
		after time.Time
		want  []string // the next fire times, one after the other
	}{
		{
			name: "a 5-field spec fires at its minute of every hour", spec: "30 * * * *",
			after: utc(t, "2026-01-01T10:00:00Z"),
			want:  []string{"2026-01-01T10:30:00Z", "2026-01-01T11:30:00Z", "2026-01-01T12:30:00Z"},
		},
		{
			name: "a 6-field spec reads seconds first", spec: "15 0 * * * *",
			after: utc(t, "2026-01-01T10:00:00Z"),
			want:  []string{"2026-01-01T10:00:15Z", "2026-01-01T11:00:15Z"},
		},
		{
			name: "a fire time equal to after is not next", spec: "0 10 * * *",
			after: utc(t, "2026-01-01T10:00:00Z"),
			want:  []string{"2026-01-02T10:00:00Z"},
		},
		{
			name: "a fire time a nanosecond after after is next", spec: "0 10 * * *",
			after: utc(t, "2026-01-01T09:59:59.999999999Z"),
			want:  []string{"2026-01-01T10:00:00Z"},
		},
		{
			name: "a spec without a zone is read in UTC whatever the zone of after", spec: "0 1 * * *",
			after: utc(t, "2026-06-01T00:00:00Z").In(newYork),
			want:  []string{"2026-06-01T01:00:00Z", "2026-06-02T01:00:00Z"},
		},
		{
			name: "a London 01:00 schedule fires at 01:00Z in winter and 00:00Z in summer, once on the spring change",
			spec: "CRON_TZ=Europe/London 0 1 * * *", after: utc(t, "2026-03-27T12:00:00Z"),
			want: []string{"2026-03-28T01:00:00Z", "2026-03-29T01:00:00Z", "2026-03-30T00:00:00Z", "2026-03-31T00:00:00Z"},
		},
		{
			name: "a London 01:00 schedule fires once on the autumn change, at the first 01:00",
			spec: "CRON_TZ=Europe/London 0 1 * * *", after: utc(t, "2026-10-23T12:00:00Z"),
			want: []string{"2026-10-24T00:00:00Z", "2026-10-25T00:00:00Z", "2026-10-26T01:00:00Z"},
		},
		{
			name: "times in the hour the clocks skip fire once, when they skip it",
			spec: "CRON_TZ=Europe/London */20 1 * * *", after: utc(t, "2026-03-28T23:00:00Z"),
			want: []string{"2026-03-29T01:00:00Z", "2026-03-30T00:00:00Z", "2026-03-30T00:20:00Z"},
		},
		{
			name: "a time inside the skipped hour fires when the clocks skip it",
			spec: "CRON_TZ=Europe/London 30 1 * * *", after: utc(t, "2026-03-28T12:00:00Z"),
			want: []string{"2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"},
		},
		{
			name: "times in the hour the clocks repeat fire in its first pass only",
			spec: "CRON_TZ=Europe/London 0,30 1 * * *", after: utc(t, "2026-10-24T23:00:00Z"),
			want: []string{"2026-10-25T00:00:00Z", "2026-10-25T00:30:00Z", "2026-10-26T01:00:00Z"},
		},
		{
			name: "after inside the repeated hour skips the times of its first pass",
			spec: "CRON_TZ=Europe/London */15 * * * *", after: utc(t, "2026-10-25T01:20:00Z"), // 01:20 GMT, second pass
			want: []string{"2026-10-25T02:00:00Z", "2026-10-25T02:15:00Z"},
		},
		{
			name: "TZ= works like CRON_TZ=", spec: "TZ=America/New_York 0 9 * * 1-5",
			after: utc(t, "2026-03-06T00:00:00Z"), // Friday; US clocks change on Sunday 8 March
			want:  []string{"2026-03-06T14:00:00Z", "2026-03-09T13:00:00Z"},
		},
		{
			name: "seconds and a zone together", spec: "CRON_TZ=Europe/London 30 0 6 * * *",
			after: utc(t, "2026-07-01T00:00:00Z"),
			want:  []string{"2026-07-01T05:00:30Z"},
		},
		{
			name: "@monthly in London starts each local month, an hour early in UTC under BST",
			spec: "CRON_TZ=Europe/London @monthly", after: utc(t, "2026-02-15T00:00:00Z"),
			want: []string{"2026-03-01T00:00:00Z", "2026-03-31T23:00:00Z", "2026-04-30T23:00:00Z"},
		},
		{
			name: "@yearly starts each year", spec: "@yearly", after: utc(t, "2026-05-05T00:00:00Z"),
			want: []string{"2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z"},
		},
		{
			name: "@weekly starts each Sunday", spec: "@weekly", after: utc(t, "2026-03-04T00:00:00Z"),
			want: []string{"2026-03-08T00:00:00Z", "2026-03-15T00:00:00Z"},
		},
		{
			name: "@daily and @hourly start days and hours", spec: "@hourly", after: utc(t, "2026-03-04T23:10:00Z"),
			want: []string{"2026-03-05T00:00:00Z", "2026-03-05T01:00:00Z"},
		},
		{
			name: "@every 1h fires on the UTC hours, not an hour after after", spec: "@every 1h",
			after: utc(t, "2026-01-01T10:20:30.5Z"),
			want:  []string{"2026-01-01T11:00:00Z", "2026-01-01T12:00:00Z"},
		},
		{
			name: "@every 90m fires at multiples of 90 minutes since the Unix epoch", spec: "@every 90m",
			after: utc(t, "2026-01-01T00:10:00Z"), // 2026-01-01T00:00Z is 327264 × 5400 s
			want:  []string{"2026-01-01T01:30:00Z", "2026-01-01T03:00:00Z"},
		},
		{
			name: "@every ignores a zone prefix", spec: "CRON_TZ=Europe/London @every 24h",
			after: utc(t, "2026-07-01T12:00:00Z"),
			want:  []string{"2026-07-02T00:00:00Z"},
		},
		{
			name: "@every counts back before the epoch too", spec: "@every 7s",
			after: utc(t, "1969-12-31T23:59:50Z"), // -10 s
			want:  []string{"1969-12-31T23:59:53Z", "1970-01-01T00:00:00Z", "1970-01-01T00:00:07Z"},
		},
		{
			name: "29 February waits for a leap year", spec: "0 0 29 2 *",
			after: utc(t, "2026-01-01T00:00:00Z"),
			want:  []string{"2028-02-29T00:00:00Z"},
		},
		{
			name: "day of month and day of week both set fire on either", spec: "0 0 1 * 1",
			after: utc(t, "2026-05-30T00:00:00Z"), // Saturday; Monday 1 June is both
			want:  []string{"2026-06-01T00:00:00Z", "2026-06-08T00:00:00Z"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sched, err := Parse(tt.spec)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.spec, err)
			}
			at := tt.after
			for i, w := range tt.want {
				at = sched.Next(at)
				if want := utc(t, w); !at.Equal(want) || at.Location() != time.UTC {
					t.Fatalf("fire %d after %s: got %s, want %s", i+1, tt.after, at, want)
				}
			}
			s := Schedule{Spec: tt.spec}
			if got, want := s.Next(tt.after), utc(t, tt.want[0]); !got.Equal(want) {
				t.Errorf("Schedule.Next(%s) = %s, want %s", tt.after, got, want)
			}
		})
	}
}

func TestParseRefusesBadSpecs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		spec string
		want string // in the error, after the quoted spec
	}{
		{"an empty spec", "", "empty"},
		{"a minute out of range", "61 * * * *", "above maximum (59)"},
		{"too few fields", "* * *", "expected 5 to 6 fields"},
		{"too many fields", "0 1 2 3 4 5 6", "expected 5 to 6 fields"},
		{"a word where a number belongs", "0 noon * * *", "failed to parse int"},
		{"an unknown descriptor", "@fortnightly", "unrecognized descriptor"},
		{"an unknown zone", "CRON_TZ=Mars/Olympus 0 1 * * *", `zone "Mars/Olympus"`},
		{"a zone and nothing else", "CRON_TZ=Europe/London", "nothing after the zone"},
		{"an empty zone", "TZ= 0 1 * * *", "no zone after TZ="},
		{"the machine's zone", "CRON_TZ=Local 0 1 * * *", "zone Local differs between machines"},
		{"@every under a second", "@every 500ms", "at least 1s"},
		{"@every negative", "@every -1h", "at least 1s"},
		{"@every in fractions of a second", "@every 1.5s", "whole seconds"},
		{"@every without a duration", "@every", "@every: time: invalid duration"},
		{"a date that never comes", "0 0 30 2 *", "never fires"},
	}
	for _, tt := range tests {
		t.Run(tt.name+" is refused", func(t *testing.T) {
			t.Parallel()
			_, err := Parse(tt.spec)
			if err == nil {
				t.Fatalf("Parse(%q): no error", tt.spec)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("Parse(%q): %v does not match ErrInvalid", tt.spec, err)
			}
			msg := err.Error()
			if prefix := "spec " + quote(tt.spec) + ": "; !strings.HasPrefix(msg, prefix) {
				t.Errorf("Parse(%q): %q does not start with %q", tt.spec, msg, prefix)
			}
			if !strings.Contains(msg, tt.want) || !strings.Contains(msg, "want 5 fields") {
				t.Errorf("Parse(%q): %q lacks %q or the hint", tt.spec, msg, tt.want)
			}
			if got := (Schedule{Spec: tt.spec}).Next(utc(t, "2026-01-01T00:00:00Z")); !got.IsZero() {
				t.Errorf("Next of a bad spec = %s, want zero", got)
			}
		})
	}
}

func quote(s string) string { return `"` + s + `"` }

func TestInstantPicksOneInstantPerWallClockTime(t *testing.T) {
	t.Parallel()
	london := zone(t, "Europe/London")
	lordHowe := zone(t, "Australia/Lord_Howe") // clocks move by 30 minutes
	tests := []struct {
		name string
		wall string
		loc  *time.Location
		want string
	}{
		{"an ordinary winter time is GMT", "2026-01-10T09:00:00Z", london, "2026-01-10T09:00:00Z"},
		{"an ordinary summer time is BST", "2026-07-10T09:00:00Z", london, "2026-07-10T08:00:00Z"},
		{"the last second before the spring change", "2026-03-29T00:59:59Z", london, "2026-03-29T00:59:59Z"},
		{"a skipped time is the instant of the change", "2026-03-29T01:30:00Z", london, "2026-03-29T01:00:00Z"},
		{"the first time after the skip", "2026-03-29T02:00:00Z", london, "2026-03-29T01:00:00Z"},
		{"a repeated time is its first occurrence", "2026-10-25T01:30:00Z", london, "2026-10-25T00:30:00Z"},
		{"the time after the repeated hour", "2026-10-25T02:00:00Z", london, "2026-10-25T02:00:00Z"},
		{"a half-hour skip", "2026-10-04T02:15:00Z", lordHowe, "2026-10-03T15:30:00Z"},
		{"a half-hour repeat", "2026-04-05T01:45:00Z", lordHowe, "2026-04-04T14:45:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := instant(utc(t, tt.wall), tt.loc); !got.Equal(utc(t, tt.want)) {
				t.Errorf("instant(%s in %s) = %s, want %s", tt.wall, tt.loc, got, tt.want)
			}
		})
	}
}

// Trust issue, finding 13: periods were UTC while the midata CSV dates are
// UK dates, so June's release held 30 June 23:30 UTC (1 July in London).
// A schedule made without a zone gets the organisation's (InZone), and its
// monthly period is then June in London.
func TestASpecWithoutAZoneGetsTheOrganisationsAndItsPeriodsAreDaysThere(t *testing.T) {
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	for spec, want := range map[string]string{
		"@monthly":                        "CRON_TZ=Europe/London @monthly",
		" 0 3 1 * *":                      "CRON_TZ=Europe/London 0 3 1 * *",
		"CRON_TZ=America/New_York @daily": "CRON_TZ=America/New_York @daily",
		"TZ=UTC @daily":                   "TZ=UTC @daily",
	} {
		if got := InZone(spec, london); got != want {
			t.Errorf("InZone(%q) = %q, want %q", spec, got, want)
		}
	}
	if got := InZone("@monthly", time.UTC); got != "@monthly" {
		t.Errorf("InZone in UTC = %q, want the spec unchanged (UTC is the default)", got)
	}
	s := Schedule{ID: "m", Spec: InZone("@monthly", london), Recipient: "self", Scope: schemas.Scope{All: true},
		Period: PreviousMonth, Formats: []string{"midata-csv"}}
	firings, _ := s.Due(time.Date(2026, 6, 15, 0, 0, 0, 0, time.UTC), time.Date(2026, 7, 2, 0, 0, 0, 0, time.UTC))
	if len(firings) != 1 {
		t.Fatalf("firings = %+v, want the one of 1 July", firings)
	}
	f := firings[0]
	if wantAt := time.Date(2026, 6, 30, 23, 0, 0, 0, time.UTC); !f.At.Equal(wantAt) {
		t.Errorf("fired at %s, want midnight of 1 July in London (%s)", f.At, wantAt)
	}
	from, to := time.Date(2026, 5, 31, 23, 0, 0, 0, time.UTC), time.Date(2026, 6, 30, 23, 0, 0, 0, time.UTC)
	if !f.From.Equal(from) || !f.To.Equal(to) {
		t.Errorf("period [%s, %s), want June in London [%s, %s)", f.From, f.To, from, to)
	}
	if late := time.Date(2026, 6, 30, 23, 30, 0, 0, time.UTC); late.Before(f.To) {
		t.Errorf("30 June 23:30 UTC (1 July in London) is in June's period")
	}
}
