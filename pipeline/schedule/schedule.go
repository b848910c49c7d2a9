package schedule

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/midata/midata/schemas"
	"github.com/midata/midata/schemas/release"
)

// Schedule is a cron schedule of releases: at each fire time of Spec, the
// customers of Scope get a release to Recipient, over the Period that ends
// at (or before) the fire time, in Formats. It is stored as an event on the
// schedules topic and served by the API, hence the JSON tags.
type Schedule struct {
	// ID names the schedule: 1-64 of a-z 0-9 . _ -, starting with a letter
	// or digit. It prefixes the id of every firing.
	ID string `json:"id"`
	// Spec is the cron spec, e.g. "0 3 1 * *", "CRON_TZ=Europe/London 0 1 * * *",
	// "@monthly", "@every 24h"; see the package doc.
	Spec string `json:"cron"`
	// Recipient is "self" (each customer) or "partner:<id>".
	Recipient schemas.Recipient `json:"recipient"`
	// Scope says whose records are released.
	Scope schemas.Scope `json:"scope"`
	// Period says which period each firing releases.
	Period Period `json:"period"`
	// Formats names the release formats, e.g. "midata-csv", "ndjson".
	Formats []string `json:"formats"`
	// Paused stops the schedule firing until it is resumed; the fire times
	// passed while paused are not caught up.
	Paused bool `json:"paused,omitempty"`
	// CreatedAt and UpdatedAt are set by the store.
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ErrInvalid is matched (errors.Is) by every error of Validate and Parse:
// the schedule can never work as it is.
var ErrInvalid = errors.New("invalid schedule")

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// Validate checks every field and reports everything wrong at once, each
// problem naming its field:
//
//	schedule "x": spec "61 * * * *": end of range (61) above maximum (59): 61 (want ...); recipient "bob": want self or partner:<id>
//
// The error matches ErrInvalid.
func (s Schedule) Validate() error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if !idPattern.MatchString(s.ID) {
		add("id %q: want 1-64 of a-z 0-9 . _ -, starting with a letter or digit", s.ID)
	}
	if _, err := parseTimetable(s.Spec); err != nil {
		add("%v", err)
	}
	if err := s.Recipient.Validate(); err != nil {
		add("%v", err)
	}
	if err := s.Scope.Validate(); err != nil {
		add("scope: %v", err)
	}
	if err := s.Period.Validate(); err != nil {
		add("%v", err)
	}
	if len(s.Formats) == 0 {
		add("formats: none: want one or more of %s", strings.Join(release.Names(), ", "))
	}
	seen := make(map[string]bool, len(s.Formats))
	for _, name := range s.Formats {
		if seen[name] {
			add("formats: %q twice", name)
			continue
		}
		seen[name] = true
		if _, err := release.Lookup(name); err != nil {
			add("formats: %v", err)
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return invalidf("schedule %q: %s", s.ID, strings.Join(problems, "; "))
}

// invalidError is an error that matches ErrInvalid without saying so in
// its message.
type invalidError struct{ msg string }

func (e *invalidError) Error() string        { return e.msg }
func (e *invalidError) Is(target error) bool { return target == ErrInvalid }

func invalidf(format string, args ...any) error {
	return &invalidError{msg: fmt.Sprintf(format, args...)}
}
