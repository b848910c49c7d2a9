// Package progress prints a line of human progress of a long read (the
// records scanned, released and quarantined, the rate) at most once per
// interval: what the CLI shows on stderr.
package progress

import (
	"fmt"
	"io"
	"time"

	"github.com/midata/midata/schemas/release"
)

// Progress prints a line of human progress at most once per interval.
type Progress struct {
	w       io.Writer
	every   time.Duration
	total   int64
	start   time.Time
	last    time.Time
	printed bool
}

// New returns a Progress writing to w (nothing when w is nil) every
// interval, of a read of total records.
func New(w io.Writer, every time.Duration, total int64) *Progress {
	now := time.Now()
	return &Progress{w: w, every: every, total: total, start: now, last: now}
}

// Tick counts in s: it prints when an interval has passed.
func (p *Progress) Tick(s *release.Counts) {
	if p.w == nil || s.Scanned%4096 != 0 {
		return
	}
	if now := time.Now(); now.Sub(p.last) >= p.every {
		p.last = now
		p.print(s)
	}
}

// Done prints the last line, when any was printed.
func (p *Progress) Done(s *release.Counts) {
	if p.w != nil && p.printed {
		p.print(s)
	}
}

func (p *Progress) print(s *release.Counts) {
	p.printed = true
	pct := 100.0
	if p.total > 0 {
		pct = 100 * float64(s.Scanned) / float64(p.total)
	}
	rate := float64(s.Scanned) / time.Since(p.start).Seconds()
	fmt.Fprintf(p.w, "midata: read %d of %d records (%.0f%%, %.0f/s), %d released, %d quarantined\n",
		s.Scanned, p.total, pct, rate, s.Released, s.Quarantined)
}
