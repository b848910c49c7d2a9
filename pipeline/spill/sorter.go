// Package spill sorts transactions with bounded memory: an external merge
// sort, so a release streams in its format's row order even though Kafka
// order is not release order (records are published late) and a release may
// not fit in memory.
//
// Records are kept in memory up to a limit in bytes (and in records); each
// full buffer is sorted (stably) and written to a temporary run file, and
// Sort merges the runs with a heap, at most a fan-in of them at once (more
// are first merged in passes). When everything fits, no file is written.
// A Sorter's memory is bounded by its byte limit plus the fan-in's read
// buffers, whatever the number of records:
//
//	DefaultMaxBytes (4 MiB) + the merge's read buffers (mergeReadBudget, 512 KiB) + one write buffer (256 KiB)
//
// A buffered record counts the bytes of its struct, its strings and its
// share of the sort's scratch (recordSize), so records with long
// descriptions make shorter runs.
//
// It owns ordering and the compact record encoding of its run files
// (AppendRecord, DecodeRecord; pipeline/bycustomer keeps runs in memory in
// it too): what to sort by is the caller's less function, and which
// records to sort is the caller's business.
package spill

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"

	"github.com/midata/midata/schemas"
)

// DefaultMaxInMemory is the records per run when New is given no limit.
const DefaultMaxInMemory = 100_000

// DefaultMaxBytes is the most memory a Sorter's buffered records take
// (recordSize each, about 360 bytes for a typical card payment) before
// they are spilled to a run: about 11,000 such records. Runs sized in
// bytes keep the memory of a bulk task the same whatever its partition
// holds. A partition of 100 million records makes about 8,600 runs of
// 1.5 MiB on disk, merged down to the fan-in with each record written
// once more (128² runs would take two more writes).
const DefaultMaxBytes = 4 << 20

// defaultFanIn is the most runs merged at once. More runs are merged
// first, so open files stay bounded too (the read buffers share a fixed
// budget, see readBufFor).
const defaultFanIn = 128

// Sorter sorts transactions by a less function, spilling to temporary files
// in a directory when there are more than fit in memory. The sort is stable:
// records that are equal under less come out in the order they were added.
// A Sorter is not safe for concurrent use.
type Sorter struct {
	dir      string
	less     func(a, b *schemas.Transaction) bool
	max      int   // records in memory
	maxBytes int64 // bytes of records in memory (recordSize each)
	fanIn    int

	buf       []schemas.Transaction  // records not yet spilled
	bytes     int64                  // recordSize of the records in buf
	order     []int32                // buf's indexes in sorted order, reused
	ptrs      []*schemas.Transaction // buf's records in sorted order, reused
	codec     codec                  // scratch for encoding
	runs      []*run                 // spilled runs, oldest first
	count     int64
	files     fileCount // run files open for reading, now and at most
	rewritten int64     // records written again by merges before the last
	it        *Iterator // the iterator Sort returned; it owns the runs
	done      bool      // Sort or Close was called
}

// New returns a Sorter that spills into temporary files in dir (the system
// temporary directory when empty), ordered by less, which must be a strict
// weak order. A run holds at most DefaultMaxBytes of records in memory,
// and at most maxInMemory records; when maxInMemory is 0 or less,
// DefaultMaxInMemory (at most math.MaxInt32).
func New(dir string, less func(a, b *schemas.Transaction) bool, maxInMemory int) *Sorter {
	if maxInMemory <= 0 {
		maxInMemory = DefaultMaxInMemory
	}
	maxInMemory = min(maxInMemory, math.MaxInt32) // buffer indexes are int32
	return &Sorter{dir: dir, less: less, max: maxInMemory, maxBytes: DefaultMaxBytes, fanIn: defaultFanIn}
}

// structSize is the memory of one buffered record beyond its strings: the
// struct in the buffer, and its index and pointer in the sort's scratch.
var structSize = int64(reflect.TypeFor[schemas.Transaction]().Size()) + 4 + 8

// recordSize is the memory one buffered record takes: structSize and the
// bytes of its strings (counted even when records share them).
func recordSize(t *schemas.Transaction) int64 {
	n := structSize
	for _, p := range stringFields(t) {
		n += int64(len(*p))
	}
	return n
}

// Add adds a copy of t. When the in-memory buffer is full, in records or
// in bytes, it is sorted and written to a run file. Add fails after Sort or
// Close.
func (s *Sorter) Add(t *schemas.Transaction) error {
	if s.done {
		return errors.New("add to a sorter that was already sorted or closed")
	}
	if s.less == nil {
		return errors.New("add to a sorter without a less function")
	}
	size := recordSize(t)
	if len(s.buf) > 0 && s.bytes+size > s.maxBytes {
		if err := s.spill(); err != nil {
			return err
		}
	}
	if len(s.buf) == cap(s.buf) {
		s.grow()
	}
	s.buf = append(s.buf, *t) // strings are immutable: the struct copy is enough
	s.bytes += size
	s.count++
	if len(s.buf) >= s.max {
		return s.spill()
	}
	return nil
}

// grow makes room in the full buffer: it doubles, but never beyond max
// records or beyond as many more records as the byte limit has room for
// (structs alone), so the buffer's capacity stays within the limit too.
func (s *Sorter) grow() {
	room := int((s.maxBytes - s.bytes) / structSize)
	bigger := make([]schemas.Transaction, len(s.buf), min(max(2*cap(s.buf), 256), s.max, len(s.buf)+max(room, 1)))
	copy(bigger, s.buf)
	s.buf = bigger
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
	s.buf, s.bytes = s.buf[:0], 0
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
	if err := s.mergeDown(); err != nil {
		s.removeRuns()
		return nil, err
	}
	srcs := make([]source, 0, len(s.runs)+1)
	for _, r := range s.runs {
		rr, err := r.open(&s.files, readBufFor(len(s.runs)))
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

// mergeDown merges runs until they and the in-memory run are at most the
// fan-in. Each merge takes consecutive runs (the merged run takes their
// place, so equal records keep their order): the fewest that reach the
// fan-in, at most fanIn, and of those the group with the fewest records,
// so the small runs are merged first and every record is written again
// about log(runs) / log(fanIn) times, however many runs there are (merging
// the oldest runs again and again wrote the first ones once per merge).
func (s *Sorter) mergeDown() error {
	for len(s.runs)+1 > s.fanIn { // a place for the in-memory run
		n := min(s.fanIn, len(s.runs)+2-s.fanIn) // a merge of n runs removes n-1
		if err := s.mergeRuns(s.cheapest(n), n); err != nil {
			return err
		}
	}
	return nil
}

// cheapest returns the index of the first n consecutive runs with the
// fewest records.
func (s *Sorter) cheapest(n int) int {
	var sum, least int64
	at := 0
	for i, r := range s.runs {
		sum += r.n
		if i >= n {
			sum -= s.runs[i-n].n
		}
		if i == n-1 || (i >= n && sum < least) {
			least, at = sum, i-n+1
		}
	}
	return at
}

// mergeRuns merges the n runs from index i into one, which takes their
// place.
func (s *Sorter) mergeRuns(i, n int) error {
	group := s.runs[i : i+n]
	srcs := make([]source, 0, len(group))
	for _, r := range group {
		rr, err := r.open(&s.files, readBufFor(len(s.runs)))
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
	s.rewritten += merged.n
	var errs []error
	for _, r := range group {
		errs = append(errs, r.remove())
	}
	s.runs = slices.Replace(s.runs, i, i+n, merged)
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
