package topics

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/midata/midata/pipeline/topics/fetch"
)

// DefaultViewMaxWait is the default ViewConfig.MaxWait.
const DefaultViewMaxWait = time.Second

// ViewConfig configures a View of one compacted topic whose entries are
// of type E.
type ViewConfig[E any] struct {
	// Topic is the compacted topic. Required; it must exist.
	Topic string
	// Decode turns a record that is not a tombstone into the entry of its
	// key. A record it fails on is logged and skipped: its key keeps the
	// entry it had. Required.
	Decode func(m Message) (E, error)
	// Merge, when set, gives the entry of a key after a decoded record:
	// cur is its entry so far (ok false: none), next the record's. It
	// returns the entry to keep and whether it changed. Default: next
	// replaces cur.
	Merge func(cur E, ok bool, next E) (E, bool)
	// Replace, when set, names the keys whose records replace their entry
	// without Merge: for those the View does not ask the Store for the
	// key's entry first, which spares a Store on disk a read per record.
	// Default: Merge, when set, for every key.
	Replace func(key []byte) bool
	// Invalid, when set, is called for a record Decode failed on (after
	// the failure is logged), from the goroutine that applies the record's
	// partition. It says whether the record erases its key's entry, as a
	// tombstone would; else the key keeps the entry it had.
	Invalid func(m Message, err error) (erase bool)
	// Store, when set, keeps the entries: a compact store for views of
	// many keys. Default: a map of the decoded entries.
	Store Store[E]
	// Transient, when true, says that Decode, Invalid, Merge and the Store
	// keep nothing of a Message's Key, Value or header values once they
	// return (a Store copies what it keeps), but for the entry Decode
	// returns, which may refer to them until the View has handed it to
	// Merge or the Store: the View then reads records into memory it
	// reuses, without an allocation per record, and reuses it only after
	// the records of a fetch are applied. Default false: each Message owns
	// its bytes.
	Transient bool
	// OnChange, when set, is called after a record changed or deleted the
	// entry of key, from the goroutine that applies the record's partition,
	// without the View's lock held. It must not block for long.
	OnChange func(key string)
	// Logger receives read errors and undecodable records. Default:
	// discard.
	Logger *slog.Logger
	// MaxWait is how long one fetch waits for new records before asking
	// again; new records arrive as soon as they are written whatever it
	// is. Default 1s.
	MaxWait time.Duration
}

// Validate reports what is wrong with the configuration.
func (c ViewConfig[E]) Validate() error {
	var errs []error
	if c.Topic == "" {
		errs = append(errs, errors.New("no topic"))
	}
	if c.Decode == nil {
		errs = append(errs, errors.New("no decode function"))
	}
	if c.MaxWait < 0 {
		errs = append(errs, fmt.Errorf("max wait %v: want 0 (default %v) or more", c.MaxWait, DefaultViewMaxWait))
	}
	return errors.Join(errs...)
}

// Store keeps the entries of a View. The View calls it with its lock
// held, records of one partition in offset order; a Store that its owner
// also reads directly guards itself.
type Store[E any] interface {
	// Put makes e the entry of m's key; m is the record e was decoded from.
	Put(m Message, e E)
	// Delete forgets the entry of m's key, a tombstone or a record that
	// erases it, and reports whether the key had an entry.
	Delete(m Message) bool
	// Get returns the entry of key.
	Get(key string) (E, bool)
	// Len returns the number of keys with an entry.
	Len() int
	// Range calls fn for every key and its entry until fn returns false.
	Range(fn func(key string, e E) bool)
}

// Preparer is a Store that is told the keys of a fetch response's records
// before they are applied, with the View's lock held, in the order of the
// Put and Delete calls that follow (a record that changes nothing, such
// as an undecodable one, has its key there too): it may load what it will
// need for them (an index in memory: its slots, so that the cache misses
// of a fetch's keys overlap instead of coming one at a time).
type Preparer interface {
	Prepare(keys iter.Seq[[]byte])
}

// mapStore is the default Store: one map entry per key.
type mapStore[E any] map[string]E

func (s mapStore[E]) Put(m Message, e E) { s[string(m.Key)] = e }

func (s mapStore[E]) Delete(m Message) bool {
	_, ok := s[string(m.Key)]
	delete(s, string(m.Key))
	return ok
}

func (s mapStore[E]) Get(key string) (E, bool) {
	e, ok := s[key]
	return e, ok
}

func (s mapStore[E]) Len() int { return len(s) }

func (s mapStore[E]) Range(fn func(key string, e E) bool) {
	for k, e := range s {
		if !fn(k, e) {
			return
		}
	}
}

// ErrViewClosed is returned by the waits of a closed View.
var ErrViewClosed = errors.New("view closed")

// View is the in-memory state of a compacted topic: the latest entry of
// every key. At start it reads the topic from its first offsets up to the
// high watermarks it had when it opened (then Ready reports true), and it
// keeps reading new records until its context ends or Close, with two
// goroutines per partition that Close waits for (one applies a fetch
// response while the other fetches the next). A tombstone deletes its
// key. By default entries are kept as decoded, one map entry per key, so
// the memory per key is the key's bytes, the entry and the map's own few
// words; ViewConfig.Store holds them otherwise. It is safe for concurrent
// use.
type View[E any] struct {
	cfg       ViewConfig[E]
	admin     *admin
	ctx       context.Context // ends when the View stops reading
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	transport *kafka.Transport // of the partitions' fetches

	mu      sync.Mutex
	entries Store[E]
	next    map[int]int64 // the next offset to apply, by partition
	start   map[int]int64 // the high watermarks at start: Ready once next reaches them
	ready   bool
	records int64         // records applied since open
	changed chan struct{} // closed and replaced whenever next moves, once a waiter holds it
	watched bool          // a waiter holds changed

	// Concurrent Syncs share offsets requests: queued is the request that
	// has not started yet, which every Sync called meanwhile joins;
	// running holds a token while one is under way.
	flightMu sync.Mutex
	queued   *endsFlight
	running  chan struct{}
}

// endsFlight is one offsets request shared by the Syncs that joined it
// before it started.
type endsFlight struct {
	done chan struct{}
	last map[int]int64
	err  error
}

// OpenView starts a View of cfg.Topic on conn. The View reads until ctx
// ends or Close is called; call Close in any case to wait for it. It
// returns before the View is Ready: Sync waits for it.
func OpenView[E any](ctx context.Context, conn Connection, cfg ViewConfig[E]) (*View[E], error) {
	if err := errors.Join(conn.Validate(), cfg.Validate()); err != nil {
		return nil, fmt.Errorf("open view of %s: %w", cfg.Topic, err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxWait == 0 {
		cfg.MaxWait = DefaultViewMaxWait
	}
	v := &View[E]{cfg: cfg, admin: newAdmin(conn, cfg.Topic), entries: cfg.Store, changed: make(chan struct{}), running: make(chan struct{}, 1)}
	if v.entries == nil {
		v.entries = mapStore[E]{}
	}
	partitions, err := v.admin.partitions(ctx, cfg.Topic)
	if err == nil {
		v.next, v.start, err = v.admin.offsets(ctx, cfg.Topic, partitions)
	}
	if errors.Is(err, ErrTopicNotFound) {
		err = fmt.Errorf("%w: create it with topics.Ensure", err)
	}
	if err != nil {
		v.admin.close()
		return nil, fmt.Errorf("open view of %s: %w", cfg.Topic, err)
	}
	v.ready = v.caughtUp(v.start)

	v.ctx, v.cancel = context.WithCancel(ctx)
	v.transport = conn.Transport()
	v.transport.MetadataTopics = []string{cfg.Topic} // it routes the fetches of this topic only
	// The start offsets, read before any partition's goroutine starts
	// moving v.next.
	from := maps.Clone(v.next)
	for _, p := range partitions {
		r := &fetch.Reader{Transport: v.transport, Addr: conn.Addr(), ClientID: v.admin.conn.ClientID, Topic: cfg.Topic,
			Partition: p, Offset: from[p], MaxWait: cfg.MaxWait, Timeout: v.admin.conn.RequestTimeout, Reuse: cfg.Transient}
		backlog := v.start[p] // the partition's records up to here are its backlog
		// The backlog first, as fast as the broker answers, then each new
		// record as soon as it is written (a fetch waits up to MaxWait).
		v.wg.Go(func() {
			var ops []op[E]
			r.Stream(v.ctx, v.cfg.Logger, func(recs []fetch.Record, next int64) {
				if cap(ops) < len(recs) {
					ops = make([]op[E], 0, len(recs)) // one allocation, not a growing slice's
				}
				ops = v.apply(p, recs, next, ops[:0])
				clear(ops) // what the entries keep stays, the rest can go
				if cap(ops) > maxKeptOps && next >= backlog {
					ops = nil // the backlog read: live tailing needs far fewer
				}
			})
		})
	}
	return v, nil
}

// Topic returns the topic the View reads.
func (v *View[E]) Topic() string { return v.cfg.Topic }

// maxKeptOps is the most decoded records a partition's reader keeps room
// for between fetches once it has read its backlog. Catching up reads
// fetches of thousands of records (a consent event's op is about 350
// bytes): the room for them is kept while the backlog is read (growing it
// anew for each fetch was 15 % of the consent view's build), but keeping
// it for each partition afterwards was 4 MiB of a serve process's live
// heap for 20,000 keys.
const maxKeptOps = 256

// op is one record of a fetch response, decoded.
type op[E any] struct {
	m       Message
	e       E
	decoded bool // e is the record's entry
	erase   bool // the record deletes its key's entry
}

// apply applies the records of one fetch response of partition p, after
// which the partition's next offset is next, under one hold of the lock:
// they are decoded first, without it. It returns ops for reuse.
func (v *View[E]) apply(p int, recs []fetch.Record, next int64, ops []op[E]) []op[E] {
	for _, r := range recs {
		o := op[E]{m: Message{Partition: p, Offset: r.Offset, Key: r.Key, Value: r.Value, Time: r.Time}}
		for _, h := range r.Headers {
			o.m.Headers = append(o.m.Headers, Header(h))
		}
		o.erase = r.Value == nil // a tombstone: the key is forgotten
		if !o.erase {
			var err error
			if o.e, err = v.cfg.Decode(o.m); err != nil {
				v.cfg.Logger.Warn("skip undecodable record", "topic", v.cfg.Topic, "partition", p, "offset", r.Offset, "key", string(r.Key), "error", err)
				o.erase = v.cfg.Invalid != nil && v.cfg.Invalid(o.m, err)
			} else {
				o.decoded = true
			}
		}
		ops = append(ops, o)
	}
	var changed []string // keys, for OnChange
	v.mu.Lock()
	if p, ok := v.entries.(Preparer); ok && len(ops) > 0 {
		p.Prepare(func(yield func([]byte) bool) {
			for i := range ops {
				if !yield(ops[i].m.Key) {
					return
				}
			}
		})
	}
	for i := range ops {
		o := &ops[i]
		ch := false
		switch {
		case o.erase:
			ch = v.entries.Delete(o.m)
		case o.decoded && v.cfg.Merge != nil && (v.cfg.Replace == nil || !v.cfg.Replace(o.m.Key)):
			cur, ok := v.entries.Get(string(o.m.Key))
			var merged E
			if merged, ch = v.cfg.Merge(cur, ok, o.e); ch {
				v.entries.Put(o.m, merged)
			}
		case o.decoded:
			v.entries.Put(o.m, o.e)
			ch = true
		}
		if ch && v.cfg.OnChange != nil {
			changed = append(changed, string(o.m.Key))
		}
	}
	moved := next > v.next[p] || len(ops) > 0
	v.next[p] = max(v.next[p], next)
	v.records += int64(len(ops))
	if !v.ready && v.caughtUp(v.start) {
		v.ready = true
	}
	if v.watched && moved {
		close(v.changed)
		v.changed, v.watched = make(chan struct{}), false
	}
	v.mu.Unlock()
	for _, key := range changed {
		v.cfg.OnChange(key)
	}
	return ops
}

// caughtUp reports whether every partition's next offset has reached
// target. v.mu must be held, or v not shared yet.
func (v *View[E]) caughtUp(target map[int]int64) bool {
	for p, off := range target {
		if v.next[p] < off {
			return false
		}
	}
	return true
}

// Ready reports whether the View has applied every record that was on the
// topic when it opened.
func (v *View[E]) Ready() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.ready
}

// Sync returns once the View has applied every record written before the
// call (read-your-writes across instances): one offsets request for the
// high watermarks, then a wait for the readers to reach them.
func (v *View[E]) Sync(ctx context.Context) error {
	last, err := v.ends(ctx)
	if err != nil {
		return fmt.Errorf("sync view of %s: %w", v.cfg.Topic, err)
	}
	if err := v.waitFor(ctx, func() bool { return v.caughtUp(last) }); err != nil {
		return fmt.Errorf("sync view of %s: %w", v.cfg.Topic, err)
	}
	return nil
}

// ends returns the topic's end offsets from a request that started after
// ends was called. Callers at the same time share one request: a bulk task
// with 16 commits in flight asks once where each asked alone, and the
// answer is as fresh for each of them (it was asked after they called).
func (v *View[E]) ends(ctx context.Context) (map[int]int64, error) {
	v.flightMu.Lock()
	f := v.queued
	if f == nil {
		f = &endsFlight{done: make(chan struct{})}
		v.queued = f
		go v.fly(f)
	}
	v.flightMu.Unlock()
	select {
	case <-f.done:
		return f.last, f.err
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-v.ctx.Done():
		return nil, ErrViewClosed
	}
}

// fly runs the offsets request of f once the one before it has ended; from
// the moment it starts, new callers queue the next one.
func (v *View[E]) fly(f *endsFlight) {
	defer close(f.done)
	select {
	case v.running <- struct{}{}:
	case <-v.ctx.Done():
		f.err = ErrViewClosed
		return
	}
	defer func() { <-v.running }()
	v.flightMu.Lock()
	v.queued = nil
	v.flightMu.Unlock()
	v.mu.Lock()
	partitions := make([]int, 0, len(v.next))
	for p := range v.next {
		partitions = append(partitions, p)
	}
	v.mu.Unlock()
	ctx, cancel := context.WithTimeout(v.ctx, syncRequestTimeout)
	defer cancel()
	f.last, f.err = v.admin.ends(ctx, v.cfg.Topic, partitions)
}

// syncRequestTimeout bounds one offsets request of Sync.
const syncRequestTimeout = 30 * time.Second

// waitFor blocks until cond, called with v.mu held, holds. It fails when
// ctx ends or the View stops reading.
func (v *View[E]) waitFor(ctx context.Context, cond func() bool) error {
	for {
		v.mu.Lock()
		ok, changed := cond(), v.changed
		v.watched = v.watched || !ok
		v.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-v.ctx.Done():
			return ErrViewClosed
		case <-changed:
		}
	}
}

// Records returns how many records the View has read since it opened:
// each record of the topic once, however often it is synced.
func (v *View[E]) Records() int64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.records
}

// Get returns the entry of key.
func (v *View[E]) Get(key string) (E, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.entries.Get(key)
}

// Len returns the number of keys.
func (v *View[E]) Len() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.entries.Len()
}

// Range calls fn for every key and its entry, in no order, until fn
// returns false. It holds the View's lock: fn must not call the View, and
// records wait until Range returns.
func (v *View[E]) Range(fn func(key string, e E) bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.entries.Range(fn)
}

// Wait blocks until key has an entry that satisfies ok, and returns it.
// ok is called with the View's lock held. Wait fails when ctx ends or the
// View closes.
func (v *View[E]) Wait(ctx context.Context, key string, ok func(E) bool) (E, error) {
	var got E
	err := v.waitFor(ctx, func() bool {
		e, found := v.entries.Get(key)
		got = e
		return found && ok(e)
	})
	if err != nil {
		var zero E
		return zero, err
	}
	return got, nil
}

// Close stops reading and waits for the partitions' readers to end (each
// within MaxWait, all at once). Waits in progress fail. Get, Len and Range
// still answer from the last state.
func (v *View[E]) Close() error {
	if v.cancel != nil {
		v.cancel()
	}
	v.wg.Wait()
	if v.transport != nil {
		v.transport.CloseIdleConnections()
	}
	v.admin.close()
	return nil
}
