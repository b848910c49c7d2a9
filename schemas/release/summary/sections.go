package summary

import (
	"strconv"

	"github.com/midata/midata/schemas/release/summary/internal/recurring"
)

// dayISO is "2026-03-04" and dayLong "4 March 2026" for a day number.
func dayISO(n int32) string  { return recurring.Date(n).Format("2006-01-02") }
func dayLong(n int32) string { return recurring.Date(n).Format("2 January 2006") }

// writeTopMerchants writes the table of the merchants with the most money
// out (merchant category only).
func writeTopMerchants(w pageWriter, c *currencySummary, id string) {
	w.s("<h3>Top merchants</h3>\n")
	top := c.topMerchants()
	if len(top) == 0 {
		w.s("<p>No payment out in ")
		w.text(c.code)
		w.s(" named its merchant.</p>\n")
		return
	}
	if c.merchants.Cut {
		w.s("<p class=\"note\">You paid more than ", groupThousands(strconv.Itoa(maxMerchants)), " merchants in ")
		w.text(c.code)
		w.s(": the list ranks a sample of them.</p>\n")
	}
	w.s(`<div class="scroll" role="region" tabindex="0" aria-labelledby="`, id, "-cap\">\n<table>\n<caption id=\"", id, `-cap">Top merchants by money out, `)
	w.text(c.code)
	w.s("</caption>\n<thead><tr><th scope=\"col\">Merchant</th><th scope=\"col\">Money out</th><th scope=\"col\">Payments</th></tr></thead>\n<tbody>\n")
	for i, m := range top {
		w.s(`<tr data-merchant-rank="`, strconv.Itoa(i+1), `"><th scope="row">`)
		w.text(m.name)
		w.s("</th><td>")
		w.data("merchant-out", m.out, summaryAmount(m.out, c.scale, c.code))
		w.s("</td><td>")
		w.count("merchant-count", m.n)
		w.s("</td></tr>\n")
	}
	w.s("</tbody>\n</table>\n</div>\n")
}

// writeRecurring writes the recurring payments found (recurring.Detect).
// Without the merchant category a row is named by its kind only.
func writeRecurring(w pageWriter, p *summaryPage, c *currencySummary, id string) {
	amount := func(u int64) string { return summaryAmount(u, c.scale, c.code) }
	w.s("<h3>Recurring payments</h3>\n")
	rs := c.recurringPayments(p.endDay)
	if c.payees.Cut {
		w.s("<p class=\"note\">You paid more than ", groupThousands(strconv.Itoa(maxPayees)), " payees in ")
		w.text(c.code)
		w.s(": only a sample of them was checked for recurring payments.</p>\n")
	}
	if len(rs) == 0 {
		w.s("<p>No payment out in ")
		w.text(c.code)
		w.s(" repeats at a steady interval in this period.</p>\n")
		return
	}
	var total int64
	running, overflow := 0, false
	for _, r := range rs {
		if r.Active {
			running++
			sum, err := addSum(total, max(r.Yearly, 0))
			overflow = overflow || r.Yearly < 0 || err != nil
			total = sum
		}
	}
	w.s("<p>", strconv.Itoa(len(rs)), map[bool]string{true: " payment out repeats", false: " payments out repeat"}[len(rs) == 1], " at a steady interval")
	if stopped := len(rs) - running; stopped > 0 {
		w.s(" (", strconv.Itoa(stopped), " may have stopped)")
	}
	if running > 0 && !overflow {
		w.s("; those still running cost about ")
		w.data("recurring-total", total, amount(total))
		w.s(" a year")
	}
	w.s(".</p>\n")
	w.s(`<div class="scroll" role="region" tabindex="0" aria-labelledby="`, id, "-cap\">\n<table>\n<caption id=\"", id, `-cap">Recurring payments, `)
	w.text(c.code)
	w.s("</caption>\n<thead><tr>")
	if p.merchant {
		w.s(`<th scope="col">Paid to</th>`)
	}
	w.s("<th scope=\"col\">Kind</th><th scope=\"col\">How often</th><th scope=\"col\">Typical amount</th><th scope=\"col\">Last paid</th>",
		"<th scope=\"col\">Next expected</th><th scope=\"col\">Cost a year</th></tr></thead>\n<tbody>\n")
	for _, r := range rs {
		key, kind := recurring.Kind(r.p.typ, r.p.mcc)
		w.s(`<tr data-recurring data-kind="`, key, `" data-cadence="`, r.Cadence.Key, `" data-active="`, strconv.FormatBool(r.Active), `">`)
		if p.merchant {
			w.s(`<th scope="row">`)
			w.text(r.p.label)
			w.s("</th><td>", kind, "</td>")
		} else {
			w.s(`<th scope="row">`, kind, "</th>")
		}
		w.s("<td>", r.Cadence.Label, "</td><td>")
		w.data("recurring-amount", r.Typical, amount(r.Typical))
		if r.Varies {
			w.s(` <span class="note">(varies)</span>`)
		}
		w.s(`</td><td><time class="recurring-last" datetime="`, dayISO(r.Last), `">`, dayLong(r.Last), "</time></td>")
		if r.Active {
			w.s(`<td><time class="recurring-next" datetime="`, dayISO(r.Next), `">`, dayLong(r.Next), "</time></td><td>")
			if r.Yearly >= 0 {
				w.data("recurring-yearly", r.Yearly, amount(r.Yearly))
			} else {
				w.s("too large to show")
			}
			w.s("</td>")
		} else {
			w.s(`<td class="note">May have stopped</td><td class="note">none</td>`)
		}
		w.s("</tr>\n")
	}
	w.s("</tbody>\n</table>\n</div>\n")
}
