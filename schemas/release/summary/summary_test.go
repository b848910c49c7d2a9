package summary

import (
	"bytes"
	"cmp"
	"errors"
	"flag"
	"io"
	"math"
	"math/big"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/midata/midata/schemas"
	"github.com/midata/midata/schemas/release/format"
	"github.com/midata/midata/schemas/release/format/formattest"
)

var update = flag.Bool("update", false, "rewrite testdata/summary.*.golden from the encoder's output")

// summaryOptions is the release the fixtures' summary is made for: the
// customer's own, 1 January to 31 July 2026 in UK dates (To is UK midnight
// of 1 August, 23:00 UTC in summer time).
func summaryOptions(granted schemas.Category) format.Options {
	return format.Options{
		Granted:    granted,
		CustomerID: "C000123",
		Recipient:  schemas.RecipientSelf,
		From:       time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		To:         time.Date(2026, 7, 31, 23, 0, 0, 0, time.UTC),
	}
}

// encodeSummary runs recs through a fresh summary encoder and returns the page.
func encodeSummary(t testing.TB, o format.Options, recs []schemas.Transaction) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := New(&buf, o)
	for i := range recs {
		if err := enc.Encode(&recs[i]); err != nil {
			t.Fatalf("encode summary record %d: %v", i, err)
		}
	}
	if err := enc.Close(); err != nil {
		t.Fatalf("close summary encoder: %v", err)
	}
	return buf.Bytes()
}

func TestSummaryGoldenFilesMatchTheEncoder(t *testing.T) {
	t.Parallel()
	for _, g := range []struct {
		name    string
		granted schemas.Category
	}{
		{"transactions", schemas.Transactions},
		{"all", schemas.AllCategories},
		{"empty", schemas.AllCategories},
	} {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			recs := formattest.InOrder(formattest.Fixtures(t), Format.Order)
			if g.name == "empty" {
				recs = nil
			}
			got := encodeSummary(t, summaryOptions(g.granted), recs)
			path := filepath.Join("testdata", "summary."+g.name+".golden")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatalf("update golden file: %v", err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read golden file (run go test -update to create it): %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the encoder's output (review, then go test -update)\ngot:\n%s", path, got)
			}
		})
	}
}

// summaryWant is what the page must show of one currency, summed here
// independently of the encoder: amounts parsed from their text with
// math/big, months from the UK wall clock's "2006-01".
type summaryWant struct {
	scale                  int
	in, out, net           int64
	n, nIn, nOut           int64
	monthIn, monthOut      map[string]int64
	categoryOut, categoryN map[string]int64
}

// wantSummary sums recs per currency at each currency's minor units.
func wantSummary(t *testing.T, recs []schemas.Transaction, merchant bool) map[string]*summaryWant {
	t.Helper()
	uk, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*summaryWant{}
	for _, r := range recs {
		w := out[r.Currency]
		if w == nil {
			scale, ok := schemas.CurrencyMinorUnits(r.Currency)
			if !ok {
				t.Fatalf("fixture currency %s unknown", r.Currency)
			}
			w = &summaryWant{scale: scale, monthIn: map[string]int64{}, monthOut: map[string]int64{},
				categoryOut: map[string]int64{}, categoryN: map[string]int64{}}
			out[r.Currency] = w
		}
		rat, ok := new(big.Rat).SetString(r.Amount.Text)
		if !ok {
			t.Fatalf("amount text %q", r.Amount.Text)
		}
		rat.Mul(rat, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(w.scale)), nil)))
		if !rat.IsInt() || !rat.Num().IsInt64() {
			t.Fatalf("amount %s is not whole minor units", r.Amount.Text)
		}
		u := rat.Num().Int64()
		month := r.BookedAt.In(uk).Format("2006-01")
		w.n++
		switch {
		case u > 0:
			w.in += u
			w.nIn++
			w.monthIn[month] += u
		case u < 0:
			w.out -= u
			w.nOut++
			w.monthOut[month] -= u
			if merchant {
				key := spendGroupInfo[mccGroup(r.MerchantCode)].Key
				w.categoryOut[key] -= u
				w.categoryN[key]++
			}
		}
		w.net += u
	}
	return out
}

// pageNumbers is every number a page marks with <data>, read back from
// its parsed DOM: per currency, class → values in document order, and the
// month and category keys of the rows they sit in.
type pageNumbers struct {
	transactions int64
	currencies   []string // in page order
	scale        map[string]int
	values       map[string]map[string][]int64 // currency → class → values
	keyed        map[string]map[string]int64   // currency → "month-in 2026-03" → value
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Namespace == "" && a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func hasClass(n *html.Node, class string) bool {
	v, _ := attr(n, "class")
	return slices.Contains(strings.Fields(v), class)
}

func textOf(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	return b.String()
}

// amountText matches how the page writes money: "£1,234.56", "−EUR 5.00"
// (U+2212 MINUS SIGN).
var amountText = regexp.MustCompile(`^(−?)(?:£|([A-Z]{3}) )([0-9]{1,3}(?:,[0-9]{3})*)(?:\.([0-9]+))?$`)

// parseAmountText reads a page amount back as minor units at scale, and
// checks its currency.
func parseAmountText(t *testing.T, s, currency string, scale int) int64 {
	t.Helper()
	m := amountText.FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("amount %q is not written as £1,234.56 or EUR 1,234.56", s)
	}
	if cur := cmpOr(m[2], "GBP"); cur != currency {
		t.Errorf("amount %q is in %s, want %s", s, cur, currency)
	}
	if len(m[4]) != scale {
		t.Errorf("amount %q has %d decimal places, want %d", s, len(m[4]), scale)
	}
	v, err := strconv.ParseInt(strings.ReplaceAll(m[3], ",", "")+m[4], 10, 64)
	if err != nil {
		t.Fatalf("amount %q: %v", s, err)
	}
	if m[1] != "" {
		v = -v
	}
	return v
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// readPage parses a page and collects its marked numbers. It fails the
// test when a <data> element's text does not say what its value says.
func readPage(t *testing.T, page []byte) pageNumbers {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatalf("parse page: %v", err)
	}
	p := pageNumbers{transactions: -1, scale: map[string]int{}, values: map[string]map[string][]int64{}, keyed: map[string]map[string]int64{}}
	var walk func(n *html.Node, cur, rowKey string)
	walk = func(n *html.Node, cur, rowKey string) {
		if n.Type == html.ElementNode {
			if c, ok := attr(n, "data-currency"); ok && n.Data == "section" {
				cur = c
				p.currencies = append(p.currencies, c)
				s, _ := attr(n, "data-scale")
				scale, err := strconv.Atoi(s)
				if err != nil {
					t.Fatalf("section %s: data-scale %q", c, s)
				}
				p.scale[c] = scale
				p.values[c] = map[string][]int64{}
				p.keyed[c] = map[string]int64{}
			}
			if k, ok := attr(n, "data-month"); ok {
				rowKey = k
			}
			if k, ok := attr(n, "data-category"); ok {
				rowKey = k
			}
			if n.Data == "data" {
				class, _ := attr(n, "class")
				vs, _ := attr(n, "value")
				v, err := strconv.ParseInt(vs, 10, 64)
				if err != nil {
					t.Fatalf("<data class=%q value=%q>: %v", class, vs, err)
				}
				text := textOf(n)
				switch class {
				case "transactions", "count", "count-in", "count-out", "category-count", "merchant-count":
					if got := strings.ReplaceAll(text, ",", ""); got != vs {
						t.Errorf("%s %s: text %q, value %s", cur, class, text, vs)
					}
				default:
					if got := parseAmountText(t, text, cur, p.scale[cur]); got != v {
						t.Errorf("%s %s: text %q reads %d, value %d", cur, class, text, got, v)
					}
				}
				if class == "transactions" {
					p.transactions = v
				} else if cur == "" {
					t.Errorf("<data class=%q> outside a currency section", class)
				} else {
					p.values[cur][class] = append(p.values[cur][class], v)
					if rowKey != "" {
						p.keyed[cur][class+" "+rowKey] = v
					}
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, cur, rowKey)
		}
	}
	walk(doc, "", "")
	return p
}

func one(t *testing.T, p pageNumbers, cur, class string) int64 {
	t.Helper()
	vs := p.values[cur][class]
	if len(vs) != 1 {
		t.Errorf("%s: %d elements of class %s, want 1", cur, len(vs), class)
		return 0
	}
	return vs[0]
}

func TestSummaryTotalsEqualTheRecords(t *testing.T) {
	t.Parallel()
	for _, g := range []struct {
		name    string
		granted schemas.Category
	}{
		{"without merchant", schemas.Transactions | schemas.Balances},
		{"with merchant", schemas.AllCategories},
	} {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			recs := formattest.Fixtures(t)
			merchant := g.granted.Has(schemas.Merchant)
			want := wantSummary(t, recs, merchant)
			p := readPage(t, encodeSummary(t, summaryOptions(g.granted), formattest.InOrder(recs, format.OldestFirst)))
			if p.transactions != int64(len(recs)) {
				t.Errorf("transactions = %d, want %d", p.transactions, len(recs))
			}
			if got := strings.Join(p.currencies, ","); got != "GBP,EUR,JPY" {
				t.Errorf("currency sections %s, want GBP first then by code: GBP,EUR,JPY", got)
			}
			for cur, w := range want {
				if p.scale[cur] != w.scale {
					t.Errorf("%s: data-scale %d, want %d", cur, p.scale[cur], w.scale)
				}
				for _, c := range []struct {
					class string
					want  int64
				}{
					{"total-in", w.in}, {"total-out", w.out}, {"net", w.net},
					{"count", w.n}, {"count-in", w.nIn}, {"count-out", w.nOut},
				} {
					if got := one(t, p, cur, c.class); got != c.want {
						t.Errorf("%s %s = %d, want %d", cur, c.class, got, c.want)
					}
				}
				// Seven UK months, January to July, in every currency.
				if got := len(p.values[cur]["month-in"]); got != 7 {
					t.Errorf("%s: %d month rows, want 7 (January to July 2026)", cur, got)
				}
				for _, m := range []string{"2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06", "2026-07"} {
					if got := p.keyed[cur]["month-in "+m]; got != w.monthIn[m] {
						t.Errorf("%s %s in = %d, want %d", cur, m, got, w.monthIn[m])
					}
					if got := p.keyed[cur]["month-out "+m]; got != w.monthOut[m] {
						t.Errorf("%s %s out = %d, want %d", cur, m, got, w.monthOut[m])
					}
				}
				if !merchant {
					if n := len(p.values[cur]["category-out"]); n != 0 {
						t.Errorf("%s: %d categories without the merchant category, want none", cur, n)
					}
					continue
				}
				if got, wantN := len(p.values[cur]["category-out"]), len(w.categoryOut); got != wantN {
					t.Errorf("%s: %d categories, want %d", cur, got, wantN)
				}
				var sum int64
				for k, v := range w.categoryOut {
					sum += v
					if got := p.keyed[cur]["category-out "+k]; got != v {
						t.Errorf("%s category %s = %d, want %d", cur, k, got, v)
					}
					if got := p.keyed[cur]["category-count "+k]; got != w.categoryN[k] {
						t.Errorf("%s category %s count = %d, want %d", cur, k, got, w.categoryN[k])
					}
				}
				if sum != w.out {
					t.Errorf("%s: categories add up to %d, money out is %d", cur, sum, w.out)
				}
				if vs := p.values[cur]["category-out"]; !slices.IsSortedFunc(vs, func(a, b int64) int { return cmp.Compare(b, a) }) {
					t.Errorf("%s: categories %v not largest first", cur, vs)
				}
			}
		})
	}
}

func TestSummaryFixturesShowTheExpectedNumbers(t *testing.T) {
	t.Parallel()
	// Hand-checked against fixtures_test.go, so a bug shared by the encoder
	// and wantSummary cannot hide.
	p := readPage(t, encodeSummary(t, summaryOptions(schemas.AllCategories), formattest.Fixtures(t)))
	for _, c := range []struct {
		cur, class string
		want       int64
	}{
		{"GBP", "total-in", 100000 + 1250 + 500},                                            // 1000.00 + 12.5 + 5.00
		{"GBP", "total-out", 1234 + 100 + 200 + 300 + 400 + 1 + 750 + 750 + 99999999999999}, // the house
		{"GBP", "count", 13}, // 3 in, 9 out, 1 zero
		{"EUR", "total-out", 1250},
		{"EUR", "net", -1250},
		{"JPY", "total-in", 1500},
		{"JPY", "count-out", 0},
	} {
		if got := one(t, p, c.cur, c.class); got != c.want {
			t.Errorf("%s %s = %d, want %d", c.cur, c.class, got, c.want)
		}
	}
	for key, want := range map[string]int64{
		"category-out groceries":       1234, // Tesco 5411
		"category-out shopping":        1,    // 5999
		"category-count uncategorised": 7,
		"month-out 2026-07":            750, // 23:30 UTC on 14 July is 15 July in the UK
		"month-out 2026-01":            750,
		"month-in 2026-02":             0,
	} {
		if got, ok := p.keyed["GBP"][key]; !ok || got != want {
			t.Errorf("GBP %s = %d (present %v), want %d", key, got, ok, want)
		}
	}
	// EUR's merchant has a name but no code: uncategorised.
	if got := p.keyed["EUR"]["category-out uncategorised"]; got != 1250 {
		t.Errorf("EUR uncategorised = %d, want 1250", got)
	}
}

func TestSummaryMonthsAreUKMonthsOfThePeriod(t *testing.T) {
	t.Parallel()
	rec := func(id, at, amount string) schemas.Transaction {
		tm, err := time.Parse(time.RFC3339, at)
		if err != nil {
			t.Fatal(err)
		}
		return schemas.Transaction{TransactionID: id, CustomerID: "C1", BookedAt: tm.UTC(), Amount: formattest.MustDecimal(t, amount), Currency: "GBP"}
	}
	o := format.Options{Granted: schemas.Transactions, CustomerID: "C1",
		From: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 4, 30, 23, 0, 0, 0, time.UTC)}
	recs := []schemas.Transaction{
		rec("a", "2026-03-31T22:59:59Z", "-1.00"), // 23:59:59 BST: still March
		rec("b", "2026-03-31T23:00:00Z", "-2.00"), // 00:00 BST on 1 April
		rec("c", "2026-04-30T22:59:59Z", "3.00"),  // the last second of the period
	}
	page := encodeSummary(t, o, recs)
	if !bytes.Contains(page, []byte("1 February 2026 to 30 April 2026")) {
		t.Error("page does not give the period as 1 February 2026 to 30 April 2026")
	}
	p := readPage(t, page)
	for key, want := range map[string]int64{
		"month-out 2026-02": 0, "month-in 2026-02": 0, // a month without records is shown
		"month-out 2026-03": 100,
		"month-out 2026-04": 200, "month-in 2026-04": 300,
	} {
		if got, ok := p.keyed["GBP"][key]; !ok || got != want {
			t.Errorf("%s = %d (present %v), want %d", key, got, ok, want)
		}
	}
	if n := len(p.values["GBP"]["month-in"]); n != 3 {
		t.Errorf("%d months, want 3: February to April", n)
	}
}

func TestSummaryPeriodNamesTheLastIncludedUKDay(t *testing.T) {
	t.Parallel()
	uk, err := time.LoadLocation(ukZone)
	if err != nil {
		t.Fatal(err)
	}
	d := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	var zero time.Time
	for _, c := range []struct {
		name          string
		from, to      time.Time
		first, latest time.Time
		seen          bool
		want          string
	}{
		{"UK midnights in winter", d("2026-01-01T00:00:00Z"), d("2026-02-01T00:00:00Z"), zero, zero, false, "1 January 2026 to 31 January 2026"},
		{"UK midnights across summer time", d("2026-02-01T00:00:00Z"), d("2026-04-30T23:00:00Z"), zero, zero, false, "1 February 2026 to 30 April 2026"},
		{"a UTC midnight in summer is 01:00 in the UK, so that day is included", d("2026-06-01T00:00:00Z"), d("2026-07-01T00:00:00Z"), zero, zero, false, "1 June 2026 to 1 July 2026"},
		{"an open end", d("2026-06-01T00:00:00Z"), zero, zero, zero, false, "From 1 June 2026"},
		{"an open start", zero, d("2026-07-01T00:00:00+01:00"), zero, zero, false, "Up to 30 June 2026"},
		{"no period with records", zero, zero, d("2026-03-04T10:00:00Z"), d("2026-05-06T10:00:00Z"), true, "4 March 2026 to 6 May 2026 (first and last transaction)"},
		{"no period and no records", zero, zero, zero, zero, false, "All dates"},
	} {
		if got := summaryPeriod(c.from, c.to, c.first, c.latest, c.seen, uk); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

func TestSummaryAmountsAreExactWithSeparators(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		units    int64
		scale    int32
		currency string
		want     string
	}{
		{0, 2, "GBP", "£0.00"},
		{1, 2, "GBP", "£0.01"},
		{123456, 2, "GBP", "£1,234.56"},
		{-123456, 2, "GBP", "−£1,234.56"},
		{100000, 2, "GBP", "£1,000.00"},
		{99999, 2, "GBP", "£999.99"},
		{123456, 2, "EUR", "EUR 1,234.56"},
		{1500, 0, "JPY", "JPY 1,500"},
		{1234567, 3, "KWD", "KWD 1,234.567"},
		{5, 3, "GBP", "£0.005"},
		{math.MaxInt64, 2, "GBP", "£92,233,720,368,547,758.07"},
		{math.MinInt64, 0, "JPY", "−JPY 9,223,372,036,854,775,808"},
	} {
		if got := summaryAmount(c.units, c.scale, c.currency); got != c.want {
			t.Errorf("summaryAmount(%d, %d, %s) = %q, want %q", c.units, c.scale, c.currency, got, c.want)
		}
	}
}

func TestBarLengthsAreExactIntegerProportions(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		v, peak int64
		full    int
		want    int
	}{
		{0, 100, 146, 0},
		{100, 100, 146, 146},
		{50, 100, 146, 73},
		{1, 1 << 62, 146, 1}, // tiny but not zero: still seen
		{math.MaxInt64, math.MaxInt64, 340, 340},
		{math.MaxInt64 / 2, math.MaxInt64, 340, 169}, // would overflow in int64
		{5, 0, 146, 0},
	} {
		if got := barLen(c.v, c.peak, c.full); got != c.want {
			t.Errorf("barLen(%d, %d, %d) = %d, want %d", c.v, c.peak, c.full, got, c.want)
		}
	}
}

func TestMerchantCategoryCodesFallInTheirGroups(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		code string
		want string
	}{
		{"5411", "groceries"}, {"5499", "groceries"}, {"5462", "groceries"},
		{"5812", "eating-out"}, {"5814", "eating-out"},
		{"4111", "transport"}, {"5541", "transport"}, {"4784", "transport"},
		{"3000", "travel"}, {"3999", "travel"}, {"4511", "travel"}, {"7011", "travel"}, {"4722", "travel"},
		{"5300", "shopping"}, {"5651", "shopping"}, {"5999", "shopping"}, {"5900", "shopping"},
		{"4900", "bills"}, {"4814", "bills"},
		{"7832", "entertainment"}, {"7991", "entertainment"}, {"7999", "entertainment"},
		{"5912", "health"}, {"8011", "health"}, {"8099", "health"},
		{"6010", "cash"}, {"6011", "cash"},
		{"2999", "other"}, {"4000", "other"}, {"8100", "other"}, {"6012", "other"}, {"0000", "other"},
		{"", "uncategorised"}, {"54a1", "other"}, {"541", "other"},
	} {
		if got := spendGroupInfo[mccGroup(c.code)].Key; got != c.want {
			t.Errorf("MCC %q is in %s, want %s", c.code, got, c.want)
		}
	}
}

func TestSummaryWithoutMerchantSaysSoAndShowsNoCategory(t *testing.T) {
	t.Parallel()
	page := string(encodeSummary(t, summaryOptions(schemas.Transactions|schemas.Balances), formattest.Fixtures(t)))
	if !strings.Contains(page, "Merchant data was not shared") {
		t.Error("page does not say merchant data was not shared")
	}
	for _, banned := range []string{"data-category", "Groceries", "Uncategorised", "Spending by category", "Tesco", "5411"} {
		if strings.Contains(page, banned) {
			t.Errorf("page without the merchant category contains %q", banned)
		}
	}
}

func TestSummaryOfNoRecordsSaysThereWereNoTransactions(t *testing.T) {
	t.Parallel()
	page := encodeSummary(t, summaryOptions(schemas.AllCategories), nil)
	checkWellFormed(t, page)
	if !bytes.Contains(page, []byte("There were no transactions in this period.")) {
		t.Error("empty page does not say there were no transactions")
	}
	p := readPage(t, page)
	if p.transactions != 0 || len(p.currencies) != 0 {
		t.Errorf("empty page: transactions %d, sections %v; want 0 and none", p.transactions, p.currencies)
	}
}

func TestSummaryWritesNothingWithoutTheTransactionsCategory(t *testing.T) {
	t.Parallel()
	for _, g := range []schemas.Category{0, schemas.Balances | schemas.Merchant} {
		if got := encodeSummary(t, summaryOptions(g), formattest.Fixtures(t)); len(got) != 0 {
			t.Errorf("categories %q wrote %d bytes, want none", g, len(got))
		}
	}
}

func TestSummaryIsTheSameWhateverTheRecordOrder(t *testing.T) {
	t.Parallel()
	recs := formattest.Fixtures(t)
	want := encodeSummary(t, summaryOptions(schemas.AllCategories), formattest.InOrder(recs, format.OldestFirst))
	if again := encodeSummary(t, summaryOptions(schemas.AllCategories), formattest.InOrder(recs, format.OldestFirst)); !bytes.Equal(again, want) {
		t.Fatal("the same records gave different bytes")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 5 {
		rng.Shuffle(len(recs), func(a, b int) { recs[a], recs[b] = recs[b], recs[a] })
		if got := encodeSummary(t, summaryOptions(schemas.AllCategories), recs); !bytes.Equal(got, want) {
			t.Errorf("shuffle %d gave different bytes", i)
		}
	}
}

func TestSummaryRaisesTheScaleRatherThanRound(t *testing.T) {
	t.Parallel()
	o := format.Options{Granted: schemas.Transactions}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	recs := []schemas.Transaction{
		{TransactionID: "a", BookedAt: at, Amount: formattest.MustDecimal(t, "10.50"), Currency: "GBP"},
		{TransactionID: "b", BookedAt: at, Amount: formattest.MustDecimal(t, "0.005"), Currency: "GBP"}, // more places than GBP has
		{TransactionID: "c", BookedAt: at, Amount: formattest.MustDecimal(t, "-1.5"), Currency: "GBP"},
	}
	p := readPage(t, encodeSummary(t, o, recs))
	if p.scale["GBP"] != 3 {
		t.Fatalf("data-scale = %d, want 3", p.scale["GBP"])
	}
	if got := one(t, p, "GBP", "total-in"); got != 10505 {
		t.Errorf("total-in = %d, want 10505 (£10.505)", got)
	}
	if got := one(t, p, "GBP", "total-out"); got != 1500 {
		t.Errorf("total-out = %d, want 1500", got)
	}
}

func TestSummaryRefusesWhatItMustNotShow(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	good := schemas.Transaction{TransactionID: "ok", CustomerID: "C000123", BookedAt: at, Amount: formattest.MustDecimal(t, "1.00"), Currency: "GBP"}
	huge := good
	huge.Amount, huge.Currency = formattest.MustDecimal(t, "999999999999999999"), "JPY"
	for _, c := range []struct {
		name string
		recs []schemas.Transaction
		want string
	}{
		{"another customer's record", []schemas.Transaction{good, func() schemas.Transaction { r := good; r.CustomerID = "C999"; return r }()}, "customer"},
		{"a record before the period", []schemas.Transaction{func() schemas.Transaction {
			r := good
			r.BookedAt = time.Date(2025, 12, 31, 23, 59, 59, 0, time.UTC)
			return r
		}()}, "outside the period"},
		{"a record at the period's exclusive end", []schemas.Transaction{func() schemas.Transaction { r := good; r.BookedAt = summaryOptions(0).To; return r }()}, "outside the period"},
		{"sums past int64", slices.Repeat([]schemas.Transaction{huge}, 10), "overflows"},
	} {
		t.Run(c.name, func(t *testing.T) {
			enc := New(io.Discard, summaryOptions(schemas.AllCategories))
			var err error
			for i := 0; i < len(c.recs) && err == nil; i++ {
				err = enc.Encode(&c.recs[i])
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error = %v, want one saying %q", err, c.want)
			}
			if err2 := enc.Close(); err2 == nil || err2.Error() != err.Error() {
				t.Errorf("Close after a refusal = %v, want the same error", err2)
			}
		})
	}
	if !errors.Is(func() error {
		enc := New(io.Discard, format.Options{Granted: schemas.Transactions})
		var err error
		for i := 0; i < 10 && err == nil; i++ {
			err = enc.Encode(&huge)
		}
		return err
	}(), errSumOverflow) {
		t.Error("overflow is not errSumOverflow")
	}
}

func TestSummaryReportsWriteErrors(t *testing.T) {
	t.Parallel()
	recs := formattest.Fixtures(t)
	enc := New(formattest.FailingWriter{}, summaryOptions(schemas.AllCategories))
	for i := range recs {
		if err := enc.Encode(&recs[i]); err != nil {
			t.Fatal(err) // nothing is written before Close
		}
	}
	if err := enc.Close(); !errors.Is(err, formattest.ErrDiskFull) {
		t.Errorf("Close = %v, want an error wrapping %v", err, formattest.ErrDiskFull)
	}
	if err := enc.Close(); !errors.Is(err, formattest.ErrDiskFull) {
		t.Errorf("second Close = %v, want the same error again", err)
	}
}

func TestSummaryClosedTwiceWritesOnePage(t *testing.T) {
	t.Parallel()
	recs := formattest.Fixtures(t)
	var buf bytes.Buffer
	enc := New(&buf, summaryOptions(schemas.AllCategories))
	if err := enc.Encode(&recs[0]); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := enc.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(buf.String(), "<!doctype html>"); n != 1 {
		t.Errorf("%d pages written, want 1", n)
	}
	if err := enc.Encode(&recs[1]); err == nil {
		t.Error("Encode after Close succeeded, want an error")
	}
}

func TestSummaryEncodingARowDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("skipped under -race: the race detector changes allocation counts")
	}
	recs := formattest.Fixtures(t)
	o := summaryOptions(schemas.AllCategories)
	enc := New(formattest.Discard{}, o)
	for i := range recs { // first sight of each currency and month allocates
		if err := enc.Encode(&recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		if err := enc.Encode(&recs[i%len(recs)]); err != nil {
			t.Fatal(err)
		}
		i++
	})
	if allocs != 0 {
		t.Errorf("%.2f allocations per row, want 0", allocs)
	}
}

func TestSummaryHasNoExternalReferences(t *testing.T) {
	t.Parallel()
	for _, granted := range []schemas.Category{schemas.Transactions, schemas.AllCategories} {
		page := strings.ToLower(string(encodeSummary(t, summaryOptions(granted), formattest.Fixtures(t))))
		// The fixtures hold a description with an http:// link: the page
		// shows no description, so it must not appear either.
		for _, banned := range []string{"http:", "https:", "//", "<script", "src=", "href=", "url(", "@import", "<link", "<iframe", "<object", "<embed", "<img", " on"} {
			if banned == " on" {
				if m := regexp.MustCompile(`\son[a-z]+\s*=`).FindString(page); m != "" {
					t.Errorf("page has an event handler attribute %q", m)
				}
				continue
			}
			if strings.Contains(page, banned) {
				t.Errorf("page contains %q", banned)
			}
		}
	}
}

// voidElements are the HTML elements without an end tag.
var voidElements = map[string]bool{"area": true, "base": true, "br": true, "col": true, "embed": true, "hr": true,
	"img": true, "input": true, "link": true, "meta": true, "source": true, "track": true, "wbr": true}

// checkWellFormed tokenizes a page and fails unless it starts with the
// doctype, every element is closed in order (SVG elements self-close),
// ids are unique, and every aria-labelledby and aria-describedby names ids
// that exist.
func checkWellFormed(t *testing.T, page []byte) {
	t.Helper()
	z := html.NewTokenizer(bytes.NewReader(page))
	var stack []string
	ids := map[string]bool{}
	var refs []string
	first := true
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			if z.Err() != io.EOF {
				t.Fatalf("tokenize: %v", z.Err())
			}
			break
		}
		tok := z.Token()
		if first {
			if tt != html.DoctypeToken || tok.Data != "html" {
				t.Fatalf("page starts with %v %q, want <!doctype html>", tt, tok.Data)
			}
			first = false
			continue
		}
		switch tt {
		case html.StartTagToken, html.SelfClosingTagToken:
			for _, a := range tok.Attr {
				switch a.Key {
				case "id":
					if ids[a.Val] {
						t.Errorf("duplicate id %q", a.Val)
					}
					ids[a.Val] = true
				case "aria-labelledby", "aria-describedby":
					refs = append(refs, strings.Fields(a.Val)...)
				}
			}
			if tt == html.StartTagToken && !voidElements[tok.Data] {
				stack = append(stack, tok.Data)
			}
		case html.EndTagToken:
			if len(stack) == 0 || stack[len(stack)-1] != tok.Data {
				t.Fatalf("</%s> closes %v", tok.Data, stack)
			}
			stack = stack[:len(stack)-1]
		case html.DoctypeToken:
			t.Error("second doctype")
		}
	}
	if len(stack) != 0 {
		t.Errorf("unclosed elements %v", stack)
	}
	for _, r := range refs {
		if !ids[r] {
			t.Errorf("an aria attribute names %q, which no element has", r)
		}
	}
}

func TestSummaryIsWellFormedAccessibleHTML(t *testing.T) {
	t.Parallel()
	for _, granted := range []schemas.Category{schemas.Transactions, schemas.Transactions | schemas.Balances, schemas.AllCategories} {
		t.Run(granted.String(), func(t *testing.T) {
			t.Parallel()
			page := encodeSummary(t, summaryOptions(granted), formattest.Fixtures(t))
			checkWellFormed(t, page)
			for _, want := range []string{
				"<!doctype html>\n<html lang=\"en-GB\">",
				`<meta charset="utf-8">`,
				`<meta name="viewport" content="width=device-width, initial-scale=1">`,
				"<title>Your transactions summary: 1 January 2026 to 31 July 2026</title>",
				"<h1>", "<h2", "<h3>",
				"C000123",
			} {
				if !bytes.Contains(page, []byte(want)) {
					t.Errorf("page lacks %q", want)
				}
			}
			doc, err := html.Parse(bytes.NewReader(page))
			if err != nil {
				t.Fatal(err)
			}
			charts, tables := 0, 0
			for n := range doc.Descendants() {
				if n.Type != html.ElementNode {
					continue
				}
				switch n.Data {
				case "svg":
					charts++
					if role, _ := attr(n, "role"); role != "img" {
						t.Errorf("svg role = %q, want img", role)
					}
					label, _ := attr(n, "aria-labelledby")
					described, _ := attr(n, "aria-describedby")
					if !strings.HasSuffix(label, "-title") || !strings.HasSuffix(described, "-desc") {
						t.Errorf("svg aria-labelledby %q, aria-describedby %q: want its title and desc", label, described)
					}
					kinds := map[string]bool{}
					for c := range n.ChildNodes() {
						if c.Type == html.ElementNode {
							kinds[c.Data] = true
						}
					}
					if !kinds["title"] || !kinds["desc"] {
						t.Errorf("svg without title and desc: %v", kinds)
					}
					// The chart's table comes right after its figure.
					next := n.Parent.NextSibling
					for next != nil && next.Type != html.ElementNode {
						next = next.NextSibling
					}
					if next == nil || next.FirstChild == nil || !hasTable(next) {
						t.Error("a chart is not followed by its table")
					}
				case "table":
					tables++
					hasCaption, scoped := false, 0
					for d := range n.Descendants() {
						if d.Type == html.ElementNode && d.Data == "caption" {
							hasCaption = true
						}
						if d.Type == html.ElementNode && d.Data == "th" {
							if s, _ := attr(d, "scope"); s == "col" || s == "row" {
								scoped++
							}
						}
					}
					if !hasCaption || scoped == 0 {
						t.Errorf("table with caption %v and %d scoped headers", hasCaption, scoped)
					}
				}
			}
			wantCharts := 3 // a month chart per currency
			if granted.Has(schemas.Merchant) {
				wantCharts += 2 // and spending for GBP and EUR (JPY only had money in)
			}
			if granted.Has(schemas.Balances) {
				wantCharts += 3 // and the balance of A000123-1 in each currency
			}
			wantTables := wantCharts // each chart's, and
			if granted.Has(schemas.Merchant) {
				wantTables += 2 // top merchants in GBP and EUR (the fixtures have no recurring payment)
			}
			if charts != wantCharts || tables != wantTables {
				t.Errorf("%d charts and %d tables, want %d and %d", charts, tables, wantCharts, wantTables)
			}
		})
	}
}

func hasTable(n *html.Node) bool {
	for d := range n.Descendants() {
		if d.Type == html.ElementNode && d.Data == "table" {
			return true
		}
	}
	return false
}

func TestSummaryEscapesText(t *testing.T) {
	t.Parallel()
	o := format.Options{Granted: schemas.Transactions, CustomerID: `<b>&"x'`}
	rec := schemas.Transaction{TransactionID: "a", CustomerID: o.CustomerID, BookedAt: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
		Amount: formattest.MustDecimal(t, "1"), Currency: "<X>"}
	page := encodeSummary(t, o, []schemas.Transaction{rec})
	checkWellFormed(t, page)
	for _, raw := range []string{"<b>", "<X>"} {
		if bytes.Contains(page, []byte(raw)) {
			t.Errorf("page holds unescaped %q", raw)
		}
	}
	if !bytes.Contains(page, []byte("&lt;b&gt;&amp;&#34;x&#39;")) {
		t.Error("customer id not escaped")
	}
}
