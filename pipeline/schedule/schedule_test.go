package schedule

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/midata/midata/schemas"
)

// valid returns a schedule that validates; tests change one field.
func valid() Schedule {
	return Schedule{
		ID:        "monthly-statements",
		Spec:      "CRON_TZ=Europe/London 0 1 1 * *",
		Recipient: "self",
		Scope:     schemas.Scope{All: true},
		Period:    PreviousMonth,
		Formats:   []string{"midata-csv", "ndjson"},
	}
}

func TestScheduleValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(*Schedule)
		want   []string // in the error, in this order; none: valid
	}{
		{name: "a complete schedule is valid", change: func(*Schedule) {}},
		{name: "a partner schedule of listed customers is valid", change: func(s *Schedule) {
			s.Recipient, s.Scope = "partner:acme-pds", schemas.Scope{Customers: []string{"C000123", "C000124"}}
		}},
		{name: "every descriptor and a rolling period are valid", change: func(s *Schedule) {
			s.Spec, s.Period = "@every 24h", Last(24*time.Hour)
		}},
		{name: "a paused schedule with a 6-field spec is valid", change: func(s *Schedule) {
			s.Spec, s.Paused = "0 30 6 * * 1", true
		}},
		{name: "an empty id is refused", change: func(s *Schedule) { s.ID = "" }, want: []string{`schedule "": id "": want 1-64`}},
		{name: "an id with capitals is refused", change: func(s *Schedule) { s.ID = "Monthly" }, want: []string{`id "Monthly"`}},
		{name: "an id with @ is refused, as it separates firing ids", change: func(s *Schedule) { s.ID = "a@b" }, want: []string{`id "a@b"`}},
		{name: "an id starting with a dash is refused", change: func(s *Schedule) { s.ID = "-x" }, want: []string{`id "-x"`}},
		{name: "an id of 65 characters is refused", change: func(s *Schedule) { s.ID = strings.Repeat("a", 65) }, want: []string{"id "}},
		{name: "a bad spec is refused quoting it", change: func(s *Schedule) { s.Spec = "61 * * * *" },
			want: []string{`schedule "monthly-statements": spec "61 * * * *": end of range (61) above maximum (59)`}},
		{name: "an unknown recipient is refused", change: func(s *Schedule) { s.Recipient = "bob" }, want: []string{`recipient "bob": want self or partner:<id>`}},
		{name: "a partner without an id is refused", change: func(s *Schedule) { s.Recipient = "partner:" }, want: []string{`recipient "partner:"`}},
		{name: "an empty scope is refused", change: func(s *Schedule) { s.Scope = schemas.Scope{} }, want: []string{`scope: neither "all" nor "customers"`}},
		{name: "a scope of both kinds is refused", change: func(s *Schedule) { s.Scope.Customers = []string{"C1"} }, want: []string{`scope: both "all" and "customers"`}},
		{name: "a bad customer id is refused", change: func(s *Schedule) { s.Scope = schemas.Scope{Customers: []string{"C 1"}} }, want: []string{`scope: customer "C 1"`}},
		{name: "a customer listed twice is refused", change: func(s *Schedule) { s.Scope = schemas.Scope{Customers: []string{"C1", "C1"}} }, want: []string{`scope: customer "C1" twice`}},
		{name: "an unknown period is refused", change: func(s *Schedule) { s.Period = "monthly" }, want: []string{`period "monthly"`}},
		{name: "no formats are refused", change: func(s *Schedule) { s.Formats = nil }, want: []string{"formats: none: want one or more of"}},
		{name: "an unknown format is refused", change: func(s *Schedule) { s.Formats = []string{"xlsx"} }, want: []string{`formats: unknown format "xlsx"`}},
		{name: "a format twice is refused", change: func(s *Schedule) { s.Formats = []string{"ndjson", "ndjson"} }, want: []string{`formats: "ndjson" twice`}},
		{name: "every problem is reported at once, in field order", change: func(s *Schedule) {
			s.Spec, s.Recipient, s.Period = "@fortnightly", "me", ""
		}, want: []string{`spec "@fortnightly"`, `; recipient "me"`, `; period ""`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := valid()
			tt.change(&s)
			err := s.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate: no error, want %q", tt.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("Validate: %v does not match ErrInvalid", err)
			}
			msg, pos := err.Error(), 0
			if !strings.HasPrefix(msg, `schedule "`+s.ID+`": `) {
				t.Errorf("Validate: %q does not start with the schedule's id", msg)
			}
			for _, w := range tt.want {
				i := strings.Index(msg[pos:], w)
				if i < 0 {
					t.Fatalf("Validate: %q lacks %q (after position %d)", msg, w, pos)
				}
				pos += i + len(w)
			}
			if fs, dropped := s.Due(time.Time{}.Add(time.Hour), utc(t, "2026-06-01T00:00:00Z")); len(fs) != 0 || dropped {
				t.Errorf("Due of an invalid schedule = %d firings, want none", len(fs))
			}
		})
	}
}

func TestScheduleJSONKeepsEveryField(t *testing.T) {
	t.Parallel()
	s := valid()
	s.Scope = schemas.Scope{Customers: []string{"C1", "C2"}}
	s.Paused = true
	s.CreatedAt = utc(t, "2026-01-02T03:04:05Z")
	s.UpdatedAt = utc(t, "2026-02-03T04:05:06Z")
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"id":"monthly-statements","cron":"CRON_TZ=Europe/London 0 1 1 * *","recipient":"self",` +
		`"scope":{"customers":["C1","C2"]},"period":"previous_month","formats":["midata-csv","ndjson"],"paused":true,` +
		`"created_at":"2026-01-02T03:04:05Z","updated_at":"2026-02-03T04:05:06Z"}`
	if string(b) != want {
		t.Errorf("JSON:\n got %s\nwant %s", b, want)
	}
	var back Schedule
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, s) {
		t.Errorf("round trip: got %+v, want %+v", back, s)
	}
	var all Schedule
	if err := json.Unmarshal([]byte(`{"scope":{"all":true}}`), &all); err != nil || !all.Scope.All || all.Scope.Customers != nil {
		t.Errorf(`{"all": true} read as %+v, %v`, all.Scope, err)
	}
}
