package schedule

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestPeriodRange(t *testing.T) {
	t.Parallel()
	london := zone(t, "Europe/London")
	tests := []struct {
		name     string
		period   Period
		at       string
		loc      *time.Location
		from, to string
	}{
		{
			name: "previous_month of a fire at 1 March 00:00 London is February", period: PreviousMonth,
			at: "2026-03-01T00:00:00Z", loc: london, from: "2026-02-01T00:00:00Z", to: "2026-03-01T00:00:00Z",
		},
		{
			name: "previous_month of a fire at 1 May 00:00 London is April, in BST", period: PreviousMonth,
			at: "2026-04-30T23:00:00Z", loc: london, from: "2026-03-31T23:00:00Z", to: "2026-04-30T23:00:00Z",
		},
		{
			name: "previous_month of a fire at 1 April London spans the spring change", period: PreviousMonth,
			at: "2026-03-31T23:00:00Z", loc: london, from: "2026-03-01T00:00:00Z", to: "2026-03-31T23:00:00Z",
		},
		{
			name: "previous_month in UTC of the same instant is still March, as 23:00Z is 31 March there", period: PreviousMonth,
			at: "2026-03-31T23:00:00Z", loc: time.UTC, from: "2026-02-01T00:00:00Z", to: "2026-03-01T00:00:00Z",
		},
		{
			name: "previous_month of a January fire is December of the year before", period: PreviousMonth,
			at: "2026-01-15T12:00:00Z", loc: london, from: "2025-12-01T00:00:00Z", to: "2026-01-01T00:00:00Z",
		},
		{
			name: "previous_day of a fire mid-day is the whole day before", period: PreviousDay,
			at: "2026-06-10T15:45:00Z", loc: london, from: "2026-06-08T23:00:00Z", to: "2026-06-09T23:00:00Z",
		},
		{
			name: "previous_day of the spring change's day is 23 hours", period: PreviousDay,
			at: "2026-03-30T00:00:00Z", loc: london, from: "2026-03-29T00:00:00Z", to: "2026-03-29T23:00:00Z",
		},
		{
			name: "previous_day over the autumn change is 25 hours", period: PreviousDay,
			at: "2026-10-26T01:00:00Z", loc: london, from: "2026-10-24T23:00:00Z", to: "2026-10-26T00:00:00Z",
		},
		{
			name: "previous_week of a Friday is Monday to Sunday the week before", period: PreviousWeek,
			at: "2026-04-30T23:00:00Z", loc: london, from: "2026-04-19T23:00:00Z", to: "2026-04-26T23:00:00Z",
		},
		{
			name: "previous_week of a Monday at midnight is the week just ended", period: PreviousWeek,
			at: "2026-03-09T00:00:00Z", loc: time.UTC, from: "2026-03-02T00:00:00Z", to: "2026-03-09T00:00:00Z",
		},
		{
			name: "previous_week of a Sunday is the week before its own", period: PreviousWeek,
			at: "2026-03-08T23:59:59Z", loc: time.UTC, from: "2026-02-23T00:00:00Z", to: "2026-03-02T00:00:00Z",
		},
		{
			name: "previous_year is the calendar year before", period: PreviousYear,
			at: "2026-07-04T10:00:00Z", loc: london, from: "2025-01-01T00:00:00Z", to: "2026-01-01T00:00:00Z",
		},
		{
			name: "a rolling period ends at the fire time", period: Last(720 * time.Hour),
			at: "2026-04-30T23:00:00Z", loc: london, from: "2026-03-31T23:00:00Z", to: "2026-04-30T23:00:00Z",
		},
		{
			name: "a rolling period is absolute time, whatever the clocks do", period: "last:24h",
			at: "2026-03-30T00:00:00Z", loc: london, from: "2026-03-29T00:00:00Z", to: "2026-03-30T00:00:00Z",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			from, to, err := tt.period.Range(utc(t, tt.at), tt.loc)
			if err != nil {
				t.Fatalf("Range: %v", err)
			}
			if !from.Equal(utc(t, tt.from)) || !to.Equal(utc(t, tt.to)) || from.Location() != time.UTC || to.Location() != time.UTC {
				t.Errorf("%s at %s in %s = [%s, %s), want [%s, %s)", tt.period, tt.at, tt.loc, from, to, tt.from, tt.to)
			}
		})
	}
}

func TestPeriodValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		period Period
		want   string // "" for valid
	}{
		{PreviousDay, ""},
		{PreviousWeek, ""},
		{PreviousMonth, ""},
		{PreviousYear, ""},
		{"last:720h", ""},
		{"last:90m", ""},
		{Last(36 * time.Hour), ""},
		{"", `period "": want previous_day`},
		{"monthly", `period "monthly": want previous_day`},
		{"Previous_Month", `period "Previous_Month"`},
		{"last:", `period "last:": time: invalid duration`},
		{"last:30d", `unknown unit "d"`},
		{"last:0s", "at least 1s"},
		{"last:-1h", "at least 1s"},
	}
	for _, tt := range tests {
		name := string(tt.period) + " is valid"
		if tt.want != "" {
			name = string(tt.period) + " is refused"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := tt.period.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate: %v", err)
			case tt.want != "" && err == nil:
				t.Errorf("Validate: no error, want %q", tt.want)
			case tt.want != "" && (!strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrInvalid)):
				t.Errorf("Validate: %v, want %q matching ErrInvalid", err, tt.want)
			}
			if tt.want != "" {
				if _, _, err := tt.period.Range(utc(t, "2026-01-01T00:00:00Z"), time.UTC); err == nil {
					t.Errorf("Range of an invalid period: no error")
				}
			}
		})
	}
}
