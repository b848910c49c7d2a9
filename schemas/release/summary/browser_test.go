package summary

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"go.uber.org/goleak"

	"github.com/midata/midata/schemas"
	"github.com/midata/midata/schemas/release/format/formattest"
)

// chromiumPath finds Debian's chromium: $MIDATA_TEST_CHROMIUM, then
// /usr/bin/chromium, then chromium on the PATH. Without one the test skips,
// or fails when MIDATA_TEST_REQUIRE_BENCH=1 (as in make test and CI).
func chromiumPath(t *testing.T) string {
	t.Helper()
	candidates := []string{os.Getenv("MIDATA_TEST_CHROMIUM"), "/usr/bin/chromium"}
	if p, err := exec.LookPath("chromium"); err == nil {
		candidates = append(candidates, p)
	}
	for _, p := range candidates {
		if p == "" {
			continue
		}
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	msg := "no chromium at $MIDATA_TEST_CHROMIUM, /usr/bin/chromium or on the PATH: install Debian's chromium (make test does: apt-get install -y chromium)"
	if os.Getenv("MIDATA_TEST_REQUIRE_BENCH") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// domSection is what the browser reads of one currency section.
type domSection struct {
	Currency   string      `json:"currency"`
	Scale      string      `json:"scale"`
	TotalIn    string      `json:"totalIn"`
	TotalOut   string      `json:"totalOut"`
	Net        string      `json:"net"`
	Count      string      `json:"count"`
	InText     string      `json:"inText"`
	Months     [][3]string `json:"months"`     // month, in, out
	Categories [][2]string `json:"categories"` // key, out
}

// domPage is what the browser reads of the page.
type domPage struct {
	Title         string       `json:"title"`
	FirstTotalIn  string       `json:"firstTotalIn"` // document.querySelector('.total-in').value
	Transactions  string       `json:"transactions"`
	ScrollWidth   int          `json:"scrollWidth"`
	InnerWidth    int          `json:"innerWidth"`
	Charts        int          `json:"charts"`
	WideCharts    int          `json:"wideCharts"` // charts drawn wider than the window, or not at all
	Sections      []domSection `json:"sections"`
	NoText        bool         `json:"noText"`
	EmptyMessage  bool         `json:"emptyMessage"`
	MerchantShown bool         `json:"merchantShown"`
	Recurring     int          `json:"recurring"`     // rows of recurring payments
	TopMerchants  int          `json:"topMerchants"`  // rows of top merchants
	BalanceCharts int          `json:"balanceCharts"` // balance charts with a line or dot drawn
	HiddenRows    int          `json:"hiddenRows"`    // rows of those tables not laid out
}

const readDOM = `(() => {
  const v = (root, sel) => { const e = root.querySelector(sel); return e ? e.value : ""; };
  const charts = Array.from(document.querySelectorAll("svg"));
  return {
    title: document.title,
    firstTotalIn: v(document, ".total-in"),
    transactions: v(document, ".transactions"),
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    charts: charts.length,
    wideCharts: charts.filter(s => { const r = s.getBoundingClientRect(); return r.width <= 0 || r.height <= 0 || r.right > window.innerWidth; }).length,
    noText: document.body.innerText.trim() === "",
    emptyMessage: document.body.innerText.includes("There were no transactions in this period."),
    merchantShown: document.querySelector("[data-category]") !== null,
    recurring: document.querySelectorAll("tr[data-recurring]").length,
    topMerchants: document.querySelectorAll("tr[data-merchant-rank]").length,
    balanceCharts: Array.from(document.querySelectorAll("div.balance svg")).filter(s => {
      const l = s.querySelector("polyline.line, circle.dot"); if (!l) return false;
      const r = l.getBoundingClientRect(); return r.width > 0 || r.height > 0; }).length,
    hiddenRows: Array.from(document.querySelectorAll("tr[data-recurring], tr[data-merchant-rank], tr[data-balance-month]"))
      .filter(r => { const b = r.getBoundingClientRect(); return b.width <= 0 || b.height <= 0; }).length,
    sections: Array.from(document.querySelectorAll("section.currency")).map(s => ({
      currency: s.dataset.currency,
      scale: s.dataset.scale,
      totalIn: v(s, ".total-in"), totalOut: v(s, ".total-out"), net: v(s, ".net"), count: v(s, ".count"),
      inText: s.querySelector(".total-in").textContent,
      months: Array.from(s.querySelectorAll("tr[data-month]")).map(r => [r.dataset.month, v(r, ".month-in"), v(r, ".month-out")]),
      categories: Array.from(s.querySelectorAll("tr[data-category]")).map(r => [r.dataset.category, v(r, ".category-out")]),
    })),
  };
})()`

// browserProblems collects what the page must never cause: console output,
// uncaught exceptions, error log entries, and requests for anything but the
// page itself.
type browserProblems struct {
	mu   sync.Mutex
	list []string
	page string // the page's own URL
}

func (p *browserProblems) add(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.list = append(p.list, fmt.Sprintf(format, args...))
}

func (p *browserProblems) all() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.list...)
}

// listen is the event callback: fast, no commands, no panics.
func (p *browserProblems) listen(ev any) {
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		var args []string
		for _, a := range ev.Args {
			args = append(args, string(a.Value)+a.Description)
		}
		p.add("console.%s: %s", ev.Type, strings.Join(args, " "))
	case *runtime.EventExceptionThrown:
		if d := ev.ExceptionDetails; d != nil {
			p.add("exception: %s at %s:%d", d.Text, d.URL, d.LineNumber)
		}
	case *log.EventEntryAdded:
		if e := ev.Entry; e != nil && e.Level == log.EntryLevelError {
			p.add("log %s error: %s (%s)", e.Source, e.Text, e.URL)
		}
	case *network.EventRequestWillBeSent:
		if u := ev.Request.URL; u != p.page && !strings.HasPrefix(u, "data:") {
			p.add("request for %s", u)
		}
	}
}

// TestSummaryOpensInHeadlessChromium opens the page on a phone-sized screen
// and checks it loads with no console message, exception, error or request,
// is drawn (the screenshot is not blank, both bar colours are on it), fits
// the screen's width, and shows in its DOM the totals summed independently
// from the records. Not parallel: one browser at a time on a small machine,
// and goleak checks chromedp leaves no goroutine behind.
func TestSummaryOpensInHeadlessChromium(t *testing.T) {
	chromium := chromiumPath(t)
	// Registered first, so it runs last: after startChromium's cleanup, it
	// checks no goroutine started since this line is left.
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, before) })
	browser := startChromium(t, chromium)

	recs := formattest.Fixtures(t)
	// A synthetic customer with recurring payments (a weekly standing
	// order, a card subscription, direct debits), one-offs and balances.
	set := defaultSynth(t)
	const synthID = "C000002"
	for _, c := range []struct {
		name    string
		granted schemas.Category
		recs    []schemas.Transaction
		synth   bool // the records are synthID's: the period is the data set's
	}{
		{"the fixtures with every category", schemas.AllCategories, recs, false},
		{"the fixtures without merchant data", schemas.Transactions, recs, false},
		{"no records", schemas.AllCategories, nil, false},
		{"a synthetic customer with every category", schemas.AllCategories, set.records[synthID], true},
		{"a synthetic customer without merchant data", schemas.Transactions | schemas.Balances, set.records[synthID], true},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := summaryOptions(c.granted)
			if c.synth {
				o = set.options(synthID, c.granted)
			}
			page := encodeSummary(t, o, formattest.InOrder(c.recs, Format.Order))
			dir := t.TempDir()
			file := filepath.Join(dir, "summary.html")
			if err := os.WriteFile(file, page, 0o644); err != nil {
				t.Fatal(err)
			}
			pageURL := (&url.URL{Scheme: "file", Path: file}).String()
			got, shot, full, problems := openInChromium(t, browser, pageURL)
			if len(problems) > 0 {
				t.Errorf("the browser reported:\n%s", strings.Join(problems, "\n"))
			}
			saveScreenshots(t, c.name, shot, full)
			checkNotBlank(t, "phone screenshot", shot, c.recs != nil)
			if c.recs != nil {
				checkBarColours(t, full)
			}
			if got.NoText || got.Title == "" {
				t.Errorf("page shows no text (title %q)", got.Title)
			}
			if got.ScrollWidth > got.InnerWidth {
				t.Errorf("page is %d px wide on a %d px screen: it scrolls sideways", got.ScrollWidth, got.InnerWidth)
			}
			if got.WideCharts > 0 {
				t.Errorf("%d of %d charts are not drawn inside the screen", got.WideCharts, got.Charts)
			}
			if got.Transactions != strconv.Itoa(len(c.recs)) {
				t.Errorf("transactions = %q, want %d", got.Transactions, len(c.recs))
			}
			if c.recs == nil {
				if !got.EmptyMessage || len(got.Sections) != 0 {
					t.Errorf("empty page: message shown %v, %d sections; want the message and none", got.EmptyMessage, len(got.Sections))
				}
				return
			}
			if got.MerchantShown != c.granted.Has(schemas.Merchant) {
				t.Errorf("categories shown = %v with categories %q", got.MerchantShown, c.granted)
			}
			// The new sections, as parsed from the page's bytes, are the
			// ones the browser lays out.
			var wantRecurring, wantTop, wantBalances int
			for _, sec := range readSections(t, page) {
				wantRecurring, wantTop, wantBalances = wantRecurring+len(sec.recurring), wantTop+len(sec.merchants), wantBalances+len(sec.balances)
			}
			if got.Recurring != wantRecurring || got.TopMerchants != wantTop || got.BalanceCharts != wantBalances || got.HiddenRows != 0 {
				t.Errorf("browser shows %d recurring, %d top merchant rows, %d balance charts (%d rows not laid out); the page has %d, %d, %d",
					got.Recurring, got.TopMerchants, got.BalanceCharts, got.HiddenRows, wantRecurring, wantTop, wantBalances)
			}
			if (wantTop > 0) != c.granted.Has(schemas.Merchant) || (wantBalances > 0) != c.granted.Has(schemas.Balances) || c.synth && wantRecurring == 0 {
				t.Errorf("with %q: %d top merchants, %d balance charts, %d recurring payments", c.granted, wantTop, wantBalances, wantRecurring)
			}
			want := wantSummary(t, c.recs, c.granted.Has(schemas.Merchant))
			if len(got.Sections) != len(want) {
				t.Fatalf("%d currency sections, want %d", len(got.Sections), len(want))
			}
			if got.FirstTotalIn != strconv.FormatInt(want["GBP"].in, 10) {
				t.Errorf(".total-in (the first, GBP) = %s, want %d", got.FirstTotalIn, want["GBP"].in)
			}
			for _, s := range got.Sections {
				w := want[s.Currency]
				if w == nil {
					t.Errorf("section for %q, which no record has", s.Currency)
					continue
				}
				for _, f := range []struct {
					name, got string
					want      int64
				}{
					{"data-scale", s.Scale, int64(w.scale)},
					{"total-in", s.TotalIn, w.in}, {"total-out", s.TotalOut, w.out},
					{"net", s.Net, w.net}, {"count", s.Count, w.n},
				} {
					if f.got != strconv.FormatInt(f.want, 10) {
						t.Errorf("%s %s = %q, want %d", s.Currency, f.name, f.got, f.want)
					}
				}
				if v := parseAmountText(t, s.InText, s.Currency, w.scale); v != w.in {
					t.Errorf("%s money in reads %q on screen, want %d minor units", s.Currency, s.InText, w.in)
				}
				for _, m := range s.Months {
					if m[1] != strconv.FormatInt(w.monthIn[m[0]], 10) || m[2] != strconv.FormatInt(w.monthOut[m[0]], 10) {
						t.Errorf("%s %s: in %s out %s, want %d and %d", s.Currency, m[0], m[1], m[2], w.monthIn[m[0]], w.monthOut[m[0]])
					}
				}
				if len(s.Categories) != len(w.categoryOut) {
					t.Errorf("%s: %d categories, want %d", s.Currency, len(s.Categories), len(w.categoryOut))
				}
				for _, g := range s.Categories {
					if g[1] != strconv.FormatInt(w.categoryOut[g[0]], 10) {
						t.Errorf("%s %s = %s, want %d", s.Currency, g[0], g[1], w.categoryOut[g[0]])
					}
				}
			}
		})
	}
}

// startChromium starts a fresh headless chromium and returns its context;
// each page opens in a tab of its own (openInChromium). The browser is
// closed, and chromedp's goroutines ended, at t's cleanup.
func startChromium(t *testing.T, chromium string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox, // root in CI; the page is our own file
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND"), // nothing resolves: the page must not need it
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(390, 844),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { // close the browser gracefully and wait for it
		ctx, cancel := context.WithTimeout(browserCtx, 20*time.Second)
		defer cancel()
		if err := chromedp.Cancel(ctx); err != nil {
			t.Logf("close chromium: %v", err)
		}
		cancelBrowser()
		cancelAlloc()
	})
	// The first call on the context starts the browser, so it gets no
	// timeout (a timeout would stop the browser with it).
	if err := chromedp.Do(browserCtx); err != nil {
		t.Fatalf("start chromium %s: %v", chromium, err)
	}
	return browserCtx
}

// openInChromium loads the page in a new tab with a phone's screen
// (390×844) and returns what the DOM shows, a screenshot of the screen and
// one of the whole page (PNG), and the problems the browser reported. The
// tab is closed on return.
func openInChromium(t *testing.T, browserCtx context.Context, pageURL string) (domPage, []byte, []byte, []string) {
	t.Helper()
	tabCtx, closeTab := chromedp.NewContext(browserCtx)
	defer closeTab()
	problems := &browserProblems{page: pageURL}
	if err := chromedp.Listen(tabCtx, problems.listen); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	ctx, cancel := context.WithTimeout(tabCtx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx,
		chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulatePortrait),
		chromedp.Navigate(pageURL),
	); err != nil {
		t.Fatalf("open %s: %v", pageURL, err)
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[domPage](readDOM))
	if err != nil {
		t.Fatalf("read the page's DOM: %v", err)
	}
	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	full, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("full-page screenshot: %v", err)
	}
	return got, shot, full, problems.all()
}

// saveScreenshots writes the screenshots to $MIDATA_TEST_SCREENSHOTS, when
// set, for a person to look at.
func saveScreenshots(t *testing.T, name string, shots ...[]byte) {
	t.Helper()
	dir := os.Getenv("MIDATA_TEST_SCREENSHOTS")
	if dir == "" {
		return
	}
	base := strings.ReplaceAll(name, " ", "-")
	for i, s := range shots {
		path := filepath.Join(dir, fmt.Sprintf("summary-%s-%d.png", base, i))
		if err := os.WriteFile(path, s, 0o644); err != nil {
			t.Errorf("save screenshot: %v", err)
		}
	}
}

func decodePNG(t *testing.T, what string, b []byte) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decode %s: %v", what, err)
	}
	return img
}

// checkNotBlank fails unless the screenshot is the phone's size and has
// enough ink: at least 1% of pixels away from the background and a number
// of distinct colours that only drawn text and shapes give.
func checkNotBlank(t *testing.T, what string, b []byte, charts bool) {
	t.Helper()
	img := decodePNG(t, what, b)
	r := img.Bounds()
	if r.Dx() != 390 || r.Dy() != 844 {
		t.Errorf("%s is %dx%d, want 390x844", what, r.Dx(), r.Dy())
	}
	bg := img.At(r.Min.X, r.Min.Y)
	br, bgG, bb, _ := bg.RGBA()
	colours := map[[3]uint32]bool{}
	ink := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			colours[[3]uint32{cr >> 8, cg >> 8, cb >> 8}] = true
			if absDiff(cr, br)+absDiff(cg, bgG)+absDiff(cb, bb) > 3*0x1000 {
				ink++
			}
		}
	}
	minColours := 8
	if charts {
		minColours = 24
	}
	if total := r.Dx() * r.Dy(); ink*100 < total || len(colours) < minColours {
		t.Errorf("%s looks blank: %d of %d pixels differ from the background, %d colours", what, ink, total, len(colours))
	}
}

// checkBarColours fails unless the full page shows both bar colours (blue
// money in, orange money out) over a real area: the SVG charts were drawn.
func checkBarColours(t *testing.T, b []byte) {
	t.Helper()
	img := decodePNG(t, "full-page screenshot", b)
	near := func(cr, cg, cb uint32, want [3]uint32) bool {
		return absDiff(cr>>8, want[0])+absDiff(cg>>8, want[1])+absDiff(cb>>8, want[2]) < 24
	}
	in, out := 0, 0
	r := img.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			switch {
			case near(cr, cg, cb, [3]uint32{0x0b, 0x5c, 0xad}):
				in++
			case near(cr, cg, cb, [3]uint32{0xb3, 0x47, 0x00}):
				out++
			}
		}
	}
	if in < 500 || out < 500 {
		t.Errorf("full page has %d money-in and %d money-out bar pixels, want at least 500 of each", in, out)
	}
}

func absDiff(a, b uint32) uint32 {
	if a > b {
		return a - b
	}
	return b - a
}
