package synth

import (
	"fmt"
	"strconv"
	"time"

	"github.com/midata/midata/schemas"
	"github.com/midata/midata/schemas/synth/internal/sched"
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
	timeline *sched.Timeline
	emit     func(Message) error
	bst      *time.Location // a +01:00 offset some booking times are written in

	customers []*customer
	next      sched.Customers        // customers by their next event
	pending   sched.Pending[Message] // built messages waiting for their publish time

	valid     int // valid transactions built so far
	malformed int // malformed records built so far
	scratch   txnFields

	// Buffers the text of a transaction's generated fields is written to.
	idBuf, bookedBuf, amountBuf, balanceBuf [32]byte
}

func newGenerator(cfg Config, emit func(Message) error) *generator {
	g := &generator{
		cfg:      cfg,
		timeline: sched.NewTimeline(cfg.Start, cfg.End),
		emit:     emit,
		bst:      time.FixedZone("", 3600),
	}
	g.customers = make([]*customer, cfg.Customers)
	for i := range cfg.Customers {
		c := newCustomer(g, i, customerQuota(cfg, i))
		g.customers[i] = c
		if kind, at := c.peek(g); kind != noEvent {
			g.next.Push(sched.Entry{At: at.UnixNano(), Idx: int32(i), Kind: uint8(kind)})
		}
	}
	return g
}

// customerQuota is the share of cfg.Transactions of the customer with
// 0-based index i: an even split, the first ones taking the remainder.
func customerQuota(cfg Config, i int) int {
	q := cfg.Transactions / cfg.Customers
	if i < cfg.Transactions%cfg.Customers {
		q++
	}
	return q
}

func (g *generator) run() error {
	for len(g.next) > 0 {
		e := &g.next[0]
		c, kind, now := g.customers[e.Idx], eventKind(e.Kind), e.At
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
			e.Kind, e.At = uint8(k), at.UnixNano()
			g.next.Fix0()
		} else {
			g.next.Pop()
		}
	}
	return g.flush(0, true)
}

// flush emits the pending messages published up to now, in Unix
// nanoseconds (all with final).
func (g *generator) flush(now int64, final bool) error {
	for g.pending.Len() > 0 && (final || g.pending.Peek() <= now) {
		m := g.pending.Pop()
		if err := g.emit(m); err != nil {
			return fmt.Errorf("emit %s message at %s: %w", m.Topic, m.Time.Format(time.RFC3339), err)
		}
	}
	return nil
}

func (g *generator) publish(m Message) { g.pending.Push(m, m.Time.UnixNano()) }

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
		id:           appendSeq(append(append(g.idBuf[:0], 'T'), c.id[1:]...), c.seq, 5),
		customer:     c.id,
		account:      acct.id,
		bookedAt:     g.appendBooked(g.bookedBuf[:0], t.at, r.IntN(100) < 5),
		amount:       appendMoney(g.amountBuf[:0], t.amount, acct.scale),
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
		f.balance = appendMoney(g.balanceBuf[:0], acct.balance, acct.scale)
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

// appendBooked appends a booking time in RFC 3339, in UTC or (inBST) with
// a +01:00 offset: both name the same instant.
func (g *generator) appendBooked(b []byte, t time.Time, inBST bool) []byte {
	if inBST {
		t = t.In(g.bst)
	}
	return t.AppendFormat(b, time.RFC3339)
}

// appendSeq appends '-' and n with at least width digits.
func appendSeq(b []byte, n, width int) []byte {
	b = append(b, '-')
	for d, p := 1, 10; d < width; d, p = d+1, p*10 {
		if n < p {
			b = append(b, '0')
		}
	}
	return strconv.AppendInt(b, int64(n), 10)
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
	bad.id = []byte("T" + c.id[1:] + "-M" + pad(j+1, 4))
	key := c.key
	kind := malformedKinds[j%len(malformedKinds)]
	switch j % len(malformedKinds) {
	case 1: // one decimal too many for pounds
		bad.currency, bad.amount, bad.balance = "GBP", []byte("-12.345"), nil
	case 2: // an exponent is not a decimal string
		bad.amount = []byte("1e3")
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
		bad.bookedAt = append(append(append([]byte(nil), f.bookedAt[:5]...), "13"...), f.bookedAt[7:]...)
	}
	value := appendTxn(make([]byte, 0, 384), &bad)
	if j%len(malformedKinds) == 0 { // cut off mid-record
		value = value[:len(value)/2]
	}
	return Message{Topic: g.cfg.TransactionsTopic, Key: key, Value: value, Time: published, InvalidField: kind}
}
