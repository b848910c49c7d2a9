package custody_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/pipeline"
	"github.com/midata/midata/pipeline/activity"
	"github.com/midata/midata/pipeline/api/custody"
	"github.com/midata/midata/pipeline/api/jsonbody"
	"github.com/midata/midata/pipeline/consent"
	"github.com/midata/midata/pipeline/downloads"
	"github.com/midata/midata/pipeline/links"
	"github.com/midata/midata/pipeline/releasestore"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/schemas"
	"github.com/midata/midata/schemas/release"
	"github.com/midata/midata/sinks"
	"github.com/midata/midata/sinks/s3sink"
)

// responder answers as the API does, in small: JSON, and the status an
// error calls for.
type responder struct{}

func (responder) JSON(w http.ResponseWriter, _ *http.Request, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (responder) Fail(w http.ResponseWriter, r *http.Request, op string, err error) {
	status := http.StatusInternalServerError
	if e, ok := jsonbody.As(err); ok {
		status = e.Status
	} else if errors.Is(err, sinks.ErrNotFound) {
		status = http.StatusNotFound
	}
	responder{}.JSON(w, r, status, map[string]string{"error": op + ": " + err.Error()})
}

// routes are the API's patterns of the custody handlers (pipeline/api).
var routes = map[string]string{
	"GET /v1/downloads/{token}":                          "download",
	"GET /v1/customers/{id}/links":                       "links",
	"DELETE /v1/customers/{id}/links/{link}":             "revoke-link",
	"DELETE /v1/customers/{id}/releases/{release}/links": "revoke-release-links",
	"DELETE /v1/customers/{id}/releases/{release}":       "delete-release",
	"GET /v1/customers/{id}/downloads":                   "downloads",
	"GET /v1/deliveries":                                 "deliveries",
	"GET /v1/partners/{id}/deliveries":                   "partner-deliveries",
	"DELETE /v1/releases/{release}/links":                "ops-revoke-release-links",
}

// bench is a Service on a fresh ledger, consent topic and bucket of the
// real servers, behind the custody handlers.
type bench struct {
	mux    *http.ServeMux
	svc    *downloads.Service
	ledger *activity.Ledger
	store  *s3sink.Sink
	bucket string
}

func newBench(t *testing.T) *bench {
	t.Helper()
	srv, ok := testbench.S3(t)
	if !ok {
		t.Skip("needs a real S3 server: set MIDATA_TEST_S3, MIDATA_TEST_S3_ACCESS_KEY and MIDATA_TEST_S3_SECRET_KEY (deploy/testbench/bench.sh env)")
	}
	ctx := t.Context()
	conn := topics.Connection{Brokers: testbench.Kafka(t)}
	runs, consentTopic := testbench.UniqueName(t, "runs"), testbench.UniqueName(t, "consent")
	testbench.CreateTopic(t, conn.Brokers, runs, topics.RunsPartitions)
	if err := topics.Ensure(ctx, conn, topics.ConsentSpec(consentTopic)); err != nil {
		t.Fatal(err)
	}
	b := &bench{bucket: testbench.Bucket(t, srv)}
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	store, err := s3sink.New(ctx, s3sink.Config{Endpoint: srv.Endpoint, Bucket: b.bucket, Region: srv.Region, PathStyle: true, MaxLinkTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	b.store = store
	prod := topics.NewProducer(conn, nil)
	t.Cleanup(func() { prod.Close() })
	b.ledger = activity.NewLedger(conn, runs, nil)
	t.Cleanup(func() { b.ledger.Close() })
	view, err := activity.OpenView(ctx, conn, runs, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { view.Close() })
	grants, err := consent.OpenView(ctx, consent.ViewConfig{Kafka: conn, Topic: consentTopic, Quarantine: prod,
		QuarantineTopic: testbench.UniqueName(t, "quarantine"), MaxWait: 250 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { grants.Close() })
	signer, err := links.NewSigner(links.DeriveKey([]byte("the signing secret of this bench")))
	if err != nil {
		t.Fatal(err)
	}
	b.svc = &downloads.Service{Store: store, Grants: grants, Ledger: b.ledger, View: view, Signer: signer}

	grant := fmt.Sprintf(`{"consent_id":"K-C1","customer_id":"C1","recipient":"self","status":"granted","categories":["transactions"],"expires_at":"2099-01-01T00:00:00Z","event_time":%q}`,
		time.Now().UTC().Format(time.RFC3339))
	if err := prod.Publish(ctx, consentTopic, []byte(schemas.ConsentKey("C1", schemas.RecipientSelf)), []byte(grant)); err != nil {
		t.Fatal(err)
	}

	hs := custody.Handlers(&custody.Backend{Service: b.svc, View: view}, responder{})
	b.mux = http.NewServeMux()
	for pattern, name := range routes {
		h, ok := hs[name]
		if !ok {
			t.Fatalf("Handlers has no %q", name)
		}
		b.mux.Handle(pattern, h)
	}
	return b
}

// writeRelease writes a committed release of C1 to self, with one file,
// as the runner would, and returns the file and its key.
func (b *bench) writeRelease(t *testing.T, id string) (body []byte, key string) {
	t.Helper()
	body = []byte("transaction_id,amount\nT1,-1.00\n")
	rs := release.Resource{Name: "csv", Path: "transactions.csv", Format: "csv", Bytes: int64(len(body)), Rows: 1,
		Object: releasestore.Object(releasestore.NewAttempt(), "transactions.csv")}
	m := release.Manifest{ID: id, Resources: []release.Resource{rs}}
	m.Midata.Recipient, m.Midata.CustomerID = schemas.RecipientSelf, "C1"
	mb, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	w, err := b.store.Create(t.Context(), pipeline.Prefix(id)+rs.Object)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(body)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.store.Commit(t.Context(), pipeline.Prefix(id)+release.ManifestFile, mb); err != nil {
		t.Fatal(err)
	}
	return body, pipeline.Prefix(id) + rs.Object
}

// do serves one request and returns the answer.
func (b *bench) do(t *testing.T, method, target string) *httptest.ResponseRecorder {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	w := httptest.NewRecorder()
	b.mux.ServeHTTP(w, httptest.NewRequestWithContext(ctx, method, target, nil))
	return w
}

func TestTheCustodyHandlers(t *testing.T) {
	b := newBench(t)
	const rel = "r2026-03-C1"
	file, key := b.writeRelease(t, rel)
	ls, err := b.svc.Links(t.Context(), rel, pipeline.Owner{CustomerID: "C1", Recipient: schemas.RecipientSelf})
	if err != nil || len(ls) != 1 {
		t.Fatalf("Links = %+v, %v", ls, err)
	}
	tok := strings.TrimPrefix(ls[0].URL, downloads.Path)
	id, _, _ := strings.Cut(tok, ".")

	// A HEAD (a link preview) is no download: refused, nothing recorded.
	if w := b.do(t, "HEAD", ls[0].URL); w.Code != http.StatusMethodNotAllowed || w.Header().Get("Location") != "" {
		t.Errorf("HEAD of a link = %d, Location %q; want 405 and no redirect", w.Code, w.Header().Get("Location"))
	}
	if err := b.svc.View.Sync(t.Context()); err != nil || len(b.svc.View.Of("C1").Downloads) != 0 {
		t.Errorf("after a HEAD: downloads %v (%v), want none", b.svc.View.Of("C1").Downloads, err)
	}
	// A good link redirects to a presigned URL of the file, never cached.
	w := b.do(t, "GET", ls[0].URL)
	loc := w.Header().Get("Location")
	if w.Code != http.StatusFound || w.Header().Get("Cache-Control") != "no-store" || !strings.Contains(loc, "X-Amz-Signature=") {
		t.Fatalf("GET a good link: %d, Location %q, Cache-Control %q; want 302 to a presigned URL, no-store", w.Code, loc, w.Header().Get("Cache-Control"))
	}
	if u, err := url.Parse(loc); err != nil || u.Path != "/"+b.bucket+"/"+key {
		t.Errorf("Location %q: want a URL of %s in bucket %s", loc, key, b.bucket)
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Minute}
	resp, err := client.Get(loc)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(got) != string(file) {
		t.Errorf("GET the Location: %s %q, want the file %q", resp.Status, got, file)
	}
	w = b.do(t, "GET", "/v1/customers/C1/downloads")
	var dl custody.DownloadList
	if err := json.Unmarshal(w.Body.Bytes(), &dl); w.Code != http.StatusOK || err != nil || len(dl.Downloads) != 1 || dl.Downloads[0].LinkID != id {
		t.Errorf("GET downloads: %d %s, want the one download of %s", w.Code, w.Body, id)
	}
	w = b.do(t, "GET", "/v1/customers/C1/links")
	var ll custody.LinkList
	if err := json.Unmarshal(w.Body.Bytes(), &ll); w.Code != http.StatusOK || err != nil || len(ll.Links) != 1 || ll.Links[0].ID != id || strings.Contains(w.Body.String(), tok) {
		t.Errorf("GET links: %d %s, want link %s without its token", w.Code, w.Body, id)
	}

	// Revoked, the link answers a page that says so.
	if w := b.do(t, "DELETE", "/v1/customers/C1/links/"+id); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"revoked_at"`) {
		t.Fatalf("DELETE the link: %d %s", w.Code, w.Body)
	}
	w = b.do(t, "GET", ls[0].URL)
	if w.Code != http.StatusGone || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") ||
		w.Header().Get("Cache-Control") != "no-store" || !strings.Contains(w.Body.String(), "revoked") || w.Header().Get("Location") != "" {
		t.Errorf("GET a revoked link: %d %q %s; want 410, an HTML page saying revoked", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	if w := b.do(t, "GET", downloads.Path+tok[:len(tok)-1]+"x"); w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), "not valid") {
		t.Errorf("GET a tampered link: %d %s; want 404, a page saying it is not valid", w.Code, w.Body)
	}

	for _, c := range []struct {
		method, target string
		want           int
	}{
		{"GET", "/v1/customers/C%201/links", http.StatusBadRequest},
		{"GET", "/v1/customers/C%201/downloads", http.StatusBadRequest},
		{"DELETE", "/v1/customers/C%201/links/" + id, http.StatusBadRequest},
		{"DELETE", "/v1/customers/C1/links/not-a-link", http.StatusBadRequest},
		{"DELETE", "/v1/customers/C1/links/" + links.NewID(), http.StatusNotFound},
		{"DELETE", "/v1/customers/C2/links/" + id, http.StatusNotFound}, // C1's
		{"DELETE", "/v1/customers/C2/releases/" + rel, http.StatusNotFound},
		{"DELETE", "/v1/customers/C2/releases/" + rel + "/links", http.StatusNotFound},
		{"DELETE", "/v1/customers/C1/releases/r%20x", http.StatusBadRequest},
		{"GET", "/v1/deliveries?status=bogus", http.StatusBadRequest},
		{"GET", "/v1/deliveries?limit=0", http.StatusBadRequest},
		{"GET", "/v1/deliveries?limit=1001", http.StatusBadRequest},
		{"GET", "/v1/deliveries?limit=x", http.StatusBadRequest},
		{"GET", "/v1/partners/PDS%20One/deliveries", http.StatusBadRequest},
	} {
		if w := b.do(t, c.method, c.target); w.Code != c.want {
			t.Errorf("%s %s: %d %s, want %d", c.method, c.target, w.Code, w.Body, c.want)
		}
	}

	// The deliveries on the ledger, filtered.
	at := time.Now().UTC()
	for _, d := range []activity.Delivery{
		{Partner: "p1", ReleaseID: "r-1", CustomerID: "C1", Status: activity.DeliveryDelivered, At: at},
		{Partner: "p1", ReleaseID: "r-2", CustomerID: "C2", Status: activity.DeliveryFailed, Error: "HTTP 500", At: at.Add(time.Second)},
	} {
		if err := b.ledger.Delivery(t.Context(), d); err != nil {
			t.Fatal(err)
		}
	}
	var dv custody.DeliveryList
	w = b.do(t, "GET", "/v1/deliveries?status=failed&limit=5")
	if err := json.Unmarshal(w.Body.Bytes(), &dv); w.Code != http.StatusOK || err != nil || len(dv.Deliveries) != 1 || dv.Deliveries[0].ReleaseID != "r-2" {
		t.Errorf("GET failed deliveries: %d %s, want r-2's", w.Code, w.Body)
	}
	w = b.do(t, "GET", "/v1/partners/p1/deliveries")
	if err := json.Unmarshal(w.Body.Bytes(), &dv); w.Code != http.StatusOK || err != nil || len(dv.Deliveries) != 2 {
		t.Errorf("GET p1's deliveries: %d %s, want both", w.Code, w.Body)
	}

	// The customer deletes the release: its link then says so.
	if w := b.do(t, "DELETE", "/v1/customers/C1/releases/"+rel); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"objects":2`) {
		t.Errorf("DELETE the release: %d %s, want its 2 objects deleted", w.Code, w.Body)
	}
	if w := b.do(t, "DELETE", "/v1/releases/"+rel+"/links"); w.Code != http.StatusNotFound {
		t.Errorf("ops revoke the links of a deleted release: %d %s, want 404", w.Code, w.Body)
	}
}
