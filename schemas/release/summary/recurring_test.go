package summary

import (
	"bytes"
	"fmt"
	"math/big"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"golang.org/x/net/html"

	"github.com/midata/midata/schemas"
	"github.com/midata/midata/schemas/release/format"
	"github.com/midata/midata/schemas/release/format/formattest"
	"github.com/midata/midata/schemas/synth"
)

// synthSet is a generated data set as the summary gets it: each
// customer's booked records (pending ones are never released), and the
// generator's own list of what it planned (the oracle).
type synthSet struct {
	cfg     synth.Config
	records map[string][]schemas.Transaction
	planned map[string][]synth.PlannedPayment
	ids     []string // customers, sorted
}

var synthSets sync.Map // name → *synthSet

// loadSynth generates a data set once per test binary.
func loadSynth(t testing.TB, name string, cfg synth.Config) *synthSet {
	t.Helper()
	if s, ok := synthSets.Load(name); ok {
		return s.(*synthSet)
	}
	s := &synthSet{cfg: cfg, records: map[string][]schemas.Transaction{}, planned: map[string][]synth.PlannedPayment{}}
	if err := synth.Generate(cfg, func(m synth.Message) error {
		if m.Topic != cfg.TransactionsTopic || m.InvalidField != "" {
			return nil
		}
		tx, err := schemas.DecodeTransaction(m.Key, m.Value)
		if err != nil {
			return err
		}
		if tx.Status == schemas.StatusBooked {
			s.records[tx.CustomerID] = append(s.records[tx.CustomerID], tx)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	planned, err := synth.PlannedPayments(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range planned {
		s.planned[p.CustomerID] = append(s.planned[p.CustomerID], p)
	}
	for id := range s.records {
		s.ids = append(s.ids, id)
	}
	slices.Sort(s.ids)
	actual, _ := synthSets.LoadOrStore(name, s)
	return actual.(*synthSet)
}

// defaultSynth is the default data set (six months, 120 customers);
// longSynth three years of 8 customers, long enough for quarterly and
// yearly payments to repeat three times.
func defaultSynth(t testing.TB) *synthSet { return loadSynth(t, "default", synth.DefaultConfig()) }

func longSynth(t testing.TB) *synthSet {
	cfg := synth.DefaultConfig()
	cfg.Customers, cfg.Transactions = 8, 8*1200
	cfg.Start, cfg.End = time.Date(2023, 10, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	return loadSynth(t, "long", cfg)
}

// options is the customer's own summary of the whole data set.
func (s *synthSet) options(id string, granted schemas.Category) format.Options {
	return format.Options{Granted: granted, CustomerID: id, Recipient: schemas.RecipientSelf, From: s.cfg.Start, To: s.cfg.End}
}

// page encodes the customer's summary, the records in release order.
func (s *synthSet) page(t *testing.T, id string, granted schemas.Category) []byte {
	t.Helper()
	return encodeSummary(t, s.options(id, granted), formattest.InOrder(s.records[id], Format.Order))
}

// minorUnits reads a decimal's text as minor units at scale with math/big,
// not with the encoder's arithmetic.
func minorUnits(t *testing.T, d schemas.Decimal, scale int) int64 {
	t.Helper()
	r, ok := new(big.Rat).SetString(d.Text)
	if !ok {
		t.Fatalf("decimal text %q", d.Text)
	}
	r.Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil)))
	if !r.IsInt() || !r.Num().IsInt64() {
		t.Fatalf("%s is not whole minor units at scale %d", d.Text, scale)
	}
	return r.Num().Int64()
}

// pageRow is one row of a table the new sections write, as parsed.
type pageRow struct {
	head  string            // the row header's text
	attrs map[string]string // the tr's data-* attributes
	vals  map[string]int64  // <data> values by class
	times map[string]string // <time> datetimes by class
}

// pageSection is what a currency section shows in the new sections.
type pageSection struct {
	recurring, merchants []pageRow
	balances             map[string][]pageRow // account → month rows
	recurringTotal       int64
	hasTotal             bool
}

// readSections parses the page's recurring payments, top merchants and
// balances, by currency.
func readSections(t *testing.T, page []byte) map[string]*pageSection {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*pageSection{}
	row := func(tr *html.Node) pageRow {
		r := pageRow{attrs: map[string]string{}, vals: map[string]int64{}, times: map[string]string{}}
		for _, a := range tr.Attr {
			if strings.HasPrefix(a.Key, "data-") {
				r.attrs[a.Key] = a.Val
			}
		}
		for d := range tr.Descendants() {
			if d.Type != html.ElementNode {
				continue
			}
			class, _ := attr(d, "class")
			switch d.Data {
			case "th":
				r.head = textOf(d)
			case "data":
				v, _ := attr(d, "value")
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					t.Fatalf("<data class=%q value=%q>", class, v)
				}
				r.vals[class] = n
			case "time":
				r.times[class], _ = attr(d, "datetime")
			}
		}
		return r
	}
	for n := range doc.Descendants() {
		if n.Type != html.ElementNode || n.Data != "section" {
			continue
		}
		cur, _ := attr(n, "data-currency")
		s := &pageSection{balances: map[string][]pageRow{}}
		out[cur] = s
		for d := range n.Descendants() {
			if d.Type != html.ElementNode {
				continue
			}
			if _, ok := attr(d, "data-recurring"); ok {
				s.recurring = append(s.recurring, row(d))
			}
			if _, ok := attr(d, "data-merchant-rank"); ok {
				s.merchants = append(s.merchants, row(d))
			}
			if d.Data == "data" && hasClass(d, "recurring-total") {
				v, _ := attr(d, "value")
				s.recurringTotal, _ = strconv.ParseInt(v, 10, 64)
				s.hasTotal = true
			}
			if acct, ok := attr(d, "data-account"); ok {
				for tr := range d.Descendants() {
					if _, ok := attr(tr, "data-balance-month"); ok && tr.Type == html.ElementNode {
						s.balances[acct] = append(s.balances[acct], row(tr))
					}
				}
			}
		}
	}
	return out
}

// expectedRecurring is what the page must show of a planned payment.
type expectedRecurring struct {
	label, kind, cadence string
	typical              int64 // 0 for a varying amount: then lo ≤ typical ≤ hi
	lo, hi               int64
	last, next           string
	perYear              int64
}

func (e expectedRecurring) String() string {
	return fmt.Sprintf("%s %s %s %d (%d–%d) last %s next %s", e.label, e.kind, e.cadence, e.typical, e.lo, e.hi, e.last, e.next)
}

// wantRecurring works out from the generator's plan which payments the
// summary must find: every planned payment out that repeats (not Once)
// and was paid at least three times in the period. The amounts and dates
// come from the records at the planned times.
func wantRecurring(t *testing.T, s *synthSet, id string, merchant bool) []expectedRecurring {
	t.Helper()
	uk, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	byTime := map[string]schemas.Transaction{}
	for _, r := range s.records[id] {
		byTime[r.Type+"|"+r.Description+"|"+r.BookedAt.Format(time.RFC3339)] = r
	}
	var out []expectedRecurring
	for _, p := range s.planned[id] {
		if p.Amount >= 0 || p.Cadence == synth.Once || len(p.Times) < 3 {
			continue
		}
		e := expectedRecurring{cadence: string(p.Cadence), label: p.MerchantName}
		if e.label == "" || !merchant {
			e.label = p.Description
		}
		switch {
		case p.Type == "DD":
			e.kind = "direct-debit"
		case p.Type == "SO":
			e.kind = "standing-order"
		case p.Type == "POS" && p.MCC != "" && merchant:
			e.kind = "card-subscription"
		default:
			e.kind = "recurring-payment"
		}
		e.lo, e.hi = -1, 0
		for _, at := range p.Times {
			r, ok := byTime[p.Type+"|"+p.Description+"|"+at.Format(time.RFC3339)]
			if !ok {
				t.Fatalf("%s: no record of planned %s at %v", id, p.Description, at)
			}
			u := -minorUnits(t, r.Amount, 2)
			if e.lo < 0 || u < e.lo {
				e.lo = u
			}
			e.hi = max(e.hi, u)
		}
		if !p.Varies {
			e.typical = -p.Amount
		}
		last := p.Times[len(p.Times)-1].In(uk)
		e.last = last.Format("2006-01-02")
		if last.Day() > 28 && p.Cadence != synth.Weekly {
			t.Fatalf("planned %s on day %d: the test's next date assumes days up to 28", p.Description, last.Day())
		}
		switch p.Cadence {
		case synth.Weekly:
			e.next, e.perYear = last.AddDate(0, 0, 7).Format("2006-01-02"), 52
		case synth.Monthly:
			e.next, e.perYear = last.AddDate(0, 1, 0).Format("2006-01-02"), 12
		case synth.Quarterly:
			e.next, e.perYear = last.AddDate(0, 3, 0).Format("2006-01-02"), 4
		case synth.Yearly:
			e.next, e.perYear = last.AddDate(1, 0, 0).Format("2006-01-02"), 1
		}
		out = append(out, e)
	}
	return out
}

// matches reports whether a page row shows e.
func (e expectedRecurring) matches(r pageRow, merchant bool) bool {
	head := e.label
	if !merchant {
		head = map[string]string{"direct-debit": "Direct debit", "standing-order": "Standing order",
			"card-subscription": "Card subscription", "recurring-payment": "Recurring payment"}[e.kind]
	}
	typ := r.vals["recurring-amount"]
	amountOK := typ == e.typical || e.typical == 0 && typ >= e.lo && typ <= e.hi
	return r.head == head && r.attrs["data-kind"] == e.kind && r.attrs["data-cadence"] == e.cadence && amountOK &&
		r.times["recurring-last"] == e.last && r.times["recurring-next"] == e.next &&
		r.vals["recurring-yearly"] == typ*e.perYear && r.attrs["data-active"] == "true"
}

// checkRecurring checks a customer's page against the plan: every known
// recurring payment is there, right in every column, and nothing else is:
// no one-off, no random spending.
func checkRecurring(t *testing.T, s *synthSet, id string, granted schemas.Category) (found int) {
	t.Helper()
	merchant := granted.Has(schemas.Merchant)
	page := s.page(t, id, granted)
	secs := readSections(t, page)
	rows := slices.Clone(secs["GBP"].recurring)
	for cur, sec := range secs {
		if cur != "GBP" && len(sec.recurring) > 0 {
			t.Errorf("%s: %d recurring payments in %s, none planned", id, len(sec.recurring), cur)
		}
	}
	want := wantRecurring(t, s, id, merchant)
	var total int64
	for _, e := range want {
		i := slices.IndexFunc(rows, func(r pageRow) bool { return e.matches(r, merchant) })
		if i < 0 {
			t.Errorf("%s (%s): planned recurring payment %v not found; rows: %v", id, granted, e, rows)
			continue
		}
		total += rows[i].vals["recurring-yearly"]
		rows = slices.Delete(rows, i, i+1)
		found++
	}
	for _, r := range rows {
		t.Errorf("%s (%s): the page shows a recurring payment nobody planned: %+v", id, granted, r)
	}
	if len(want) > 0 && (!secs["GBP"].hasTotal || secs["GBP"].recurringTotal != total) {
		t.Errorf("%s: yearly total %d (shown %v), want the sum of the rows %d", id, secs["GBP"].recurringTotal, secs["GBP"].hasTotal, total)
	}
	return found
}

func TestSummaryFindsTheKnownRecurringPayments(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		set  func(testing.TB) *synthSet
	}{{"six months of 120 customers", defaultSynth}, {"three years of 8 customers", longSynth}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := c.set(t)
			cadences := map[string]int{}
			for _, granted := range []schemas.Category{schemas.AllCategories, schemas.Transactions} {
				found := 0
				for _, id := range s.ids {
					found += checkRecurring(t, s, id, granted)
					if granted == schemas.AllCategories {
						for _, e := range wantRecurring(t, s, id, true) {
							cadences[e.kind+" "+e.cadence]++
						}
					}
				}
				t.Logf("%s: %d recurring payments found as planned", granted, found)
			}
			// The plan has each kind the page names, so the test proves them.
			want := []string{"direct-debit monthly", "standing-order monthly", "standing-order weekly", "card-subscription monthly", "recurring-payment monthly"}
			if c.name != "six months of 120 customers" {
				want = append(want, "direct-debit quarterly", "direct-debit yearly")
			}
			for _, k := range want {
				if cadences[k] == 0 {
					t.Errorf("no planned %s payment to find (planned %v)", k, cadences)
				}
			}
		})
	}
}

func TestSummaryReportsNoOneOffAsRecurring(t *testing.T) {
	t.Parallel()
	s := defaultSynth(t)
	checked := map[int]int{} // how many one-offs the payee took
	for _, id := range s.ids {
		oneOffs := map[string][]synth.PlannedPayment{}
		repeats := map[string]bool{}
		for _, p := range s.planned[id] {
			if p.Cadence == synth.Once && len(p.Times) > 0 {
				oneOffs[p.MerchantName] = append(oneOffs[p.MerchantName], p)
			} else if p.MerchantName != "" {
				repeats[p.MerchantName] = true
			}
		}
		if len(oneOffs) == 0 {
			continue
		}
		secs := readSections(t, s.page(t, id, schemas.AllCategories))
		for name, ps := range oneOffs {
			var rows []pageRow
			for _, r := range secs["GBP"].recurring {
				if r.head == name {
					rows = append(rows, r)
				}
			}
			if !repeats[name] {
				if len(rows) > 0 {
					t.Errorf("%s: one-off payments to %s (%d) reported as recurring: %+v", id, name, len(ps), rows)
				}
				checked[len(ps)]++
				continue
			}
			// A one-off to a merchant also paid a subscription: one row,
			// the subscription's price, not the one-off's date.
			if len(rows) != 1 {
				t.Errorf("%s: %d recurring rows for %s, want the subscription only", id, len(rows), name)
				continue
			}
			for _, p := range ps {
				if rows[0].vals["recurring-amount"] == -p.Amount || rows[0].times["recurring-last"] == p.Times[0].Format("2006-01-02") {
					t.Errorf("%s: the one-off %s of %d on %v shows in the subscription's row %+v", id, name, p.Amount, p.Times[0], rows[0])
				}
			}
			checked[0]++
		}
	}
	// Pairs a month apart, threes at irregular intervals or of different
	// amounts, and one-offs at a subscription's merchant were all checked.
	for _, n := range []int{0, 2, 3} {
		if checked[n] == 0 {
			t.Errorf("no payee with %d one-offs checked (%v)", n, checked)
		}
	}
}

// wordsOnly is s with every run of characters other than letters and
// digits made one space, and a space at each end: whole words match with
// strings.Contains.
func wordsOnly(s string) string {
	return " " + strings.Join(strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }), " ") + " "
}

// pageWords is a page's text and attribute values, but not its style sheet.
func pageWords(t *testing.T, page []byte) string {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for n := range doc.Descendants() {
		if n.Type == html.TextNode && (n.Parent == nil || n.Parent.Data != "style") {
			b.WriteString(n.Data + " ")
		}
		for _, a := range n.Attr {
			b.WriteString(a.Val + " ")
		}
	}
	return b.String()
}

func TestSummaryWithoutMerchantNamesNoMerchant(t *testing.T) {
	t.Parallel()
	s := defaultSynth(t)
	withRows := 0
	for _, id := range s.ids[:40] {
		names, descs := map[string]bool{}, map[string]bool{}
		for _, r := range s.records[id] {
			if r.MerchantName != "" {
				names[r.MerchantName] = true
			}
			descs[r.Description] = true
		}
		for _, granted := range []schemas.Category{schemas.Transactions, schemas.Transactions | schemas.Balances} {
			page := s.page(t, id, granted)
			words := pageWords(t, page)
			text, lower := wordsOnly(words), strings.ToLower(words)
			for name := range names {
				// As the merchant field writes it, or in capitals as
				// descriptions do (THREE, not the page's own "three").
				for _, n := range []string{name, strings.ToUpper(name)} {
					if strings.Contains(text, wordsOnly(n)) {
						t.Errorf("%s (%s): the page names the merchant %q", id, granted, n)
					}
				}
			}
			for desc := range descs {
				if len(desc) >= 6 && strings.Contains(lower, strings.ToLower(desc)) {
					t.Errorf("%s (%s): the page shows the description %q", id, granted, desc)
				}
			}
			if bytes.Contains(page, []byte("data-merchant-rank")) || bytes.Contains(page, []byte("Top merchants")) {
				t.Errorf("%s (%s): top merchants without the merchant category", id, granted)
			}
			if len(readSections(t, page)["GBP"].recurring) > 0 {
				withRows++
			}
		}
	}
	if withRows == 0 {
		t.Error("no page without merchant data shows a recurring payment: the test proves nothing")
	}
}

func TestSummaryTopMerchantsAreTheMostSpent(t *testing.T) {
	t.Parallel()
	s := defaultSynth(t)
	for _, id := range s.ids[:40] {
		type spend struct {
			name   string
			out, n int64
		}
		sums := map[string]map[string]*spend{}
		for _, r := range s.records[id] {
			u := minorUnits(t, r.Amount, 2)
			if u >= 0 || r.MerchantName == "" {
				continue
			}
			if sums[r.Currency] == nil {
				sums[r.Currency] = map[string]*spend{}
			}
			sp := sums[r.Currency][r.MerchantName]
			if sp == nil {
				sp = &spend{name: r.MerchantName}
				sums[r.Currency][r.MerchantName] = sp
			}
			sp.out -= u
			sp.n++
		}
		secs := readSections(t, s.page(t, id, schemas.AllCategories))
		for cur, byName := range sums {
			var want []*spend
			for _, sp := range byName {
				want = append(want, sp)
			}
			slices.SortFunc(want, func(a, b *spend) int {
				if a.out != b.out {
					return int(b.out - a.out)
				}
				return strings.Compare(a.name, b.name)
			})
			want = want[:min(len(want), 10)]
			got := secs[cur].merchants
			if len(got) != len(want) {
				t.Errorf("%s %s: %d top merchants, want %d", id, cur, len(got), len(want))
				continue
			}
			for i, w := range want {
				g := got[i]
				if g.head != w.name || g.vals["merchant-out"] != w.out || g.vals["merchant-count"] != w.n || g.attrs["data-merchant-rank"] != strconv.Itoa(i+1) {
					t.Errorf("%s %s #%d: %q %d (%d payments), want %q %d (%d)", id, cur, i+1, g.head, g.vals["merchant-out"], g.vals["merchant-count"], w.name, w.out, w.n)
				}
			}
		}
	}
}

func TestSummaryBalanceOverTimeIsTheLastBalanceOfEachDay(t *testing.T) {
	t.Parallel()
	s := defaultSynth(t)
	uk, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range s.ids[:40] {
		// The last record of each UK day, per currency and account.
		type last struct {
			r   schemas.Transaction
			bal int64
		}
		days := map[string]map[string]last{} // currency|account → day → last
		for _, r := range s.records[id] {
			if !r.HasBalance {
				continue
			}
			k, day := r.Currency+"|"+r.AccountID, r.BookedAt.In(uk).Format("2006-01-02")
			if days[k] == nil {
				days[k] = map[string]last{}
			}
			if l, ok := days[k][day]; !ok || format.Less(&l.r, &r) {
				days[k][day] = last{r, minorUnits(t, r.BalanceAfter, 2)}
			}
		}
		for _, granted := range []schemas.Category{schemas.AllCategories, schemas.Transactions | schemas.Merchant} {
			page := s.page(t, id, granted)
			secs := readSections(t, page)
			if !granted.Has(schemas.Balances) {
				for _, banned := range []string{"Balance over time", "data-account", "data-balance-month", "polyline", "balance-end"} {
					if bytes.Contains(page, []byte(banned)) {
						t.Errorf("%s without balances: the page has %q", id, banned)
					}
				}
				continue
			}
			n := 0
			for k, byDay := range days {
				cur, acct, _ := strings.Cut(k, "|")
				var list []string
				for d := range byDay {
					list = append(list, d)
				}
				slices.Sort(list)
				// Every day from the first to the last, carrying the
				// balance over days without a record; then per month.
				type month struct{ lo, hi, end int64 }
				months := map[string]*month{}
				var order []string
				first, _ := time.Parse("2006-01-02", list[0])
				end, _ := time.Parse("2006-01-02", list[len(list)-1])
				var bal int64
				for d := first; !d.After(end); d = d.AddDate(0, 0, 1) {
					if l, ok := byDay[d.Format("2006-01-02")]; ok {
						bal = l.bal
					}
					m := d.Format("2006-01")
					if months[m] == nil {
						months[m] = &month{bal, bal, bal}
						order = append(order, m)
					}
					months[m].lo, months[m].hi, months[m].end = min(months[m].lo, bal), max(months[m].hi, bal), bal
				}
				got := secs[cur].balances[acct]
				if len(got) != len(order) {
					t.Errorf("%s %s %s: %d balance months, want %d", id, cur, acct, len(got), len(order))
					continue
				}
				for i, m := range order {
					g, w := got[i], months[m]
					if g.attrs["data-balance-month"] != m || g.vals["balance-low"] != w.lo || g.vals["balance-high"] != w.hi || g.vals["balance-end"] != w.end {
						t.Errorf("%s %s %s: row %+v, want %s %+v", id, cur, acct, g, m, *w)
					}
				}
				n++
			}
			if got := strings.Count(string(page), `<div class="balance"`); got != n || n == 0 {
				t.Errorf("%s: %d balance charts, want one per account with balances (%d)", id, got, n)
			}
		}
	}
}

func TestSummaryOfASyntheticCustomerIsTheSameInAnyOrder(t *testing.T) {
	t.Parallel()
	s := defaultSynth(t)
	for _, id := range []string{"C000002", "C000003"} {
		want := s.page(t, id, schemas.AllCategories)
		recs := slices.Clone(s.records[id])
		rng := rand.New(rand.NewPCG(3, 4))
		for range 3 {
			rng.Shuffle(len(recs), func(a, b int) { recs[a], recs[b] = recs[b], recs[a] })
			if got := encodeSummary(t, s.options(id, schemas.AllCategories), recs); !bytes.Equal(got, want) {
				t.Fatalf("%s: shuffled records give another page", id)
			}
		}
		checkWellFormed(t, want)
	}
}

// payTo builds payments out to one payee, on UK days (noon UTC) with
// amounts in pence.
func payTo(t *testing.T, typ, name, mcc string, days []string, amounts []int64) []schemas.Transaction {
	t.Helper()
	var out []schemas.Transaction
	for i, d := range days {
		at, err := time.Parse("2006-01-02", d)
		if err != nil {
			t.Fatal(err)
		}
		a := amounts[min(i, len(amounts)-1)]
		out = append(out, schemas.Transaction{TransactionID: fmt.Sprintf("%s-%03d", name, i), CustomerID: "C1", AccountID: "A1",
			BookedAt: at.Add(12 * time.Hour), Amount: formattest.MustDecimal(t, fmt.Sprintf("-%d.%02d", a/100, a%100)), Currency: "GBP",
			Status: schemas.StatusBooked, Type: typ, Description: strings.ToUpper(name) + " REF " + strconv.Itoa(1000+i),
			MerchantName: name, MerchantCode: mcc})
	}
	return out
}

// every returns n dates step apart (days, or months when months).
func every(from string, n, step int, months bool) []string {
	d, _ := time.Parse("2006-01-02", from)
	var out []string
	for i := range n {
		if months {
			out = append(out, d.AddDate(0, i*step, 0).Format("2006-01-02"))
		} else {
			out = append(out, d.AddDate(0, 0, i*step).Format("2006-01-02"))
		}
	}
	return out
}

func TestRecurringPaymentRules(t *testing.T) {
	t.Parallel()
	o := format.Options{Granted: schemas.AllCategories, CustomerID: "C1",
		From: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)} // the last day is 31 December 2026
	type want struct {
		cadence, kind string
		typical       int64
		last, next    string
		active        bool
	}
	for _, c := range []struct {
		name string
		recs []schemas.Transaction
		want []want    // nil: none found
		to   time.Time // when set, the period ends then
	}{
		{"monthly card subscription", payTo(t, "POS", "Netflix", "4899", every("2026-07-05", 6, 1, true), []int64{1099}),
			[]want{{"monthly", "card-subscription", 1099, "2026-12-05", "2027-01-05", true}}, time.Time{}},
		{"card payments without a code are a recurring payment", payTo(t, "POS", "Gym", "", every("2026-07-05", 4, 1, true), []int64{2000}),
			[]want{{"monthly", "recurring-payment", 2000, "2026-10-05", "2026-11-05", false}}, time.Time{}},
		{"weekly standing order", payTo(t, "SO", "Cleaner", "", every("2026-10-02", 8, 7, false), []int64{4000}),
			[]want{{"weekly", "standing-order", 4000, "2026-11-20", "2026-11-27", false}}, time.Time{}},
		{"every two weeks", payTo(t, "SO", "Nanny", "", every("2026-09-08", 8, 14, false), []int64{30000}),
			[]want{{"fortnightly", "standing-order", 30000, "2026-12-15", "2026-12-29", true}}, time.Time{}},
		{"quarterly direct debit", payTo(t, "DD", "Water", "4900", every("2026-01-20", 4, 3, true), []int64{9000}),
			[]want{{"quarterly", "direct-debit", 9000, "2026-10-20", "2027-01-20", true}}, time.Time{}},
		{"yearly over three years", payTo(t, "DD", "AA", "6300", every("2024-03-10", 3, 12, true), []int64{15000}),
			[]want{{"yearly", "direct-debit", 15000, "2026-03-10", "2027-03-10", true}}, time.Time{}},
		{"council tax skips two months", payTo(t, "DD", "Council", "9311",
			[]string{"2026-01-03", "2026-04-03", "2026-05-03", "2026-06-03", "2026-07-03", "2026-08-03", "2026-09-03", "2026-10-03", "2026-11-03", "2026-12-03"}, []int64{15000}),
			[]want{{"monthly", "direct-debit", 15000, "2026-12-03", "2027-01-03", true}}, time.Time{}},
		{"the 31st moves to the month's last day", payTo(t, "DD", "Rent", "", []string{"2025-11-30", "2025-12-31", "2026-01-31"}, []int64{80000}),
			[]want{{"monthly", "direct-debit", 80000, "2026-01-31", "2026-02-28", true}}, time.Date(2026, 2, 10, 0, 0, 0, 0, time.UTC)},
		{"a direct debit may vary from half to double", payTo(t, "DD", "Energy", "4900", every("2026-05-20", 6, 1, true), []int64{12000, 9000, 7000, 6500, 7200, 11000}),
			[]want{{"monthly", "direct-debit", 7200, "2026-10-20", "2026-11-20", false}}, time.Time{}},
		{"a card payment within 10%", payTo(t, "POS", "Shop", "5411", every("2026-09-01", 4, 1, true), []int64{1000, 1100, 1000, 900}),
			[]want{{"monthly", "card-subscription", 1000, "2026-12-01", "2027-01-01", true}}, time.Time{}},
		{"a card payment more than 10% off is left out", payTo(t, "POS", "Shop", "5411", every("2026-08-01", 5, 1, true), []int64{1000, 1112, 1000, 1000, 1000}),
			[]want{{"monthly", "card-subscription", 1000, "2026-12-01", "2027-01-01", true}}, time.Time{}},
		{"one left out of four leaves too few", payTo(t, "POS", "Shop", "5411", every("2026-09-01", 4, 1, true), []int64{1000, 1112, 1000, 1000}), nil, time.Time{}},
		{"two payments are not a series", payTo(t, "DD", "Once", "", every("2026-10-01", 2, 1, true), []int64{5000}), nil, time.Time{}},
		{"three at irregular intervals", payTo(t, "POS", "Tickets", "7922", []string{"2026-03-01", "2026-03-06", "2026-04-22"}, []int64{4500}), nil, time.Time{}},
		{"three a month apart for very different amounts", payTo(t, "POS", "eBay", "5999", every("2026-03-01", 3, 1, true), []int64{1000, 2500, 6000}), nil, time.Time{}},
		{"a daily coffee is not weekly", payTo(t, "POS", "Costa", "5814", every("2026-06-01", 60, 1, false), []int64{320}), nil, time.Time{}},
		{"a subscription and a one-off at one merchant", append(payTo(t, "POS", "Disney+", "4899", every("2026-07-08", 6, 1, true), []int64{799}),
			payTo(t, "POS", "Disney+", "4899", []string{"2026-11-20"}, []int64{3196})[0]),
			[]want{{"monthly", "card-subscription", 799, "2026-12-08", "2027-01-08", true}}, time.Time{}},
		{"two subscriptions at one merchant", append(payTo(t, "DD", "British Gas", "4900", every("2026-07-02", 6, 1, true), []int64{4000}),
			payTo(t, "DD", "British Gas", "4900", every("2026-07-16", 6, 1, true), []int64{6000})...),
			[]want{{"monthly", "direct-debit", 6000, "2026-12-16", "2027-01-16", true}, {"monthly", "direct-debit", 4000, "2026-12-02", "2027-01-02", true}}, time.Time{}},
		{"only the latest payments are kept", payTo(t, "DD", "Mortgage", "", every("2024-01-05", 36, 1, true), []int64{90000}),
			[]want{{"monthly", "direct-debit", 90000, "2026-12-05", "2027-01-05", true}}, time.Time{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			// Unique ids: the two-subscriptions case repeats names.
			for i := range c.recs {
				c.recs[i].TransactionID = fmt.Sprintf("T%04d", i)
			}
			o := o
			if !c.to.IsZero() {
				o.To = c.to
			}
			secs := readSections(t, encodeSummary(t, o, formattest.InOrder(c.recs, Format.Order)))
			got := secs["GBP"].recurring
			if len(got) != len(c.want) {
				t.Fatalf("%d recurring payments, want %d: %+v", len(got), len(c.want), got)
			}
			for i, w := range c.want {
				g := got[i]
				if g.attrs["data-cadence"] != w.cadence || g.attrs["data-kind"] != w.kind || g.vals["recurring-amount"] != w.typical ||
					g.times["recurring-last"] != w.last || g.attrs["data-active"] != strconv.FormatBool(w.active) {
					t.Errorf("row %d = %+v, want %+v", i, g, w)
				}
				if w.active && g.times["recurring-next"] != w.next {
					t.Errorf("row %d next = %q, want %s", i, g.times["recurring-next"], w.next)
				}
				if _, ok := g.times["recurring-next"]; !w.active && ok {
					t.Errorf("row %d: a payment that stopped has a next date", i)
				}
				if _, ok := g.vals["recurring-yearly"]; ok != w.active {
					t.Errorf("row %d: yearly cost shown %v, want %v", i, ok, w.active)
				}
			}
		})
	}
}

func TestSummaryWithManyPayeesIsBoundedAndOrderFree(t *testing.T) {
	t.Parallel()
	// More payees than are kept, and a subscription among them: the page
	// says so, is the same in any order, and its memory is bounded.
	var recs []schemas.Transaction
	for i := range maxPayees + 200 {
		recs = append(recs, payTo(t, "FPO", fmt.Sprintf("Payee %d", i), "", []string{"2026-03-01"}, []int64{int64(100 + i)})...)
	}
	recs = append(recs, payTo(t, "DD", "Phone", "4814", every("2026-01-09", 6, 1, true), []int64{2500})...)
	for i := range recs {
		recs[i].TransactionID = fmt.Sprintf("T%05d", i)
	}
	o := format.Options{Granted: schemas.AllCategories, CustomerID: "C1"}
	want := encodeSummary(t, o, recs)
	if !bytes.Contains(want, []byte("only a sample of them was checked")) {
		t.Error("the page does not say only a sample of payees was checked")
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 3 {
		rng.Shuffle(len(recs), func(a, b int) { recs[a], recs[b] = recs[b], recs[a] })
		if got := encodeSummary(t, o, recs); !bytes.Equal(got, want) {
			t.Fatal("another record order gives another page")
		}
	}
	enc := New(formattest.Discard{}, o).(*summaryEncoder)
	for i := range recs {
		if err := enc.Encode(&recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(enc.currencies["GBP"].payees.M); n != maxPayees {
		t.Errorf("%d payees kept, want at most %d", n, maxPayees)
	}
}
