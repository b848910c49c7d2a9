package consent

import (
	"hash/maphash"
	"iter"
	"math"
	"sync"
	"time"

	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/schemas"
)

// state is the entry of one key in the consent view: its latest valid
// event (zero Status when a tombstone or a garbled event erased it), and
// whether its events were found on two partitions.
//
// A state decoded on the fast path (scanned true, see decodeState) holds
// its consent id and the length of its customer id in consentID and
// customerLen instead, with the bytes of the record it was read from: it is
// valid until the store's Put returns (the View reuses the record's
// memory), and Event has no ids.
type state struct {
	Event schemas.ConsentEvent
	Split bool

	scanned     bool
	consentID   []byte
	customerLen int
}

// Sizes of the store's chunks: entries and bytes are allocated in chunks,
// so a growing store never copies them and wastes at most one chunk each.
const (
	entryChunk = 1 << 12  // entries per chunk
	arenaChunk = 64 << 10 // bytes per chunk; a reference is chunk<<16 | offset
)

// Status codes of an entry.
const (
	statusNone    uint8 = iota // erased, or only ever tombstoned
	statusGranted              // schemas.ConsentGranted
	statusRevoked              // schemas.ConsentRevoked
)

// entry is one key of the store, 64 bytes without pointers: its customer
// id and consent id are references into the arena, its recipient an
// interned id, its times encoded int64s (see encodeTime).
type entry struct {
	times     [4]int64 // window from, window to, expires at, event time
	offset    int64
	customer  uint32 // arena reference
	consentID uint32 // arena reference
	recipient uint32 // index in store.recipients
	partition int32
	idLen     uint16 // bytes of the consent id
	idCap     uint16 // bytes reserved for it in the arena
	custLen   uint8
	status    uint8
	cats      schemas.Category
	split     bool
}

// Encoded times: int64 Unix nanoseconds, except the reserved lowest 2^32
// values: zeroTime for the zero time, exoticBase+i for the i-th time kept
// aside (outside the range of Unix nanoseconds, such as 9999-12-31, or
// inside the reserved range itself).
const (
	zeroTime   = math.MinInt64
	exoticBase = math.MinInt64 + 1
	exoticEnd  = math.MinInt64 + 1<<32
)

// store is the compact topics.Store of the consent view: the entries in
// chunks, customer and consent ids in a byte arena, recipients and rare
// times interned, and an open-addressing index of the keys. Entries are
// never removed: a tombstoned key keeps its partition, so events of one
// key on two partitions are noticed whatever came in between. It guards
// itself: the View writes under its own lock, the consent view reads it
// directly.
type store struct {
	mu      sync.RWMutex
	seed    maphash.Seed
	slots   []uint64 // hash tag<<32 | entry index+1; 0 is empty
	bits    uint     // len(slots) is 1<<bits, at most 1<<32
	entries []*[entryChunk]entry
	n, live int // entries, entries with a state
	arena   [][]byte

	recipients   []schemas.Recipient
	recipientIDs map[schemas.Recipient]uint32
	exotic       []time.Time
	exoticIDs    map[[2]int64]uint32

	prepared uint64 // the sum of the slots Prepare read

	// invalid receives the tombstones with an invalid key, to quarantine.
	invalid func(m topics.Message, err error)
}

func newStore() *store {
	return &store{seed: maphash.MakeSeed(), slots: make([]uint64, 1<<10), bits: 10,
		recipientIDs: map[schemas.Recipient]uint32{}, exoticIDs: map[[2]int64]uint32{}}
}

var (
	_ topics.Store[state] = (*store)(nil)
	_ topics.Preparer     = (*store)(nil)
)

func (s *store) at(i uint32) *entry { return &s.entries[i/entryChunk][i%entryChunk] }

// find returns the index of key's entry, and the slot it is in or would
// go to.
func (s *store) find(key []byte) (idx uint32, slot int, ok bool) {
	return s.findHashed(key, maphash.Bytes(s.seed, key))
}

func (s *store) findHashed(key []byte, h uint64) (idx uint32, slot int, ok bool) {
	tag, mask := h>>32, len(s.slots)-1
	for i := s.home(tag); ; i = (i + 1) & mask {
		v := s.slots[i]
		if v == 0 {
			return 0, i, false
		}
		if v>>32 == tag && s.keyIs(s.at(uint32(v)-1), key) {
			return uint32(v) - 1, i, true
		}
	}
}

// home is the first slot of a key whose hash has the high 32 bits tag:
// the tag's top bits, so growing the index needs no key hashed again.
func (s *store) home(tag uint64) int {
	return int(tag >> (32 - s.bits))
}

// keyIs reports whether e is the entry of key.
func (s *store) keyIs(e *entry, key []byte) bool {
	n := int(e.custLen)
	r := s.recipients[e.recipient]
	return len(key) == n+1+len(r) && key[n] == '|' && string(key[n+1:]) == string(r) && string(key[:n]) == string(s.bytes(e.customer, n))
}

// entryOf returns the entry of key, creating it (with the customer id and
// recipient of key, split at its first '|') when missing.
func (s *store) entryOf(key []byte, customerLen int) (e *entry, created bool) {
	h := maphash.Bytes(s.seed, key)
	idx, slot, ok := s.findHashed(key, h)
	if ok {
		return s.at(idx), false
	}
	if (s.n+1)*4 > len(s.slots)*3 {
		s.grow()
		_, slot, _ = s.findHashed(key, h)
	}
	if s.n%entryChunk == 0 {
		s.entries = append(s.entries, new([entryChunk]entry))
	}
	idx = uint32(s.n)
	s.n++
	e = s.at(idx)
	id, ok := s.recipientIDs[schemas.Recipient(key[customerLen+1:])]
	if !ok {
		rec := schemas.Recipient(key[customerLen+1:])
		id = uint32(len(s.recipients))
		s.recipients = append(s.recipients, rec)
		s.recipientIDs[rec] = id
	}
	*e = entry{customer: s.add(key[:customerLen]), custLen: uint8(customerLen), recipient: id}
	s.slots[slot] = h>>32<<32 | uint64(idx+1)
	return e, true
}

// grow doubles the index.
func (s *store) grow() {
	old := s.slots
	s.slots, s.bits = make([]uint64, 2*len(old)), s.bits+1
	mask := len(s.slots) - 1
	for _, v := range old {
		if v == 0 {
			continue
		}
		i := s.home(v >> 32)
		for s.slots[i] != 0 {
			i = (i + 1) & mask
		}
		s.slots[i] = v
	}
}

// keyOf returns the key of e, in buf.
func (s *store) keyOf(buf []byte, e *entry) []byte {
	return append(append(append(buf[:0], s.bytes(e.customer, int(e.custLen))...), '|'), s.recipients[e.recipient]...)
}

// add copies b into the arena and returns its reference.
func (s *store) add(b []byte) uint32 {
	last := len(s.arena) - 1
	if last < 0 || len(s.arena[last])+len(b) > arenaChunk {
		s.arena = append(s.arena, make([]byte, 0, arenaChunk))
		last++
	}
	ref := uint32(last)<<16 | uint32(len(s.arena[last]))
	s.arena[last] = append(s.arena[last], b...)
	return ref
}

func (s *store) bytes(ref uint32, n int) []byte {
	off := int(ref & 0xffff)
	return s.arena[ref>>16][off : off+n]
}

// Prepare reads the index slots where keys would be found or go, so that
// the Puts and Deletes of a fetch's records find them in the cache: the
// loads of many keys overlap, those of the Puts would come one at a time
// (topics.Preparer). An index that grows meanwhile just misses again.
func (s *store) Prepare(keys iter.Seq[[]byte]) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var sum uint64
	for key := range keys {
		sum += s.slots[s.home(maphash.Bytes(s.seed, key)>>32)]
	}
	s.prepared = sum // kept, so that the loads are not optimized away
}

// Put makes st the state of m's key, a valid key of a decoded event.
func (s *store) Put(m topics.Message, st state) {
	ev := st.Event
	id, customerLen := st.consentID, st.customerLen
	if !st.scanned {
		id, customerLen = []byte(ev.ConsentID), len(ev.CustomerID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, created := s.entryOf(m.Key, customerLen)
	s.track(e, created, m.Partition)
	if e.status == statusNone {
		s.live++
	}
	if n := len(id); n <= int(e.idCap) {
		copy(s.bytes(e.consentID, n), id)
	} else {
		e.consentID, e.idCap = s.add(id), uint16(n)
	}
	e.idLen = uint16(len(id))
	e.status = statusGranted
	if ev.Status != schemas.ConsentGranted {
		e.status = statusRevoked
	}
	e.cats, e.offset = ev.Categories, m.Offset
	for i, t := range [4]time.Time{ev.WindowFrom, ev.WindowTo, ev.ExpiresAt, ev.EventTime} {
		e.times[i] = s.encodeTime(t)
	}
}

// Delete erases the state of m's key: a tombstone, or an invalid event
// that erases the grant before it. A key that is not a valid
// customer|recipient can hold no state, so it is not kept; a tombstone
// with such a key goes to quarantine.
func (s *store) Delete(m topics.Message) bool {
	if _, _, err := schemas.DecodeConsentEvent(m.Key, nil); err != nil {
		if len(m.Value) == 0 && s.invalid != nil {
			s.invalid(m, err)
		}
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, created := s.entryOf(m.Key, bytesIndex(m.Key, '|'))
	s.track(e, created, m.Partition)
	if e.status == statusNone {
		return false
	}
	e.status = statusNone
	s.live--
	return true
}

func bytesIndex(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// track records that an event of e's key was read on partition p.
func (s *store) track(e *entry, created bool, p int) {
	if !created && e.partition != int32(p) {
		e.split = true
	}
	e.partition = int32(p)
}

// Get returns the state of key: ok when it has an event or is split.
func (s *store) Get(key string) (state, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	idx, _, ok := s.find([]byte(key))
	if !ok {
		return state{}, false
	}
	e := s.at(idx)
	if e.status == statusNone && !e.split {
		return state{}, false
	}
	return state{Event: s.event(e), Split: e.split}, true
}

// Len returns the number of keys with a state.
func (s *store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.live
}

// Range calls fn for every key with a state or split.
func (s *store) Range(fn func(key string, st state) bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var buf []byte
	for idx := range uint32(s.n) {
		e := s.at(idx)
		if e.status == statusNone && !e.split {
			continue
		}
		buf = s.keyOf(buf, e)
		if !fn(string(buf), state{Event: s.event(e), Split: e.split}) {
			return
		}
	}
}

// event rebuilds the event of e (zero Status when it has none).
func (s *store) event(e *entry) schemas.ConsentEvent {
	ev := schemas.ConsentEvent{
		CustomerID: string(s.bytes(e.customer, int(e.custLen))),
		Recipient:  s.recipients[e.recipient],
		Partition:  int(e.partition),
	}
	if e.status == statusNone {
		return ev
	}
	ev.ConsentID = string(s.bytes(e.consentID, int(e.idLen)))
	ev.Status = schemas.ConsentGranted
	if e.status == statusRevoked {
		ev.Status = schemas.ConsentRevoked
	}
	ev.Categories, ev.Offset = e.cats, e.offset
	ev.WindowFrom, ev.WindowTo = s.decodeTime(e.times[0]), s.decodeTime(e.times[1])
	ev.ExpiresAt, ev.EventTime = s.decodeTime(e.times[2]), s.decodeTime(e.times[3])
	return ev
}

// eventsOf returns the event of every key of customerID, whatever its
// status, in the order recipients were first seen: one lookup per
// recipient the store knows (self and the partners), not a scan.
func (s *store) eventsOf(customerID string) []schemas.ConsentEvent {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []schemas.ConsentEvent
	for _, rec := range s.recipients {
		idx, _, ok := s.find([]byte(schemas.ConsentKey(customerID, rec)))
		if ok && s.at(idx).status != statusNone {
			out = append(out, s.event(s.at(idx)))
		}
	}
	return out
}

// grant returns the grant of (customerID, recipient) at now.
func (s *store) grant(customerID string, recipient schemas.Recipient, now time.Time) (Grant, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	idx, _, ok := s.find([]byte(schemas.ConsentKey(customerID, recipient)))
	switch {
	case ok && s.at(idx).split:
		return Grant{}, splitKey(customerID, recipient)
	case !ok || s.at(idx).status == statusNone:
		return Grant{}, noRecord(customerID, recipient)
	}
	return GrantOf(s.event(s.at(idx)), now)
}

// granted returns the grant of every customer whose consent lets records
// go to recipient at now and whom keep keeps (every one when nil), by
// customer id.
func (s *store) granted(recipient schemas.Recipient, now time.Time, keep func(customerID string) bool) map[string]Grant {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := map[string]Grant{}
	id, ok := s.recipientIDs[recipient]
	if !ok {
		return out
	}
	for idx := range uint32(s.n) {
		e := s.at(idx)
		if e.recipient != id || e.split || e.status != statusGranted || !e.cats.Has(schemas.Transactions) {
			continue
		}
		if keep != nil && !keep(string(s.bytes(e.customer, int(e.custLen)))) {
			continue
		}
		if g, err := GrantOf(s.event(e), now); err == nil {
			out[g.Event.CustomerID] = g
		}
	}
	return out
}

// encodeTime returns t as an int64: its Unix nanoseconds where they can
// say it, else a reference to it among the times kept aside.
func (s *store) encodeTime(t time.Time) int64 {
	if t.IsZero() {
		return zeroTime
	}
	const limit = math.MaxInt64/1_000_000_000 - 1 // seconds whose nanoseconds fit
	if sec := t.Unix(); sec > -limit && sec < limit {
		if ns := t.UnixNano(); ns >= exoticEnd {
			return ns
		}
	}
	k := [2]int64{t.Unix(), int64(t.Nanosecond())}
	id, ok := s.exoticIDs[k]
	if !ok {
		id = uint32(len(s.exotic))
		s.exotic = append(s.exotic, t.UTC())
		s.exoticIDs[k] = id
	}
	return exoticBase + int64(id)
}

func (s *store) decodeTime(v int64) time.Time {
	switch {
	case v == zeroTime:
		return time.Time{}
	case v < exoticEnd:
		return s.exotic[v-exoticBase]
	}
	return time.Unix(0, v).UTC()
}
