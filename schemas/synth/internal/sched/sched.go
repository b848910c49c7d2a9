// Package sched holds the synthetic data set generator's scheduling: the
// queue of customers by their next event, the queue of built messages by
// publish time, and the timeline of waking hours that card spend falls in.
// It is internal to schemas/synth.
package sched

import "time"

// The two priority queues of the generator hold small pointer-free entries
// and sift by hand: container/heap's interface boxing and the write
// barriers of swapping Messages cost more than generating the records.

// Entry is a customer (by index) with the kind and time of its next
// event, in Unix nanoseconds.
type Entry struct {
	At   int64
	Idx  int32
	Kind uint8
}

// Customers is a min-heap of customers by next event time, then index.
type Customers []Entry

func (q Customers) less(i, j int) bool {
	if q[i].At != q[j].At {
		return q[i].At < q[j].At
	}
	return q[i].Idx < q[j].Idx
}

// Push adds an entry.
func (q *Customers) Push(e Entry) {
	*q = append(*q, e)
	h := *q
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if !h.less(i, p) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

// Fix0 restores the heap after the first entry changed.
func (q Customers) Fix0() { q.down(0) }

// Pop removes the first entry.
func (q *Customers) Pop() {
	h := *q
	last := len(h) - 1
	h[0] = h[last]
	*q = h[:last]
	q.down(0)
}

func (q Customers) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(q) {
			return
		}
		m := l
		if r := l + 1; r < len(q) && q.less(r, l) {
			m = r
		}
		if !q.less(m, i) {
			return
		}
		q[i], q[m] = q[m], q[i]
		i = m
	}
}

// pendingRef is a waiting message: its publish time, its creation number
// (the tie-break) and its slot in pendingQueue.msgs.
type pendingRef struct {
	at   int64
	seq  uint64
	slot int32
}

// Pending holds built messages until their publish time comes, and gives
// them back in (time, creation) order.
type Pending[M any] struct {
	msgs    []M
	free    []int32
	heap    []pendingRef
	created uint64
}

// Len is the number of messages waiting.
func (q *Pending[M]) Len() int { return len(q.heap) }

// Peek returns the publish time of the first message.
func (q *Pending[M]) Peek() int64 { return q.heap[0].at }

func (q *Pending[M]) less(i, j int) bool {
	a, b := &q.heap[i], &q.heap[j]
	if a.at != b.at {
		return a.at < b.at
	}
	return a.seq < b.seq
}

// Push adds a message to publish at (Unix nanoseconds).
func (q *Pending[M]) Push(m M, at int64) {
	var slot int32
	if n := len(q.free); n > 0 {
		slot = q.free[n-1]
		q.free = q.free[:n-1]
		q.msgs[slot] = m
	} else {
		slot = int32(len(q.msgs))
		q.msgs = append(q.msgs, m)
	}
	q.created++
	q.heap = append(q.heap, pendingRef{at: at, seq: q.created, slot: slot})
	for i := len(q.heap) - 1; i > 0; {
		p := (i - 1) / 2
		if !q.less(i, p) {
			break
		}
		q.heap[i], q.heap[p] = q.heap[p], q.heap[i]
		i = p
	}
}

// Pop removes and returns the first message.
func (q *Pending[M]) Pop() M {
	slot := q.heap[0].slot
	last := len(q.heap) - 1
	q.heap[0] = q.heap[last]
	q.heap = q.heap[:last]
	for i := 0; ; {
		l := 2*i + 1
		if l >= len(q.heap) {
			break
		}
		m := l
		if r := l + 1; r < len(q.heap) && q.less(r, l) {
			m = r
		}
		if !q.less(m, i) {
			break
		}
		q.heap[i], q.heap[m] = q.heap[m], q.heap[i]
		i = m
	}
	msg := q.msgs[slot]
	var zero M
	q.msgs[slot] = zero
	q.free = append(q.free, slot)
	return msg
}

// Timeline maps [0, 1) onto the waking hours (07:00–23:00 UTC) of the
// period, so that card spend happens by day.
type Timeline struct {
	days  []time.Time // start of each day's active interval
	secs  []int64     // its length in seconds
	cum   []int64     // seconds before it
	total int64
}

// NewTimeline returns the timeline of [start, end).
func NewTimeline(start, end time.Time) *Timeline {
	tl := &Timeline{}
	for d := start.Truncate(24 * time.Hour); d.Before(end); d = d.Add(24 * time.Hour) {
		s, e := d.Add(7*time.Hour), d.Add(23*time.Hour)
		if s.Before(start) {
			s = start
		}
		if e.After(end) {
			e = end
		}
		if n := int64(e.Sub(s) / time.Second); n > 0 {
			tl.add(s, n)
		}
	}
	if tl.total == 0 { // a period without waking hours: use all of it
		tl.add(start, max(int64(end.Sub(start)/time.Second), 1))
	}
	return tl
}

func (tl *Timeline) add(start time.Time, secs int64) {
	tl.days = append(tl.days, start)
	tl.secs = append(tl.secs, secs)
	tl.cum = append(tl.cum, tl.total)
	tl.total += secs
}

// At returns the time at fraction u of the timeline. Calls with ascending u
// share a cursor so that each costs O(1) on average.
func (tl *Timeline) At(u float64, cursor *int) time.Time {
	x := min(max(int64(u*float64(tl.total)), 0), tl.total-1)
	i := *cursor
	for i+1 < len(tl.cum) && tl.cum[i+1] <= x {
		i++
	}
	*cursor = i
	return tl.days[i].Add(time.Duration(x-tl.cum[i]) * time.Second)
}
