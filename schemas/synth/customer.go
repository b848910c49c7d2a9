package synth

import (
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/midata/midata/schemas/synth/internal/sched"
)

// account is one account of a customer with its running balance.
type account struct {
	id       string
	currency string
	scale    int   // minor units of the currency
	balance  int64 // in minor units
	shops    []shop
	places   []string
}

// regular is a payment of a customer that repeats (monthly unless cadence
// says otherwise), or a planned one-off (cadence Once, at at).
type regular struct {
	cadence      Cadence      // "" is Monthly (planRegulars' payments)
	weekday      time.Weekday // Weekly: the day of the week
	phase        int          // Quarterly: (month-1) mod 3 of the months it falls in
	month        time.Month   // Yearly: the month
	at           time.Time    // Once: when
	typ          string
	desc         string
	merchantName string
	mcc          string
	day          int           // day of month (Monthly, Quarterly, Yearly); 0: the last day
	workingDay   bool          // moved back to Friday when it falls on a weekend
	clock        time.Duration // time of day (UTC)
	amount       int64         // signed, minor units
	jitter       int64         // largest change per month, minor units
	seasonal     bool
	skipFeb      bool // none in February and March
	account      int
}

// occurrence is one regular payment due at a time.
type occurrence struct {
	at  time.Time
	reg int
}

// txn is a generated transaction before encoding.
type txn struct {
	at           time.Time
	account      int
	typ          string
	amount       int64
	desc         string
	merchantName string
	mcc          string
	pending      bool
}

// customer generates the events of one customer in time order: its
// consent events, its regular payments month by month, and its card spend
// and other irregular transactions at sorted random times.
type customer struct {
	idx  int // 0-based
	id   string
	key  []byte
	rng  *rand.Rand
	home string // home town

	accounts []account
	savings  int // index of the savings account, -1 if none
	foreign  int // index of the euro or dollar account, -1 if none

	regs      []regular
	occ       []occurrence // regular payments of the month being drawn from
	occPos    int
	nextMonth time.Time    // first day of the next month to expand
	dueBuf    [8]time.Time // scratch for regular.dueIn

	spendLeft int     // irregular transactions still to draw
	spendCur  float64 // state of the sorted-uniform sequence
	spendAt   time.Time
	hasSpend  bool
	dayCursor int

	consent    []consentEvent
	consentPos int

	seq int // transactions so far: transaction ids T<n>-<seq>
}

// eventKind is what a customer's next event is.
type eventKind uint8

const (
	noEvent eventKind = iota
	consentKind
	regularKind
	spendKind
)

// newCustomer sets up the customer with 0-based index idx and its share
// quota of the transactions.
func newCustomer(g *generator, idx, quota int) *customer {
	n := idx + 1
	c := &customer{
		idx:     idx,
		id:      customerID(n),
		rng:     rand.New(rand.NewPCG(uint64(g.cfg.Seed), uint64(n)*0x9e3779b97f4a7c15)),
		savings: -1,
		foreign: -1,
	}
	c.key = []byte(c.id)
	c.home = ukPlaces[c.rng.IntN(len(ukPlaces))]
	c.accounts = append(c.accounts, account{id: accountID(n, 1), currency: "GBP", scale: 2,
		balance: 20000 + c.rng.Int64N(330000), shops: ukShops, places: ukPlaces})
	// Every fourth customer has a savings account, a few a euro or dollar one.
	switch {
	case idx%20 == 7:
		c.foreign = len(c.accounts)
		c.accounts = append(c.accounts, account{id: accountID(n, 2), currency: "EUR", scale: 2,
			balance: 30000 + c.rng.Int64N(170000), shops: eurShops, places: eurPlaces})
	case idx%20 == 13:
		c.foreign = len(c.accounts)
		c.accounts = append(c.accounts, account{id: accountID(n, 2), currency: "USD", scale: 2,
			balance: 30000 + c.rng.Int64N(170000), shops: usdShops, places: usdPlaces})
	case idx%4 == 1:
		c.savings = len(c.accounts)
		c.accounts = append(c.accounts, account{id: accountID(n, 2), currency: "GBP", scale: 2,
			balance: 100000 + c.rng.Int64N(1900000)})
	}

	c.regs = c.planRegulars()
	c.regs = append(c.regs, planExtras(g.cfg.Seed, n, c.regs, g.cfg.Start, g.cfg.End)...)
	// Drop the least important regular payments until they fit the quota.
	for len(c.regs) > 0 {
		if r := countRegulars(c.regs, g.cfg.Start, g.cfg.End); r <= quota {
			c.spendLeft = quota - r
			break
		}
		c.regs = c.regs[:len(c.regs)-1]
	}
	if len(c.regs) == 0 {
		c.spendLeft = quota
	}
	c.spendCur = 1
	c.nextMonth = monthStart(g.cfg.Start)
	c.consent = planConsent(idx, g.cfg.Customers, g.cfg.Start, g.cfg.End, c.rng)
	c.advanceSpend(g.timeline)
	return c
}

func customerID(n int) string { return "C" + pad(n, 6) }

func accountID(n, k int) string { return "A" + pad(n, 6) + "-" + strconv.Itoa(k) }

// pad formats n with at least width digits.
func pad(n, width int) string {
	s := strconv.Itoa(n)
	for len(s) < width {
		s = "0" + s
	}
	return s
}

// planRegulars chooses the customer's monthly payments, most important
// first: income, housing, council tax, bills, subscriptions, fees, interest.
func (c *customer) planRegulars() []regular {
	r := c.rng
	clock := func(h int) time.Duration {
		return time.Duration(h)*time.Hour + time.Duration(r.IntN(60))*time.Minute + time.Duration(r.IntN(60))*time.Second
	}
	var regs []regular
	if r.IntN(100) < 92 {
		regs = append(regs, regular{typ: "BGC", desc: employers[r.IntN(len(employers))], day: 25, workingDay: true,
			clock: clock(6), amount: 165000 + r.Int64N(315000), jitter: 6000})
	} else {
		regs = append(regs, regular{typ: "BGC", desc: "DWP UC", day: 12, workingDay: true,
			clock: clock(6), amount: 60000 + r.Int64N(60000)})
	}
	if r.IntN(100) < 90 {
		ll := landlords[r.IntN(len(landlords))]
		typ := "SO"
		if len(ll) > 8 && ll[len(ll)-8:] == "MORTGAGE" {
			typ = "DD"
		}
		regs = append(regs, regular{typ: typ, desc: ll, day: 1, clock: clock(5), amount: -(65000 + r.Int64N(80000))})
	}
	if r.IntN(100) < 95 {
		b := councils[r.IntN(len(councils))]
		regs = append(regs, regular{typ: "DD", desc: b.desc, merchantName: b.name, mcc: b.mcc, day: 1 + r.IntN(15),
			clock: clock(5), amount: -(11000 + r.Int64N(11000)), skipFeb: true})
	}
	for _, g := range bills {
		if r.IntN(1000) >= g.prob {
			continue
		}
		b := g.billers[r.IntN(len(g.billers))]
		desc := b.desc
		if desc == "Spotify P" {
			desc += strconv.FormatUint(uint64(r.Uint32()), 16)
		}
		regs = append(regs, regular{typ: g.typ, desc: desc, merchantName: b.name, mcc: b.mcc, day: 1 + r.IntN(28),
			clock: clock(4), amount: -(g.min + r.Int64N(g.max-g.min+1)), seasonal: g.seasonal})
	}
	if r.IntN(100) < 20 {
		regs = append(regs, regular{typ: "CHG", desc: "MONTHLY ACCOUNT FEE", day: 15, clock: clock(3), amount: -[]int64{300, 1300, 1700}[r.IntN(3)]})
	}
	if c.savings >= 0 {
		regs = append(regs, regular{typ: "INT", desc: "INTEREST PAID", day: 0, clock: clock(2),
			amount: 200 + r.Int64N(5800), jitter: 150, account: c.savings})
	}
	if r.IntN(100) < 50 {
		regs = append(regs, regular{typ: "INT", desc: "CREDIT INTEREST", day: 0, clock: clock(2), amount: 1 + r.Int64N(250), jitter: 1})
	}
	return regs
}

// monthStart returns midnight of the first day of t's month.
func monthStart(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// dueIn appends to dst the times in [start, end) that reg falls in the
// month starting at m (none when it skips that month).
func (reg *regular) dueIn(dst []time.Time, m, start, end time.Time) []time.Time {
	add := func(at time.Time) []time.Time {
		if !at.Before(start) && at.Before(end) {
			dst = append(dst, at)
		}
		return dst
	}
	switch reg.cadence {
	case Once:
		if reg.at.Year() == m.Year() && reg.at.Month() == m.Month() {
			add(reg.at)
		}
		return dst
	case Weekly:
		for d := m.AddDate(0, 0, (int(reg.weekday)-int(m.Weekday())+7)%7); d.Month() == m.Month(); d = d.AddDate(0, 0, 7) {
			add(d.Add(reg.clock))
		}
		return dst
	case Quarterly:
		if (int(m.Month())-1)%3 != reg.phase {
			return dst
		}
	case Yearly:
		if m.Month() != reg.month {
			return dst
		}
	}
	if reg.skipFeb && (m.Month() == time.February || m.Month() == time.March) {
		return dst
	}
	last := m.AddDate(0, 1, -1).Day()
	day := reg.day
	if day == 0 || day > last {
		day = last
	}
	d := time.Date(m.Year(), m.Month(), day, 0, 0, 0, 0, time.UTC)
	if reg.workingDay {
		switch d.Weekday() {
		case time.Saturday:
			d = d.AddDate(0, 0, -1)
		case time.Sunday:
			d = d.AddDate(0, 0, -2)
		}
	}
	return add(d.Add(reg.clock))
}

// countRegulars counts the payments regs make in [start, end).
func countRegulars(regs []regular, start, end time.Time) int {
	n := 0
	var buf [8]time.Time
	for m := monthStart(start); m.Before(end); m = m.AddDate(0, 1, 0) {
		for i := range regs {
			n += len(regs[i].dueIn(buf[:0], m, start, end))
		}
	}
	return n
}

// peekRegular returns the time of the next regular payment.
func (c *customer) peekRegular(start, end time.Time) (time.Time, bool) {
	for c.occPos == len(c.occ) {
		if !c.nextMonth.Before(end) || len(c.regs) == 0 {
			return time.Time{}, false
		}
		c.occ, c.occPos = c.occ[:0], 0
		for i := range c.regs {
			for _, at := range c.regs[i].dueIn(c.dueBuf[:0], c.nextMonth, start, end) {
				c.occ = append(c.occ, occurrence{at: at, reg: i})
			}
		}
		sortOccurrences(c.occ)
		c.nextMonth = c.nextMonth.AddDate(0, 1, 0)
	}
	return c.occ[c.occPos].at, true
}

// sortOccurrences sorts by time, then by regular (insertion sort: a month
// holds a few dozen).
func sortOccurrences(o []occurrence) {
	for i := 1; i < len(o); i++ {
		for j := i; j > 0 && (o[j].at.Before(o[j-1].at) || o[j].at.Equal(o[j-1].at) && o[j].reg < o[j-1].reg); j-- {
			o[j], o[j-1] = o[j-1], o[j]
		}
	}
}

// advanceSpend draws the time of the next irregular transaction. The times
// are the order statistics of spendLeft uniform draws over the timeline,
// produced in ascending order one at a time (the exponential-spacings
// method), so nothing is stored.
func (c *customer) advanceSpend(tl *sched.Timeline) {
	if c.spendLeft == 0 {
		c.hasSpend = false
		return
	}
	c.spendCur *= math.Pow(c.rng.Float64(), 1/float64(c.spendLeft))
	c.spendLeft--
	c.spendAt = tl.At(1-c.spendCur, &c.dayCursor)
	c.hasSpend = true
}

// peek returns the kind and time of the customer's next event.
func (c *customer) peek(g *generator) (eventKind, time.Time) {
	kind, at := noEvent, time.Time{}
	if c.consentPos < len(c.consent) {
		kind, at = consentKind, c.consent[c.consentPos].at
	}
	if t, ok := c.peekRegular(g.cfg.Start, g.cfg.End); ok && (kind == noEvent || t.Before(at)) {
		kind, at = regularKind, t
	}
	if c.hasSpend && (kind == noEvent || c.spendAt.Before(at)) {
		kind, at = spendKind, c.spendAt
	}
	return kind, at
}

// regularTxn takes the next regular payment.
func (c *customer) regularTxn() txn {
	o := c.occ[c.occPos]
	c.occPos++
	reg := &c.regs[o.reg]
	amount := reg.amount
	if reg.jitter > 0 {
		amount += c.rng.Int64N(2*reg.jitter+1) - reg.jitter
		if reg.amount > 0 && amount <= 0 {
			amount = 1
		}
	}
	if reg.seasonal {
		// Energy costs most in January, least in July.
		f := 1 + 0.4*math.Cos(2*math.Pi*float64(o.at.Month()-1)/12)
		amount = int64(float64(amount) * f)
	}
	return txn{at: o.at, account: reg.account, typ: reg.typ, amount: amount,
		desc: reg.desc, merchantName: reg.merchantName, mcc: reg.mcc}
}

// spendTxn draws the next irregular transaction: mostly card spend, some
// cash, faster payments, transfers, fees and refunds.
func (c *customer) spendTxn(g *generator) txn {
	r := c.rng
	t := txn{at: c.spendAt}
	c.advanceSpend(g.timeline)
	roll := r.IntN(1000)
	if c.foreign >= 0 && roll < 150 {
		t.account = c.foreign
		acct := &c.accounts[c.foreign]
		if roll < 20 {
			t.typ, t.desc = "TFR", "TFR FROM "+c.accounts[0].id
			t.amount = 10000 + r.Int64N(40000)
			return t
		}
		c.cardSpend(&t, acct)
		return t
	}
	switch {
	case roll < 780:
		c.cardSpend(&t, &c.accounts[0])
		if r.IntN(100) < 2 {
			t.amount = -t.amount
			t.desc = "REFUND " + t.desc
		}
		// Card payments of the last two days may not have settled yet.
		if g.cfg.End.Sub(t.at) < 48*time.Hour && r.IntN(100) < 50 {
			t.pending = true
		}
	case roll < 830:
		t.typ = "ATM"
		t.amount = -(10 + 10*r.Int64N(20)) * 100
		t.desc = "CASH " + []string{"LNK ", "TESCO ", "SAINSBURYS ", "HSBC "}[r.IntN(4)] + c.home
	case roll < 900:
		t.typ = "FPO"
		t.amount = -(500 + r.Int64N(29500))
		t.desc = "TO " + people[r.IntN(len(people))] + " " + paymentRefs[r.IntN(len(paymentRefs))]
		c.maybeInjection(&t)
	case roll < 950:
		t.typ = "FPI"
		t.amount = 500 + r.Int64N(39500)
		t.desc = "FROM " + people[r.IntN(len(people))] + " " + paymentRefs[r.IntN(len(paymentRefs))]
		c.maybeInjection(&t)
	case roll < 985:
		t.typ = "TFR"
		t.amount = -(5000 + r.Int64N(45000))
		switch {
		case c.savings >= 0 && r.IntN(2) == 0:
			t.account, t.amount, t.desc = c.savings, -t.amount, "TFR FROM "+c.accounts[0].id
		case c.savings >= 0:
			t.desc = "TFR TO " + c.accounts[c.savings].id
		default:
			t.desc = "TFR TO ISA"
		}
	default:
		t.typ = "CHG"
		if r.IntN(2) == 0 {
			t.desc, t.amount = "NON-STERLING TRANSACTION FEE", -(50 + r.Int64N(250))
		} else {
			t.desc, t.amount = "UNARRANGED OVERDRAFT FEE", -500
		}
	}
	return t
}

// cardSpend fills t with a card payment at a shop of acct's catalogue.
func (c *customer) cardSpend(t *txn, acct *account) {
	r := c.rng
	s := pickShop(acct.shops, r)
	t.typ = "POS"
	t.amount = -logUniform(r, s.min, s.max)
	t.merchantName, t.mcc = s.name, s.mcc
	switch s.suffix {
	case storeNumber:
		t.desc = s.desc + " " + strconv.Itoa(1000+r.IntN(9000))
	case placeName:
		place := acct.places[r.IntN(len(acct.places))]
		if acct.currency == "GBP" && r.IntN(3) > 0 {
			place = c.home
		}
		t.desc = s.desc + " " + place
	case reference:
		t.desc = s.desc + randomRef(r)
	default:
		t.desc = s.desc
	}
}

// maybeInjection replaces a few faster-payment descriptions with ones that
// a spreadsheet would run as a formula.
func (c *customer) maybeInjection(t *txn) {
	if c.rng.IntN(100) < 3 {
		t.desc = injectionDescriptions[c.rng.IntN(len(injectionDescriptions))]
	}
}

// pickShop picks a shop by weight.
func pickShop(shops []shop, r *rand.Rand) *shop {
	total := 0
	for i := range shops {
		total += shops[i].weight
	}
	k := r.IntN(total)
	for i := range shops {
		if k < shops[i].weight {
			return &shops[i]
		}
		k -= shops[i].weight
	}
	return &shops[len(shops)-1]
}

// logUniform draws an amount between lo and hi with small amounts likelier.
func logUniform(r *rand.Rand, lo, hi int64) int64 {
	if hi <= lo {
		return lo
	}
	v := int64(float64(lo) * math.Exp(r.Float64()*math.Log(float64(hi)/float64(lo))))
	return min(max(v, lo), hi)
}

// randomRef returns a 9-character reference such as "AB12CD34E".
func randomRef(r *rand.Rand) string {
	const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
	var b [9]byte
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b[:])
}
