package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/pipeline/kafkasource"
	"github.com/midata/midata/pipeline/seed"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/schemas/synth"
)

// runCLI is run, under a name the tests' local variables do not shadow.
var runCLI = run

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
	testbench.CreateTopic(t, brokers, cfg.ConsentTopic, 4)
	// An upstream whose transactions are partitioned with crc32 (librdkafka's
	// consistent_random) and whose consent topic with murmur2, as the
	// contract has it: midata writes C|self with the consent topic's.
	if _, err := seed.Produce(t.Context(), topics.Connection{Brokers: brokers}, cfg,
		&topics.ByTopic{Default: kafka.CRC32Balancer{}, Topics: map[string]kafka.Balancer{cfg.ConsentTopic: kafka.Murmur2Balancer{}}}); err != nil {
		t.Fatal(err)
	}
	setS3Env(t, srv)
	addr, metricsAddr := freePort(t), freePort(t)
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
			"--http-addr", addr, "--temp-dir", t.TempDir(), "--log-level", "warn", "--partitioner", "crc32", "--metrics-addr", metricsAddr,
			"--auth-tokens-file", tokensFile(t, ops+"=ops", customer+"=customer:C000003"),
		}, &stdout, &stderr)
	}()
	waitFor := serveWaiter(t, done, &stderr)
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
	// Every C000003|self event is on murmur2's partition of its key, the
	// one upstream's events of the key are on (trust issue, finding 10: the
	// transactions topic's crc32 put midata's on another, where it granted
	// nothing and compaction kept both).
	key := "C000003|self"
	want := kafkasource.PartitionFor(kafka.Murmur2Balancer{}, key, 4)
	if other := kafkasource.PartitionFor(kafka.CRC32Balancer{}, key, 4); other == want {
		t.Fatalf("crc32 and murmur2 agree on %s: pick a key they place apart", key)
	}
	for p, n := range keyPartitions(t, brokers, cfg.ConsentTopic, 4, key) {
		if p != want {
			t.Errorf("%d event(s) of %s on partition %d, want all on murmur2's %d", n, key, p, want)
		}
	}

	code, body = call(t, "GET", base+"/v1/customers/C000003/releases", customer, "")
	if code != 200 || !strings.Contains(string(body), run.Releases[0].ReleaseID) {
		t.Fatalf("GET customer releases = %d %s", code, body)
	}
	var list struct {
		Runs []struct {
			Releases []struct {
				LinksPath string `json:"links_path"`
			} `json:"releases"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(body, &list); err != nil || len(list.Runs) == 0 || len(list.Runs[0].Releases) == 0 || list.Runs[0].Releases[0].LinksPath == "" {
		t.Fatalf("customer list without a links path: %s (%v)", body, err)
	}
	code, body = call(t, "GET", base+list.Runs[0].Releases[0].LinksPath, customer, "")
	var links struct {
		Links []struct {
			Path string `json:"path"`
			URL  string `json:"url"`
		} `json:"links"`
	}
	if code != 200 || json.Unmarshal(body, &links) != nil || len(links.Links) == 0 {
		t.Fatalf("GET %s = %d %s", list.Runs[0].Releases[0].LinksPath, code, body)
	}
	for _, l := range links.Links {
		if code, body := httpGet(t, l.URL); code != 200 || len(body) == 0 {
			t.Errorf("GET %s = %d", l.Path, code)
		}
	}
	// Trust issue, finding 14: /metrics answered anyone on the API port.
	if code, _ := call(t, "GET", base+"/metrics", "", ""); code != http.StatusUnauthorized {
		t.Errorf("GET /metrics without a token = %d, want 401", code)
	}
	if code, _ := call(t, "GET", base+"/metrics", customer, ""); code != http.StatusForbidden {
		t.Errorf("GET /metrics as a customer = %d, want 403", code)
	}
	if code, body := call(t, "GET", "http://"+metricsAddr+"/metrics", "", ""); code != 200 || !strings.Contains(string(body), "midata_releases_total") {
		t.Errorf("GET /metrics on http.metrics_addr = %d, want 200 without a token", code)
	}
	code, body = call(t, "GET", base+"/metrics", ops, "")
	if code != 200 || !strings.Contains(string(body), `midata_releases_total{status="committed"} 1`) ||
		!strings.Contains(string(body), fmt.Sprintf("midata_records_released_total %d", run.Releases[0].Rows)) {
		t.Errorf("GET /metrics = %d, want one committed release of %d records counted: %s", code, run.Releases[0].Rows, body)
	}
	if !strings.Contains(string(body), "midata_consumer_lag_records{partition=") {
		t.Errorf("GET /metrics has no consumer lag of the requests topic")
	}
	if code, _ := call(t, "GET", base+"/openapi.json", "", ""); code != 200 {
		t.Errorf("GET /openapi.json = %d", code)
	}

	// The ops CLI mirrors the API.
	cli := func(args ...string) (int, string, string) {
		var out, errOut lockedBuffer
		code := runCLI(t.Context(), append(args, "--server", base, "--token-file", tokensFile(t, ops)), &out, &errOut)
		return code, out.String(), errOut.String()
	}
	if code, out, errOut := cli("runs", "get", run.ID); code != 0 || !strings.Contains(out, run.Releases[0].ReleaseID) {
		t.Errorf("midata runs get = %d %q %q", code, out, errOut)
	}
	if code, out, errOut := cli("runs", "get", run.ID, "--watch"); code != 0 || !strings.Contains(out, run.Releases[0].ReleaseID) || !strings.Contains(errOut, "succeeded") {
		t.Errorf("midata runs get --watch = %d %q %q", code, out, errOut)
	}
	if code, out, errOut := cli("runs", "releases", run.ID, "--limit", "10"); code != 0 || !strings.Contains(out, run.Releases[0].ReleaseID) || !strings.Contains(out, `"customer_id": "C000003"`) {
		t.Errorf("midata runs releases = %d %q %q", code, out, errOut)
	}
	if code, out, _ := cli("runs", "list", "--customer", "C000003"); code != 0 || !strings.Contains(out, run.ID) {
		t.Errorf("midata runs list = %d %q", code, out)
	}
	if code, out, errOut := cli("schedule", "create", "--id", "monthly-c3", "--cron", "0 2 1 * *", "--customers", "C000003", "--period", "previous_month"); code != 0 || !strings.Contains(out, "monthly-c3") {
		t.Errorf("midata schedule create = %d %q %q", code, out, errOut)
	}
	if code, out, _ := cli("schedule", "pause", "monthly-c3"); code != 0 || !strings.Contains(out, `"paused": true`) {
		t.Errorf("midata schedule pause = %d %q", code, out)
	}
	if code, out, _ := cli("schedule", "list"); code != 0 || !strings.Contains(out, "monthly-c3") {
		t.Errorf("midata schedule list = %d %q", code, out)
	}
	if code, _, errOut := cli("runs", "retry", run.ID); code != 1 || !strings.Contains(errOut, "409") {
		t.Errorf("retrying a succeeded run = %d %q, want exit 1 with the API's 409", code, errOut)
	}
	if code, _, _ := cli("schedule", "delete", "monthly-c3"); code != 0 {
		t.Errorf("midata schedule delete = %d", code)
	}
	if code, _, errOut := cli("schedule", "get", "monthly-c3"); code != 1 || !strings.Contains(errOut, "404") {
		t.Errorf("get of a deleted schedule = %d %q, want exit 1 with 404", code, errOut)
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
		"--auth-tokens-file", tokensFile(t, "very-secret-token-0123=ops")}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if out := stdout.String(); strings.Contains(out, "very-secret-token") || !strings.Contains(out, "k:9092") || !strings.Contains(out, "tokens_file") {
		t.Fatalf("printed config = %q: want brokers and the tokens file shown, no token", out)
	}
	// A secret on the command line is refused (ps shows it), naming where
	// it goes instead and not the secret.
	var stdout1, stderr1 lockedBuffer
	if code := run(t.Context(), []string{"serve", "--print-config", "--kafka-brokers", "k:9092", "--s3-bucket", "releases",
		"--auth-tokens", "very-secret-token-0123=ops"}, &stdout1, &stderr1); code != exitUsage ||
		!strings.Contains(stderr1.String(), "MIDATA_AUTH_TOKENS") || strings.Contains(stderr1.String()+stdout1.String(), "very-secret") {
		t.Errorf("--auth-tokens on the command line: exit %d, %q; want 2 naming MIDATA_AUTH_TOKENS without the token", code, stderr1.String())
	}
	var stdout2, stderr2 lockedBuffer
	if code := run(t.Context(), []string{"serve", "--print-config", "--kafka-brokers", "k:9092", "--s3-bucket", "releases", "--partitioner", "random"}, &stdout2, &stderr2); code != exitUsage || !strings.Contains(stderr2.String(), "random") {
		t.Fatalf("bad partitioner: exit %d, %q; want 2 naming it", code, stderr2.String())
	}
}

// TestTwoServesFireEachScheduleTimeOnceAndShareABulkRun runs two `midata
// serve` instances in one consumer group on the real Kafka and S3: a
// schedule made through one instance fires on both, each fire time is one
// run, and its bulk release (everyone with consent) is spread over both
// workers with every consenting customer released once: with both in the
// group before the first firing, each worker takes some of a firing's 12
// tasks (one per partition of the transactions topic, keyed by task id on
// the requests topic, whose partitions the group splits 3 and 3).
func TestTwoServesFireEachScheduleTimeOnceAndShareABulkRun(t *testing.T) {
	const ops = "ops-token-0123456789"
	common, _ := serveArgs(t, 48, 1200, 12, "--auth-tokens-file", tokensFile(t, ops+"=ops"))
	bin := buildMidata(t)
	var bases []string
	var dones []chan int
	var logs []*lockedBuffer
	var procs []*exec.Cmd
	for range 2 {
		addr := freePort(t)
		stderr := &lockedBuffer{}
		cmd := exec.Command(bin, append(append([]string{}, common...), "--http-addr", addr)...)
		cmd.Stdout, cmd.Stderr = io.Discard, stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan int, 1)
		go func() { cmd.Wait(); done <- cmd.ProcessState.ExitCode() }()
		t.Cleanup(func() { cmd.Process.Kill(); <-done })
		bases, dones, logs, procs = append(bases, "http://"+addr), append(dones, done), append(logs, stderr), append(procs, cmd)
	}
	poll := func(what string, limit time.Duration, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(limit)
		for !ok() {
			for i, d := range dones {
				select {
				case code := <-d:
					t.Fatalf("serve %d exited %d while waiting for %s: %s", i, code, what, logs[i].String())
				default:
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("no %s within %s", what, limit)
			}
			time.Sleep(100 * time.Millisecond) // polling servers, with a deadline
		}
	}
	for _, base := range bases {
		poll("ready servers", 90*time.Second, func() bool { code, _ := call(t, "GET", base+"/readyz", "", ""); return code == 200 })
	}
	// A ready instance need not be in the group yet: until the second
	// joins, the first holds every requests partition and takes every task.
	members := groupMembers(t, argValue(t, common, "--workers-group"))
	poll("both workers in the group with partitions", 90*time.Second, func() bool { return members() == 2 })
	code, body := call(t, "PUT", bases[0]+"/v1/schedules/bulk-self", ops,
		`{"id":"bulk-self","cron":"*/4 * * * * *","recipient":"self","all":true,"period":"last:4320h","formats":["ndjson"]}`)
	if code != 200 && code != 201 {
		t.Fatalf("PUT schedule = %d %s", code, body)
	}
	type run struct {
		ID       string `json:"id"`
		Status   string `json:"status"`
		Worker   string `json:"worker"`
		Releases []struct {
			ReleaseID  string `json:"release_id"`
			CustomerID string `json:"customer_id"`
			Status     string `json:"status"`
		} `json:"releases"`
		Request struct {
			Kind   string `json:"kind"`
			Parent string `json:"parent"`
		} `json:"request"`
	}
	// Both instances fire the schedule once the second has read it from the
	// schedules topic (it tails the topic); count firings from then on.
	poll("the schedule on the second instance", 60*time.Second, func() bool {
		code, _ := call(t, "GET", bases[1]+"/v1/schedules/bulk-self", ops, "")
		return code == 200
	})
	visible := time.Now()
	after := func(id string) bool {
		_, at, ok := strings.Cut(id, "@")
		fired, err := time.Parse(time.RFC3339, at)
		return ok && err == nil && fired.After(visible)
	}
	var runs []run
	poll("two finished firings", 150*time.Second, func() bool {
		code, body := call(t, "GET", bases[1]+"/v1/runs?schedule=bulk-self&limit=1000", ops, "")
		var list struct{ Runs []run }
		if code != 200 || json.Unmarshal(body, &list) != nil {
			return false
		}
		finished := 0
		for _, r := range list.Runs {
			if r.Request.Kind == "bulk" && after(r.ID) && r.Status != "queued" && r.Status != "running" {
				finished++
			}
		}
		runs = list.Runs
		return finished >= 2
	})
	if code, body := call(t, "POST", bases[0]+"/v1/schedules/bulk-self/pause", ops, ""); code/100 != 2 {
		t.Fatalf("pause = %d %s", code, body)
	}
	seen := map[string]bool{}
	for _, r := range runs {
		if r.Request.Kind != "bulk" || r.Status == "queued" || r.Status == "running" {
			continue
		}
		if seen[r.ID] {
			t.Fatalf("fire time %s has two runs", r.ID)
		}
		seen[r.ID] = true
		if r.Status != "succeeded" {
			t.Fatalf("firing %s ended %s", r.ID, r.Status)
		}
		customers := map[string]bool{}
		for _, rel := range r.Releases {
			if customers[rel.CustomerID] {
				t.Fatalf("firing %s released %s twice", r.ID, rel.CustomerID)
			}
			customers[rel.CustomerID] = true
		}
		if len(customers) == 0 {
			_, dump := call(t, "GET", bases[0]+"/v1/runs?limit=1000", ops, "")
			t.Fatalf("firing %s released nobody: %s", r.ID, dump)
		}
	}
	// The tasks of the firings were taken by both workers.
	code, body = call(t, "GET", bases[0]+"/v1/runs?limit=1000", ops, "")
	var all struct{ Runs []run }
	if code != 200 || json.Unmarshal(body, &all) != nil {
		t.Fatalf("GET runs = %d", code)
	}
	workers := map[string]int{}
	tasks := 0
	for _, r := range all.Runs {
		if r.Request.Kind != "task" || !seen[r.Request.Parent] {
			continue
		}
		tasks++
		if r.Status != "succeeded" && r.Status != "no_consent" {
			t.Errorf("task %s ended %s", r.ID, r.Status)
		}
		workers[r.Worker]++
	}
	if len(workers) != 2 {
		t.Errorf("the %d tasks of %d firings ran on %d worker(s) %v, want both", tasks, len(seen), len(workers), workers)
	}
	t.Logf("the %d tasks of %d firings by worker: %v", tasks, len(seen), workers)
	for i, p := range procs {
		p.Process.Signal(syscall.SIGTERM)
		select {
		case code := <-dones[i]:
			dones[i] <- code // for the cleanup
			if code != 0 {
				t.Errorf("serve %d exited %d after SIGTERM: %s", i, code, logs[i].String())
			}
		case <-time.After(60 * time.Second):
			t.Fatalf("serve %d did not stop within 60s of SIGTERM", i)
		}
	}
}

// argValue returns the value of flag in args.
func argValue(t *testing.T, args []string, flag string) string {
	t.Helper()
	for i, a := range args[:len(args)-1] {
		if a == flag {
			return args[i+1]
		}
	}
	t.Fatalf("no %s in %v", flag, args)
	return ""
}

// groupMembers returns a function that counts the members of the stable
// consumer group that hold partitions (0 while the group rebalances).
func groupMembers(t *testing.T, group string) func() int {
	t.Helper()
	tr := &kafka.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	c := &kafka.Client{Addr: kafka.TCP(testbench.Kafka(t)...), Transport: tr, Timeout: 5 * time.Second}
	return func() int {
		res, err := c.DescribeGroups(t.Context(), &kafka.DescribeGroupsRequest{GroupIDs: []string{group}})
		if err != nil || len(res.Groups) != 1 || res.Groups[0].GroupState != "Stable" {
			return 0
		}
		n := 0
		for _, m := range res.Groups[0].Members {
			if ts := m.MemberAssignments.Topics; len(ts) > 0 && len(ts[0].Partitions) > 0 {
				n++
			}
		}
		return n
	}
}

// serveArgs seeds a synthetic data set into fresh topics of the real Kafka
// and returns the flags of `midata serve` over them and a fresh bucket.
func serveArgs(t *testing.T, customers, transactions, partitions int, extra ...string) ([]string, synth.Config) {
	t.Helper()
	srv, ok := testbench.S3(t)
	if !ok {
		t.Skip("serve writes to S3: set MIDATA_TEST_S3 (make test does)")
	}
	brokers := testbench.Kafka(t)
	cfg := synth.DefaultConfig()
	cfg.Customers, cfg.Transactions = customers, transactions
	cfg.TransactionsTopic = testbench.UniqueName(t, "tx")
	cfg.ConsentTopic = testbench.UniqueName(t, "consent")
	testbench.CreateTopic(t, brokers, cfg.TransactionsTopic, partitions)
	testbench.CreateTopic(t, brokers, cfg.ConsentTopic, 1)
	if _, err := seed.Produce(t.Context(), topics.Connection{Brokers: brokers}, cfg, nil); err != nil {
		t.Fatal(err)
	}
	setS3Env(t, srv)
	args := []string{"serve",
		"--kafka-brokers", strings.Join(brokers, ","),
		"--transactions-topic", cfg.TransactionsTopic, "--consent-topic", cfg.ConsentTopic,
		"--quarantine-topic", testbench.UniqueName(t, "quarantine"), "--requests-topic", testbench.UniqueName(t, "requests"),
		"--runs-topic", testbench.UniqueName(t, "runs"), "--schedules-topic", testbench.UniqueName(t, "schedules"),
		"--workers-group", testbench.UniqueName(t, "group"),
		"--s3-endpoint", srv.Endpoint, "--s3-bucket", testbench.Bucket(t, srv), "--s3-region", srv.Region,
		"--temp-dir", t.TempDir(), "--log-level", "warn",
	}
	return append(args, extra...), cfg
}

// buildMidata builds the binary once per test run.
func buildMidata(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "midata")
	out, err := exec.CommandContext(t.Context(), "go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestKillingOneServeMidRunLosesAndDuplicatesNothing SIGKILLs one of two
// serve processes while a bulk release is running: the other finishes it,
// and every customer with a self grant is released exactly once.
func TestKillingOneServeMidRunLosesAndDuplicatesNothing(t *testing.T) {
	const ops = "ops-token-0123456789"
	common, cfg := serveArgs(t, 60, 30000, 6, "--auth-tokens-file", tokensFile(t, ops+"=ops"), "--scheduler-enabled=false")
	bin := buildMidata(t)
	var bases []string
	var procs []*exec.Cmd
	var dones []chan struct{}
	for range 2 {
		addr := freePort(t)
		cmd := exec.Command(bin, append(append([]string{}, common...), "--http-addr", addr)...)
		cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		t.Cleanup(func() { cmd.Process.Kill(); <-done })
		bases, procs, dones = append(bases, "http://"+addr), append(procs, cmd), append(dones, done)
	}
	poll := func(what string, limit time.Duration, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(limit)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("no %s within %s", what, limit)
			}
			time.Sleep(100 * time.Millisecond) // polling servers, with a deadline
		}
	}
	for _, base := range bases {
		poll("ready servers", 90*time.Second, func() bool { code, _ := call(t, "GET", base+"/readyz", "", ""); return code == 200 })
	}
	code, body := call(t, "POST", bases[1]+"/v1/releases", ops,
		`{"recipient":"self","all":true,"from":"2026-04-01","to":"2026-10-01","formats":["ndjson","midata-csv"],"idempotency_key":"kill"}`)
	if code != http.StatusAccepted {
		t.Fatalf("POST bulk = %d %s", code, body)
	}
	var parent struct {
		ID string `json:"id"`
	}
	json.Unmarshal(body, &parent)
	type runView struct {
		ID       string `json:"id"`
		Status   string `json:"status"`
		Worker   string `json:"worker"`
		Error    string `json:"error"`
		Releases []struct {
			CustomerID string `json:"customer_id"`
			Status     string `json:"status"`
		} `json:"releases"`
		Request struct {
			Kind string `json:"kind"`
		} `json:"request"`
	}
	list := func(base string) []runView {
		code, body := call(t, "GET", base+"/v1/runs?limit=1000", ops, "")
		var l struct{ Runs []runView }
		if code != 200 || json.Unmarshal(body, &l) != nil {
			return nil
		}
		return l.Runs
	}
	// Kill the first process as soon as some task runs anywhere.
	poll("a running task", 60*time.Second, func() bool {
		for _, r := range list(bases[1]) {
			if r.Request.Kind == "task" && r.Status == "running" {
				return true
			}
		}
		return false
	})
	procs[0].Process.Signal(syscall.SIGKILL)
	<-dones[0]

	var final runView
	poll("the bulk run finished by the survivor", 240*time.Second, func() bool {
		for _, r := range list(bases[1]) {
			if r.ID == parent.ID && r.Status != "queued" && r.Status != "running" {
				final = r
				return true
			}
		}
		return false
	})
	if final.Status != "succeeded" {
		t.Fatalf("bulk run ended %s: %s", final.Status, final.Error)
	}
	o := readOracle(t, cfg)
	want := map[string]bool{}
	for i := 1; i <= cfg.Customers; i++ {
		c := fmt.Sprintf("C%06d", i)
		if _, ok := o.grant(c, time.Now()); ok {
			want[c] = true
		}
	}
	got := map[string]int{}
	for _, rel := range final.Releases {
		got[rel.CustomerID]++
	}
	for c := range want {
		if got[c] != 1 {
			t.Errorf("customer %s released %d times, want once", c, got[c])
		}
	}
	for c := range got {
		if !want[c] {
			t.Errorf("customer %s released without a self grant", c)
		}
	}
}

// keyPartitions counts the records of key on each partition of topic.
func keyPartitions(t *testing.T, brokers []string, topic string, partitions int, key string) map[int]int {
	t.Helper()
	got := map[int]int{}
	for p := range partitions {
		conn, err := kafka.DialLeader(t.Context(), "tcp", brokers[0], topic, p)
		if err != nil {
			t.Fatal(err)
		}
		last, err := conn.ReadLastOffset()
		if err != nil {
			t.Fatal(err)
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: p, MaxWait: 100 * time.Millisecond})
		for off := int64(0); off < last; {
			m, err := r.ReadMessage(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if string(m.Key) == key {
				got[p]++
			}
			off = m.Offset + 1
		}
		r.Close()
		conn.Close()
	}
	return got
}

// tokensFile writes lines (token=role, or the CLI's one token) to a file
// only the test can read, and returns its path.
// serveWaiter polls ok until it holds, failing the test when limit passes
// first or the serve running in the background (its exit code on done)
// exits.
func serveWaiter(t *testing.T, done <-chan int, stderr *lockedBuffer) func(what string, limit time.Duration, ok func() bool) {
	return func(what string, limit time.Duration, ok func() bool) {
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
}

func tokensFile(t *testing.T, lines ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
