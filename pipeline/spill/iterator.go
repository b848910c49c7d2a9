package spill

import (
	"container/heap"
	"errors"
	"fmt"

	"github.com/midata/midata/schemas"
)

// source is one sorted stream of records merged by an Iterator: a run file
// or the records that stayed in memory. next returns nil at the end; the
// record it returns is valid until the following call.
type source interface {
	next() (*schemas.Transaction, error)
	close() error
}

// Iterator walks sorted records:
//
//	for it.Next() {
//		t := it.Transaction()
//		...
//	}
//	if err := it.Err(); err != nil { ... }
//	it.Close()
//
// Close removes the temporary files; call it in every case.
type Iterator struct {
	h      mergeHeap
	srcs   []source
	runs   []*run // files to remove on Close
	cur    *schemas.Transaction
	err    error
	closed bool
}

// newIterator merges srcs; ties go to the source listed first. It owns runs
// (their files are removed on Close) and closes srcs on failure.
func newIterator(less func(a, b *schemas.Transaction) bool, srcs []source, runs []*run) (*Iterator, error) {
	it := &Iterator{h: mergeHeap{less: less}, srcs: srcs, runs: runs}
	for i, src := range srcs {
		t, err := src.next()
		if err != nil {
			it.Close()
			return nil, err
		}
		if t != nil {
			it.h.items = append(it.h.items, head{rec: t, src: i})
		}
	}
	heap.Init(&it.h)
	return it, nil
}

// Next advances to the next record and reports whether there is one. It
// returns false at the end, after an error (see Err), and after Close.
func (it *Iterator) Next() bool {
	if it.err != nil || it.closed {
		it.cur = nil
		return false
	}
	if it.cur != nil { // advance the source of the record just returned
		top := &it.h.items[0]
		t, err := it.srcs[top.src].next()
		switch {
		case err != nil:
			it.err, it.cur = err, nil
			return false
		case t == nil:
			heap.Pop(&it.h)
		default:
			top.rec = t
			heap.Fix(&it.h, 0)
		}
	}
	if len(it.h.items) == 0 {
		it.cur = nil
		return false
	}
	it.cur = it.h.items[0].rec
	return true
}

// Transaction returns the current record. It is valid until the next call
// to Next or Close; copy it to keep it.
func (it *Iterator) Transaction() *schemas.Transaction { return it.cur }

// Err returns the error that ended the iteration early, if any.
func (it *Iterator) Err() error { return it.err }

// Close closes the run files and removes them. It is safe to call more
// than once; later calls do nothing.
func (it *Iterator) Close() error {
	if it.closed {
		return nil
	}
	it.closed, it.cur = true, nil
	var errs []error
	for _, src := range it.srcs {
		errs = append(errs, src.close())
	}
	for _, r := range it.runs {
		errs = append(errs, r.remove())
	}
	it.srcs, it.runs, it.h.items = nil, nil, nil
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close spill files: %w", err)
	}
	return nil
}

// head is the current record of one source.
type head struct {
	rec *schemas.Transaction
	src int
}

// mergeHeap is a min-heap of source heads; equal records order by source,
// which keeps the merge stable.
type mergeHeap struct {
	items []head
	less  func(a, b *schemas.Transaction) bool
}

func (h *mergeHeap) Len() int { return len(h.items) }

func (h *mergeHeap) Less(i, j int) bool {
	a, b := &h.items[i], &h.items[j]
	if h.less(a.rec, b.rec) {
		return true
	}
	if h.less(b.rec, a.rec) {
		return false
	}
	return a.src < b.src
}

func (h *mergeHeap) Swap(i, j int) { h.items[i], h.items[j] = h.items[j], h.items[i] }

func (h *mergeHeap) Push(x any) { h.items = append(h.items, x.(head)) }

func (h *mergeHeap) Pop() any {
	n := len(h.items) - 1
	x := h.items[n]
	h.items = h.items[:n]
	return x
}
