package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/pipeline/jobs"
	"github.com/midata/midata/schemas"
	"github.com/midata/midata/schemas/release"
	"github.com/midata/midata/schemas/synth"
)

// The consent drill's customers. In the kill drill's data set each has a
// self grant and a pds-one grant of transactions without a window or an
// expiry (consent patterns 5 and 8 of schemas/synth: the drill does not
// depend on the date it runs), so each has April transactions for
// pds-one. The staged customer comes before the delivering one in
// customer order: if both are of one task, its release is staged before
// the other's bundle holds the task's deliveries.
const (
	revokeStaged     = "C000006" // revokes while its releases are staged
	revokeDelivering = "C000016" // revokes while its bundle is being written
	revokeDelivered  = "C000009" // revokes once its partner release was delivered
	revokePartnerTok = "partner-pds-one-token-0123456789"
	pdsOne           = "partner:pds-one"
)

// TestDrillConsentRevokedMidRunWithholdsTheCustomerAndRecallsWhatHadGone
// is issue 12's consent drill: the kill drill's bulk partner release (to
// pds-one, signed bundles and webhooks) and bulk self release, made by a
// real `midata serve` whose S3 traffic goes through a proxy that holds
// chosen uploads until the test lets them go, while customers revoke
// their grants through the API, as a customer does:
//
//   - C's partner release is staged (its README.txt, the last file before
//     the consent re-check and the commit, is held) when C revokes pds-one;
//   - E's partner release is committed and its bundle is being written to
//     the partner's bucket (the bundle's upload is held) when E revokes;
//   - D's partner release was delivered (the receiver has its webhook) when
//     D revokes, while the run goes on;
//   - in the self run, C's self release is staged when C revokes self.
//
// No timing decides which window a revocation falls in: each upload is
// held until the revocation is in force (the API answered), and the
// proxy knows the uploads by their content (the README's customer) or by
// the manifest it saw committed (the bundle's release).
//
// It proves that nothing of C reaches the partner (no webhook naming the
// release, no bundle, no delivery on the ledger, no release.ready) and
// nothing of C's releases remains in the store; that the ledger says C's
// releases were cancelled and why (the revocation's consent id); that no
// link to them can ever be minted (refused even once C grants again,
// where D's self release gets its links); that whatever of E reached the
// partner (a bundle in its bucket, a webhook) is recalled at once, not by
// the five-minute sweep; that D is recalled by a signed release.recall
// naming its release, and its bundle can no longer be pulled; and that
// both runs succeed with every other release of the data set committed,
// and every non-empty partner release delivered once, as an independent
// reading of the data set says.
func TestDrillConsentRevokedMidRunWithholdsTheCustomerAndRecallsWhatHadGone(t *testing.T) {
	srv, ok := testbench.S3(t)
	if !ok {
		t.Skip("serve writes to S3: set MIDATA_TEST_S3 (make test does)")
	}
	brokers := testbench.Kafka(t)
	began := time.Now()
	setS3Env(t, srv)
	bin, built := buildServe(t) // while the world is seeded
	keyDir, keys := drillKeys(t)
	w := newDrillWorld(t, srv, brokers, keyDir, "rv")
	built()

	// The proxy in front of the store, and what it holds.
	proxy := newHoldingProxy(t, srv.Endpoint)
	readme := func(customer string, recipient schemas.Recipient) func(string, []byte) bool {
		marker := fmt.Sprintf("transactions of customer %s, released to %s\r\n", customer, recipient)
		return func(key string, body []byte) bool {
			return strings.HasPrefix(key, "releases/") && strings.HasSuffix(key, "/"+release.ReadmeFile) && bytes.Contains(body, []byte(marker))
		}
	}
	stagedPartner := proxy.hold("C's staged partner release", readme(revokeStaged, pdsOne))
	stagedSelf := proxy.hold("C's staged self release", readme(revokeStaged, schemas.RecipientSelf))
	bundling := proxy.hold("E's bundle", func(key string, _ []byte) bool {
		id, ok := strings.CutSuffix(strings.TrimPrefix(key, "partners/pds-one/"), ".tar.gz")
		return ok && proxy.owner(id) == revokeDelivering+"|"+pdsOne
	})
	replaceArg(t, w.args, "--s3-endpoint", proxy.url)
	tokens := map[string]string{}
	lines := []string{drillOps + "=ops", revokePartnerTok + "=" + pdsOne}
	for _, c := range []string{revokeStaged, revokeDelivering, revokeDelivered} {
		tokens[c] = "customer-" + c + "-token-0123456789"
		lines = append(lines, tokens[c]+"=customer:"+c)
	}
	replaceArg(t, w.args, "--auth-tokens-file", tokensFile(t, lines...))
	grant := func(method, customer string, recipient schemas.Recipient, body string) string {
		t.Helper()
		path := "/v1/customers/" + customer + "/grants/" + string(recipient)
		code, b := call(t, method, w.base+path, tokens[customer], body)
		var g struct {
			ConsentID string `json:"consent_id"`
			Status    string `json:"status"`
		}
		if code != http.StatusOK || json.Unmarshal(b, &g) != nil || g.ConsentID == "" {
			t.Fatalf("%s %s = %d %s", method, path, code, b)
		}
		return g.ConsentID
	}
	revoke := func(customer string, recipient schemas.Recipient) string {
		t.Helper()
		return grant("DELETE", customer, recipient, "")
	}
	recallsOf := func(id string) []hookMessage {
		var out []hookMessage
		for _, m := range w.hooks.messages("release.recall") {
			if rs, _ := m.Body["releases"].([]any); slices.Contains(rs, any(id)) {
				out = append(out, m)
			}
		}
		return out
	}
	deliveredOf := func(id string) int {
		n := 0
		for _, m := range w.hooks.messages("release.delivered") {
			if m.Body["release_id"] == id {
				n++
			}
		}
		return n
	}

	life := w.start(t, bin)
	life.ready(t)
	setup := time.Since(began)
	w.submit(t) // the partner run, then the self run (one bulk run at a time)
	partnerRun, selfRun := w.runIDs[0], w.runIDs[1]

	// 1. C's partner release is staged and E's bundle is being written: E
	// revokes, then its upload goes on.
	life.poll(t, "hold of C's staged partner release and of E's bundle", 90*time.Second, func() bool { return stagedPartner.reached() && bundling.reached() })
	eRel := proxy.releaseOf(revokeDelivering, pdsOne)
	eConsent := revoke(revokeDelivering, pdsOne)
	bundling.release()

	// 2. D's release is delivered, the run still going (C is held): D
	// revokes, and the partner is told at once.
	var dRel string
	life.poll(t, "delivery of D's partner release", 90*time.Second, func() bool {
		dRel = proxy.releaseOf(revokeDelivered, pdsOne)
		return dRel != "" && deliveredOf(dRel) > 0
	})
	revoke(revokeDelivered, pdsOne)
	life.poll(t, "recall of D's release", 30*time.Second, func() bool { return len(recallsOf(dRel)) > 0 })
	if st, _ := w.status(t, partnerRun); st.Final() {
		t.Fatalf("the partner run ended (%s) before C revoked: the drill's window was missed", st)
	}

	// 3. C revokes pds-one while its release is staged.
	cConsent := revoke(revokeStaged, pdsOne)
	stagedPartner.release()

	// 4. The self run: C revokes self while its self release is staged.
	life.poll(t, "hold of C's staged self release", 90*time.Second, stagedSelf.reached)
	cSelfConsent := revoke(revokeStaged, schemas.RecipientSelf)
	stagedSelf.release()
	w.await(t, life, 90*time.Second)
	ended := time.Now()
	got := w.collect(t, srv, keys)

	cRel, cSelfRel := stagedPartner.releaseID(t), stagedSelf.releaseID(t)
	partnerOutcomes := got.ledger[strings.TrimPrefix(partnerRun, "ops-")]
	selfOutcomes := got.ledger[strings.TrimPrefix(selfRun, "ops-")]

	// C: both releases cancelled, saying why, and nothing of them left.
	for _, c := range []struct {
		what, run, releaseID, consentID string
		outcomes                        map[string]jobs.Release
	}{{"partner", partnerRun, cRel, cConsent, partnerOutcomes}, {"self", selfRun, cSelfRel, cSelfConsent, selfOutcomes}} {
		out, ok := c.outcomes[revokeStaged]
		switch {
		case !ok:
			t.Errorf("run %s has no outcome of %s", c.run, revokeStaged)
		case out.Status != release.StatusCancelled || out.ReleaseID != c.releaseID ||
			!strings.Contains(out.Reason, "consent changed before commit") || !strings.Contains(out.Reason, c.consentID) || !strings.Contains(out.Reason, "revoked"):
			t.Errorf("C's %s release on the ledger: %s %s %q; want cancelled, %s (the release held), naming the revocation %s",
				c.what, out.Status, out.ReleaseID, out.Reason, c.releaseID, c.consentID)
		}
		if got.releases[c.releaseID] != nil {
			t.Errorf("C's %s release %s was committed after C revoked", c.what, c.releaseID)
		}
		if left := readBucket(t, testbench.S3Client(srv), w.bucket, "releases/"+c.releaseID+"/"); len(left) > 0 {
			t.Errorf("C's cancelled %s release left %d objects in the store: %v", c.what, len(left), slices.Sorted(maps.Keys(left)))
		}
	}
	// Nothing of C reached the partner.
	for _, m := range got.hooks {
		if b, _ := json.Marshal(m.Body); bytes.Contains(b, []byte(cRel)) {
			t.Errorf("the partner got a %s webhook (%s) naming C's release %s", m.Type, m.ID, cRel)
		}
	}
	if _, ok := got.bundles[cRel]; ok {
		t.Errorf("the partner's bucket has a bundle of C's release %s", cRel)
	}
	for _, d := range partnerDeliveries(t, w) {
		if d.CustomerID == revokeStaged {
			t.Errorf("the ledger has a delivery of C: %+v", d)
		}
	}

	// E: what reached the partner is recalled at once; otherwise nothing
	// of E is there.
	eGone := deliveredOf(eRel) > 0
	if _, ok := got.bundles[eRel]; ok {
		eGone = true
	}
	eRecalled := 0
	if eGone {
		deadline := time.Now().Add(15 * time.Second) // at once: the sweep of upstream revocations runs every 5 minutes
		for len(recallsOf(eRel)) == 0 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond) // polling the receiver, with a deadline
		}
		if eRecalled = len(recallsOf(eRel)); eRecalled == 0 {
			_, bundled := got.bundles[eRel]
			t.Errorf("E revoked (%s) while its bundle was being written; the partner then got %d release.delivered webhook(s) of %s and the bundle is in its bucket: %v, and no recall followed within 15s",
				eConsent, deliveredOf(eRel), eRel, bundled)
		}
	} else if out := partnerOutcomes[revokeDelivering]; out.ReleaseID != eRel || !strings.HasPrefix(out.Reason, "not delivered") {
		t.Errorf("E's release on the ledger: %s %s %q; want %s, saying it was not delivered", out.Status, out.ReleaseID, out.Reason, eRel)
	}
	t.Logf("E's release %s, its consent withdrawn while its bundle was written: delivered %v, recalled %d time(s)", eRel, eGone, eRecalled)

	// D: delivered, then recalled by a signed release.recall, and no
	// longer pulled.
	dIndex := slices.IndexFunc(got.hooks, func(m hookMessage) bool { return m.Type == "release.delivered" && m.Body["release_id"] == dRel })
	dRecalls := recallsOf(dRel)
	if len(dRecalls) != 1 || dIndex < 0 || slices.IndexFunc(got.hooks, func(m hookMessage) bool { return m.ID == dRecalls[0].ID }) < dIndex ||
		!strings.HasPrefix(dRecalls[0].ID, "recall-rc-") || dRecalls[0].Body["reason"] != "consent_withdrawn" ||
		fmt.Sprint(dRecalls[0].Body["releases"]) != fmt.Sprint([]any{dRel}) {
		t.Errorf("D's release %s: delivered (webhook %d), then recalls %+v; want one release.recall of it alone, after its delivery", dRel, dIndex, dRecalls)
	}
	if code, b := call(t, "GET", w.base+"/v1/partners/pds-one/bundles/"+dRel, revokePartnerTok, ""); code != http.StatusGone {
		t.Errorf("the partner's pull of D's recalled bundle = %d %s, want 410", code, b)
	}
	recalls := w.hooks.messages("release.recall")
	for _, m := range recalls {
		rs, _ := m.Body["releases"].([]any)
		for _, r := range rs {
			if r != dRel && r != eRel {
				t.Errorf("recall %s names %v, which no revocation of the drill concerns", m.ID, r)
			}
		}
	}

	// Every other release as the data set says: the partner's non-empty
	// releases delivered once each (E's aside), every self grant released.
	o := readOracle(t, drillOracleConfig())
	loc, _ := time.LoadLocation(schemas.DefaultTimezone)
	from, to := time.Date(2026, 4, 1, 0, 0, 0, 0, loc), time.Date(2026, 5, 1, 0, 0, 0, 0, loc)
	now := time.Now()
	var wantPartner, gotPartner, wantSelf, gotSelf []string
	for i := range drillCustomers {
		c := fmt.Sprintf("C%06d", i+1)
		if c != revokeStaged && o.partnerHolds(c, pdsOne, from, to, now) {
			wantPartner = append(wantPartner, c)
		}
		if _, ok := o.grant(c, now); ok && c != revokeStaged {
			wantSelf = append(wantSelf, c)
		}
	}
	delivered := got.delivered()
	for id, r := range got.releases {
		m := r.manifest.Midata
		switch {
		case m.Recipient == pdsOne && m.Counts.Released > 0:
			gotPartner = append(gotPartner, m.CustomerID)
			if n := len(delivered[id]); id != eRel && n != 1 {
				t.Errorf("partner release %s of %s: %d release.delivered webhooks, want 1", id, m.CustomerID, n)
			}
			if _, ok := got.bundles[id]; !ok && id != eRel {
				t.Errorf("partner release %s of %s: no bundle in the partner's bucket", id, m.CustomerID)
			}
		case m.Recipient == schemas.RecipientSelf:
			gotSelf = append(gotSelf, m.CustomerID)
		}
	}
	slices.Sort(gotPartner)
	slices.Sort(gotSelf)
	if !slices.Equal(gotPartner, wantPartner) {
		t.Errorf("non-empty partner releases of %d customers %v; the data set says %d: %v", len(gotPartner), gotPartner, len(wantPartner), wantPartner)
	}
	if !slices.Equal(gotSelf, wantSelf) {
		t.Errorf("self releases of %d customers; the data set says %d (every self grant but C's): got %v", len(gotSelf), len(wantSelf), gotSelf)
	}
	for id := range delivered {
		if r := got.releases[id]; r == nil {
			t.Errorf("release.delivered of %s, which is not a committed release", id)
		}
	}
	for run, outs := range map[string]map[string]jobs.Release{partnerRun: partnerOutcomes, selfRun: selfOutcomes} {
		for c, out := range outs {
			if c != revokeStaged && !committedStatus(out.Status) {
				t.Errorf("run %s: %s ended %s %q", run, c, out.Status, out.Reason)
			}
		}
	}
	withheld := 2                     // C's two releases
	wantDelivered := len(wantPartner) // E's among them
	if !eGone {
		withheld++
		wantDelivered--
	}
	if fin := got.finishedHooks(partnerRun); len(fin) != 1 || fin[0].Body["succeeded"] != true || fin[0].Body["delivered"] != float64(wantDelivered) {
		t.Errorf("run.finished webhooks of the partner run: %+v; want one that succeeded with %d delivered", fin, wantDelivered)
	}
	if len(delivered) != wantDelivered {
		t.Errorf("%d releases delivered (release.delivered webhooks), want %d", len(delivered), wantDelivered)
	}
	for _, problem := range slices.Concat(got.partial, got.duplicates, got.invisible, got.bundleProblems, got.badHooks) {
		t.Errorf("the store, the ledger or the webhooks: %s", problem)
	}

	// Links: never to C's releases, even once C grants again; D's self
	// release gets its links.
	grant("PUT", revokeStaged, pdsOne, `{"categories":["transactions"]}`)
	grant("PUT", revokeStaged, schemas.RecipientSelf, `{"categories":["transactions","balances","merchant"]}`)
	for _, c := range []struct{ path, token string }{
		{"/v1/customers/" + revokeStaged + "/releases/" + cSelfRel + "/links", tokens[revokeStaged]},
		{"/v1/partners/pds-one/releases/" + cRel + "/links", revokePartnerTok},
		{"/v1/partners/pds-one/bundles/" + cRel, revokePartnerTok},
	} {
		if code, b := call(t, "GET", w.base+c.path, c.token, ""); code != http.StatusNotFound {
			t.Errorf("GET %s after C granted again = %d %s, want 404: the release never existed", c.path, code, b)
		}
	}
	var listed struct {
		Links []json.RawMessage `json:"links"`
	}
	if code, b := call(t, "GET", w.base+"/v1/customers/"+revokeStaged+"/links", tokens[revokeStaged], ""); code != http.StatusOK || json.Unmarshal(b, &listed) != nil || len(listed.Links) != 0 {
		t.Errorf("C's links = %d %s, want none minted", code, b)
	}
	dSelf := selfOutcomes[revokeDelivered].ReleaseID
	var dLinks struct {
		Links []struct {
			URL string `json:"url"`
		} `json:"links"`
	}
	if code, b := call(t, "GET", w.base+"/v1/customers/"+revokeDelivered+"/releases/"+dSelf+"/links", tokens[revokeDelivered], ""); code != http.StatusOK || json.Unmarshal(b, &dLinks) != nil || len(dLinks.Links) == 0 {
		t.Errorf("D's self release %s links = %d %s, want its links (D kept its self grant)", dSelf, code, b)
	}

	// Notifications: no release.ready of what was withheld; D's was told.
	ready := map[string]bool{}
	for _, ev := range readNotifications(t, brokers, argValue(t, w.args, "--notifications-topic")) {
		if ev.Type == "release.ready" {
			ready[ev.ReleaseID] = true
		}
	}
	for what, id := range map[string]string{"C's partner release": cRel, "C's self release": cSelfRel} {
		if ready[id] {
			t.Errorf("a release.ready notification of %s %s, which was cancelled", what, id)
		}
	}
	if !eGone && ready[eRel] {
		t.Errorf("a release.ready notification of E's release %s, which was not delivered", eRel)
	}
	if !ready[dRel] {
		t.Errorf("no release.ready notification of D's release %s, which was delivered", dRel)
	}

	t.Logf("held uploads: %s", proxy.report())
	t.Logf("timing: setup (seeding, building serve, serve ready) %s, runs %s, total %s", setup.Round(time.Second), ended.Sub(began.Add(setup)).Round(time.Second), time.Since(began).Round(time.Second))
	t.Logf("summary: revocations 4 (C staged partner and self, E while its bundle was written, D after its delivery), releases %d (partner %d, self %d, %d empty), delivered %d, withheld %d (cancelled 2, not delivered %d), recalls %d (D %d, E %d)",
		len(got.releases), got.count(pdsOne), got.count("self"), got.empty(), len(delivered), withheld, withheld-2, len(recalls), len(dRecalls), eRecalled)
}

// drillOracleConfig is the synthetic data set of newDrillWorld, for an
// independent reading of it.
func drillOracleConfig() synth.Config {
	cfg := synth.DefaultConfig()
	cfg.Customers, cfg.Transactions = drillCustomers, drillTransactions
	return cfg
}

// partnerHolds says whether a release of customer to recipient for
// [from, to) holds records, as the data set's consent topic and
// transactions say: the latest event of the key grants transactions,
// unexpired at now, and a booked transaction lies in the period and the
// window.
func (o *oracle) partnerHolds(customer string, recipient schemas.Recipient, from, to, now time.Time) bool {
	ev, ok := o.consent[schemas.ConsentKey(customer, recipient)]
	if !ok || ev["status"] != "granted" {
		return false
	}
	if exp := parseTS(ev["expires_at"]); !exp.IsZero() && !now.Before(exp) {
		return false
	}
	if cats, _ := ev["categories"].([]any); !slices.Contains(cats, any("transactions")) {
		return false
	}
	wf, wt := parseTS(ev["window_from"]), parseTS(ev["window_to"])
	for _, tx := range o.txs {
		booked := parseTS(tx["booked_at"])
		if tx["customer_id"] == customer && tx["status"] != "pending" && !booked.Before(from) && booked.Before(to) &&
			(wf.IsZero() || !booked.Before(wf)) && (wt.IsZero() || booked.Before(wt)) {
			return true
		}
	}
	return false
}

// partnerDeliveries returns the ledger's deliveries to pds-one, as ops
// see them.
func partnerDeliveries(t *testing.T, w *drillWorld) []struct {
	CustomerID string `json:"customer_id"`
	ReleaseID  string `json:"release_id"`
	Status     string `json:"status"`
	Error      string `json:"error"`
} {
	t.Helper()
	code, b := call(t, "GET", w.base+"/v1/deliveries?partner=pds-one&limit=1000", drillOps, "")
	var list struct {
		Deliveries []struct {
			CustomerID string `json:"customer_id"`
			ReleaseID  string `json:"release_id"`
			Status     string `json:"status"`
			Error      string `json:"error"`
		} `json:"deliveries"`
	}
	if code != http.StatusOK || json.Unmarshal(b, &list) != nil {
		t.Fatalf("GET /v1/deliveries = %d %s", code, b)
	}
	return list.Deliveries
}

// replaceArg sets the value that follows flag in args.
func replaceArg(t *testing.T, args []string, flag, value string) {
	t.Helper()
	i := slices.Index(args, flag)
	if i < 0 || i+1 >= len(args) {
		t.Fatalf("no %s in %v", flag, args)
	}
	args[i+1] = value
}

// notification is one event of the notifications topic.
type notification struct {
	Type       string `json:"type"`
	CustomerID string `json:"customer_id"`
	ReleaseID  string `json:"release_id"`
}

// readNotifications reads every event of the notifications topic.
func readNotifications(t *testing.T, brokers []string, topic string) []notification {
	t.Helper()
	var out []notification
	for p := range 3 {
		conn, err := kafka.DialLeader(t.Context(), "tcp", brokers[0], topic, p)
		if err != nil {
			t.Fatal(err)
		}
		last, _ := conn.ReadLastOffset()
		conn.Close()
		if last == 0 {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: p, MaxWait: 100 * time.Millisecond})
		for range last {
			m, err := r.ReadMessage(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			var ev notification
			json.Unmarshal(m.Value, &ev)
			out = append(out, ev)
		}
		r.Close()
	}
	return out
}

// holdingProxy is an HTTP proxy in front of the S3 server that forwards
// every request unchanged (Host included, so SigV4 signatures made for
// the proxy's address verify), except the uploads a hold matches: those
// wait until the hold is released. It learns the customer and recipient
// of each release from the manifests committed through it.
type holdingProxy struct {
	url    string
	rp     *httputil.ReverseProxy
	mu     sync.Mutex
	holds  []*hold
	owners map[string]string // release id → "customer|recipient"
}

// hold is one kind of upload held: the PUTs whose key and body match.
type hold struct {
	what    string
	match   func(key string, body []byte) bool
	hit     chan struct{} // closed at the first request matched
	let     chan struct{} // closed by release
	hitOnce sync.Once
	letOnce sync.Once
	mu      sync.Mutex
	keys    []string // of the requests matched
}

func newHoldingProxy(t *testing.T, upstream string) *holdingProxy {
	t.Helper()
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}
	p := &holdingProxy{owners: map[string]string{}}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = u.Scheme, u.Host
			pr.Out.Host = pr.In.Host // SigV4 signed the proxy's address
			pr.Out.Header.Del("Expect")
		},
		Transport: tr,
	}
	hs := httptest.NewServer(p)
	p.url = hs.URL
	t.Cleanup(func() { // after serve's lives are gone: registered before them
		p.mu.Lock()
		for _, h := range p.holds {
			h.release()
		}
		p.mu.Unlock()
		hs.Close()
		tr.CloseIdleConnections()
	})
	return p
}

// hold adds a hold of the uploads match accepts.
func (p *holdingProxy) hold(what string, match func(key string, body []byte) bool) *hold {
	h := &hold{what: what, match: match, hit: make(chan struct{}), let: make(chan struct{})}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.holds = append(p.holds, h)
	return h
}

// manifestOwner finds the midata block's recipient and customer.
var manifestOwner = regexp.MustCompile(`"recipient":\s*"([^"]+)",\s*"customer_id":\s*"([^"]+)"`)

func (p *holdingProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if r.Method == http.MethodPut && r.Body != nil {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "holding proxy: "+err.Error(), http.StatusBadGateway)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if id, ok := strings.CutSuffix(strings.TrimPrefix(key, "releases/"), "/"+release.ManifestFile); ok && !strings.Contains(id, "/") {
			if m := manifestOwner.FindSubmatch(body); m != nil {
				p.mu.Lock()
				p.owners[id] = string(m[2]) + "|" + string(m[1])
				p.mu.Unlock()
			}
		}
		p.mu.Lock()
		holds := slices.Clone(p.holds)
		p.mu.Unlock()
		for _, h := range holds {
			if !h.match(key, body) {
				continue
			}
			h.mu.Lock()
			h.keys = append(h.keys, key)
			h.mu.Unlock()
			h.hitOnce.Do(func() { close(h.hit) })
			select {
			case <-h.let:
			case <-r.Context().Done(): // the client gave up: it tries again
				return
			}
			break
		}
	}
	p.rp.ServeHTTP(w, r)
}

// owner is "customer|recipient" of release id, "" until its manifest was
// committed through the proxy.
func (p *holdingProxy) owner(id string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.owners[id]
}

// releaseOf is the id of the release of customer to recipient committed
// through the proxy, "" when none was.
func (p *holdingProxy) releaseOf(customer string, recipient schemas.Recipient) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	for id, o := range p.owners {
		if o == customer+"|"+string(recipient) {
			return id
		}
	}
	return ""
}

// report says what each hold matched.
func (p *holdingProxy) report() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var parts []string
	for _, h := range p.holds {
		h.mu.Lock()
		parts = append(parts, fmt.Sprintf("%s: %d request(s) %v", h.what, len(h.keys), h.keys))
		h.mu.Unlock()
	}
	return strings.Join(parts, "; ")
}

func (h *hold) reached() bool {
	select {
	case <-h.hit:
		return true
	default:
		return false
	}
}

func (h *hold) release() { h.letOnce.Do(func() { close(h.let) }) }

// releaseID is the release of the first upload held: releases/<id>/...
func (h *hold) releaseID(t *testing.T) string {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.keys) == 0 {
		t.Fatalf("%s: nothing was held", h.what)
	}
	id, _, _ := strings.Cut(strings.TrimPrefix(h.keys[0], "releases/"), "/")
	return id
}
