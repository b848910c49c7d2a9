package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/pipeline/synth"
)

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func call(t *testing.T, method, url, token, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestServeTakesACustomerRequestThroughTheQueue runs `midata serve` against
// the real Kafka and S3: a customer's request through the API is recorded as
// consent, queued on the requests topic, taken by the worker, released, and
// listed back with a working link.
func TestServeTakesACustomerRequestThroughTheQueue(t *testing.T) {
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
	testbench.CreateTopic(t, brokers, cfg.ConsentTopic, 1)
	if _, err := synth.Produce(t.Context(), brokers, cfg, nil); err != nil {
		t.Fatal(err)
	}
	setS3Env(t, srv)
	addr := freePort(t)
	base := "http://" + addr
	const ops, customer = "ops-token-0123456789", "customer-token-0123456789"
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
			"--workers-group", testbench.UniqueName(t, "group"),
			"--s3-endpoint", srv.Endpoint, "--s3-bucket", testbench.Bucket(t, srv), "--s3-region", srv.Region,
			"--http-addr", addr, "--temp-dir", t.TempDir(), "--log-level", "warn",
			"--auth-tokens", ops + "=ops," + customer + "=customer:C000003",
		}, &stdout, &stderr)
	}()
	waitFor := func(what string, limit time.Duration, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(limit)
		for !ok() {
			select {
			case code := <-done:
				t.Fatalf("serve exited %d while waiting for %s: %s", code, what, stderr.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("no %s within %s: %s", what, limit, stderr.String())
			}
			time.Sleep(50 * time.Millisecond) // polling a server, with a deadline
		}
	}
	waitFor("ready server", 90*time.Second, func() bool { code, _ := call(t, "GET", base+"/readyz", "", ""); return code == 200 })

	if code, _ := call(t, "GET", base+"/v1/runs", "", ""); code != http.StatusUnauthorized {
		t.Errorf("GET /v1/runs without a token = %d, want 401", code)
	}
	if code, _ := call(t, "GET", base+"/v1/runs", customer, ""); code != http.StatusForbidden {
		t.Errorf("GET /v1/runs as a customer = %d, want 403", code)
	}
	code, body := call(t, "POST", base+"/v1/customers/C000003/releases", customer,
		`{"from":"2026-07-01","to":"2026-10-01","formats":["ndjson","midata-csv"],"idempotency_key":"first"}`)
	if code != http.StatusAccepted {
		t.Fatalf("POST release = %d %s", code, body)
	}
	var run struct {
		ID       string `json:"id"`
		Status   string `json:"status"`
		Error    string `json:"error"`
		Releases []struct {
			ReleaseID string `json:"release_id"`
			Status    string `json:"status"`
			Rows      int64  `json:"rows"`
			Links     []struct {
				URL string `json:"url"`
			} `json:"links"`
		} `json:"releases"`
	}
	if err := json.Unmarshal(body, &run); err != nil || run.ID == "" {
		t.Fatalf("POST release body %s: %v", body, err)
	}
	waitFor("finished run", 120*time.Second, func() bool {
		code, body := call(t, "GET", base+"/v1/runs/"+run.ID, ops, "")
		return code == 200 && json.Unmarshal(body, &run) == nil && (run.Status == "succeeded" || run.Status == "failed" || run.Status == "cancelled" || run.Status == "no_consent")
	})
	if run.Status != "succeeded" || len(run.Releases) != 1 || run.Releases[0].Status != "committed" || run.Releases[0].Rows == 0 {
		t.Fatalf("run = %+v, want succeeded with one committed release", run)
	}

	code, body = call(t, "GET", base+"/v1/customers/C000003/releases", customer, "")
	if code != 200 || !strings.Contains(string(body), run.Releases[0].ReleaseID) {
		t.Fatalf("GET customer releases = %d %s", code, body)
	}
	var list struct {
		Runs []struct {
			Releases []struct {
				Links []struct {
					Path string `json:"path"`
					URL  string `json:"url"`
				} `json:"links"`
			} `json:"releases"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(body, &list); err != nil || len(list.Runs) == 0 || len(list.Runs[0].Releases) == 0 || len(list.Runs[0].Releases[0].Links) == 0 {
		t.Fatalf("customer list without links: %s (%v)", body, err)
	}
	for _, l := range list.Runs[0].Releases[0].Links {
		if code, body := httpGet(t, l.URL); code != 200 || len(body) == 0 {
			t.Errorf("GET %s = %d", l.Path, code)
		}
	}
	if code, body := call(t, "GET", base+"/metrics", "", ""); code != 200 || !strings.Contains(string(body), "midata_") {
		t.Errorf("GET /metrics = %d without midata metrics", code)
	}
	if code, _ := call(t, "GET", base+"/openapi.json", "", ""); code != 200 {
		t.Errorf("GET /openapi.json = %d", code)
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

func TestServePrintsItsConfigWithSecretsMasked(t *testing.T) {
	var stdout, stderr lockedBuffer
	code := run(t.Context(), []string{"serve", "--print-config", "--kafka-brokers", "k:9092", "--s3-bucket", "releases",
		"--auth-tokens", "very-secret-token-0123=ops"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if out := stdout.String(); strings.Contains(out, "very-secret-token") || !strings.Contains(out, "k:9092") {
		t.Fatalf("printed config = %q: want brokers shown and the token masked", out)
	}
	var stdout2, stderr2 lockedBuffer
	if code := run(t.Context(), []string{"serve", "--print-config", "--kafka-brokers", "k:9092", "--s3-bucket", "releases", "--partitioner", "random"}, &stdout2, &stderr2); code != exitUsage || !strings.Contains(stderr2.String(), "random") {
		t.Fatalf("bad partitioner: exit %d, %q; want 2 naming it", code, stderr2.String())
	}
}
