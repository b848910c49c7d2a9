package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/pipeline/signing"
)

// TestAuditAnswersEveryReleaseOfACustomerFromTheLedger runs `midata serve`
// against the real Kafka and S3, makes a self release of a customer
// through the API (and downloads one of its files) and a bulk one, then
// asks `midata audit`: both releases, each under the consent its manifest
// names, granted by the customer, each file's hash that of the object in
// the store, the download; and the same as CSV.
func TestAuditAnswersEveryReleaseOfACustomerFromTheLedger(t *testing.T) {
	args, _ := serveArgs(t, 10, 1000, 3)
	srv, _ := testbench.S3(t)
	dir := t.TempDir()
	if _, err := signing.Generate(dir); err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	base := "http://" + addr
	const ops, customer = "ops-token-0123456789", "customer-token-0123456789"
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stdout, stderr lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append(args, "--http-addr", addr, "--signing-key-file", filepath.Join(dir, "signing.key"),
			"--auth-tokens-file", tokensFile(t, ops+"=ops", customer+"=customer:C000003")), &stdout, &stderr)
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

	// The customer grants themselves transactions (actor customer), asks
	// for a release and downloads one of its files; ops make a bulk
	// release of everyone with a self grant, which its tasks make.
	must(200, "PUT", "/v1/customers/C000003/grants/self", customer, `{"categories":["transactions"]}`)
	type outcome struct {
		ReleaseID  string `json:"release_id"`
		CustomerID string `json:"customer_id"`
		Status     string
		Manifest   string
	}
	await := func(body []byte) (string, outcome) {
		t.Helper()
		var rv struct{ ID, Status string }
		json.Unmarshal(body, &rv)
		id := rv.ID
		waitFor("run "+id, 60*time.Second, func() bool {
			code, b := call(t, "GET", base+"/v1/runs/"+id, ops, "")
			return code == 200 && json.Unmarshal(b, &rv) == nil && (rv.Status == "succeeded" || rv.Status == "failed")
		})
		var rels struct{ Releases []outcome }
		json.Unmarshal(must(200, "GET", "/v1/runs/"+id+"/releases?limit=100", ops, ""), &rels)
		i := slices.IndexFunc(rels.Releases, func(o outcome) bool { return o.CustomerID == "C000003" })
		if rv.Status != "succeeded" || i < 0 || rels.Releases[i].Status != "committed" {
			t.Fatalf("run %s %s: releases %+v, want C000003's committed", id, rv.Status, rels.Releases)
		}
		return id, rels.Releases[i]
	}
	selfRun, self := await(must(202, "POST", "/v1/customers/C000003/releases", customer, `{"from":"2026-07-01","to":"2026-10-01","formats":["ndjson","midata-csv"]}`))
	var links struct{ Links []struct{ Path, URL string } }
	json.Unmarshal(must(200, "GET", "/v1/customers/C000003/releases/"+self.ReleaseID+"/links", customer, ""), &links)
	if len(links.Links) == 0 {
		t.Fatal("no links")
	}
	noRedirect := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(base + links.Links[0].URL)
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("download: %v %v", resp, err)
	}
	resp.Body.Close()
	bulkRun, bulk := await(must(202, "POST", "/v1/releases", ops, `{"recipient":"self","all":true,"from":"2026-07-01","to":"2026-10-01","formats":["csv"]}`))

	// What the store holds, read independently: the manifests and files.
	client := testbench.S3Client(srv)
	object := func(location string) []byte {
		t.Helper()
		bucket, key, _ := strings.Cut(strings.TrimPrefix(location, "s3://"), "/")
		out, err := client.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			t.Fatalf("get %s: %v", location, err)
		}
		defer out.Body.Close()
		b, err := io.ReadAll(out.Body)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	type manifest struct {
		Midata struct {
			ConsentIDs []string `json:"consent_ids"`
		} `json:"midata"`
		Resources []struct{ Object string } `json:"resources"`
	}
	manifestOf := func(o outcome) manifest {
		t.Helper()
		var m manifest
		if err := json.Unmarshal(object(o.Manifest), &m); err != nil || len(m.Midata.ConsentIDs) != 1 {
			t.Fatalf("manifest %s: %+v %v", o.Manifest, m, err)
		}
		return m
	}

	cli := func(format string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		code := run(t.Context(), []string{"audit", "--customer", "C000003", "--format", format, "--server", base,
			"--token-file", tokensFile(t, ops)}, &out, &errOut)
		if code != 0 {
			t.Fatalf("midata audit --format %s: exit %d: %s", format, code, errOut.String())
		}
		return out.String()
	}
	type entry struct {
		ReleaseID string `json:"release_id"`
		RunID     string `json:"run_id"`
		Recipient string
		Status    string
		Released  bool
		Consent   *struct {
			ID, Actor  string
			Categories []string
		}
		Files []struct {
			Path, Format, SHA256 string
			Bytes                int64
		}
		Downloads []struct {
			File string
			At   time.Time
		}
	}
	var audit struct {
		CustomerID string `json:"customer_id"`
		Releases   []entry
	}
	// The download is on the ledger a moment after its redirect.
	waitFor("the download in the audit", 20*time.Second, func() bool {
		return json.Unmarshal([]byte(cli("json")), &audit) == nil && len(audit.Releases) == 2 && len(audit.Releases[1].Downloads) == 1
	})
	if audit.CustomerID != "C000003" {
		t.Errorf("customer %q", audit.CustomerID)
	}
	files := 0
	for i, want := range []struct {
		run string
		o   outcome
	}{{bulkRun, bulk}, {selfRun, self}} { // the newest run first
		got := audit.Releases[i]
		if got.ReleaseID != want.o.ReleaseID || got.RunID != want.run || got.Recipient != "self" || got.Status != "committed" || !got.Released {
			t.Errorf("release %d: %+v, want %s of run %s, committed", i, got, want.o.ReleaseID, want.run)
		}
		m := manifestOf(want.o)
		if c := got.Consent; c == nil || c.ID != m.Midata.ConsentIDs[0] || c.Actor != "customer" || !slices.Equal(c.Categories, []string{"transactions"}) {
			t.Errorf("%s: consent %+v, want %s granted by the customer, as the manifest says", got.ReleaseID, c, m.Midata.ConsentIDs[0])
		}
		if len(got.Files) != len(m.Resources) || len(got.Files) < 2 {
			t.Fatalf("%s: files %+v, want the manifest's %d", got.ReleaseID, got.Files, len(m.Resources))
		}
		for _, f := range got.Files {
			b := object(f.Path)
			if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != f.SHA256 || int64(len(b)) != f.Bytes {
				t.Errorf("%s: sha256 %s, %d bytes; the store's object has %x, %d bytes", f.Path, f.SHA256, f.Bytes, sum, len(b))
			}
		}
		files += len(got.Files)
	}
	if d := audit.Releases[1].Downloads[0]; d.File != links.Links[0].Path || d.At.IsZero() {
		t.Errorf("download %+v, want one of %s", d, links.Links[0].Path)
	}

	rows, err := csv.NewReader(strings.NewReader(cli("csv"))).ReadAll()
	if err != nil {
		t.Fatalf("the CSV does not parse: %v", err)
	}
	if len(rows) != 1+files || rows[0][0] != "customer_id" || rows[0][1] != "release_id" || !slices.Contains(rows[0], "file_sha256") {
		t.Fatalf("csv %q: want a header and a row per file", rows)
	}
	sha, n := slices.Index(rows[0], "file_sha256"), 1
	for _, e := range audit.Releases {
		for _, f := range e.Files {
			if r := rows[n]; r[1] != e.ReleaseID || r[sha] != f.SHA256 {
				t.Errorf("csv row %d %q, want %s's %s", n, r, e.ReleaseID, f.Path)
			}
			n++
		}
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
