// Package bycustomer splits a stream of records sorted by customer (a bulk
// task's spill.Iterator) into each customer's run, so the runs can be
// released one after another or several at once: a run is taken into
// memory up to a limit, and the rest of a longer one streams from the
// stream.
//
// A run in memory is kept in spill's compact record encoding (about 130
// bytes for a typical card payment, against about 360 as a
// schemas.Transaction and its strings) and decoded as it is read; its
// buffer goes back to its splitter's pool once read, for the next
// customer's run. A bulk task holding its commit depth's runs in memory
// thus holds depth × limit encoded records at most.
//
// It does not sort (pipeline/spill does) or decide what a run is released
// as (the pipeline does).
package bycustomer

import (
	"sync"

	"github.com/midata/midata/pipeline/spill"
	"github.com/midata/midata/schemas"
)

// Less orders records by customer, then by less: the order a Stream must
// have.
func Less(less func(a, b *schemas.Transaction) bool) func(a, b *schemas.Transaction) bool {
	return func(a, b *schemas.Transaction) bool {
		if a.CustomerID != b.CustomerID {
			return a.CustomerID < b.CustomerID
		}
		return less(a, b)
	}
}

// Stream is a stream of records sorted by customer (*spill.Iterator).
type Stream interface {
	Next() bool
	Transaction() *schemas.Transaction // valid until the next call to Next
	Err() error
}

// Splitter reads a Stream one customer's run at a time, one record ahead.
type Splitter struct {
	s    Stream
	cur  schemas.Transaction
	has  bool
	bufs sync.Pool // *[]byte: the buffers of runs that were read, for reuse
}

// NewSplitter returns a Splitter at the start of s.
func NewSplitter(s Stream) *Splitter {
	p := &Splitter{s: s}
	p.advance()
	return p
}

func (p *Splitter) advance() {
	if p.has = p.s.Next(); p.has {
		p.cur = *p.s.Transaction()
	}
}

// at reports whether the next record is customer's.
func (p *Splitter) at(customer string) bool { return p.has && p.cur.CustomerID == customer }

// Err returns the error that ended the stream early, if any.
func (p *Splitter) Err() error { return p.s.Err() }

// Take takes customer's run from each splitter into memory, up to limit
// records each. whole reports that every record of the runs fit. When not,
// each Run streams the rest from its splitter after the records taken, and
// must be drained (Run.Drain) before the splitters are used again. A
// splitter whose stream failed gives no whole run (its end is not known):
// Run.Err and Splitter.Err return the error. The runs may be read on
// other goroutines than Take's, one goroutine per run.
func Take[K comparable](splitters map[K]*Splitter, customer string, limit int) (runs map[K]*Run, whole bool) {
	runs = make(map[K]*Run, len(splitters))
	whole = true
	for k, p := range splitters {
		run := &Run{p: p, customer: customer, pool: &p.bufs}
		if p.at(customer) {
			if b, ok := p.bufs.Get().(*[]byte); ok {
				run.buf = (*b)[:0]
			}
		}
		for n := 0; n < limit && p.at(customer); n++ {
			run.buf = spill.AppendRecord(run.buf, &p.cur)
			p.advance()
		}
		run.rest = run.buf
		if p.at(customer) || p.Err() != nil {
			whole = false
		} else {
			run.p = nil // every record is in buf
		}
		runs[k] = run
	}
	return runs, whole
}

// Run is one customer's records: those taken into memory, then (for a run
// longer than the limit) the rest, read from the splitter.
type Run struct {
	buf      []byte // the records taken, spill.AppendRecord's encoding
	rest     []byte // those of buf not read yet
	pool     *sync.Pool
	p        *Splitter
	customer string
	cur      schemas.Transaction
	err      error // a record in buf that did not decode
}

// Next advances to the run's next record and reports whether there is one.
func (r *Run) Next() bool {
	if r.err != nil {
		return false
	}
	if len(r.rest) > 0 {
		var err error
		if r.rest, err = spill.DecodeRecord(r.rest, &r.cur); err != nil {
			r.err = err
			return false
		}
		if len(r.rest) == 0 { // the last one: the buffer is free
			r.free()
		}
		return true
	}
	if r.p == nil || !r.p.at(r.customer) {
		return false
	}
	r.cur = r.p.cur
	r.p.advance()
	return true
}

// free hands the buffer back to the splitter's pool.
func (r *Run) free() {
	if r.buf != nil {
		b := r.buf[:0]
		r.pool.Put(&b)
		r.buf, r.rest = nil, nil
	}
}

// Transaction returns the current record, valid until the next call to
// Next.
func (r *Run) Transaction() *schemas.Transaction { return &r.cur }

// Err returns the error of the stream the run reads from, if any.
func (r *Run) Err() error {
	if r.err != nil {
		return r.err
	}
	if r.p == nil {
		return nil
	}
	return r.p.Err()
}

// Drain skips what is left of the run.
func (r *Run) Drain() {
	for r.Next() {
	}
}
