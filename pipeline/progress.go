package pipeline

import (
	"fmt"
	"io"
	"time"

	"github.com/midata/midata/schemas/release"
)

// progress prints a line of human progress at most once per interval.
type progress struct {
	w       io.Writer
	every   time.Duration
	total   int64
	start   time.Time
	last    time.Time
	printed bool
}

func newProgress(w io.Writer, every time.Duration, total int64) *progress {
	now := time.Now()
	return &progress{w: w, every: every, total: total, start: now, last: now}
}

func (p *progress) tick(s *release.Counts) {
	if p.w == nil || s.Scanned%4096 != 0 {
		return
	}
	if now := time.Now(); now.Sub(p.last) >= p.every {
		p.last = now
		p.print(s)
	}
}

func (p *progress) done(s *release.Counts) {
	if p.w != nil && p.printed {
		p.print(s)
	}
}

func (p *progress) print(s *release.Counts) {
	p.printed = true
	pct := 100.0
	if p.total > 0 {
		pct = 100 * float64(s.Scanned) / float64(p.total)
	}
	rate := float64(s.Scanned) / time.Since(p.start).Seconds()
	fmt.Fprintf(p.w, "midata: read %d of %d records (%.0f%%, %.0f/s), %d released, %d quarantined\n",
		s.Scanned, p.total, pct, rate, s.Released, s.Quarantined)
}
