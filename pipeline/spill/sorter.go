// Package spill sorts transactions with bounded memory: an external merge
// sort, so a release streams in its format's row order even though Kafka
// order is not release order (records are published late) and a release may
// not fit in memory.
//
// Records are kept in memory up to a limit; each full buffer is sorted
// (stably) and written to a temporary run file, and Sort merges the runs
// with a heap. When everything fits, no file is written. Memory is bounded
// by the in-memory limit and the merge fan-in, never by the total.
//
// It owns ordering only: what to sort by is the caller's less function, and
// which records to sort is the caller's business.
package spill

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/midata/midata/schemas"
)

// DefaultMaxInMemory is the records per run when New is given no limit.
const DefaultMaxInMemory = 100_000

// defaultFanIn is the most runs merged at once. More runs are merged in
// passes first, so open files and read buffers stay bounded too.
const defaultFanIn = 32

// Sorter sorts transactions by a less function, spilling to temporary files
// in a directory when there are more than fit in memory. The sort is stable:
// records that are equal under less come out in the order they were added.
// A Sorter is not safe for concurrent use.
type Sorter struct {
	dir   string
	less  func(a, b *schemas.Transaction) bool
	max   int
	fanIn int

	buf   []schemas.Transaction  // records not yet spilled
	order []int32                // buf's indexes in sorted order, reused
	ptrs  []*schemas.Transaction // buf's records in sorted order, reused
	codec codec                  // scratch for encoding
	runs  []*run                 // spilled runs, oldest first
	count int64
	it    *Iterator // the iterator Sort returned; it owns the runs
	done  bool      // Sort or Close was called
}

// New returns a Sorter that spills into temporary files in dir (the system
// temporary directory when empty), ordered by less, which must be a strict
// weak order. maxInMemory records are held in memory per run; when it is 0
// or less, DefaultMaxInMemory (at most math.MaxInt32).
func New(dir string, less func(a, b *schemas.Transaction) bool, maxInMemory int) *Sorter {
	if maxInMemory <= 0 {
		maxInMemory = DefaultMaxInMemory
	}
	maxInMemory = min(maxInMemory, math.MaxInt32) // buffer indexes are int32
	return &Sorter{dir: dir, less: less, max: maxInMemory, fanIn: defaultFanIn}
}

// Add adds a copy of t. When the in-memory buffer is full it is sorted and
// written to a run file. Add fails after Sort or Close.
func (s *Sorter) Add(t *schemas.Transaction) error {
	if s.done {
		return errors.New("add to a sorter that was already sorted or closed")
	}
	if s.less == nil {
		return errors.New("add to a sorter without a less function")
	}
	if len(s.buf) == cap(s.buf) { // grow by doubling, never beyond max
		s.buf = slices.Grow(s.buf, min(max(2*cap(s.buf), 256), s.max)-len(s.buf))
	}
	s.buf = append(s.buf, *t) // strings are immutable: the struct copy is enough
	s.count++
	if len(s.buf) >= s.max {
		return s.spill()
	}
	return nil
}

// Count returns the number of records added.
func (s *Sorter) Count() int64 { return s.count }

// spill sorts the buffer and writes it to a new run.
func (s *Sorter) spill() error {
	sorted := s.sortBuffer()
	r, err := writeRun(s.dir, &s.codec, func(yield func(*schemas.Transaction) bool) {
		for _, t := range sorted {
			if !yield(t) {
				return
			}
		}
	})
	if err != nil {
		return fmt.Errorf("spill %d records: %w", len(sorted), err)
	}
	s.runs = append(s.runs, r)
	clear(s.buf) // let the strings go
	s.buf = s.buf[:0]
	clear(s.ptrs)
	s.ptrs = s.ptrs[:0]
	return nil
}

// sortBuffer sorts the buffered records and returns them in order, as
// pointers into the buffer. It is stable: equal records keep the order they
// were added in, by breaking ties on their index, which lets it use the
// standard library's pattern-defeating quicksort (n log n comparisons)
// instead of sort.Stable (n log² n).
func (s *Sorter) sortBuffer() []*schemas.Transaction {
	s.order = s.order[:0]
	for i := range s.buf {
		s.order = append(s.order, int32(i))
	}
	buf, less := s.buf, s.less
	slices.SortFunc(s.order, func(i, j int32) int {
		switch a, b := &buf[i], &buf[j]; {
		case less(a, b):
			return -1
		case less(b, a):
			return 1
		}
		return int(i - j)
	})
	s.ptrs = s.ptrs[:0]
	for _, i := range s.order {
		s.ptrs = append(s.ptrs, &buf[i])
	}
	return s.ptrs
}

// Sort ends adding and returns an iterator over every record in order. When
// everything fit in memory no file was written; otherwise the runs are
// merged (in passes of at most the fan-in, when there are more). The
// iterator owns the temporary files: its Close removes them. Sort can be
// called once.
func (s *Sorter) Sort() (*Iterator, error) {
	if s.done {
		return nil, errors.New("sort a sorter that was already sorted or closed")
	}
	s.done = true
	if s.less == nil {
		return nil, errors.New("sort records: no less function")
	}
	for len(s.runs)+1 > s.fanIn { // leave a place for the in-memory run
		if err := s.mergePass(); err != nil {
			s.removeRuns()
			return nil, err
		}
	}
	srcs := make([]source, 0, len(s.runs)+1)
	for _, r := range s.runs {
		rr, err := r.open()
		if err != nil {
			for _, src := range srcs {
				src.close()
			}
			s.removeRuns()
			return nil, fmt.Errorf("merge runs: %w", err)
		}
		srcs = append(srcs, rr)
	}
	// The records still in memory came last, so they merge last among equals.
	srcs = append(srcs, &memSource{recs: s.sortBuffer()})
	it, err := newIterator(s.less, srcs, s.runs)
	if err != nil {
		s.removeRuns()
		return nil, fmt.Errorf("merge runs: %w", err)
	}
	s.runs = nil
	s.it = it
	return it, nil
}

// mergePass merges the oldest fanIn runs into one, which takes their place
// at the front so that equal records keep their order.
func (s *Sorter) mergePass() error {
	group := s.runs[:s.fanIn]
	srcs := make([]source, 0, len(group))
	for _, r := range group {
		rr, err := r.open()
		if err != nil {
			for _, src := range srcs {
				src.close()
			}
			return fmt.Errorf("merge runs: %w", err)
		}
		srcs = append(srcs, rr)
	}
	it, err := newIterator(s.less, srcs, nil)
	if err != nil {
		return fmt.Errorf("merge runs: %w", err)
	}
	merged, err := writeRun(s.dir, &s.codec, func(yield func(*schemas.Transaction) bool) {
		for it.Next() && yield(it.Transaction()) {
		}
	})
	if err == nil {
		err = it.Err()
	}
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if merged != nil {
			merged.remove()
		}
		return fmt.Errorf("merge %d runs: %w", len(group), err)
	}
	var errs []error
	for _, r := range group {
		errs = append(errs, r.remove())
	}
	s.runs = append([]*run{merged}, s.runs[s.fanIn:]...)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove merged runs: %w", err)
	}
	return nil
}

// Close releases everything the Sorter holds: the buffer, any run files not
// yet handed to an iterator, and the iterator Sort returned, if any (closing
// it twice is harmless). It is safe to call more than once.
func (s *Sorter) Close() error {
	s.done = true
	s.buf, s.order, s.ptrs = nil, nil, nil
	err := s.removeRuns()
	if s.it != nil {
		err = errors.Join(err, s.it.Close())
	}
	return err
}

// removeRuns removes the run files the Sorter still owns.
func (s *Sorter) removeRuns() error {
	var errs []error
	for _, r := range s.runs {
		errs = append(errs, r.remove())
	}
	s.runs = nil
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove spill files: %w", err)
	}
	return nil
}
