package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/pipeline/seed"
	"github.com/midata/midata/pipeline/serve"
	"github.com/midata/midata/pipeline/signing"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/schemas/synth"
)

// hookMessage is one webhook a receiver accepted, its signature checked.
type hookMessage struct {
	ID, Type string
	Body     map[string]any
}

// receiver is a webhook receiver written from the Standard Webhooks
// specification: it checks the webhook-signature header (v1, base64 of
// HMAC-SHA256 keyed by the secret's bytes over "<id>.<timestamp>.<body>")
// and the timestamp's age, and answers status (200 unless told).
type receiver struct {
	key    []byte
	status atomic.Int32
	mu     sync.Mutex
	got    []hookMessage
	bad    []string
	tries  atomic.Int32
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc.tries.Add(1)
	body, _ := io.ReadAll(r.Body)
	id, ts := r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp")
	mac := hmac.New(sha256.New, rc.key)
	fmt.Fprintf(mac, "%s.%s.%s", id, ts, body)
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	sec, _ := strconv.ParseInt(ts, 10, 64)
	signed := slices.Contains(strings.Fields(r.Header.Get("webhook-signature")), want)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if !signed || time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		rc.bad = append(rc.bad, id)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if st := int(rc.status.Load()); st != 0 && st != 200 {
		w.WriteHeader(st)
		return
	}
	var m map[string]any
	json.Unmarshal(body, &m)
	typ, _ := m["type"].(string)
	rc.got = append(rc.got, hookMessage{ID: id, Type: typ, Body: m})
	w.WriteHeader(http.StatusNoContent)
}

func (rc *receiver) messages(typ string) []hookMessage {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []hookMessage
	for _, m := range rc.got {
		if m.Type == typ {
			out = append(out, m)
		}
	}
	return out
}

// TestReleasesStayUnderTheCustomersControlAfterTheyAreMade runs `midata
// serve` against the real Kafka and S3 with a signing key and a partner
// whose webhook is a real HTTP server: the customer's stable links, each
// visit on the ledger, revocation by the customer and by ops, deletion;
// the partner's deliveries with their webhooks, a failed one visible and
// delivered on retry, the recall after a withdrawal; and the
// notifications of each.
func TestReleasesStayUnderTheCustomersControlAfterTheyAreMade(t *testing.T) {
	srv, ok := testbench.S3(t)
	if !ok {
		t.Skip("serve writes to S3: set MIDATA_TEST_S3 (make test does)")
	}
	brokers := testbench.Kafka(t)
	cfg := synth.DefaultConfig()
	cfg.Customers, cfg.Transactions = 10, 1000
	cfg.TransactionsTopic = testbench.UniqueName(t, "tx")
	cfg.ConsentTopic = testbench.UniqueName(t, "consent")
	testbench.CreateTopic(t, brokers, cfg.TransactionsTopic, 3)
	testbench.CreateTopic(t, brokers, cfg.ConsentTopic, 4)
	if _, err := seed.Produce(t.Context(), topics.Connection{Brokers: brokers}, cfg, kafka.Murmur2Balancer{}); err != nil {
		t.Fatal(err)
	}
	setS3Env(t, srv)
	dir := t.TempDir()
	if _, err := signing.Generate(dir); err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	rand.Read(key)
	secretFile := filepath.Join(dir, "whsec")
	os.WriteFile(secretFile, []byte("whsec_"+base64.StdEncoding.EncodeToString(key)+"\n"), 0o600)
	hooks := &receiver{key: key}
	hookSrv := httptest.NewServer(hooks)
	defer hookSrv.Close()
	partnerBucket := testbench.Bucket(t, srv) // its own, apart from the releases
	partnersYAML := fmt.Sprintf(`[{id: pds-1, name: PDS One, bucket: %q, prefix: partners/pds-1/, webhook_url: %q, webhook_secret_file: %q, webhook_attempts: 2, formats: [ndjson], categories: [transactions]}]`, partnerBucket, hookSrv.URL, secretFile)

	defer func(every time.Duration) { serve.RecallEvery = every }(serve.RecallEvery)
	serve.RecallEvery = 300 * time.Millisecond
	addr := freePort(t)
	base := "http://" + addr
	notifications := testbench.UniqueName(t, "notifications")
	const ops, customer, partner = "ops-token-0123456789", "customer-token-0123456789", "partner-token-0123456789"
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stdout, stderr lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve",
			"--kafka-brokers", strings.Join(brokers, ","),
			"--transactions-topic", cfg.TransactionsTopic, "--consent-topic", cfg.ConsentTopic,
			"--quarantine-topic", testbench.UniqueName(t, "quarantine"), "--requests-topic", testbench.UniqueName(t, "requests"),
			"--runs-topic", testbench.UniqueName(t, "runs"), "--schedules-topic", testbench.UniqueName(t, "schedules"),
			"--notifications-topic", notifications, "--workers-group", testbench.UniqueName(t, "group"),
			"--s3-endpoint", srv.Endpoint, "--s3-bucket", testbench.Bucket(t, srv), "--s3-region", srv.Region,
			"--http-addr", addr, "--temp-dir", t.TempDir(), "--log-level", "warn",
			"--signing-key-file", filepath.Join(dir, "signing.key"), "--partners", partnersYAML, "--organisation", "Test Bank plc",
			"--auth-tokens-file", tokensFile(t, ops+"=ops", customer+"=customer:C000003", partner+"=partner:pds-1"),
		}, &stdout, &stderr)
	}()
	waitFor := serveWaiter(t, done, &stderr)
	waitFor("ready server", 90*time.Second, func() bool { code, _ := call(t, "GET", base+"/readyz", "", ""); return code == 200 })
	must := func(wantCode int, method, path, token, body string) []byte {
		t.Helper()
		code, b := call(t, method, base+path, token, body)
		if code != wantCode {
			t.Fatalf("%s %s = %d %s, want %d", method, path, code, b, wantCode)
		}
		return b
	}
	type runView struct {
		ID       string `json:"id"`
		Status   string `json:"status"`
		Error    string `json:"error"`
		Releases []struct {
			ReleaseID string `json:"release_id"`
			Status    string `json:"status"`
			LinksPath string `json:"links_path"`
		} `json:"releases"`
	}
	await := func(id string, final ...string) runView {
		t.Helper()
		var rv runView
		waitFor("run "+id+" to end", 120*time.Second, func() bool {
			code, b := call(t, "GET", base+"/v1/runs/"+id, ops, "")
			return code == 200 && json.Unmarshal(b, &rv) == nil && slices.Contains(final, rv.Status)
		})
		return rv
	}
	noRedirect := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	visit := func(path string) (int, string, string) {
		t.Helper()
		resp, err := noRedirect.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Location"), string(b)
	}
	type linkList struct {
		Links []struct {
			Path string `json:"path"`
			URL  string `json:"url"`
		} `json:"links"`
	}
	mint := func(linksPath string) linkList {
		t.Helper()
		var l linkList
		if err := json.Unmarshal(must(200, "GET", linksPath, customer, ""), &l); err != nil || len(l.Links) < 2 {
			t.Fatalf("links of %s: %+v %v", linksPath, l, err)
		}
		for _, k := range l.Links {
			if !strings.HasPrefix(k.URL, "/v1/downloads/") || strings.Contains(k.URL, "X-Amz") {
				t.Fatalf("link %s is not a stable link to midata's endpoint", k.URL)
			}
		}
		return l
	}

	// The customer grants the partner transactions, and asks for a release.
	must(200, "PUT", "/v1/customers/C000003/grants/partner:pds-1", customer, `{"categories":["transactions"]}`)
	var created runView
	json.Unmarshal(must(202, "POST", "/v1/customers/C000003/releases", customer, `{"from":"2026-07-01","to":"2026-10-01","formats":["ndjson","midata-csv"]}`), &created)
	self := await(created.ID, "succeeded", "failed")
	if self.Status != "succeeded" || len(self.Releases) != 1 || self.Releases[0].Status != "committed" {
		t.Fatalf("self run = %+v", self)
	}
	selfRel := self.Releases[0].ReleaseID
	linksPath := "/v1/customers/C000003/releases/" + selfRel + "/links"

	// A stable link redirects to the file, once the visit is on the ledger.
	first := mint(linksPath)
	code, loc, _ := visit(first.Links[0].URL)
	if code != http.StatusFound || !strings.HasPrefix(loc, srv.Endpoint) {
		t.Fatalf("a visit = %d to %q, want 302 to the store", code, loc)
	}
	if code, body := httpGet(t, loc); code != 200 || len(body) == 0 {
		t.Fatalf("the presigned URL = %d (%d bytes)", code, len(body))
	}
	var downloads struct {
		Downloads []struct {
			LinkID    string `json:"link_id"`
			ReleaseID string `json:"release_id"`
			File      string `json:"file"`
		} `json:"downloads"`
	}
	json.Unmarshal(must(200, "GET", "/v1/customers/C000003/downloads", customer, ""), &downloads)
	if len(downloads.Downloads) != 1 || downloads.Downloads[0].ReleaseID != selfRel || downloads.Downloads[0].File != first.Links[0].Path {
		t.Fatalf("downloads = %+v, want the one visit of %s", downloads, first.Links[0].Path)
	}
	// The customer revokes that link: its next visit gets the page.
	var listed struct {
		Links []struct {
			ID, File  string
			RevokedAt *time.Time `json:"revoked_at"`
		} `json:"links"`
	}
	json.Unmarshal(must(200, "GET", "/v1/customers/C000003/links", customer, ""), &listed)
	if len(listed.Links) != len(first.Links) {
		t.Fatalf("listed links = %+v, want the %d minted", listed, len(first.Links))
	}
	visitedID := downloads.Downloads[0].LinkID
	must(200, "DELETE", "/v1/customers/C000003/links/"+visitedID, customer, "")
	if code, _, page := visit(first.Links[0].URL); code != http.StatusGone || !strings.Contains(page, "revoked") || strings.Contains(page, "<Error>") {
		t.Errorf("a revoked link = %d %q, want 410 and a page saying it was revoked", code, page)
	}
	// Ops revoke every link of the release without seeing one.
	if code, _, _ := visit(first.Links[1].URL); code != http.StatusFound {
		t.Fatalf("another link of the release = %d, want 302", code)
	}
	must(http.StatusForbidden, "GET", "/v1/customers/C000003/links", ops, "")
	must(200, "DELETE", "/v1/releases/"+selfRel+"/links", ops, "")
	if code, _, page := visit(first.Links[1].URL); code != http.StatusGone || !strings.Contains(page, "revoked") {
		t.Errorf("a link after ops revoked the release's = %d %q, want 410", code, page)
	}
	json.Unmarshal(must(200, "GET", "/v1/customers/C000003/links", customer, ""), &listed)
	for _, l := range listed.Links {
		if l.RevokedAt == nil {
			t.Errorf("link %s (%s) is listed unrevoked after every link of its release was revoked", l.ID, l.File)
		}
	}
	// The customer deletes the release: links to it say so, nothing is left.
	fresh := mint(linksPath)
	var deletion struct {
		Objects int `json:"objects"`
	}
	json.Unmarshal(must(200, "DELETE", "/v1/customers/C000003/releases/"+selfRel, customer, ""), &deletion)
	if deletion.Objects < 3 { // the manifest, the readme, the two files
		t.Errorf("deletion removed %d objects", deletion.Objects)
	}
	if code, _, page := visit(fresh.Links[0].URL); code != http.StatusGone || !strings.Contains(page, "deleted") {
		t.Errorf("a link to a deleted release = %d %q, want 410 and a page saying it was deleted", code, page)
	}
	must(404, "GET", linksPath, customer, "")
	if code, _, _ := visit("/v1/downloads/" + strings.Repeat("0", 32) + ".9999999999.AAAA"); code != http.StatusNotFound {
		t.Errorf("a forged token = %d, want 404", code)
	}

	// The partner's release is delivered: bundle, then a signed webhook.
	partnerReq := func(from, to string) string {
		var rv runView
		json.Unmarshal(must(202, "POST", "/v1/releases", ops, fmt.Sprintf(`{"recipient":"partner:pds-1","customers":["C000003"],"from":%q,"to":%q,"formats":["ndjson"]}`, from, to)), &rv)
		return rv.ID
	}
	must(400, "POST", "/v1/releases", ops, `{"recipient":"partner:pds-1","customers":["C000003"],"from":"2026-07-01","to":"2026-10-01","formats":["parquet"]}`)
	p1 := await(partnerReq("2026-07-01", "2026-10-01"), "succeeded", "failed")
	if p1.Status != "succeeded" || len(p1.Releases) != 1 || p1.Releases[0].Status != "committed" {
		t.Fatalf("partner run = %+v", p1)
	}
	rel1 := p1.Releases[0].ReleaseID
	if got := hooks.messages("release.delivered"); len(got) != 1 || got[0].Body["release_id"] != rel1 || got[0].ID != "delivered-"+rel1 {
		t.Fatalf("webhooks = %+v, want one release.delivered of %s", got, rel1)
	}
	// The run's start and end were told too, with counts of deliveries.
	if started := hooks.messages("run.started"); len(started) != 1 || started[0].Body["run_id"] != p1.ID || started[0].ID != "run.started-"+p1.ID+"-0" {
		t.Errorf("run.started webhooks = %+v", started)
	}
	if fin := hooks.messages("run.finished"); len(fin) != 1 || fin[0].Body["delivered"] != 1.0 || fin[0].Body["succeeded"] != true {
		t.Errorf("run.finished webhooks = %+v, want one run that delivered 1", fin)
	}
	// The partner pulls the bundle: its consent receipt names the
	// customer as the one who gave the consent, and what it covers.
	var pulled struct {
		Link struct {
			URL string `json:"url"`
		} `json:"link"`
	}
	json.Unmarshal(must(200, "GET", "/v1/partners/pds-1/bundles/"+rel1, partner, ""), &pulled)
	code, tgz := httpGet(t, pulled.Link.URL)
	if code != 200 || !strings.Contains(pulled.Link.URL, partnerBucket) {
		t.Fatalf("the bundle's link = %d", code)
	}
	var receipt struct {
		Controller string   `json:"controller"`
		Actor      string   `json:"actor"`
		Subject    string   `json:"subject"`
		Recipient  string   `json:"recipient"`
		Categories []string `json:"categories"`
	}
	if err := json.Unmarshal(tarFile(t, []byte(tgz), "consent-receipt.json"), &receipt); err != nil ||
		receipt.Controller != "Test Bank plc" || receipt.Actor != "customer" || receipt.Subject != "C000003" || receipt.Recipient != "partner:pds-1" || !slices.Equal(receipt.Categories, []string{"transactions"}) {
		t.Errorf("consent receipt = %+v (%v), want the customer's grant of transactions to partner:pds-1", receipt, err)
	}
	type deliveryList struct {
		Deliveries []struct {
			Partner    string `json:"partner"`
			ReleaseID  string `json:"release_id"`
			Status     string `json:"status"`
			Key        string `json:"key"`
			SHA256     string `json:"sha256"`
			Attempts   int    `json:"attempts"`
			HTTPStatus int    `json:"http_status"`
			Error      string `json:"error"`
		} `json:"deliveries"`
	}
	var dl deliveryList
	json.Unmarshal(must(200, "GET", "/v1/partners/pds-1/deliveries", partner, ""), &dl)
	if len(dl.Deliveries) != 1 || dl.Deliveries[0].ReleaseID != rel1 || dl.Deliveries[0].Status != "delivered" || dl.Deliveries[0].HTTPStatus != 204 {
		t.Fatalf("the partner's deliveries = %+v", dl)
	}

	// The receiver fails: after its two attempts the run fails and the
	// delivery is failed for ops to see; a retry delivers it.
	hooks.status.Store(500)
	p2 := await(partnerReq("2026-04-01", "2026-07-01"), "succeeded", "failed")
	if p2.Status != "failed" || !strings.Contains(p2.Error, "webhook") {
		t.Fatalf("run with the receiver down = %+v, want failed naming the webhook", p2)
	}
	json.Unmarshal(must(200, "GET", "/v1/deliveries?status=failed&partner=pds-1", ops, ""), &dl)
	if len(dl.Deliveries) != 1 || dl.Deliveries[0].HTTPStatus != 500 || dl.Deliveries[0].Attempts != 2 || dl.Deliveries[0].Error == "" {
		t.Fatalf("failed deliveries = %+v, want one after 2 attempts answered 500", dl)
	}
	rel2 := dl.Deliveries[0].ReleaseID
	var cliOut, cliErr lockedBuffer
	if code := runCLI(t.Context(), []string{"runs", "deliveries", "--status", "failed", "--server", base, "--token-file", tokensFile(t, ops)}, &cliOut, &cliErr); code != 0 || !strings.Contains(cliOut.String(), rel2) {
		t.Errorf("midata runs deliveries --status failed = %d %q %q, want %s", code, cliOut.String(), cliErr.String(), rel2)
	}
	hooks.status.Store(200)
	consoleRetry(t, base, ops, p2.ID) // as ops would, from the run's page in the console
	if p2 = await(p2.ID, "succeeded", "failed"); p2.Status != "succeeded" {
		t.Fatalf("retried run = %+v", p2)
	}
	json.Unmarshal(must(200, "GET", "/v1/deliveries?partner=pds-1&status=delivered", ops, ""), &dl)
	if len(dl.Deliveries) != 2 {
		t.Fatalf("delivered = %+v, want both releases", dl)
	}
	if got := hooks.messages("release.delivered"); len(got) != 2 || got[1].ID != "delivered-"+rel2 {
		t.Fatalf("webhooks after the retry = %+v", got)
	}

	// The customer withdraws the partner's grant: the partner is told to
	// delete both bundles, and can pull neither.
	must(200, "DELETE", "/v1/customers/C000003/grants/partner:pds-1", customer, "")
	waitFor("recall webhook", 60*time.Second, func() bool { return len(hooks.messages("release.recall")) == 1 })
	recall := hooks.messages("release.recall")[0]
	var named []string
	for _, r := range recall.Body["releases"].([]any) {
		named = append(named, r.(string))
	}
	if want := []string{rel1, rel2}; !slices.Equal(named, slices.Sorted(slices.Values(want))) || !strings.HasPrefix(recall.ID, "recall-rc-") {
		t.Errorf("recall %s names %v, want %v", recall.ID, named, want)
	}
	must(http.StatusGone, "GET", "/v1/partners/pds-1/bundles/"+rel1, partner, "")
	if len(hooks.bad) > 0 {
		t.Errorf("webhooks with a bad signature: %v", hooks.bad)
	}

	// A revocation written upstream on the consent topic, not through the
	// API, is recalled too (serve's sweep), once.
	upstream := func(status string, at time.Time) {
		t.Helper()
		tr := topics.Connection{Brokers: brokers}.Transport()
		defer tr.CloseIdleConnections()
		w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: cfg.ConsentTopic, Balancer: kafka.Murmur2Balancer{}, Transport: tr}
		defer w.Close()
		v := fmt.Sprintf(`{"consent_id":"K-up-%s","customer_id":"C000004","recipient":"partner:pds-1","status":%q,"categories":["transactions"],"event_time":%q}`,
			status, status, at.UTC().Format(time.RFC3339))
		if err := w.WriteMessages(t.Context(), kafka.Message{Key: []byte("C000004|partner:pds-1"), Value: []byte(v)}); err != nil {
			t.Fatal(err)
		}
	}
	upstream("granted", time.Now().Add(-time.Minute))
	var p3 runView
	waitFor("C000004's partner release", 120*time.Second, func() bool {
		var rv runView
		json.Unmarshal(must(202, "POST", "/v1/releases", ops, `{"recipient":"partner:pds-1","customers":["C000004"],"from":"2026-07-01","to":"2026-10-01","formats":["ndjson"]}`), &rv)
		p3 = await(rv.ID, "succeeded", "failed", "no_consent")
		return p3.Status == "succeeded" && len(p3.Releases) == 1 && p3.Releases[0].Status == "committed"
	})
	upstream("revoked", time.Now())
	waitFor("the upstream revocation's recall", 60*time.Second, func() bool { return len(hooks.messages("release.recall")) == 2 })
	if r := hooks.messages("release.recall")[1]; fmt.Sprint(r.Body["releases"]) != fmt.Sprint([]any{p3.Releases[0].ReleaseID}) {
		t.Errorf("upstream recall %+v, want %s named", r, p3.Releases[0].ReleaseID)
	}
	time.Sleep(3 * serve.RecallEvery) // further sweeps find the recall sent
	if n := len(hooks.messages("release.recall")); n != 2 {
		t.Errorf("%d recalls after further sweeps, want 2: a sent recall is not sent again", n)
	}

	// Each step was told on the notifications topic.
	types := map[string]int{}
	waitFor("notifications", 60*time.Second, func() bool {
		types = readTypes(t, brokers, notifications)
		return types["recall.sent"] == 2
	})
	if types["recall.sent"] != 2 || types["release.ready"] < 4 || types["delivery.failed"] < 1 {
		t.Errorf("notifications = %v, want release.ready for each release, delivery.failed, recall.sent", types)
	}

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve exited %d after cancellation: %s", code, stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not stop within 60s of cancellation")
	}
}

// tarFile returns the file name of the tar.gz archive tgz.
func tarFile(t *testing.T, tgz []byte, name string) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("no %s in the archive: %v", name, err)
		}
		if strings.HasSuffix(h.Name, "/"+name) {
			b, _ := io.ReadAll(tr)
			return b
		}
	}
}

// readTypes counts the events of the notifications topic by type.
func readTypes(t *testing.T, brokers []string, topic string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, ev := range readNotifications(t, brokers, topic) {
		out[ev.Type]++
	}
	return out
}

// consoleRetry retries run id from the ops console: it signs in with the
// ops token, opens the run's page and submits its Retry form (with the
// page's CSRF token), failing t unless the console says it retried.
func consoleRetry(t *testing.T, base, token, id string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	post := func(path string, form url.Values) (*http.Response, string) {
		resp, err := client.PostForm(base+path, form)
		if err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	if resp, body := post("/web/signin", url.Values{"token": {token}}); resp.StatusCode != http.StatusOK || !strings.Contains(resp.Request.URL.Path, "/web/ops") {
		t.Fatalf("console sign-in = %d at %s: %s", resp.StatusCode, resp.Request.URL, body)
	}
	page := "/web/ops/runs/" + url.PathEscape(id)
	resp, err := client.Get(base + page)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	action := `action="` + page + `/retry"`
	i := strings.Index(string(b), action)
	if resp.StatusCode != http.StatusOK || i < 0 {
		t.Fatalf("the run's console page (%d) has no Retry form: %s", resp.StatusCode, b)
	}
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(string(b[i:]))
	if m == nil {
		t.Fatalf("the Retry form carries no CSRF token: %s", b[i:])
	}
	if resp, body := post(page+"/retry", url.Values{"csrf": {html.UnescapeString(m[1])}}); resp.StatusCode != http.StatusOK || !strings.Contains(body, "Retried.") {
		t.Fatalf("console Retry = %d: %s", resp.StatusCode, body)
	}
}
