// Package summary owns the html summary release format: a one-page,
// self-contained HTML summary of a customer's release (money in and out,
// by month and by merchant category group, top merchants, recurring
// payments and balance over time, as inline SVG charts and tables), its
// Format and its encoder, which aggregates in bounded memory and writes the
// page at Close.
//
// It does not list formats, filter records or decide who may receive the
// page (it is for recipient self only; the pipeline checks): schemas/release
// lists the formats, and the contract it implements is
// schemas/release/format.
package summary

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/midata/midata/schemas"
	"github.com/midata/midata/schemas/release/format"
	"github.com/midata/midata/schemas/release/summary/internal/recurring"
)

// Format is the html summary (version 2): one self-contained HTML page for
// the customer with the period, money in and out, the same by month,
// spending by merchant category group, top merchants, recurring payments
// and balance over time, as inline SVG charts each followed by a table of
// the same numbers, and tables. It has no scripts, no styles or fonts but
// its own inline <style>, and no reference to anything outside the file.
// It is not a table, so it has no Table Schema.
//
// New writes it: the summary needs the period and the customer from
// format.Options, not just the grant. It is made only for recipient self.
//
// The page is made in one pass in memory independent of the number of
// records: per currency it keeps totals, one pair of sums per month, one
// sum per category group, one sum per merchant (at most maxMerchants), the
// latest recurring.MaxKept payments out to each payee (at most
// maxPayees) and one balance per account (at most maxAccounts) and UK day,
// and writes everything at Close. What it shows:
//
//   - One section per currency, GBP first then by ISO code: amounts in
//     different currencies are never added together.
//   - Money in is the sum of the positive amounts, money out the sum of the
//     negative ones written without their sign, net is in minus out; zero
//     amounts count as transactions but neither in nor out. Sums are exact
//     integers of the currency's minor units (never floats, never rounded;
//     an amount with more places than its currency has raises the
//     section's scale), and a sum that would overflow int64 is an error.
//   - Months are UK months (Europe/London), every month of the period from
//     the month of From to the month of the last instant before To, with
//     zero for months without records. An open end of the period uses the
//     first or last booking instead.
//   - Spending (money out only) by merchant category group of the record's
//     MCC (mccGroup); records without an MCC are "Uncategorised". Without
//     the merchant category granted there is no category breakdown at all,
//     and the page says merchant data was not shared.
//   - Top merchants (merchant category only): the maxTop merchant names
//     with the most money out, with the number of payments (topMerchants).
//   - Recurring payments: payments out to one payee at a steady interval,
//     for about the same amount, with when the next is expected and what
//     they cost a year (see recurring.Detect for the rules). Without the
//     merchant category they are found all the same, but not named: the
//     page shows neither merchant names nor descriptions, which often
//     carry the merchant's name (TESCO STORES 1234).
//   - Balance over time (balances category only): per account, the
//     balance after the last transaction of each UK day as a line chart,
//     and the lowest, highest and last such balance of each month.
//
// Amounts read "£1,234.56" for GBP and "EUR 1,234.56" for other currencies.
// For machines (tests, the browser check) every number on the page is also
// in a <data> element whose value attribute is the exact integer:
//
//	<data class="transactions" value="N">   records in the release (all currencies)
//	<section class="currency" data-currency="GBP" data-scale="2">
//	  .total-in .total-out .net             minor units at data-scale (out is
//	                                        non-negative; net is signed)
//	  .count .count-in .count-out           records: all, money in, money out
//	  tr[data-month="2026-03"] .month-in .month-out   minor units
//	  tr[data-category="groceries"] .category-out .category-count
//	  tr[data-merchant-rank="1"] .merchant-out .merchant-count
//	  tr[data-recurring][data-kind][data-cadence][data-active]
//	    .recurring-amount .recurring-yearly   minor units
//	    time.recurring-last time.recurring-next   datetime="2026-03-04"
//	  .recurring-total                      yearly cost of those still running
//	  div.balance[data-account]
//	    tr[data-balance-month] .balance-low .balance-high .balance-end
//
// Without the transactions category nothing at all is written, as in every
// format. With it and no records, the page says there were no transactions.
// Records must belong to format.Options.CustomerID (when set) and lie in the
// period [From, To) (each end when set); Encode refuses any other, so a
// filtering bug upstream cannot put someone else's money on the page.
var Format = format.Format{
	Name:      "html",
	File:      "summary.html",
	MediaType: "text/html",
	Version:   2,
	Order:     format.OldestFirst, // any order gives the same page; oldest first like the others
	New:       New,
	Schema:    nil, // a page, not a table
}

// summaryMoney is money in and out: exact sums in minor units at the
// currency section's scale, and the number of records in each.
type summaryMoney struct {
	in, out   int64 // out is the sum of the magnitudes of negative amounts
	nIn, nOut int64
}

// groupSpend is the money out of one category group.
type groupSpend struct {
	out, n int64
}

// currencySummary is everything the page shows of one currency.
type currencySummary struct {
	code   string
	scale  int32 // minor-unit digits of every sum below
	n      int64 // records, zero amounts too
	total  summaryMoney
	months map[int]*summaryMoney // by UK month, year*12 + month-1
	groups [numSpendGroups]groupSpend

	merchants recurring.BottomK[merchantSpend] // by hash of the merchant name
	payees    recurring.BottomK[payee]         // by recurring.Key
	accounts  recurring.BottomK[balanceSeries] // by hash of the account id

	lastMonth int           // a one-entry cache of months
	lastAgg   *summaryMoney // nil until the first record
}

// summaryEncoder aggregates records and writes the page at Close.
type summaryEncoder struct {
	w      io.Writer
	o      format.Options
	uk     *time.Location
	err    error // sticky
	closed bool

	n          int64 // records, all currencies
	currencies map[string]*currencySummary
	last       *currencySummary // a one-entry cache of currencies
	first      time.Time        // earliest and latest booking seen
	latest     time.Time

	// The UK month of the last record, [monthStart, monthEnd) as instants:
	// a record inside it needs no time zone lookup.
	month                int
	monthStart, monthEnd time.Time
	// The same for the UK day of the last payment out or balance.
	day              int32 // days since 1 January 1970 of the UK date
	dayStart, dayEnd time.Time
}

// ukZone is the time zone of the page's months and dates: the zone the
// midata CSV writes its dates in.
const ukZone = "Europe/London"

// errSumOverflow is returned when a sum leaves int64.
var errSumOverflow = errors.New("sum overflows int64 minor units")

// New returns an encoder of the html summary (see Format) writing
// to w for the release o describes. Records may come in any order; the
// page is written at Close.
func New(w io.Writer, o format.Options) format.Encoder {
	e := &summaryEncoder{w: w, o: o, currencies: make(map[string]*currencySummary)}
	uk, err := time.LoadLocation(ukZone)
	if err != nil {
		e.err = fmt.Errorf("load time zone %s: %w", ukZone, err)
	}
	e.uk = uk
	return e
}

// Encode adds one record to the sums.
func (e *summaryEncoder) Encode(t *schemas.Transaction) error {
	if e.err != nil {
		return e.err
	}
	if e.closed {
		return errors.New("summarise transaction: encoder is closed")
	}
	if !e.o.Granted.Has(schemas.Transactions) {
		return nil
	}
	if err := e.add(t); err != nil {
		e.err = fmt.Errorf("summarise transaction %s: %w", t.TransactionID, err)
		return e.err
	}
	return nil
}

func (e *summaryEncoder) add(t *schemas.Transaction) error {
	if e.o.CustomerID != "" && t.CustomerID != e.o.CustomerID {
		return fmt.Errorf("record of customer %q in the summary of customer %q", t.CustomerID, e.o.CustomerID)
	}
	at := t.BookedAt
	if (!e.o.From.IsZero() && at.Before(e.o.From)) || (!e.o.To.IsZero() && !at.Before(e.o.To)) {
		return fmt.Errorf("booked at %s, outside the period [%s, %s)", at.UTC().Format(time.RFC3339Nano),
			e.o.From.UTC().Format(time.RFC3339), e.o.To.UTC().Format(time.RFC3339))
	}
	c := e.last
	if c == nil || c.code != t.Currency {
		c = e.currencies[t.Currency]
		if c == nil {
			scale, _ := schemas.CurrencyMinorUnits(t.Currency) // unknown: 0, raised by the amounts
			c = &currencySummary{code: t.Currency, scale: int32(scale), months: make(map[int]*summaryMoney),
				merchants: recurring.BottomK[merchantSpend]{K: maxMerchants}, payees: recurring.BottomK[payee]{K: maxPayees},
				accounts: recurring.BottomK[balanceSeries]{K: maxAccounts}}
			e.currencies[t.Currency] = c
		}
		e.last = c
	}
	units, err := c.units(t.Amount)
	if err != nil {
		return fmt.Errorf("amount %s %s: %w", t.Amount, t.Currency, err)
	}
	if at.Before(e.monthStart) || !at.Before(e.monthEnd) {
		y, m, _ := at.In(e.uk).Date()
		e.month = y*12 + int(m) - 1
		e.monthStart = time.Date(y, m, 1, 0, 0, 0, 0, e.uk)
		e.monthEnd = time.Date(y, m+1, 1, 0, 0, 0, 0, e.uk)
	}
	key := e.month
	mon := c.lastAgg
	if mon == nil || c.lastMonth != key {
		mon = c.months[key]
		if mon == nil {
			mon = new(summaryMoney)
			c.months[key] = mon
		}
		c.lastMonth, c.lastAgg = key, mon
	}
	switch {
	case units > 0:
		if c.total.in, err = addSum(c.total.in, units); err != nil {
			return err
		}
		if mon.in, err = addSum(mon.in, units); err != nil {
			return err
		}
		c.total.nIn++
		mon.nIn++
	case units < 0:
		if units == math.MinInt64 {
			return errSumOverflow
		}
		out := -units
		if c.total.out, err = addSum(c.total.out, out); err != nil {
			return err
		}
		if mon.out, err = addSum(mon.out, out); err != nil {
			return err
		}
		c.total.nOut++
		mon.nOut++
		if e.o.Granted.Has(schemas.Merchant) {
			g := &c.groups[mccGroup(t.MerchantCode)]
			if g.out, err = addSum(g.out, out); err != nil {
				return err
			}
			g.n++
			c.addMerchant(t.MerchantName, out)
		}
		c.addPayment(t, e.ukDay(at), out, e.o.Granted.Has(schemas.Merchant))
	}
	if t.HasBalance && e.o.Granted.Has(schemas.Balances) {
		// A balance that cannot be had in int64 minor units at the
		// section's scale is left out of the chart, not an error: there
		// is no sum of balances to be wrong.
		if bal, err := c.units(t.BalanceAfter); err == nil {
			c.addBalance(t, e.ukDay(at), bal)
		}
	}
	c.n++
	e.n++
	if e.first.IsZero() || at.Before(e.first) {
		e.first = at
	}
	if at.After(e.latest) {
		e.latest = at
	}
	return nil
}

// units returns d in minor units at the section's scale. An amount with
// more places than the scale raises the scale of every sum (exact, never
// rounded), or fails if a sum would overflow.
func (c *currencySummary) units(d schemas.Decimal) (int64, error) {
	if d.Scale > c.scale {
		if _, err := d.Rescale(c.scale); err != nil { // not just trailing zeros
			if err := c.rescale(d.Scale); err != nil {
				return 0, err
			}
		}
	}
	return d.Rescale(c.scale)
}

// rescale multiplies every sum, kept payment and balance by
// 10^(scale-c.scale).
func (c *currencySummary) rescale(scale int32) error {
	var f int64 = 1
	for s := c.scale; s < scale; s++ {
		if f > math.MaxInt64/10 {
			return errSumOverflow
		}
		f *= 10
	}
	sums := []*int64{&c.total.in, &c.total.out}
	for _, m := range c.months {
		sums = append(sums, &m.in, &m.out)
	}
	for i := range c.groups {
		sums = append(sums, &c.groups[i].out)
	}
	for _, m := range c.merchants.M {
		sums = append(sums, &m.out)
	}
	for _, p := range c.payees.M {
		kept := p.paid.Kept()
		for i := range kept {
			sums = append(sums, &kept[i].Units)
		}
	}
	for _, a := range c.accounts.M {
		for _, d := range a.days {
			sums = append(sums, &d.units)
		}
	}
	for _, p := range sums { // check all before changing any; balances may be negative
		if *p > math.MaxInt64/f || *p < -math.MaxInt64/f {
			return errSumOverflow
		}
	}
	for _, p := range sums {
		*p *= f
	}
	c.scale = scale
	return nil
}

// ukDay returns the UK date of at as days since 1 January 1970, from a
// one-day cache (records come mostly in time order).
func (e *summaryEncoder) ukDay(at time.Time) int32 {
	if at.Before(e.dayStart) || !at.Before(e.dayEnd) {
		y, m, d := at.In(e.uk).Date()
		e.dayStart = time.Date(y, m, d, 0, 0, 0, 0, e.uk)
		e.dayEnd = time.Date(y, m, d+1, 0, 0, 0, 0, e.uk)
		e.day = recurring.Day(e.dayStart)
	}
	return e.day
}

// addSum adds two non-negative sums, failing on overflow.
func addSum(a, b int64) (int64, error) {
	if a > math.MaxInt64-b {
		return 0, errSumOverflow
	}
	return a + b, nil
}

// Close writes the page and flushes. A second Close does nothing.
func (e *summaryEncoder) Close() error {
	if e.err != nil {
		return e.err
	}
	if e.closed {
		return nil
	}
	e.closed = true
	if !e.o.Granted.Has(schemas.Transactions) {
		return nil
	}
	bw := bufio.NewWriterSize(e.w, 32<<10)
	writeSummaryPage(bw, e.page())
	if err := bw.Flush(); err != nil { // bufio keeps the first write error
		e.err = fmt.Errorf("write html summary: %w", err)
		return e.err
	}
	return nil
}
