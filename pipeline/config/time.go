package config

import (
	"time"

	"github.com/midata/midata/schemas"
)

// Location returns the organisation's time zone (Timezone; validated).
func (c Config) Location() *time.Location {
	loc, err := time.LoadLocation(c.Timezone)
	if err != nil || c.Timezone == "" {
		loc, _ = time.LoadLocation(schemas.DefaultTimezone)
	}
	return loc
}
