package synth

import (
	"cmp"
	"math/rand/v2"
	"time"

	"github.com/midata/midata/schemas/synth/internal/sched"
)

// Cadence is how often a planned payment falls.
type Cadence string

// The cadences of planned payments.
const (
	Weekly    Cadence = "weekly"
	Monthly   Cadence = "monthly"
	Quarterly Cadence = "quarterly" // every three months
	Yearly    Cadence = "yearly"
	// Once is a one-off payment. Some come in twos or threes to the same
	// payee that look like a repeat and are not one (see planExtras).
	Once Cadence = "once"
)

// The payees of planExtras: weekly standing orders (no merchant data),
// monthly card subscriptions (prices in cardPrices), quarterly and yearly
// direct debits, and one-offs that a careless detector would call
// recurring (they take no other payment in the data set).
var (
	weeklyPayees      = []string{"J SMITH CLEANING", "K NOWAK GARDENING", "M JONES PIANO LESSONS", "A PATEL CHILDCARE", "POCKET MONEY R WILLIAMS"}
	cardSubscriptions = []biller{{"Disney+", "4899", "DISNEY PLUS"}, {"Apple", "5818", "APPLE.COM/BILL"},
		{"YouTube Premium", "4899", "GOOGLE YOUTUBE PREMIUM"}, {"Audible", "5815", "AUDIBLE UK"}, {"Xbox Game Pass", "5816", "MICROSOFT XBOX"}}
	cardPrices       = []int64{799, 299, 1299, 899, 1099}
	quarterlyBillers = []biller{{"HomeServe", "6300", "HOMESERVE PLC"}, {"Anglian Water", "4900", "ANGLIAN WATER QTR"}}
	yearlyBillers    = []biller{{"AA", "6300", "AA BREAKDOWN COVER"}, {"RAC", "6300", "RAC MOTORING SERVICES"}}
	oneOffPayees     = []biller{{"Ticketmaster", "7922", "TICKETMASTER UK"}, {"Etsy", "5999", "ETSY.COM"}, {"eBay", "5999", "EBAY MARKETPLACE"}}
)

// planExtras returns the customer's payments beyond planRegulars': the known
// recurring payments and one-offs the html summary is tested against. They
// come from a random stream of their own (seed, customer number n), so the
// rest of the customer's plan (regular payments, consent) is drawn as it
// was before they were added. In priority order (the quota drops the last
// first):
//
//   - 40%: a weekly standing order to a person, whole pounds, on a weekday.
//   - 60%: a monthly card subscription at a fixed price (Disney+, Apple, …).
//   - 30%: a quarterly direct debit (HomeServe, Anglian Water).
//   - 30%: a yearly direct debit (AA, RAC) in a random month.
//   - One-offs, by n mod 4: none; two payments of the same amount a month
//     apart (a pair is not a series); three of the same amount 5 and 47 days
//     apart (no steady interval); three a month apart of very different
//     amounts (not one price). Each to a payee of oneOffPayees.
//   - Every other customer (n even) with a card subscription also pays that
//     merchant a one-off of four times its price: the same merchant, not
//     the same payment.
func planExtras(seed int64, n int, have []regular, start, end time.Time) []regular {
	r := rand.New(rand.NewPCG(uint64(seed)^0x6a09e667f3bcc909, uint64(n)))
	clock := func(h int) time.Duration {
		return time.Duration(h)*time.Hour + time.Duration(r.IntN(60))*time.Minute + time.Duration(r.IntN(60))*time.Second
	}
	var out []regular
	if r.IntN(100) < 40 {
		out = append(out, regular{cadence: Weekly, typ: "SO", desc: weeklyPayees[r.IntN(len(weeklyPayees))],
			weekday: time.Weekday(1 + r.IntN(5)), clock: clock(5), amount: -(1000 + 500*r.Int64N(15))})
	}
	if r.IntN(100) < 60 {
		k := r.IntN(len(cardSubscriptions))
		out = append(out, regular{typ: "POS", desc: cardSubscriptions[k].desc, merchantName: cardSubscriptions[k].name,
			mcc: cardSubscriptions[k].mcc, day: 1 + r.IntN(28), clock: clock(7), amount: -cardPrices[k]})
	}
	if r.IntN(100) < 30 {
		b := quarterlyBillers[r.IntN(len(quarterlyBillers))]
		out = append(out, regular{cadence: Quarterly, phase: r.IntN(3), typ: "DD", desc: b.desc, merchantName: b.name,
			mcc: b.mcc, day: 1 + r.IntN(28), clock: clock(4), amount: -(3000 + r.Int64N(6001))})
	}
	if r.IntN(100) < 30 {
		b := yearlyBillers[r.IntN(len(yearlyBillers))]
		out = append(out, regular{cadence: Yearly, month: time.Month(1 + r.IntN(12)), typ: "DD", desc: b.desc,
			merchantName: b.name, mcc: b.mcc, day: 1 + r.IntN(28), clock: clock(4), amount: -(9000 + r.Int64N(9001))})
	}
	// day returns a daytime moment days after fraction f of the period.
	day := func(f float64, days int) time.Time {
		return start.Add(time.Duration(f*float64(end.Sub(start)))).Truncate(24*time.Hour).AddDate(0, 0, days).Add(clock(10 + r.IntN(10)))
	}
	once := func(b biller, at time.Time, amount int64) regular {
		return regular{cadence: Once, at: at, typ: "POS", desc: b.desc, merchantName: b.name, mcc: b.mcc, amount: -amount}
	}
	payee, amount, base := oneOffPayees[n%len(oneOffPayees)], 1500+r.Int64N(8500), 0.1+0.3*r.Float64()
	switch n % 4 {
	case 1:
		out = append(out, once(payee, day(base, 0), amount), once(payee, day(base, 30), amount))
	case 2:
		out = append(out, once(payee, day(base, 0), amount), once(payee, day(base, 5), amount), once(payee, day(base, 52), amount))
	case 3:
		out = append(out, once(payee, day(base, 0), amount), once(payee, day(base, 30), amount*5/2), once(payee, day(base, 61), amount*6))
	}
	for _, sub := range append(have[:len(have):len(have)], out...) {
		if n%2 == 0 && sub.typ == "POS" && sub.cadence != Once {
			return append(out, once(biller{sub.merchantName, sub.mcc, sub.desc}, day(0.8, 3), -4*sub.amount))
		}
	}
	return out
}

// PlannedPayment is a payment the generator schedules, rather than draws at
// random: an income, rent, a bill, a subscription, a fee, interest, or one
// of the one-offs. Generate writes one transaction of the customer's
// account at each of Times, with these Type, Description and merchant
// fields.
type PlannedPayment struct {
	CustomerID, AccountID, Currency      string
	Type, Description, MerchantName, MCC string
	Cadence                              Cadence
	// Amount is signed minor units of Currency (negative: money out). It is
	// every payment's amount unless Varies (salaries, interest and energy
	// change from month to month around it).
	Amount int64
	Varies bool
	// Times are the booking times in [Start, End), ascending. A payment
	// whose times all fall outside is still listed, with none.
	Times []time.Time
}

// PlannedPayments returns the planned payments of cfg's data set, customer
// by customer, each customer's in priority order: the oracle a test of what
// repeats in the data reads (the html summary's recurring payments). It
// plans the customers as Generate does, without generating the data set.
func PlannedPayments(cfg Config) ([]PlannedPayment, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	g := &generator{cfg: cfg.withDefaults()}
	g.timeline = sched.NewTimeline(g.cfg.Start, g.cfg.End)
	var out []PlannedPayment
	for i := range g.cfg.Customers {
		c := newCustomer(g, i, customerQuota(g.cfg, i))
		for _, reg := range c.regs {
			acct := &c.accounts[reg.account]
			p := PlannedPayment{CustomerID: c.id, AccountID: acct.id, Currency: acct.currency, Type: reg.typ, Description: reg.desc,
				MerchantName: reg.merchantName, MCC: reg.mcc, Cadence: cmp.Or(reg.cadence, Monthly), Amount: reg.amount, Varies: reg.jitter > 0 || reg.seasonal}
			for m := monthStart(g.cfg.Start); m.Before(g.cfg.End); m = m.AddDate(0, 1, 0) {
				p.Times = reg.dueIn(p.Times, m, g.cfg.Start, g.cfg.End)
			}
			out = append(out, p)
		}
	}
	return out, nil
}
