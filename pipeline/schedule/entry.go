package schedule

import (
	"errors"
	"time"
)

// Entry is one schedule as the store keeps it: the Schedule, whether it is
// declared in the config file (then read-only), and its fire times as this
// instance knows them.
type Entry struct {
	Schedule
	// Declared is set for a schedule of the config file, which only the
	// config file changes.
	Declared bool
	// NextFire is the next fire time after now; zero when paused.
	NextFire time.Time
	// LastFire is the latest firing this instance queued; zero when none.
	LastFire time.Time
}

// Errors of a schedule store that callers branch on, besides ErrInvalid
// (a schedule that can never work). The API answers them with 404, 409 and
// 503.
var (
	ErrNotFound    = errors.New("no such schedule")
	ErrReadOnly    = errors.New("schedule declared in the config file") // change it there, not through the store
	ErrUnavailable = errors.New("schedules unavailable")                // the topic did not answer; try again
)
