package schedule

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

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
	Recipient string `json:"recipient"`
	// Scope says whose records are released.
	Scope Scope `json:"scope"`
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

// Scope says whose records a schedule releases: the listed customers, or
// everyone whose consent covers the recipient (All). Exactly one is set.
// Its fields and their types are those of jobs.Scope, so the one converts
// to the other.
type Scope struct {
	Customers []string `json:"customers,omitempty"`
	All       bool     `json:"all,omitempty"`
}

// ErrInvalid is matched (errors.Is) by every error of Validate and Parse:
// the schedule can never work as it is.
var ErrInvalid = errors.New("invalid schedule")

var (
	idPattern        = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
	recipientPattern = regexp.MustCompile(`^(self|partner:[a-z0-9._-]{1,64})$`)
	customerPattern  = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
)

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
	if !recipientPattern.MatchString(s.Recipient) {
		add("recipient %q: want self or partner:<id> (id: 1-64 of a-z 0-9 . _ -)", s.Recipient)
	}
	if msg := s.Scope.problem(); msg != "" {
		add("scope: %s", msg)
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

// problem returns what is wrong with the scope, or "".
func (sc Scope) problem() string {
	switch {
	case sc.All && len(sc.Customers) > 0:
		return `both "all" and "customers": give one`
	case !sc.All && len(sc.Customers) == 0:
		return `neither "all" nor "customers": give {"all": true} or {"customers": [...]}`
	}
	seen := make(map[string]bool, len(sc.Customers))
	for _, c := range sc.Customers {
		switch {
		case !customerPattern.MatchString(c):
			return fmt.Sprintf("customer %q: want 1-64 of A-Z a-z 0-9 . _ -", c)
		case seen[c]:
			return fmt.Sprintf("customer %q twice", c)
		}
		seen[c] = true
	}
	return ""
}

// invalidError is an error that matches ErrInvalid without saying so in
// its message.
type invalidError struct{ msg string }

func (e *invalidError) Error() string        { return e.msg }
func (e *invalidError) Is(target error) bool { return target == ErrInvalid }

func invalidf(format string, args ...any) error {
	return &invalidError{msg: fmt.Sprintf(format, args...)}
}
