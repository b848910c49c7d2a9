// Package units reads and writes the units of the configuration:
// durations with days (Duration) and sizes with binary units (ByteSize),
// from text (variables, flags) and YAML.
package units

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration written as Go writes durations ("30s",
// "36h", "90m") or in whole days ("7d"). Convert with time.Duration(d).
type Duration time.Duration

// ParseDuration parses "7d", "36h", "90m", "30s", … A negative duration is
// parsed; config.Validate says where it is not allowed.
func ParseDuration(s string) (Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err == nil && days >= -106751 && days <= 106751 { // within time.Duration
			return Duration(time.Duration(days) * 24 * time.Hour), nil
		}
	} else if d, err := time.ParseDuration(s); err == nil {
		return Duration(d), nil
	}
	return 0, fmt.Errorf("duration %q: want e.g. 7d, 36h, 90m or 30s", s)
}

// String writes whole days as "7d", anything else as time.Duration does.
func (d Duration) String() string {
	const day = 24 * time.Hour
	if td := time.Duration(d); td != 0 && td%day == 0 {
		return strconv.FormatInt(int64(td/day), 10) + "d"
	}
	return time.Duration(d).String()
}

// UnmarshalYAML reads a duration scalar.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		return errors.New("want a duration such as 7d, 36h, 90m or 30s")
	}
	*d = v
	return nil
}

// MarshalYAML writes the duration as String does.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }
