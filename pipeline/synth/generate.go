package synth

import (
	"container/heap"
	"fmt"
	"time"

	"github.com/midata/midata/schemas"
)

// Message is one record of the data set, ready for a Kafka producer.
type Message struct {
	// Topic is Config.TransactionsTopic or Config.ConsentTopic.
	Topic string
	// Key is the customer id (transactions) or customer_id|recipient
	// (consent). Value is the JSON event; nil for a consent tombstone.
	// Generate never changes either after emitting it; emit must not
	// change them either (keys are shared between a customer's messages).
	Key, Value []byte
	// Time is the Kafka timestamp: never before the record's booked_at or
	// event_time; most transactions are published seconds to minutes after
	// booking, a few days late. Messages come in Time order.
	Time time.Time
	// InvalidField is empty for valid records. For the deliberately
	// malformed ones it is the field schemas.DecodeTransaction names in its
	// *schemas.InvalidError ("value", "amount", "currency", "customer_id",
	// "description" or "booked_at").
	InvalidField string
}

// Generate streams the data set of cfg to emit, in Kafka-timestamp order,
// and stops at the first error emit returns (wrapped). It holds one small
// state per customer and a few in-flight messages, never the data set:
// memory does not grow with Transactions.
//
// The same cfg always gives the same messages, byte for byte.
func Generate(cfg Config, emit func(Message) error) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	g := newGenerator(cfg.withDefaults(), emit)
	return g.run()
}

// generator merges the customers' event streams by time and publishes the
// resulting messages in timestamp order.
type generator struct {
	cfg      Config
	timeline *timeline
	emit     func(Message) error
	bst      *time.Location // a +01:00 offset some booking times are written in

	customers customerHeap
	pending   messageHeap // built messages waiting for their publish time
	created   uint64      // messages built so far: tie-break of the pending heap

	valid     int // valid transactions built so far
	malformed int // malformed records built so far
	scratch   txnFields
}

func newGenerator(cfg Config, emit func(Message) error) *generator {
	g := &generator{
		cfg:      cfg,
		timeline: newTimeline(cfg.Start, cfg.End),
		emit:     emit,
		bst:      time.FixedZone("", 3600),
	}
	base, extra := cfg.Transactions/cfg.Customers, cfg.Transactions%cfg.Customers
	g.customers = make(customerHeap, 0, cfg.Customers)
	for i := range cfg.Customers {
		quota := base
		if i < extra {
			quota++
		}
		c := newCustomer(g, i, quota)
		if kind, at := c.peek(g); kind != noEvent {
			g.customers = append(g.customers, heapEntry{c: c, kind: kind, at: at})
		}
	}
	heap.Init(&g.customers)
	return g
}

func (g *generator) run() error {
	for len(g.customers) > 0 {
		e := &g.customers[0]
		c, kind, now := e.c, e.kind, e.at
		// Everything still to come is published at or after now.
		if err := g.flush(now, false); err != nil {
			return err
		}
		switch kind {
		case consentKind:
			g.consentMessage(c)
		case regularKind:
			t := c.regularTxn()
			g.transaction(c, &t)
		case spendKind:
			t := c.spendTxn(g)
			g.transaction(c, &t)
		}
		if k, at := c.peek(g); k != noEvent {
			e.kind, e.at = k, at
			heap.Fix(&g.customers, 0)
		} else {
			heap.Pop(&g.customers)
		}
	}
	return g.flush(time.Time{}, true)
}

// flush emits the pending messages published up to now (all with final).
func (g *generator) flush(now time.Time, final bool) error {
	for len(g.pending) > 0 && (final || !g.pending[0].m.Time.After(now)) {
		p := heap.Pop(&g.pending).(pendingMessage)
		if err := g.emit(p.m); err != nil {
			return fmt.Errorf("emit %s message at %s: %w", p.m.Topic, p.m.Time.Format(time.RFC3339), err)
		}
	}
	return nil
}

func (g *generator) publish(m Message) {
	g.created++
	heap.Push(&g.pending, pendingMessage{m: m, seq: g.created})
}

// consentMessage builds the customer's next consent event.
func (g *generator) consentMessage(c *customer) {
	ev := &c.consent[c.consentPos]
	c.consentPos++
	m := Message{Topic: g.cfg.ConsentTopic, Key: []byte(schemas.ConsentKey(c.id, ev.recipient)), Time: ev.at}
	if !ev.tombstone {
		m.Value = appendConsent(make([]byte, 0, 320), ev, c.id)
	}
	g.publish(m)
}

// transaction applies t to its account, builds its message and, at the
// evenly spaced positions, a malformed record derived from it.
func (g *generator) transaction(c *customer, t *txn) {
	c.seq++
	acct := &c.accounts[t.account]
	if !t.pending {
		acct.balance += t.amount
	}
	r := c.rng

	f := &g.scratch
	*f = txnFields{
		id:           "T" + c.id[1:] + "-" + pad(c.seq, 5),
		customer:     c.id,
		account:      acct.id,
		bookedAt:     g.formatBooked(t.at, r.IntN(100) < 5),
		amount:       string(appendMoney(nil, t.amount, acct.scale)),
		currency:     acct.currency,
		status:       "booked",
		typ:          t.typ,
		description:  t.desc,
		merchantName: t.merchantName,
		mcc:          t.mcc,
	}
	switch {
	case t.pending:
		f.status = "pending" // not settled: no balance yet
	default:
		if r.IntN(100) < 10 {
			f.status = "" // booked by default
		}
		f.balance = string(appendMoney(nil, acct.balance, acct.scale))
	}

	published := t.at.Add(g.publishDelay(c, t))
	g.valid++
	g.publish(Message{Topic: g.cfg.TransactionsTopic, Key: c.key, Value: appendTxn(make([]byte, 0, 384), f), Time: published})

	// Malformed record j follows valid record ⌊(j+1)·T/(M+1)⌋.
	for g.malformed < g.cfg.Malformed && g.valid >= (g.malformed+1)*g.cfg.Transactions/(g.cfg.Malformed+1) {
		g.publish(g.malformedMessage(c, f, published))
		g.malformed++
	}
}

// formatBooked writes a booking time in RFC 3339, in UTC or (inBST) with a
// +01:00 offset: both name the same instant.
func (g *generator) formatBooked(t time.Time, inBST bool) string {
	if inBST {
		t = t.In(g.bst)
	}
	return t.Format(time.RFC3339)
}

// publishDelay is how long after booking a transaction reaches Kafka:
// seconds for payments, minutes for overnight batches, days for a few.
func (g *generator) publishDelay(c *customer, t *txn) time.Duration {
	r := c.rng
	ms := func(lo, hi int64) time.Duration { return time.Duration(lo+r.Int64N(hi-lo+1)) * time.Millisecond }
	if r.IntN(1000) < 3 {
		return 24*time.Hour + ms(0, 5*24*3600*1000)
	}
	switch t.typ {
	case "POS", "ATM":
		return ms(200, 180_000)
	case "FPI", "FPO", "TFR":
		return ms(100, 20_000)
	}
	return ms(60_000, 45*60_000)
}

// malformedKinds are the malformed records, in the order they cycle.
var malformedKinds = [...]string{"value", "amount", "amount", "currency", "customer_id", "description", "booked_at"}

// malformedMessage derives a record that breaks one rule of the contract
// from the valid record f of customer c.
func (g *generator) malformedMessage(c *customer, f *txnFields, published time.Time) Message {
	j := g.malformed
	bad := *f
	bad.id = "T" + c.id[1:] + "-M" + pad(j+1, 4)
	key := c.key
	kind := malformedKinds[j%len(malformedKinds)]
	switch j % len(malformedKinds) {
	case 1: // one decimal too many for pounds
		bad.currency, bad.amount, bad.balance = "GBP", "-12.345", ""
	case 2: // an exponent is not a decimal string
		bad.amount = "1e3"
	case 3: // pence sterling is not an ISO 4217 code
		bad.currency = "GBX"
	case 4: // keyed by another customer
		other := (c.idx + 1) % g.cfg.Customers
		if other == c.idx {
			key = []byte("C000000")
		} else {
			key = []byte(customerID(other + 1))
		}
	case 5:
		bad.omitDescription = true
	case 6: // month 13
		bad.bookedAt = f.bookedAt[:5] + "13" + f.bookedAt[7:]
	}
	value := appendTxn(make([]byte, 0, 384), &bad)
	if j%len(malformedKinds) == 0 { // cut off mid-record
		value = value[:len(value)/2]
	}
	return Message{Topic: g.cfg.TransactionsTopic, Key: key, Value: value, Time: published, InvalidField: kind}
}

// heapEntry is a customer with its next event.
type heapEntry struct {
	c    *customer
	kind eventKind
	at   time.Time
}

// customerHeap orders customers by their next event's time, then number.
type customerHeap []heapEntry

func (h customerHeap) Len() int { return len(h) }
func (h customerHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].c.idx < h[j].c.idx
}
func (h customerHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *customerHeap) Push(x any)   { *h = append(*h, x.(heapEntry)) }
func (h *customerHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// pendingMessage is a built message waiting to be emitted.
type pendingMessage struct {
	m   Message
	seq uint64
}

// messageHeap orders messages by publish time, then by creation.
type messageHeap []pendingMessage

func (h messageHeap) Len() int { return len(h) }
func (h messageHeap) Less(i, j int) bool {
	if !h[i].m.Time.Equal(h[j].m.Time) {
		return h[i].m.Time.Before(h[j].m.Time)
	}
	return h[i].seq < h[j].seq
}
func (h messageHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *messageHeap) Push(x any)   { *h = append(*h, x.(pendingMessage)) }
func (h *messageHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = pendingMessage{}
	*h = old[:len(old)-1]
	return e
}

// timeline maps [0, 1) onto the waking hours (07:00–23:00 UTC) of the
// period, so that card spend happens by day.
type timeline struct {
	days  []time.Time // start of each day's active interval
	secs  []int64     // its length in seconds
	cum   []int64     // seconds before it
	total int64
}

func newTimeline(start, end time.Time) *timeline {
	tl := &timeline{}
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

func (tl *timeline) add(start time.Time, secs int64) {
	tl.days = append(tl.days, start)
	tl.secs = append(tl.secs, secs)
	tl.cum = append(tl.cum, tl.total)
	tl.total += secs
}

// at returns the time at fraction u of the timeline. Calls with ascending u
// share a cursor so that each costs O(1) on average.
func (tl *timeline) at(u float64, cursor *int) time.Time {
	x := min(max(int64(u*float64(tl.total)), 0), tl.total-1)
	i := *cursor
	for i+1 < len(tl.cum) && tl.cum[i+1] <= x {
		i++
	}
	*cursor = i
	return tl.days[i].Add(time.Duration(x-tl.cum[i]) * time.Second)
}
