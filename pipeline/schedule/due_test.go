package schedule

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/midata/midata/schemas"
)

// ids returns the ids of fs.
func ids(fs []Firing) []string {
	out := make([]string, 0, len(fs))
	for _, f := range fs {
		out = append(out, f.ID)
	}
	return out
}

func TestDue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		spec        string
		last, now   string
		want        []string // firing ids, "" prefix dropped: the schedule id is "s"
		wantDropped bool
		wantCount   int  // when want is not listed: the number of firings
		tooLong     bool // too many fire times to walk them in a test
	}{
		{name: "an empty range has no firings", spec: "0 * * * *",
			last: "2026-01-01T10:00:00Z", now: "2026-01-01T10:00:00Z"},
		{name: "now before last has no firings", spec: "0 * * * *",
			last: "2026-01-01T12:00:00Z", now: "2026-01-01T10:00:00Z"},
		{name: "a range between fire times has no firings", spec: "0 * * * *",
			last: "2026-01-01T10:00:00Z", now: "2026-01-01T10:59:59Z"},
		{name: "a fire time at now is due", spec: "0 * * * *",
			last: "2026-01-01T10:00:00Z", now: "2026-01-01T11:00:00Z",
			want: []string{"s@2026-01-01T11:00:00Z"}},
		{name: "a fire time at last is not due again", spec: "0 * * * *",
			last: "2026-01-01T11:00:00Z", now: "2026-01-01T11:30:00Z"},
		{name: "several fire times come oldest first", spec: "0 * * * *",
			last: "2026-01-01T10:30:00Z", now: "2026-01-01T13:15:00Z",
			want: []string{"s@2026-01-01T11:00:00Z", "s@2026-01-01T12:00:00Z", "s@2026-01-01T13:00:00Z"}},
		{name: "a London schedule's firings over the spring change", spec: "CRON_TZ=Europe/London 0 1 * * *",
			last: "2026-03-27T12:00:00Z", now: "2026-03-31T00:00:00Z",
			want: []string{"s@2026-03-28T01:00:00Z", "s@2026-03-29T01:00:00Z", "s@2026-03-30T00:00:00Z", "s@2026-03-31T00:00:00Z"}},
		{name: "exactly MaxDue fire times are all due, none dropped", spec: "0 * * * *",
			last: "2026-01-01T00:00:00Z", now: "2026-01-05T04:00:00Z", wantCount: MaxDue},
		{name: "one more than MaxDue drops the oldest", spec: "0 * * * *",
			last: "2026-01-01T00:00:00Z", now: "2026-01-05T05:00:00Z", wantCount: MaxDue, wantDropped: true},
		{name: "a year of seconds gives the latest MaxDue", spec: "* * * * * *",
			last: "2025-01-01T00:00:00Z", now: "2026-01-01T00:00:00Z", wantCount: MaxDue, wantDropped: true, tooLong: true},
		{name: "a sparse schedule over centuries finds its few fire times", spec: "0 0 1 1 *",
			last: "1900-06-01T00:00:00Z", now: "1905-06-01T00:00:00Z",
			want: []string{"s@1901-01-01T00:00:00Z", "s@1902-01-01T00:00:00Z", "s@1903-01-01T00:00:00Z", "s@1904-01-01T00:00:00Z", "s@1905-01-01T00:00:00Z"}},
		{name: "@every is the same whatever last is", spec: "@every 6h",
			last: "2026-01-01T01:02:03Z", now: "2026-01-01T13:00:00Z",
			want: []string{"s@2026-01-01T06:00:00Z", "s@2026-01-01T12:00:00Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := valid()
			s.ID, s.Spec = "s", tt.spec
			last, now := utc(t, tt.last), utc(t, tt.now)
			got, dropped := s.Due(last, now)
			if dropped != tt.wantDropped {
				t.Errorf("dropped = %v, want %v", dropped, tt.wantDropped)
			}
			if tt.wantCount == 0 {
				if g := ids(got); !slices.Equal(g, tt.want) {
					t.Errorf("Due ids:\n got %q\nwant %q", g, tt.want)
				}
			} else if len(got) != tt.wantCount {
				t.Errorf("Due: %d firings, want %d", len(got), tt.wantCount)
			}
			if tt.tooLong {
				if first, want := got[0].At, now.Add(-(MaxDue-1)*time.Second); !first.Equal(want) {
					t.Errorf("first firing at %s, want %s", first, want)
				}
				return
			}
			// Whatever the answer, it must be the latest fire times in
			// (last, now], as counted the slow way.
			if want := bruteForce(t, s, last, now); !slices.Equal(ids(got), want) {
				t.Errorf("Due differs from walking Next:\n got %q\nwant %q", ids(got), want)
			}
		})
	}
}

// bruteForce lists the ids of the latest MaxDue fire times in (last, now]
// by walking Next from last, for ranges small enough to walk.
func bruteForce(t *testing.T, s Schedule, last, now time.Time) []string {
	t.Helper()
	var all []string
	for at := s.Next(last); !at.IsZero() && !at.After(now); at = s.Next(at) {
		all = append(all, s.ID+"@"+at.Format(time.RFC3339))
		if len(all) > MaxDue*1000 {
			all = all[len(all)-MaxDue:]
		}
	}
	return all[max(len(all)-MaxDue, 0):]
}

func TestDueAgreesWithWalkingNextOverManyRanges(t *testing.T) {
	t.Parallel()
	specs := []string{
		"*/7 * * * *", "0 */5 * * *", "CRON_TZ=Europe/London 30 1 * * *", "CRON_TZ=Europe/London */10 0-2 * 3,10 0",
		"15 0 12 * * 1-5", "@every 17m", "0 0 1,15 * *", "0 9 * 2 *",
	}
	start := utc(t, "2026-01-01T00:00:00Z")
	for _, spec := range specs {
		s := valid()
		s.ID, s.Spec = "s", spec
		for i := range 40 {
			// Ranges from seconds to months, at odd offsets through the year.
			last := start.Add(time.Duration(i*i*i) * 97 * time.Minute)
			now := last.Add(time.Duration(1<<(i%24)) * time.Second)
			got, dropped := s.Due(last, now)
			want := bruteForce(t, s, last, now)
			if !slices.Equal(ids(got), want) {
				t.Fatalf("%s over (%s, %s]: Due\n %q\nwalking Next\n %q", spec, last, now, ids(got), want)
			}
			n := 0
			for at := s.Next(last); !at.IsZero() && !at.After(now) && n <= MaxDue; at = s.Next(at) {
				n++
			}
			if dropped != (n > MaxDue) {
				t.Fatalf("%s over (%s, %s]: dropped = %v with %d fire times", spec, last, now, dropped, n)
			}
		}
	}
}

func TestDueFiringsCarryPeriodAndWhatToRelease(t *testing.T) {
	t.Parallel()
	s := valid()                              // previous_month
	s.Spec = "CRON_TZ=Europe/London @monthly" // midnight of the 1st, London: 23:00Z the day before under BST
	s.Recipient, s.Scope = "partner:acme", schemas.Scope{Customers: []string{"C1", "C2"}}
	fs, _ := s.Due(utc(t, "2026-03-01T00:00:00Z"), utc(t, "2026-05-01T00:00:00Z"))
	want := []Firing{
		{
			ID: "monthly-statements@2026-03-31T23:00:00Z", ScheduleID: "monthly-statements", At: utc(t, "2026-03-31T23:00:00Z"),
			From: utc(t, "2026-03-01T00:00:00Z"), To: utc(t, "2026-03-31T23:00:00Z"),
			Recipient: "partner:acme", Scope: schemas.Scope{Customers: []string{"C1", "C2"}}, Formats: []string{"midata-csv", "ndjson"},
		},
		{
			ID: "monthly-statements@2026-04-30T23:00:00Z", ScheduleID: "monthly-statements", At: utc(t, "2026-04-30T23:00:00Z"),
			From: utc(t, "2026-03-31T23:00:00Z"), To: utc(t, "2026-04-30T23:00:00Z"),
			Recipient: "partner:acme", Scope: schemas.Scope{Customers: []string{"C1", "C2"}}, Formats: []string{"midata-csv", "ndjson"},
		},
	}
	if !reflect.DeepEqual(fs, want) {
		t.Fatalf("Due:\n got %+v\nwant %+v", fs, want)
	}
	fs[0].Formats[0], fs[0].Scope.Customers[0] = "changed", "changed"
	if s.Formats[0] != "midata-csv" || s.Scope.Customers[0] != "C1" {
		t.Errorf("changing a firing changed the schedule: %+v", s)
	}
}

func TestDueIDsAreTheSameFromAnyStart(t *testing.T) {
	t.Parallel()
	now := utc(t, "2026-04-02T00:00:00Z")
	for _, spec := range []string{"CRON_TZ=Europe/London 0 1 * * *", "@every 7h", "30 15 */3 * * *", "@monthly"} {
		s := valid()
		s.Spec = spec
		a, _ := s.Due(utc(t, "2026-03-20T00:00:00Z"), now)
		b, _ := s.Due(utc(t, "2026-03-25T17:43:12.345Z"), now)
		if len(b) == 0 || len(a) < len(b) {
			t.Fatalf("%s: %d and %d firings", spec, len(a), len(b))
		}
		if tail := a[len(a)-len(b):]; !reflect.DeepEqual(tail, b) {
			t.Errorf("%s: firings differ by start:\n %q\n %q", spec, ids(tail), ids(b))
		}
	}
}

func TestRunNow(t *testing.T) {
	t.Parallel()
	s := valid()
	now := time.Date(2026, 5, 1, 9, 30, 15, 987654321, zone(t, "Europe/London"))
	f, err := RunNow(s, now)
	if err != nil {
		t.Fatal(err)
	}
	want := Firing{
		ID: "monthly-statements@now-2026-05-01T08:30:15Z", ScheduleID: "monthly-statements", At: utc(t, "2026-05-01T08:30:15Z"),
		From: utc(t, "2026-03-31T23:00:00Z"), To: utc(t, "2026-04-30T23:00:00Z"),
		Recipient: "self", Scope: schemas.Scope{All: true}, Formats: []string{"midata-csv", "ndjson"},
	}
	if !reflect.DeepEqual(f, want) {
		t.Errorf("RunNow:\n got %+v\nwant %+v", f, want)
	}
	again, _ := RunNow(s, now.Add(10*time.Millisecond))
	if again.ID != f.ID {
		t.Errorf("RunNow within the same second: %s, then %s", f.ID, again.ID)
	}
	s.Paused = true
	if paused, err := RunNow(s, now); err != nil || paused.ID != f.ID {
		t.Errorf("RunNow of a paused schedule = %s, %v; want it run", paused.ID, err)
	}
	s.Period = "fortnight"
	if _, err := RunNow(s, now); !errors.Is(err, ErrInvalid) {
		t.Errorf("RunNow of an invalid schedule: %v, want ErrInvalid", err)
	}
}

func ExampleSchedule_Due() {
	s := Schedule{
		ID: "daily", Spec: "CRON_TZ=Europe/London 0 1 * * *", Recipient: "self",
		Scope: schemas.Scope{All: true}, Period: PreviousDay, Formats: []string{"ndjson"},
	}
	fs, _ := s.Due(time.Date(2026, 3, 28, 12, 0, 0, 0, time.UTC), time.Date(2026, 3, 30, 12, 0, 0, 0, time.UTC))
	for _, f := range fs {
		fmt.Println(f.ID, f.From.Format(time.RFC3339), f.To.Format(time.RFC3339))
	}
	// Output:
	// daily@2026-03-29T01:00:00Z 2026-03-28T00:00:00Z 2026-03-29T00:00:00Z
	// daily@2026-03-30T00:00:00Z 2026-03-29T00:00:00Z 2026-03-29T23:00:00Z
}
