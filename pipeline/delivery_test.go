package pipeline_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/segmentio/kafka-go"

	"github.com/midata/midata/pipeline"
	"github.com/midata/midata/pipeline/bundle"
	"github.com/midata/midata/pipeline/delivery"
	"github.com/midata/midata/pipeline/partners"
	"github.com/midata/midata/pipeline/signing"
	"github.com/midata/midata/pipeline/webhook"
	"github.com/midata/midata/schemas"
	"github.com/midata/midata/schemas/release"
	"github.com/midata/midata/sinks"
)

// A partner release, delivered: the bundle lands under the partner's
// prefix in the store (the real S3 of make test), encrypted to its age
// recipient, verifies with the organisation's key and holds exactly the
// committed files; the partner's webhook gets one signed notice whose link
// downloads the very bundle.
func TestAPartnerReleaseIsDeliveredAsAVerifiableBundle(t *testing.T) {
	b := newBench(t, 2)
	seedData(t, b, kafka.Murmur2Balancer{})
	produce(t, b.brokers, b.consent, &kafka.Hash{}, consentEvent("K-P1", "C1", "partner:pds-1", "granted", "transactions"))
	r := b.runner(t, "murmur2", nil)
	res, err := r.Release(t.Context(), pipeline.Request{CustomerID: "C1", Recipient: "partner:pds-1", From: from, To: to, Formats: []string{"ndjson", "midata-csv"}})
	if err != nil || res.Status != release.StatusCommitted {
		t.Fatalf("partner release: %+v, %v", res, err)
	}

	dir := t.TempDir()
	if _, err := signing.Generate(dir); err != nil {
		t.Fatal(err)
	}
	keys, _ := signing.Load(filepath.Join(dir, "signing.key"), nil)
	secretFile := filepath.Join(dir, "whsec")
	os.WriteFile(secretFile, []byte("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n"), 0o600)
	id, _ := age.GenerateX25519Identity()
	var mu sync.Mutex
	var notices []delivery.Notice
	var ids []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		key, _ := webhook.ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
		var ts int64
		json.Unmarshal([]byte(req.Header.Get("webhook-timestamp")), &ts)
		if req.Header.Get("webhook-signature") != webhook.Sign(key, req.Header.Get("webhook-id"), ts, body) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var n delivery.Notice
		json.Unmarshal(body, &n)
		mu.Lock()
		notices, ids = append(notices, n), append(ids, req.Header.Get("webhook-id"))
		mu.Unlock()
	}))
	defer hook.Close()
	p := partners.Partner{ID: "pds-1", Name: "PDS One", Prefix: "deliveries/pds-1/", WebhookURL: hook.URL, WebhookSecretFile: secretFile, AgeRecipient: id.Recipient().String()}
	if err := partners.Check([]partners.Partner{p}); err != nil {
		t.Fatal(err)
	}
	ev := schemas.ConsentEvent{ConsentID: "K-P1", CustomerID: "C1", Recipient: "partner:pds-1", Status: schemas.ConsentGranted, Categories: schemas.Transactions, EventTime: time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)}
	out, err := delivery.Deliver(t.Context(), delivery.Config{Releases: b.sink, Target: b.sink, Keys: keys},
		p, pipeline.Prefix(res.ReleaseID)+release.ManifestFile, func(m *release.Manifest) []byte {
			return delivery.ReceiptOf(ev, "customer", "midata test bank", res.ReleaseID, m.Created)
		})
	if err != nil || !out.Delivered() || !out.Encrypted || out.Key != "deliveries/pds-1/"+res.ReleaseID+".tar.gz.age" {
		t.Fatalf("Deliver = %+v, %v", out, err)
	}
	if len(notices) != 1 || ids[0] != "delivered-"+res.ReleaseID || notices[0].Objects[0].SHA256 != out.SHA256 || notices[0].Link == "" {
		t.Fatalf("webhook notices %+v (ids %v), want one for %s", notices, ids, out.Key)
	}
	// The link in the notice downloads the bundle; it verifies and holds
	// the committed files.
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Get(notices[0].Link)
	if err != nil {
		t.Fatal(err)
	}
	blob, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || int64(len(blob)) != out.Bytes {
		t.Fatalf("download: HTTP %d, %d bytes, want %d", resp.StatusCode, len(blob), out.Bytes)
	}
	rep, err := bundle.Verify(bytes.NewReader(blob), keys.Public(), id)
	if err != nil || !rep.OK() || rep.ReleaseID != res.ReleaseID {
		t.Fatalf("Verify of the delivered bundle: %+v, %v", rep, err)
	}
	for _, f := range res.Files {
		name := f.Path[strings.LastIndex(f.Path, "/")+1:]
		if !strings.Contains(strings.Join(rep.Checks, "\n"), name+": sha256 and size") && !strings.HasSuffix(name, ".txt") {
			t.Errorf("the bundle does not check %s: %v", name, rep.Checks)
		}
	}
	if _, err := b.sink.Open(t.Context(), out.Key); err != nil {
		t.Errorf("the bundle is not at %s: %v", out.Key, err)
	}
	var _ sinks.Linker = b.sink.(sinks.Linker)

	// A release for another recipient is not delivered to this partner.
	self, _ := r.Release(t.Context(), request("C1"))
	if _, err := delivery.Deliver(t.Context(), delivery.Config{Releases: b.sink, Target: b.sink, Keys: keys}, p,
		pipeline.Prefix(self.ReleaseID)+release.ManifestFile, nil); err == nil || !strings.Contains(err.Error(), "not partner:pds-1") {
		t.Errorf("delivering a self release to a partner: %v", err)
	}
}
