package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/segmentio/kafka-go"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/pipeline/config"
	"github.com/midata/midata/pipeline/partners"
	"github.com/midata/midata/pipeline/seed"
	"github.com/midata/midata/pipeline/serve"
	"github.com/midata/midata/pipeline/signing"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/schemas/synth"
)

var update = flag.Bool("update", false, "write a screenshot of each page to testdata/")

const (
	opsToken      = "ops-token-0123456789abcdef"
	customerToken = "customer-token-0123456789abcdef"
	partnerToken  = "partner-token-0123456789abcdef"
	customer      = "C000003"
)

// service is a real `midata serve` on the bench's Kafka and S3.
type service struct {
	base    string
	brokers []string
	consent string // the consent topic
}

func startService(t *testing.T) service {
	t.Helper()
	srv, ok := testbench.S3(t)
	if !ok {
		t.Skip("the pages run on the whole service, which writes to S3: set MIDATA_TEST_S3 (make test does)")
	}
	brokers := testbench.Kafka(t)
	gen := synth.DefaultConfig()
	gen.Customers, gen.Transactions = 10, 1000
	gen.TransactionsTopic, gen.ConsentTopic = testbench.UniqueName(t, "tx"), testbench.UniqueName(t, "consent")
	testbench.CreateTopic(t, brokers, gen.TransactionsTopic, 3)
	testbench.CreateTopic(t, brokers, gen.ConsentTopic, 4)
	if _, err := seed.Produce(t.Context(), topics.Connection{Brokers: brokers}, gen, kafka.Murmur2Balancer{}); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": srv.AccessKey, "AWS_SECRET_ACCESS_KEY": srv.SecretKey, "AWS_REGION": srv.Region,
		"AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"} {
		t.Setenv(k, v)
	}
	dir := t.TempDir()
	if _, err := signing.Generate(dir); err != nil {
		t.Fatal(err)
	}
	tokens := filepath.Join(dir, "tokens")
	os.WriteFile(tokens, []byte(opsToken+"=ops\n"+customerToken+"=customer:"+customer+"\n"+partnerToken+"=partner:pds-one\n"), 0o600)
	cfg := config.Default()
	cfg.Kafka.Brokers = brokers
	cfg.Topics.Transactions, cfg.Topics.Consent = gen.TransactionsTopic, gen.ConsentTopic
	for _, p := range []*string{&cfg.Topics.Quarantine, &cfg.Topics.Requests, &cfg.Topics.Runs, &cfg.Topics.Schedules, &cfg.Topics.Notifications, &cfg.Workers.Group} {
		*p = testbench.UniqueName(t, "t")
	}
	cfg.S3.Endpoint, cfg.S3.Bucket, cfg.S3.Region, cfg.S3.PathStyle = srv.Endpoint, testbench.Bucket(t, srv), srv.Region, true
	cfg.HTTP.Addr, cfg.TempDir, cfg.Organisation = "127.0.0.1:0", t.TempDir(), "Test Bank plc"
	cfg.Auth.TokensFile, cfg.Signing.KeyFile = tokens, filepath.Join(dir, "signing.key")
	cfg.Partners = []partners.Partner{{ID: "pds-one", Name: "PDS One", Prefix: "partners/pds-one/", Categories: []string{"transactions", "merchant"}}}
	svc, err := serve.New(t.Context(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		svc.Close()
	})
	s := service{base: "http://" + svc.Addr().String(), brokers: brokers, consent: gen.ConsentTopic}
	eventually(t, "ready service", 90*time.Second, func() bool { code, _ := s.api("GET", "/readyz", "", ""); return code == 200 })
	return s
}

// api calls the API directly (the oracle of what the pages did).
func (s service) api(method, path, token, body string) (int, []byte) {
	req, _ := http.NewRequest(method, s.base+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func eventually(t *testing.T, what string, limit time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %s", what, limit)
		}
		time.Sleep(100 * time.Millisecond) // polling a server, with a deadline
	}
}

// browser is a headless Chromium tab.
type browser struct {
	t   *testing.T
	ctx context.Context
	axe string
}

func startBrowser(t *testing.T) *browser {
	t.Helper()
	chromium := os.Getenv("MIDATA_TEST_CHROMIUM")
	if chromium == "" {
		chromium, _ = exec.LookPath("chromium")
	}
	axePath := os.Getenv("MIDATA_TEST_AXE")
	axe, err := os.ReadFile(axePath)
	if chromium == "" || err != nil {
		msg := "needs Chromium (MIDATA_TEST_CHROMIUM) and axe-core (MIDATA_TEST_AXE): make test installs both"
		if os.Getenv("MIDATA_TEST_REQUIRE_BENCH") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.Flag("disable-background-networking", true), chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		c, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		chromedp.Cancel(c)
		cancelBrowser()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return &browser{t: t, ctx: ctx, axe: string(axe)}
}

func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("read %s: %v", sel, err)
	}
	return s
}

func (b *browser) location() string {
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	l, _ := chromedp.Run(ctx, chromedp.Location())
	return l
}

// check runs axe-core over the page: no serious or critical violation;
// and keeps a screenshot under testdata/ with -update.
func (b *browser) check(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](b.axe+";true")); err != nil {
		b.t.Fatalf("load axe-core on %s: %v", name, err)
	}
	bad, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`axe.run(document).then(r => r.violations
		.filter(v => v.impact === "serious" || v.impact === "critical")
		.map(v => v.impact + " " + v.id + ": " + v.help + " (" + v.nodes.map(n => n.target.join(" ")).join(", ") + ")"))`, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("axe on %s: %v", name, err)
	}
	for _, v := range bad {
		b.t.Errorf("axe on the %s page: %s", name, v)
	}
	// Every control is reached from the keyboard: Tab through the page (a
	// date field takes a Tab per part; of a radio group, the checked one
	// takes the Tab, the arrows the rest).
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`(() => { const c = document.querySelectorAll('a[href], button, input:not([type=hidden]):not([type=radio]), input[type=radio]:checked, select, textarea');
		c.forEach((e, i) => e.dataset.k = i); document.activeElement.blur(); window.__seen = new Set(); return c.length; })()`))
	if err != nil {
		b.t.Fatalf("controls of %s: %v", name, err)
	}
	for i := 0; i < 4*n+3; i++ {
		if seen, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`window.__seen.size`)); seen == n {
			break
		}
		if err := chromedp.Do(ctx, chromedp.KeyEvent("\t")); err != nil {
			b.t.Fatalf("tab on %s: %v", name, err)
		}
		chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const k = document.activeElement.dataset.k; if (k !== undefined) window.__seen.add(k); return true; })()`))
	}
	seen, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`window.__seen.size`))
	if seen < n {
		b.t.Errorf("the %s page: %d of its %d controls reached with Tab", name, seen, n)
	}
	if *update {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(90))
		if err == nil {
			os.MkdirAll("testdata", 0o755)
			os.WriteFile(filepath.Join("testdata", name+".png"), png, 0o644)
		}
	}
}

// signIn signs in through the form, as a person would, with the keyboard.
func (b *browser) signIn(base, token string) {
	b.t.Helper()
	b.do("sign in", chromedp.Navigate(base+"/web/"), chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), token), chromedp.KeyEvent("\r"), chromedp.WaitNotPresent(chromedp.CSS("#token")))
}

// latestConsent reads the consent topic itself: the latest event of key.
func (s service) latestConsent(t *testing.T, key string) map[string]any {
	t.Helper()
	var last map[string]any
	for p := range 4 {
		conn, err := kafka.DialLeader(t.Context(), "tcp", s.brokers[0], s.consent, p)
		if err != nil {
			t.Fatal(err)
		}
		end, _ := conn.ReadLastOffset()
		conn.Close()
		if end == 0 {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: s.brokers, Topic: s.consent, Partition: p, MaxWait: 100 * time.Millisecond})
		for range end {
			m, err := r.ReadMessage(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if string(m.Key) == key {
				last = map[string]any{}
				json.Unmarshal(m.Value, &last)
			}
		}
		r.Close()
	}
	return last
}

// TestACustomerAndOpsUseThePagesAsAPersonWould clicks through the
// dashboard in headless Chromium: grant a partner, ask for a release,
// download it, revoke the link, delete it; then the console, the role and
// CSRF refusals; axe-core over every page.
func TestACustomerAndOpsUseThePagesAsAPersonWould(t *testing.T) {
	s := startService(t)
	b := startBrowser(t)

	// The sign-in page itself.
	b.do("the sign-in page", chromedp.Navigate(s.base+"/web/signin"), chromedp.WaitVisible(chromedp.CSS("#token")))
	b.check("signin")
	// The customer signs in and sees every recipient.
	b.signIn(s.base, customerToken)
	if got := b.location(); !strings.HasSuffix(got, "/web/me") {
		t.Fatalf("after sign-in: %s, want the dashboard", got)
	}
	b.check("dashboard")
	if got := b.text("main"); !strings.Contains(got, "PDS One") || !strings.Contains(got, "receives nothing") {
		t.Errorf("the dashboard does not say what PDS One receives: %q", got)
	}
	// Grant PDS One transactions: in force at once, the customer's own act.
	b.do("grant", chromedp.Click(chromedp.CSS(`form:has(input[value="partner:pds-one"]) input[value="transactions"]`)),
		chromedp.Click(chromedp.CSS(`form:has(input[value="partner:pds-one"]) button[value="save"]`)), chromedp.WaitVisible(chromedp.CSS(".flash")))
	ev := s.latestConsent(t, customer+"|partner:pds-one")
	if ev["status"] != "granted" || ev["actor"] != "customer" || fmt.Sprint(ev["categories"]) != "[transactions]" {
		t.Errorf("the consent topic after the grant: %v, want granted transactions by the customer", ev)
	}
	if got := b.text("main"); !strings.Contains(got, "PDS One receives dates, amounts and descriptions") {
		t.Errorf("after the grant the dashboard says: %q", got)
	}
	// Ask for a release.
	b.do("ask", chromedp.Navigate(s.base+"/web/me"), chromedp.WaitVisible(chromedp.CSS("h1")), chromedp.SetValue(chromedp.CSS(`input[name="from"]`), "2026-07-01"), chromedp.SetValue(chromedp.CSS(`input[name="to"]`), "2026-10-01"),
		chromedp.Click(chromedp.CSS(`form[action="/web/me/releases"] button`)), chromedp.WaitVisible(chromedp.CSS(".flash")))
	var rel string
	eventually(t, "the release on the dashboard", 90*time.Second, func() bool {
		b.do("reload", chromedp.Navigate(s.base+"/web/me"), chromedp.WaitVisible(chromedp.CSS("h1")))
		m := regexp.MustCompile(`(r\d{8}-[0-9a-f]+) \(committed`).FindStringSubmatch(b.text("main"))
		if m != nil {
			rel = m[1]
		}
		return rel != ""
	})
	// Open it, get links, download.
	b.do("open the release", chromedp.Click(chromedp.CSS(`a[href="/web/me/releases/`+rel+`"]`)), chromedp.WaitVisible(chromedp.CSS("h1")))
	b.check("release")
	b.do("get links", chromedp.Click(chromedp.CSS(`form[action$="/links"] button`)), chromedp.WaitVisible(chromedp.CSS("main ul a")))
	href, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.querySelector("main ul a").href`))
	if err != nil || !strings.Contains(href, "/v1/downloads/") {
		t.Fatalf("the first link: %q %v", href, err)
	}
	if code, body := s.api("GET", strings.TrimPrefix(href, s.base), "", ""); code != 200 || len(body) == 0 {
		t.Fatalf("download %s = %d", href, code)
	}
	code, body := s.api("GET", "/v1/customers/"+customer+"/downloads", customerToken, "")
	if code != 200 || !bytes.Contains(body, []byte(rel)) {
		t.Errorf("the ledger's downloads after the visit: %d %s", code, body)
	}
	// Revoke that link from the release page: it stops at once.
	b.do("back to the release", chromedp.Navigate(s.base+"/web/me/releases/"+rel), chromedp.WaitVisible(chromedp.CSS("h1")))
	b.do("revoke", chromedp.Click(chromedp.CSS(`form[action^="/web/me/links/"] button`)), chromedp.WaitVisible(chromedp.CSS(".flash")))
	revoked := 0
	var links struct {
		Links []struct {
			RevokedAt *time.Time `json:"revoked_at"`
		} `json:"links"`
	}
	_, body = s.api("GET", "/v1/customers/"+customer+"/links", customerToken, "")
	json.Unmarshal(body, &links)
	for _, l := range links.Links {
		if l.RevokedAt != nil {
			revoked++
		}
	}
	if revoked != 1 {
		t.Errorf("%d links revoked on the ledger after one click, want 1: %s", revoked, body)
	}

	// A customer may not open the console; a form without its CSRF token
	// is refused.
	b.do("ops page as a customer", chromedp.Navigate(s.base+"/web/ops"), chromedp.WaitVisible(chromedp.CSS("h1")))
	if got := b.text("h1"); got != "Not for your role" {
		t.Errorf("a customer on /web/ops sees %q", got)
	}
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	resp, err := client.PostForm(s.base+"/web/signin", url.Values{"token": {customerToken}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = client.PostForm(s.base+"/web/me/grants", url.Values{"recipient": {"partner:pds-one"}, "action": {"revoke"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("a form without its CSRF token = %d, want 403", resp.StatusCode)
	}
	if ev := s.latestConsent(t, customer+"|partner:pds-one"); ev["status"] != "granted" {
		t.Errorf("the refused form changed the consent: %v", ev)
	}
	for _, c := range jar.Cookies(&url.URL{Scheme: "http", Host: strings.TrimPrefix(s.base, "http://"), Path: "/web/"}) {
		if c.Name == "midata_session" && strings.Contains(c.Value, customerToken) {
			t.Error("the session cookie holds the token in clear")
		}
	}

	// Delete the release: its links say so.
	b.do("delete", chromedp.Navigate(s.base+"/web/me/releases/"+rel), chromedp.WaitVisible(chromedp.CSS("h1")),
		chromedp.Click(chromedp.CSS(`form[action$="/delete"] button`)), chromedp.WaitVisible(chromedp.CSS(".flash")))
	if code, _ := s.api("GET", "/v1/customers/"+customer+"/releases/"+rel+"/links", customerToken, ""); code != 404 {
		t.Errorf("links of the deleted release = %d, want 404", code)
	}

	// Ops: the console's pages, and no customer's pages.
	b.do("sign out", chromedp.Navigate(s.base+"/web/me"), chromedp.WaitVisible(chromedp.CSS(".signout button")),
		chromedp.Click(chromedp.CSS(".signout button")), chromedp.WaitVisible(chromedp.CSS("#token")))
	b.signIn(s.base, opsToken)
	b.check("runs")
	if got := b.text("main"); !strings.Contains(got, "succeeded") {
		t.Errorf("the runs page does not show the customer's run: %q", got)
	}
	b.do("a run's page", chromedp.Click(chromedp.CSS(`main table a[href^="/web/ops/runs/"]`)), chromedp.WaitVisible(chromedp.CSS("h1")))
	b.check("run")
	if got := b.text("main"); !strings.Contains(got, customer) {
		t.Errorf("the run's page does not list the customer's release: %q", got)
	}
	for _, p := range []struct{ path, name, want string }{
		{"/web/ops/schedules", "schedules", "New schedule"},
		{"/web/ops/deliveries", "deliveries", "Deliveries to partners"},
		{"/web/ops/quarantine", "quarantine", "were kept aside with their reason"},
		{"/web/ops/audit?customer=" + customer, "audit", rel},
	} {
		b.do(p.name, chromedp.Navigate(s.base+p.path), chromedp.WaitVisible(chromedp.CSS("h1")))
		b.check(p.name)
		if got := b.text("main"); !strings.Contains(got, p.want) {
			t.Errorf("%s shows %q, want %q in it", p.path, got, p.want)
		}
	}
	b.do("a customer's page as ops", chromedp.Navigate(s.base+"/web/me/releases/"+rel), chromedp.WaitVisible(chromedp.CSS("h1")))
	if got := b.text("h1"); got != "Not for your role" {
		t.Errorf("ops on a customer's release page sees %q", got)
	}
	// Create a schedule from the console, then pause it.
	b.do("create a schedule", chromedp.Navigate(s.base+"/web/ops/schedules"), chromedp.WaitVisible(chromedp.CSS("h1")),
		chromedp.SendKeys(chromedp.CSS(`input[name="id"]`), "monthly-c3"), chromedp.SendKeys(chromedp.CSS(`input[name="customers"]`), customer),
		chromedp.Click(chromedp.CSS(`input[value="midata-csv"]`)), chromedp.Click(chromedp.CSS(`form[action="/web/ops/schedules"] button`)),
		chromedp.WaitVisible(chromedp.CSS(".flash")))
	b.do("pause it", chromedp.Navigate(s.base+"/web/ops/schedules"), chromedp.WaitVisible(chromedp.CSS("h1")), chromedp.Click(chromedp.CSS(`form[action="/web/ops/schedules/monthly-c3/pause"] button`)), chromedp.WaitVisible(chromedp.CSS(".flash")))
	if code, body := s.api("GET", "/v1/schedules/monthly-c3", opsToken, ""); code != 200 || !bytes.Contains(body, []byte(`"paused":true`)) {
		t.Errorf("the schedule after create and pause: %d %s", code, body)
	}

	// The partner's page.
	b.do("sign out", chromedp.Click(chromedp.CSS(".signout button")), chromedp.WaitVisible(chromedp.CSS("#token")))
	b.signIn(s.base, partnerToken)
	if got := b.location(); !strings.HasSuffix(got, "/web/partner") {
		t.Fatalf("the partner signed in to %s", got)
	}
	b.check("partner")
}
