package consumer

import (
	"sync"

	"github.com/midata/midata/pipeline/topics"
)

// offsetTracker knows, per partition, which fetched messages are still
// being worked on, so that a consumer working on several at once commits
// only below the oldest unfinished one: committing offset n commits everything
// before it, and an unfinished message must be redelivered if the worker
// dies. It is safe for concurrent use.
type offsetTracker struct {
	mu    sync.Mutex
	parts map[int]*partitionOffsets
}

type partitionOffsets struct {
	pending   map[int64]int // fetched, not done: how many times (a refetch after a rebalance)
	end       int64         // one past the highest offset fetched
	committed int64         // the group's offset as far as known: the first fetched, then the last committed
}

func newOffsetTracker() *offsetTracker {
	return &offsetTracker{parts: map[int]*partitionOffsets{}}
}

// fetched records that the message at offset of partition is being worked on.
func (t *offsetTracker) fetched(partition int, offset int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p, ok := t.parts[partition]
	if !ok {
		// The first message of a partition is where the group stood.
		p = &partitionOffsets{pending: map[int64]int{}, committed: offset}
		t.parts[partition] = p
	}
	p.pending[offset]++
	p.end = max(p.end, offset+1)
}

// done records that the work of the messages is committed.
func (t *offsetTracker) done(msgs ...topics.Message) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, m := range msgs {
		p, ok := t.parts[m.Partition]
		if !ok {
			continue
		}
		if p.pending[m.Offset]--; p.pending[m.Offset] <= 0 {
			delete(p.pending, m.Offset)
		}
	}
}

// commitable returns, for every partition whose commit point moved past the
// last commit, a message whose commit (Consumer.commit commits Offset+1) moves the
// group's offset there: the oldest unfinished offset, or past the highest
// fetched one when none is unfinished.
func (t *offsetTracker) commitable() []topics.Message {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []topics.Message
	for id, p := range t.parts {
		point := p.end
		for off := range p.pending {
			point = min(point, off)
		}
		if point > p.committed {
			out = append(out, topics.Message{Partition: id, Offset: point - 1})
		}
	}
	return out
}

// committed records that msgs (from commitable) were committed.
func (t *offsetTracker) committed(msgs []topics.Message) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, m := range msgs {
		if p, ok := t.parts[m.Partition]; ok {
			p.committed = max(p.committed, m.Offset+1)
		}
	}
}
