package summary

import (
	"bufio"
	"html"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/midata/midata/schemas"
	"github.com/midata/midata/schemas/release/format"
)

// summaryPage is what the html summary shows, gathered at Close from the
// sums: sorted, so writing it is deterministic.
type summaryPage struct {
	o        format.Options
	n        int64
	merchant bool               // the merchant category is granted
	balances bool               // the balances category is granted
	period   string             // "1 February 2026 to 30 April 2026"
	endDay   int32              // the period's last UK day (or the last booking's)
	months   []int              // every month shown, year*12 + month-1, ascending
	sections []*currencySummary // GBP first, then by code
}

// page sorts the sums into what the page shows.
func (e *summaryEncoder) page() *summaryPage {
	p := &summaryPage{o: e.o, n: e.n, merchant: e.o.Granted.Has(schemas.Merchant), balances: e.o.Granted.Has(schemas.Balances)}
	p.period = summaryPeriod(e.o.From, e.o.To, e.first, e.latest, e.n > 0, e.uk)
	for _, c := range e.currencies {
		p.sections = append(p.sections, c)
	}
	slices.SortFunc(p.sections, func(a, b *currencySummary) int {
		switch {
		case a.code == b.code:
			return 0
		case a.code == "GBP":
			return -1
		case b.code == "GBP":
			return 1
		}
		return strings.Compare(a.code, b.code)
	})
	if e.n > 0 {
		from, to := e.first, e.latest
		if !e.o.From.IsZero() {
			from = e.o.From
		}
		if !e.o.To.IsZero() {
			to = e.o.To.Add(-time.Nanosecond)
		}
		for k, end := monthKey(from, e.uk), monthKey(to, e.uk); k <= end; k++ {
			p.months = append(p.months, k)
		}
		p.endDay = e.ukDay(to)
	}
	return p
}

// monthKey is the UK month of t as year*12 + month-1.
func monthKey(t time.Time, uk *time.Location) int {
	y, m, _ := t.In(uk).Date()
	return y*12 + int(m) - 1
}

// monthName is "March 2026" (long) or "Mar" (short) for a month key.
func monthName(k int, long bool) string {
	m := time.Month(k%12 + 1)
	if !long {
		return m.String()[:3]
	}
	return m.String() + " " + strconv.Itoa(k/12)
}

// monthISO is "2026-03" for a month key.
func monthISO(k int) string {
	return time.Date(k/12, time.Month(k%12+1), 1, 0, 0, 0, 0, time.UTC).Format("2006-01")
}

// ukDate is "1 February 2026": the UK date of t.
func ukDate(t time.Time, uk *time.Location) string {
	return t.In(uk).Format("2 January 2006")
}

// summaryPeriod says which days the page covers, in UK dates. The period
// is [from, to): its last day is the UK date of the last instant before to.
// An open end says so, or uses the first or last booking.
func summaryPeriod(from, to, first, latest time.Time, seen bool, uk *time.Location) string {
	switch {
	case !from.IsZero() && !to.IsZero():
		return ukDate(from, uk) + " to " + ukDate(to.Add(-time.Nanosecond), uk)
	case !from.IsZero():
		return "From " + ukDate(from, uk)
	case !to.IsZero():
		return "Up to " + ukDate(to.Add(-time.Nanosecond), uk)
	case seen:
		return ukDate(first, uk) + " to " + ukDate(latest, uk) + " (first and last transaction)"
	}
	return "All dates"
}

// currencyNames names the currencies a UK customer most often holds; others
// are shown by code alone.
var currencyNames = map[string]string{
	"GBP": "Pounds sterling", "EUR": "Euros", "USD": "US dollars", "JPY": "Japanese yen",
	"CHF": "Swiss francs", "CAD": "Canadian dollars", "AUD": "Australian dollars",
}

// summaryAmount formats minor units for people: "£1,234.56", "−£5.00"
// (with U+2212 MINUS SIGN), "EUR 1,234.56", "JPY 1,500". Integer digits are
// grouped by three with commas; it never rounds.
func summaryAmount(units int64, scale int32, currency string) string {
	var b []byte
	var abs uint64
	if units < 0 {
		// U+2212 MINUS SIGN: no line break after it, and read as "minus".
		b = append(b, "\u2212"...)
		abs = uint64(-units) // also right for math.MinInt64
	} else {
		abs = uint64(units)
	}
	if currency == "GBP" {
		b = append(b, "£"...)
	} else {
		b = append(b, currency...)
		b = append(b, ' ')
	}
	digits := strconv.FormatUint(abs, 10)
	sc := int(scale)
	if len(digits) <= sc {
		digits = strings.Repeat("0", sc-len(digits)+1) + digits
	}
	intPart, frac := digits[:len(digits)-sc], digits[len(digits)-sc:]
	for i := 0; i < len(intPart); i++ {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, intPart[i])
	}
	if sc > 0 {
		b = append(b, '.')
		b = append(b, frac...)
	}
	return string(b)
}

// pageWriter writes the page; bufio.Writer keeps the first write error,
// which Close reads at Flush.
type pageWriter struct{ *bufio.Writer }

// s writes raw HTML.
func (w pageWriter) s(parts ...string) {
	for _, p := range parts {
		w.WriteString(p)
	}
}

// text writes escaped text.
func (w pageWriter) text(s string) { w.WriteString(html.EscapeString(s)) }

// data writes <data class="class" value="value">text</data>.
func (w pageWriter) data(class string, value int64, text string) {
	w.s(`<data class="`, class, `" value="`, strconv.FormatInt(value, 10), `">`)
	w.text(text)
	w.s(`</data>`)
}

// count writes a record count as <data>.
func (w pageWriter) count(class string, n int64) {
	w.data(class, n, groupThousands(strconv.FormatInt(n, 10)))
}

// groupThousands puts commas between groups of three digits of a
// non-negative integer's decimal digits.
func groupThousands(digits string) string {
	var b strings.Builder
	for i := 0; i < len(digits); i++ {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteByte(digits[i])
	}
	return b.String()
}

// payments is the word after a count of n payments.
func payments(n int64) string {
	if n == 1 {
		return " payment"
	}
	return " payments"
}

// summaryStyle is the page's only style sheet: system fonts, a single
// column that fits a 360 px screen, light and dark colours with text
// contrast of at least 4.5:1, and colour-blind-safe blue and orange bars.
const summaryStyle = `:root{color-scheme:light dark;--fg:#1a1a1a;--bg:#fff;--muted:#4a4a4a;--line:#c8c8c8;--card:#f2f4f7;--in:#0b5cad;--out:#b34700}
@media (prefers-color-scheme:dark){:root{--fg:#f2f2f2;--bg:#121212;--muted:#c4c4c4;--line:#555;--card:#1f1f1f;--in:#6aa9ff;--out:#ff9a4d}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:1rem/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;-webkit-text-size-adjust:100%}
main{max-width:48rem;margin:0 auto;padding:1rem}
h1{font-size:1.5rem;line-height:1.25;margin:.5rem 0 1rem}
h2{font-size:1.25rem;margin:2rem 0 .75rem;padding-bottom:.25rem;border-bottom:2px solid var(--line)}
h3{font-size:1.05rem;margin:1.5rem 0 .5rem}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;margin:0}
.facts dt,.totals dt{color:var(--muted)}
dd{margin:0}
.totals{display:grid;grid-template-columns:repeat(auto-fit,minmax(9.5rem,1fr));gap:.5rem;margin:0}
.totals div{background:var(--card);border-radius:.5rem;padding:.5rem .75rem}
.totals dd{font-size:1.2rem;font-weight:600;font-variant-numeric:tabular-nums;overflow-wrap:anywhere}
.totals .sub{display:block;font-size:.85rem;font-weight:400;color:var(--muted)}
figure{margin:0}
svg{display:block;width:100%;height:auto;max-width:40rem}
svg text{fill:var(--fg);font:12px system-ui,sans-serif}
.bar-in{fill:var(--in)}
.bar-out{fill:var(--out)}
.axis{stroke:var(--line)}
.legend{list-style:none;padding:0;margin:.25rem 0;display:flex;flex-wrap:wrap;gap:.25rem 1rem}
.key{display:inline-block;width:.9em;height:.9em;margin-right:.4em;vertical-align:-.1em;border-radius:2px}
.key.in{background:var(--in)}
.key.out{background:var(--out)}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem;font-size:.95rem;font-variant-numeric:tabular-nums}
caption{text-align:left;font-weight:600;padding:.25rem 0}
th,td{padding:.3rem .4rem;border-bottom:1px solid var(--line);text-align:right;white-space:nowrap}
th[scope=row],thead th:first-child{text-align:left;white-space:normal}
.note{color:var(--muted)}
.line{fill:none;stroke:var(--in)}
.dot{fill:var(--in)}
h4{font-size:1rem;margin:1rem 0 .5rem}
footer{margin-top:2rem;font-size:.9rem;color:var(--muted)}
@media print{:root{color-scheme:light;--fg:#000;--bg:#fff;--muted:#333;--line:#999;--card:#fff;--in:#0b5cad;--out:#b34700}
main{max-width:none;padding:0}.scroll{overflow:visible}th,td{white-space:normal}
figure,tr,.totals div{break-inside:avoid}h2,h3,h4{break-after:avoid}}
`

// writeSummaryPage writes the whole page.
func writeSummaryPage(bw *bufio.Writer, p *summaryPage) {
	w := pageWriter{bw}
	w.s("<!doctype html>\n<html lang=\"en-GB\">\n<head>\n<meta charset=\"utf-8\">\n",
		"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>")
	w.text("Your transactions summary: " + p.period)
	w.s("</title>\n<style>\n", summaryStyle, "</style>\n</head>\n<body>\n<main>\n",
		"<h1>Your transactions summary</h1>\n<dl class=\"facts\">\n<dt>Period</dt><dd>")
	w.text(p.period)
	w.s("</dd>\n")
	if p.o.CustomerID != "" {
		w.s("<dt>Customer</dt><dd>")
		w.text(p.o.CustomerID)
		w.s("</dd>\n")
	}
	w.s("<dt>Transactions</dt><dd>")
	w.count("transactions", p.n)
	w.s("</dd>\n</dl>\n")
	if p.n == 0 {
		w.s("<p>There were no transactions in this period.</p>\n")
	}
	if len(p.sections) > 1 {
		w.s("<p class=\"note\">Each currency has its own section: amounts in different currencies are never added together.</p>\n")
	}
	if p.n > 0 && !p.merchant {
		w.s("<p class=\"note\">Merchant data was not shared for this summary, so spending is not broken down by category or merchant, ",
			"and recurring payments are not named.</p>\n")
	}
	if p.n > 0 && !p.balances {
		w.s("<p class=\"note\">Balances were not shared for this summary, so it does not show your balance over time.</p>\n")
	}
	for i, c := range p.sections {
		writeCurrencySection(w, p, c, "c"+strconv.Itoa(i+1))
	}
	w.s("<footer>\n<p>How this was worked out: money in is every payment into your accounts, money out every payment out; ",
		"a transaction of zero counts as a transaction but as neither. Net is money in minus money out. ",
		"Months are UK months (UK time).")
	if p.merchant {
		w.s(" Categories come from the merchant category code of each payment out; payments without one are uncategorised.",
			" Top merchants are the merchant names with the most money out.")
	}
	w.s("</p>\n<p>Recurring payments are payments out of the same type to the same payee (the merchant, or the description) ",
		"at least three times at a steady interval (weekly, every 2 weeks, monthly, every 3 months or yearly) ",
		"for about the same amount (within 10%, and mostly exactly the same; from half to double for direct debits). ",
		"The next one is expected an interval after the last; the cost a year is the typical amount times the payments a year. ",
		"One that has not come when it should have may have stopped.")
	if p.balances {
		w.s(" Balance over time is the balance after the last transaction of each day.")
	}
	w.s("</p>\n</footer>\n</main>\n</body>\n</html>\n")
}

// writeCurrencySection writes the totals, months and categories of one
// currency; id prefixes the section's element ids.
func writeCurrencySection(w pageWriter, p *summaryPage, c *currencySummary, id string) {
	amount := func(u int64) string { return summaryAmount(u, c.scale, c.code) }
	name := c.code
	if n, ok := currencyNames[c.code]; ok {
		name = n + " (" + c.code + ")"
	}
	w.s(`<section class="currency" id="`, id, `" data-currency="`)
	w.text(c.code)
	w.s(`" data-scale="`, strconv.Itoa(int(c.scale)), `" aria-labelledby="`, id, "-h\">\n<h2 id=\"", id, `-h">`)
	w.text(name)
	w.s("</h2>\n<dl class=\"totals\">\n<div><dt>Money in</dt><dd>")
	w.data("total-in", c.total.in, amount(c.total.in))
	w.s(`<span class="sub">`)
	w.count("count-in", c.total.nIn)
	w.s(payments(c.total.nIn), "</span></dd></div>\n<div><dt>Money out</dt><dd>")
	w.data("total-out", c.total.out, amount(c.total.out))
	w.s(`<span class="sub">`)
	w.count("count-out", c.total.nOut)
	w.s(payments(c.total.nOut), "</span></dd></div>\n<div><dt>Net (in minus out)</dt><dd>")
	net := c.total.in - c.total.out // both in [0, MaxInt64]: cannot overflow
	w.data("net", net, amount(net))
	w.s("</dd></div>\n<div><dt>Transactions</dt><dd>")
	w.count("count", c.n)
	w.s("</dd></div>\n</dl>\n")

	w.s("<h3>Money in and out by month</h3>\n")
	writeMonthChart(w, p.months, c, id+"-m")
	writeMonthTable(w, p.months, c, id+"-m")

	if p.merchant {
		w.s("<h3>Spending by category</h3>\n")
		if groups := spendingGroups(c); len(groups) == 0 {
			w.s("<p>No money went out in ")
			w.text(c.code)
			w.s(" in this period.</p>\n")
		} else {
			writeGroupChart(w, groups, c, id+"-g")
			writeGroupTable(w, groups, c, id+"-g")
			writeTopMerchants(w, c, id+"-t")
		}
	}
	if c.total.nOut > 0 {
		writeRecurring(w, p, c, id+"-r")
	}
	if p.balances {
		writeBalances(w, c, id)
	}
	w.s("</section>\n")
}

// spendingGroups returns the groups with money out, most spent first, ties
// in group order.
func spendingGroups(c *currencySummary) []spendGroup {
	var gs []spendGroup
	for g := range numSpendGroups {
		if c.groups[g].n > 0 {
			gs = append(gs, g)
		}
	}
	slices.SortStableFunc(gs, func(a, b spendGroup) int {
		switch x, y := c.groups[a].out, c.groups[b].out; {
		case x > y:
			return -1
		case x < y:
			return 1
		}
		return 0
	})
	return gs
}

// writeMonthTable writes the table behind the month chart.
func writeMonthTable(w pageWriter, months []int, c *currencySummary, id string) {
	w.s(`<div class="scroll" role="region" tabindex="0" aria-labelledby="`, id, "-cap\">\n<table>\n<caption id=\"", id, `-cap">Money in and out by month, `)
	w.text(c.code)
	w.s("</caption>\n<thead><tr><th scope=\"col\">Month</th><th scope=\"col\">Money in</th><th scope=\"col\">Money out</th></tr></thead>\n<tbody>\n")
	var zero summaryMoney
	for _, k := range months {
		m := c.months[k]
		if m == nil {
			m = &zero
		}
		w.s(`<tr data-month="`, monthISO(k), `"><th scope="row">`, monthName(k, true), "</th><td>")
		w.data("month-in", m.in, summaryAmount(m.in, c.scale, c.code))
		w.s("</td><td>")
		w.data("month-out", m.out, summaryAmount(m.out, c.scale, c.code))
		w.s("</td></tr>\n")
	}
	w.s("</tbody>\n</table>\n</div>\n")
}

// writeGroupTable writes the table behind the category chart.
func writeGroupTable(w pageWriter, groups []spendGroup, c *currencySummary, id string) {
	w.s(`<div class="scroll" role="region" tabindex="0" aria-labelledby="`, id, "-cap\">\n<table>\n<caption id=\"", id, `-cap">Spending by category, `)
	w.text(c.code)
	w.s("</caption>\n<thead><tr><th scope=\"col\">Category</th><th scope=\"col\">Money out</th><th scope=\"col\">Payments</th></tr></thead>\n<tbody>\n")
	for _, g := range groups {
		info := spendGroupInfo[g]
		w.s(`<tr data-category="`, info.Key, `"><th scope="row">`)
		w.text(info.Label)
		w.s("</th><td>")
		w.data("category-out", c.groups[g].out, summaryAmount(c.groups[g].out, c.scale, c.code))
		w.s("</td><td>")
		w.count("category-count", c.groups[g].n)
		w.s("</td></tr>\n")
	}
	w.s("</tbody>\n</table>\n</div>\n")
}
