package summary

import (
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/midata/midata/schemas"
	"github.com/midata/midata/schemas/release/summary/internal/recurring"
)

// balanceSeries is one account's balance at the end of each UK day it has
// a record with a balance: the balance_after of the day's last record.
type balanceSeries struct {
	account string
	days    map[int32]*dayBalance
}

// dayBalance is the balance after the day's last record so far, in the
// order of format.Less (booking time, transaction id, partition, offset),
// so any record order gives the same balance.
type dayBalance struct {
	at    time.Time
	id    string
	part  int
	off   int64
	units int64 // signed, minor units at the section's scale
}

// addBalance notes a record's balance on its UK day.
func (c *currencySummary) addBalance(t *schemas.Transaction, day int32, units int64) {
	a := c.accounts.Get(recurring.Hash(recurring.Offset, t.AccountID))
	if a == nil {
		return
	}
	if a.days == nil {
		a.account, a.days = t.AccountID, make(map[int32]*dayBalance)
	}
	d := a.days[day]
	switch {
	case d == nil:
		d = new(dayBalance)
		a.days[day] = d
	case t.BookedAt.Before(d.at), t.BookedAt.Equal(d.at) && (t.TransactionID < d.id ||
		t.TransactionID == d.id && (t.Partition < d.part || t.Partition == d.part && t.Offset <= d.off)):
		return // an earlier record of the day
	}
	d.at, d.id, d.part, d.off, d.units = t.BookedAt, t.TransactionID, t.Partition, t.Offset, units
}

// balanceDays returns the section's accounts by id, each with its first
// day and the end-of-day balance of every day from it to its last day (a
// day without a record keeps the day before's).
func (c *currencySummary) balanceDays() (accounts []string, firsts []int32, series [][]int64) {
	list := make([]*balanceSeries, 0, len(c.accounts.M))
	for _, a := range c.accounts.M {
		list = append(list, a)
	}
	slices.SortFunc(list, func(a, b *balanceSeries) int { return strings.Compare(a.account, b.account) })
	for _, a := range list {
		first, last := int32(math.MaxInt32), int32(math.MinInt32)
		for d := range a.days {
			first, last = min(first, d), max(last, d)
		}
		accounts = append(accounts, a.account)
		vals := make([]int64, last-first+1)
		for i := range vals {
			if b := a.days[first+int32(i)]; b != nil {
				vals[i] = b.units
			} else {
				vals[i] = vals[i-1] // the first day has a balance
			}
		}
		firsts, series = append(firsts, first), append(series, vals)
	}
	return accounts, firsts, series
}

// spanOf scales v-lo (lo <= v <= hi) to [0, full], rounding down, exactly:
// the difference of two int64 is taken in uint64, the product in 128 bits.
func spanOf(v, lo, hi int64, full int) int {
	span := uint64(hi) - uint64(lo)
	if span == 0 {
		return full / 2
	}
	h, l := bits.Mul64(uint64(v)-uint64(lo), uint64(full))
	q, _ := bits.Div64(h, l, span)
	return int(q)
}

// The balance chart's geometry, in viewBox units.
const (
	balanceChartW  = 340
	balanceChartH  = 190
	balancePlotTop = 24
	balancePlotBot = 150
)

// writeBalances writes the balance over time of the section's accounts:
// per account a line chart and a table of the lowest, highest and last
// end-of-day balance of each month.
func writeBalances(w pageWriter, c *currencySummary, id string) {
	w.s("<h3>Balance over time</h3>\n")
	accounts, firsts, series := c.balanceDays()
	if len(accounts) == 0 {
		w.s("<p>No transaction in ")
		w.text(c.code)
		w.s(" came with a balance.</p>\n")
		return
	}
	if c.accounts.Cut {
		w.s("<p class=\"note\">There are more than ", strconv.Itoa(maxAccounts), " accounts in ")
		w.text(c.code)
		w.s(": the summary shows a sample of them.</p>\n")
	}
	amount := func(u int64) string { return summaryAmount(u, c.scale, c.code) }
	for i, acct := range accounts {
		bid := id + "-b" + strconv.Itoa(i+1)
		vals, first := series[i], firsts[i]
		lo, hi := slices.Min(vals), slices.Max(vals)
		from, to := recurring.Date(first).Format("2 January 2006"), recurring.Date(first+int32(len(vals)-1)).Format("2 January 2006")
		w.s(`<div class="balance" data-account="`)
		w.text(acct)
		w.s("\">\n<h4>Account ")
		w.text(acct)
		w.s("</h4>\n<figure>\n<svg role=\"img\" aria-labelledby=\"", bid, `-title" aria-describedby="`, bid, `-desc" viewBox="0 0 `,
			itoa(balanceChartW), " ", itoa(balanceChartH), `" width="`, itoa(balanceChartW), `" height="`, itoa(balanceChartH), "\">\n<title id=\"", bid, `-title">`)
		w.text("Balance over time, account " + acct + ", " + c.code)
		w.s("</title>\n<desc id=\"", bid, `-desc">`)
		if desc := "The balance at the end of " + from + " was " + amount(lo); len(vals) == 1 {
			w.text(desc + ". The table after the chart gives it too.")
		} else {
			w.text("Line chart of the balance at the end of each day from " + from + " to " + to + ", between " + amount(lo) + " and " +
				amount(hi) + ". The table after the chart gives the lowest, highest and last balance of each month.")
		}
		w.s("</desc>\n")
		y := func(v int64) int { return balancePlotBot - spanOf(v, lo, hi, balancePlotBot-balancePlotTop) }
		if lo < 0 && hi > 0 {
			w.s(`<line class="axis" x1="0" y1="`, itoa(y(0)), `" x2="`, itoa(balanceChartW), `" y2="`, itoa(y(0)), `" stroke="#c8c8c8" stroke-dasharray="4 4"/>`, "\n")
		}
		if len(vals) == 1 {
			w.s(`<circle class="dot" cx="170" cy="`, itoa(y(vals[0])), `" r="4" fill="#0b5cad"/>`, "\n")
		} else {
			b := make([]byte, 0, 8*len(vals))
			for j, v := range vals {
				if j > 0 {
					b = append(b, ' ')
				}
				b = strconv.AppendInt(b, int64(4+j*(balanceChartW-8)/(len(vals)-1)), 10)
				b = append(b, ',')
				b = strconv.AppendInt(b, int64(y(v)), 10)
			}
			w.s(`<polyline class="line" points="`, string(b), `" fill="none" stroke="#0b5cad" stroke-width="2"/>`, "\n")
		}
		for _, l := range [...]struct {
			x, y   int
			anchor string
			text   string
		}{{4, 14, "start", amount(hi)}, {4, 166, "start", amount(lo)}, {4, 184, "start", from}, {balanceChartW - 4, 184, "end", to}} {
			w.s(`<text x="`, itoa(l.x), `" y="`, itoa(l.y), `" text-anchor="`, l.anchor, `">`)
			w.text(l.text)
			w.s("</text>\n")
		}
		w.s("</svg>\n</figure>\n")
		writeBalanceTable(w, c, acct, first, vals, bid)
		w.s("</div>\n")
	}
}

// writeBalanceTable writes the table behind a balance chart: per UK month,
// the lowest, highest and last end-of-day balance.
func writeBalanceTable(w pageWriter, c *currencySummary, acct string, first int32, vals []int64, id string) {
	w.s(`<div class="scroll" role="region" tabindex="0" aria-labelledby="`, id, "-cap\">\n<table>\n<caption id=\"", id, `-cap">`)
	w.text("Balance by month, account " + acct + ", " + c.code)
	w.s("</caption>\n<thead><tr><th scope=\"col\">Month</th><th scope=\"col\">Lowest</th><th scope=\"col\">Highest</th><th scope=\"col\">End of month</th></tr></thead>\n<tbody>\n")
	for i := 0; i < len(vals); {
		k := dayMonth(first + int32(i))
		j := i
		for j < len(vals) && dayMonth(first+int32(j)) == k {
			j++
		}
		w.s(`<tr data-balance-month="`, monthISO(k), `"><th scope="row">`, monthName(k, true), "</th><td>")
		for n, v := range [3]int64{slices.Min(vals[i:j]), slices.Max(vals[i:j]), vals[j-1]} {
			if n > 0 {
				w.s("</td><td>")
			}
			w.data([3]string{"balance-low", "balance-high", "balance-end"}[n], v, summaryAmount(v, c.scale, c.code))
		}
		w.s("</td></tr>\n")
		i = j
	}
	w.s("</tbody>\n</table>\n</div>\n")
}

// dayMonth is the month key (year*12 + month-1) of a day number.
func dayMonth(n int32) int {
	y, m, _ := recurring.Date(n).Date()
	return y*12 + int(m) - 1
}
