package serve

import (
	"errors"
	"fmt"
	"time"

	"github.com/midata/midata/pipeline/config"
	"github.com/midata/midata/pipeline/schedule"
)

// Declared converts the schedules declared in the config file to the
// schedule package's, each checked fully (cron syntax, period, formats:
// config checks their shape only). The error names each bad schedule by
// its index and matches config.ErrInvalid. A spec without a zone gets loc,
// the organisation's (schedule.InZone).
func Declared(list []config.Schedule, loc *time.Location) ([]schedule.Schedule, error) {
	var out []schedule.Schedule
	var errs []error
	for i, d := range list {
		sc := schedule.Schedule{ID: d.ID, Spec: schedule.InZone(d.Spec, loc), Recipient: d.Recipient, Scope: d.Scope,
			Period: schedule.Period(d.Period), Formats: d.Formats, Paused: d.Paused}
		if err := sc.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("schedules[%d]: %w", i, err))
			continue
		}
		out = append(out, sc)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, invalid{err}
	}
	return out, nil
}

// invalid is a mistake in the configuration: it matches config.ErrInvalid
// and reads as its cause.
type invalid struct{ err error }

func (e invalid) Error() string        { return e.err.Error() }
func (e invalid) Unwrap() error        { return e.err }
func (e invalid) Is(target error) bool { return target == config.ErrInvalid }
