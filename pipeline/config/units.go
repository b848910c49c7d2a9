package config

import "github.com/midata/midata/pipeline/config/units"

// Duration ("7d", "36h", "90m", "30s") and ByteSize ("256MiB") are the
// units of the keys (package units).
type (
	Duration = units.Duration
	ByteSize = units.ByteSize
)

// ParseDuration and ParseByteSize read them from text.
var (
	ParseDuration = units.ParseDuration
	ParseByteSize = units.ParseByteSize
)
