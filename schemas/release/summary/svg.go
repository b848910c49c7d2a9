package summary

import (
	"math/bits"
	"strconv"
	"strings"
)

// The charts are inline SVG drawn with integer coordinates in a viewBox, so
// the bytes are the same on every machine; the svg scales to the page's
// width with CSS. Each has role="img", a <title> that names it
// (aria-labelledby) and a <desc> that describes it (aria-describedby), and
// a table of the same numbers follows it (the desc says so).

// barLen returns v*full/max rounded down, computed in 128 bits so any two
// int64 sums scale exactly; at least 1 for any v > 0 so a small amount is
// still seen. v and peak are non-negative and v <= peak.
func barLen(v, peak int64, full int) int {
	if v <= 0 || peak <= 0 {
		return 0
	}
	hi, lo := bits.Mul64(uint64(v), uint64(full))
	q, _ := bits.Div64(hi, lo, uint64(peak)) // hi < peak because v <= peak and full < 2^64
	if q == 0 {
		return 1
	}
	return int(q)
}

// itoa is strconv.Itoa, short for the coordinates.
func itoa(n int) string { return strconv.Itoa(n) }

// The month chart's geometry, in viewBox units (about CSS pixels on a
// 360 px phone).
const (
	monthPlotTop    = 24
	monthPlotBottom = 170
	monthChartH     = 206
	monthMinSlot    = 12 // narrowest month: two 4-unit bars and a gap
	monthMaxSlot    = 64
	monthMinWidth   = 328
	monthLabelSlot  = 30 // a month label needs this much room
)

// writeMonthChart writes the bar chart of money in and out per month, with
// its legend. id prefixes the ids of its title and desc.
func writeMonthChart(w pageWriter, months []int, c *currencySummary, id string) {
	var peak int64
	for _, m := range c.months {
		peak = max(peak, m.in, m.out)
	}
	n := len(months)
	slot := monthMaxSlot
	if n > 0 {
		slot = min(max(320/n, monthMinSlot), monthMaxSlot)
	}
	width := max(monthMinWidth, 8+n*slot)
	step := 1
	if slot < monthLabelSlot {
		step = (monthLabelSlot + slot - 1) / slot
	}
	top := summaryAmount(peak, c.scale, c.code)

	w.s(`<figure>`+"\n"+`<svg role="img" aria-labelledby="`, id, `-title" aria-describedby="`, id, `-desc" viewBox="0 0 `, itoa(width), " ", itoa(monthChartH),
		`" width="`, itoa(width), `" height="`, itoa(monthChartH), `">`, "\n", `<title id="`, id, `-title">Money in and out by month, `)
	w.text(c.code)
	w.s(`</title>`+"\n"+`<desc id="`, id, `-desc">`)
	var desc strings.Builder
	desc.WriteString("Bar chart with, for each month")
	if n > 0 {
		desc.WriteString(" from " + monthName(months[0], true) + " to " + monthName(months[n-1], true))
	}
	desc.WriteString(", a blue bar for money in and an orange bar for money out, to one scale whose top is " + top +
		". The table after the chart gives every amount.")
	w.text(desc.String())
	w.s("</desc>\n")
	// The scale: a line at the top value, labelled, and the baseline.
	w.s(`<text x="4" y="14">`)
	w.text(top)
	w.s(`</text>`+"\n"+`<line class="axis" x1="0" y1="`, itoa(monthPlotTop), `" x2="`, itoa(width), `" y2="`, itoa(monthPlotTop), `" stroke="#c8c8c8" stroke-dasharray="4 4"/>`, "\n")
	w.s(`<line class="axis" x1="0" y1="`, itoa(monthPlotBottom), `" x2="`, itoa(width), `" y2="`, itoa(monthPlotBottom), `" stroke="#c8c8c8"/>`, "\n")
	gap := slot / 4
	bw := (slot - gap) / 2
	lastYear := -1
	for i, k := range months {
		x0 := 4 + i*slot
		if m := c.months[k]; m != nil {
			for j, bar := range [2]struct {
				v           int64
				class, fill string
			}{{m.in, "bar-in", "#0b5cad"}, {m.out, "bar-out", "#b34700"}} {
				h := barLen(bar.v, peak, monthPlotBottom-monthPlotTop)
				if h == 0 {
					continue
				}
				w.s(`<rect class="`, bar.class, `" x="`, itoa(x0+gap/2+j*bw), `" y="`, itoa(monthPlotBottom-h), `" width="`, itoa(bw),
					`" height="`, itoa(h), `" fill="`, bar.fill, `"/>`, "\n")
			}
		}
		if i%step != 0 {
			continue
		}
		mid := itoa(x0 + slot/2)
		w.s(`<text x="`, mid, `" y="186" text-anchor="middle">`, monthName(k, false), "</text>\n")
		if y := k / 12; y != lastYear {
			lastYear = y
			w.s(`<text x="`, mid, `" y="201" text-anchor="middle">`, itoa(y), "</text>\n")
		}
	}
	w.s("</svg>\n", `<ul class="legend"><li><span class="key in" aria-hidden="true"></span>Money in</li><li><span class="key out" aria-hidden="true"></span>Money out</li></ul>`,
		"\n</figure>\n")
}

// The category chart's geometry: one 40-unit row per group, the label and
// amount on a line above a bar as wide as the chart at the largest group.
const (
	groupChartW = 340
	groupRowH   = 40
)

// writeGroupChart writes the horizontal bar chart of spending by category.
func writeGroupChart(w pageWriter, groups []spendGroup, c *currencySummary, id string) {
	peak := c.groups[groups[0]].out // groups are sorted, most spent first
	height := len(groups) * groupRowH
	w.s(`<figure>`+"\n"+`<svg role="img" aria-labelledby="`, id, `-title" aria-describedby="`, id, `-desc" viewBox="0 0 `, itoa(groupChartW), " ", itoa(height),
		`" width="`, itoa(groupChartW), `" height="`, itoa(height), `">`, "\n", `<title id="`, id, `-title">Spending by category, `)
	w.text(c.code)
	w.s(`</title>`+"\n"+`<desc id="`, id, `-desc">`)
	var desc strings.Builder
	desc.WriteString("Horizontal bars of money out by category, largest first: ")
	for i, g := range groups {
		if i > 0 {
			desc.WriteString("; ")
		}
		desc.WriteString(spendGroupInfo[g].Label + " " + summaryAmount(c.groups[g].out, c.scale, c.code))
	}
	desc.WriteString(". The table after the chart gives the same amounts.")
	w.text(desc.String())
	w.s("</desc>\n")
	for i, g := range groups {
		y := i * groupRowH
		w.s(`<text x="0" y="`, itoa(y+14), `">`)
		w.text(spendGroupInfo[g].Label)
		w.s(`</text><text x="`, itoa(groupChartW), `" y="`, itoa(y+14), `" text-anchor="end">`)
		w.text(summaryAmount(c.groups[g].out, c.scale, c.code))
		w.s("</text>\n")
		if l := barLen(c.groups[g].out, peak, groupChartW); l > 0 {
			w.s(`<rect class="bar-out" x="0" y="`, itoa(y+20), `" width="`, itoa(l), `" height="12" fill="#b34700"/>`, "\n")
		}
	}
	w.s("</svg>\n</figure>\n")
}
