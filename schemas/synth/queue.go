package synth

// The two priority queues of the generator hold small pointer-free entries
// and sift by hand: container/heap's interface boxing and the write
// barriers of swapping Messages cost more than generating the records.

// queueEntry is a customer (by index) with the kind and time of its next
// event, in Unix nanoseconds.
type queueEntry struct {
	at   int64
	idx  int32
	kind eventKind
}

// customerQueue is a min-heap of customers by next event time, then index.
type customerQueue []queueEntry

func (q customerQueue) less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].idx < q[j].idx
}

func (q *customerQueue) push(e queueEntry) {
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

// fix0 restores the heap after the first entry changed.
func (q customerQueue) fix0() { q.down(0) }

func (q *customerQueue) pop() {
	h := *q
	last := len(h) - 1
	h[0] = h[last]
	*q = h[:last]
	q.down(0)
}

func (q customerQueue) down(i int) {
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

// pendingQueue holds built messages until their publish time comes, and
// gives them back in (time, creation) order.
type pendingQueue struct {
	msgs    []Message
	free    []int32
	heap    []pendingRef
	created uint64
}

func (q *pendingQueue) len() int { return len(q.heap) }

// peek returns the publish time of the first message.
func (q *pendingQueue) peek() int64 { return q.heap[0].at }

func (q *pendingQueue) less(i, j int) bool {
	a, b := &q.heap[i], &q.heap[j]
	if a.at != b.at {
		return a.at < b.at
	}
	return a.seq < b.seq
}

func (q *pendingQueue) push(m Message) {
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
	q.heap = append(q.heap, pendingRef{at: m.Time.UnixNano(), seq: q.created, slot: slot})
	for i := len(q.heap) - 1; i > 0; {
		p := (i - 1) / 2
		if !q.less(i, p) {
			break
		}
		q.heap[i], q.heap[p] = q.heap[p], q.heap[i]
		i = p
	}
}

func (q *pendingQueue) pop() Message {
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
	q.msgs[slot] = Message{}
	q.free = append(q.free, slot)
	return msg
}
