package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/pipeline"
	"github.com/midata/midata/pipeline/seed"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/schemas/release"
	"github.com/midata/midata/schemas/synth"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// kafka-go's shared transport keeps idle connections open until
		// their idle timeout; they hold no test state.
		goleak.IgnoreAnyFunction("github.com/segmentio/kafka-go.(*conn).run"),
		goleak.IgnoreAnyFunction("github.com/segmentio/kafka-go/protocol.(*Conn).Read"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	)
}

// lockedBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestBadCommandLinesExitTwoWithOneLine(t *testing.T) {
	t.Setenv("MIDATA_KAFKA_BROKERS", "127.0.0.1:1")
	t.Setenv("MIDATA_S3_BUCKET", "releases")
	base := []string{"export", "--customer", "C1", "--from", "2026-02-01", "--to", "2026-05-01"}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no command prints usage", nil, "Usage:"},
		{"an unknown command is named", []string{"exprt"}, `unknown command "exprt"`},
		{"export without a customer", []string{"export", "--from", "2026-02-01", "--to", "2026-05-01"}, "customer"},
		{"export without a period", []string{"export", "--customer", "C1"}, "--from and --to are required"},
		{"export with a bad date", append(slices.Clone(base), "--to", "May"), "--to"},
		{"export with the period reversed", append(slices.Clone(base), "--to", "2026-01-01"), "want from before to"},
		{"export with an unknown format", append(slices.Clone(base), "--format", "xlsx"), `unknown format "xlsx"`},
		{"export with a link TTL over 7 days", append(slices.Clone(base), "--link-ttl", "8d"), "at most 7d"},
		{"export with an unknown partitioner", append(slices.Clone(base), "--partitioner", "random"), "random"},
		{"export with a bad recipient", append(slices.Clone(base), "--recipient", "partner"), "recipient"},
		{"export with a stray argument", append(slices.Clone(base), "extra"), `unexpected argument "extra"`},
		{"dev with a stray flag", []string{"dev", "--nope"}, "nope"},
		{"export with the old --brokers", append(slices.Clone(base), "--brokers", "k:9092"), "flag --brokers is now --kafka-brokers (or MIDATA_KAFKA_BROKERS)"},
		{"export with the old --bucket", append(slices.Clone(base), "--bucket=b"), "flag --bucket is now --s3-bucket"},
		{"export with the old --topic", append(slices.Clone(base), "--topic", "tx"), "flag --topic is now --transactions-topic"},
		{"seed with the old --brokers", []string{"seed", "--brokers", "k:9092"}, "flag --brokers is now --kafka-brokers"},
		{"seed with the old --customers", []string{"seed", "--customers", "5"}, "flag --customers is now --synth-customers"},
		{"dev with the old --addr", []string{"dev", "--addr", "127.0.0.1:0"}, "flag --addr is now --http-addr"},
		{"export without brokers names key, variable and flag", []string{"export", "--kafka-brokers", "", "--customer", "C1", "--from", "2026-02-01", "--to", "2026-05-01"},
			"kafka.brokers: required: set it in the file, MIDATA_KAFKA_BROKERS or --kafka-brokers"},
		{"seed with no partitions", []string{"seed", "--synth-partitions", "0"}, `synth.partitions "0": want 1 to 10000`},
		{"dev with fewer transactions than customers", []string{"dev", "--synth-customers", "20", "--synth-transactions", "10"}, "synth.transactions"},
		{"runs with a server that is no URL", []string{"runs", "list", "--server", "localhost"}, `client.server "localhost"`},
		{"a config file that does not load", []string{"serve", "--config", "/dev/null/x.yaml"}, "read config file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), tt.args, &stdout, &stderr)
			want := exitUsage
			if strings.HasPrefix(tt.want, "read config file") {
				want = 1 // not a mistake in the command line
			}
			if code != want {
				t.Errorf("exit %d, want %d", code, want)
			}
			if strings.Contains(tt.name, "old") && strings.Count(stderr.String(), "\n") != 1 {
				t.Errorf("stderr = %q, want one line", stderr.String())
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout = %q, want nothing", stdout.String())
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("stderr = %q, want it to say %q", stderr.String(), tt.want)
			}
		})
	}
}

func TestHelpExitsZero(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"export", "--help"}, {"dev", "--help"}, {"seed", "--help"}, {"serve", "--help"},
		{"runs", "--help"}, {"runs", "list", "--help"}, {"schedule", "--help"}, {"schedule", "create", "--help"}} {
		var stdout, stderr bytes.Buffer
		if code := run(t.Context(), args, &stdout, &stderr); code != 0 {
			t.Errorf("%v: exit %d", args, code)
		}
		if !strings.Contains(stdout.String()+stderr.String(), "Usage") {
			t.Errorf("%v printed no usage", args)
		}
	}
}

func TestExportOfAnUnreachableBrokerFailsWithOneLine(t *testing.T) {
	srv, ok := testbench.S3(t)
	if !ok {
		t.Skip("export writes to S3: set MIDATA_TEST_S3 (make test does)")
	}
	bucket := testbench.Bucket(t, srv)
	setS3Env(t, srv)
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"export", "--kafka-brokers", "127.0.0.1:1", "--s3-endpoint", srv.Endpoint, "--s3-bucket", bucket,
		"--customer", "C1", "--from", "2026-02-01", "--to", "2026-05-01"}, &stdout, &stderr)
	if code != 1 || stdout.Len() != 0 {
		t.Fatalf("exit %d, stdout %q; want 1 and nothing", code, stdout.String())
	}
	if lines := strings.Split(strings.TrimSpace(stderr.String()), "\n"); len(lines) != 1 || !strings.Contains(lines[0], "127.0.0.1:1") {
		t.Fatalf("stderr = %q, want one line naming the broker", stderr.String())
	}
}

func TestExportToAMissingBucketFailsWithOneLine(t *testing.T) {
	srv, ok := testbench.S3(t)
	if !ok {
		t.Skip("export writes to S3: set MIDATA_TEST_S3 (make test does)")
	}
	setS3Env(t, srv)
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"export", "--kafka-brokers", strings.Join(testbench.Kafka(t), ","), "--s3-endpoint", srv.Endpoint,
		"--s3-bucket", "no-such-bucket-midata", "--customer", "C1", "--from", "2026-02-01", "--to", "2026-05-01"}, &stdout, &stderr)
	if code != 1 || stdout.Len() != 0 {
		t.Fatalf("exit %d, stdout %q; want 1 and nothing", code, stdout.String())
	}
	if lines := strings.Split(strings.TrimSpace(stderr.String()), "\n"); len(lines) != 1 || !strings.Contains(lines[0], "no-such-bucket-midata") {
		t.Fatalf("stderr = %q, want one line naming the bucket", stderr.String())
	}
}

func setS3Env(t *testing.T, srv testbench.S3Server) {
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	t.Setenv("AWS_REGION", srv.Region)
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
}

// oracle is an independent reading of the synthetic data set: which
// transactions of a customer a self release for [from, to) must hold.
type oracle struct {
	consent map[string]map[string]any // key → latest event
	txs     []map[string]any
}

func readOracle(t *testing.T, cfg synth.Config) *oracle {
	t.Helper()
	o := &oracle{consent: map[string]map[string]any{}}
	err := synth.Generate(cfg, func(m synth.Message) error {
		if m.Topic == cfg.ConsentTopic {
			if m.Value == nil {
				delete(o.consent, string(m.Key))
				return nil
			}
			var ev map[string]any
			if err := json.Unmarshal(m.Value, &ev); err != nil {
				return err
			}
			o.consent[string(m.Key)] = ev
			return nil
		}
		if m.InvalidField != "" {
			return nil
		}
		var tx map[string]any
		if err := json.Unmarshal(m.Value, &tx); err != nil {
			return err
		}
		o.txs = append(o.txs, tx)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func parseTS(s any) time.Time {
	str, _ := s.(string)
	ts, _ := time.Parse(time.RFC3339, str)
	return ts
}

// grantOK says whether the customer's self consent allows a release now.
func (o *oracle) grant(customer string, now time.Time) (map[string]any, bool) {
	ev, ok := o.consent[customer+"|self"]
	if !ok || ev["status"] != "granted" {
		return nil, false
	}
	if exp := parseTS(ev["expires_at"]); !exp.IsZero() && !now.Before(exp) {
		return nil, false
	}
	cats, _ := ev["categories"].([]any)
	return ev, slices.Contains(cats, any("transactions"))
}

func (o *oracle) released(customer string, from, to time.Time) []string {
	ev, ok := o.grant(customer, time.Now())
	if !ok {
		return nil
	}
	wf, wt := parseTS(ev["window_from"]), parseTS(ev["window_to"])
	var ids []string
	for _, tx := range o.txs {
		booked := parseTS(tx["booked_at"])
		if tx["customer_id"] != customer || tx["status"] == "pending" || booked.Before(from) || !booked.Before(to) ||
			(!wf.IsZero() && booked.Before(wf)) || (!wt.IsZero() && !booked.Before(wt)) {
			continue
		}
		ids = append(ids, tx["transaction_id"].(string))
	}
	slices.Sort(ids)
	return ids
}

func TestExportReleasesWhatTheDataSetSaysAndPrintsOneJSONObject(t *testing.T) {
	srv, ok := testbench.S3(t)
	if !ok {
		t.Skip("export writes to S3: set MIDATA_TEST_S3 (make test does)")
	}
	brokers := testbench.Kafka(t)
	cfg := synth.DefaultConfig()
	cfg.Customers, cfg.Transactions = 30, 3000
	cfg.TransactionsTopic = testbench.UniqueName(t, "tx")
	cfg.ConsentTopic = testbench.UniqueName(t, "consent")
	quarantine := testbench.UniqueName(t, "quarantine")
	testbench.CreateTopic(t, brokers, cfg.TransactionsTopic, 4)
	testbench.CreateTopic(t, brokers, cfg.ConsentTopic, 2)
	testbench.CreateTopic(t, brokers, quarantine, 1)
	if _, err := seed.Produce(t.Context(), topics.Connection{Brokers: brokers}, cfg, nil); err != nil {
		t.Fatal(err)
	}
	bucket := testbench.Bucket(t, srv)
	setS3Env(t, srv)
	t.Setenv("MIDATA_KAFKA_BROKERS", strings.Join(brokers, ","))
	t.Setenv("MIDATA_S3_ENDPOINT", srv.Endpoint)
	t.Setenv("MIDATA_S3_BUCKET", bucket)
	t.Setenv("MIDATA_TRANSACTIONS_TOPIC", cfg.TransactionsTopic)
	t.Setenv("MIDATA_CONSENT_TOPIC", cfg.ConsentTopic)
	t.Setenv("MIDATA_QUARANTINE_TOPIC", quarantine)
	t.Setenv("MIDATA_LINK_TTL", "36h")

	o := readOracle(t, cfg)
	from, to := cfg.End.AddDate(0, -3, 0), cfg.End
	var granted, refused string
	for i := 1; i <= cfg.Customers && (granted == "" || refused == ""); i++ {
		c := fmt.Sprintf("C%06d", i)
		if _, ok := o.grant(c, time.Now()); ok && granted == "" && len(o.released(c, from, to)) > 0 {
			granted = c
		} else if !ok && refused == "" {
			refused = c
		}
	}
	if granted == "" || refused == "" {
		t.Fatalf("the data set has no customer with a self grant (%q) or without one (%q)", granted, refused)
	}

	export := func(customer string) (pipeline.Result, string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		code := run(t.Context(), []string{"export", "--customer", customer, "--from", from.Format("2006-01-02"),
			"--to", to.Format("2006-01-02"), "--format", "midata-csv,ndjson"}, &stdout, &stderr)
		if code != 0 {
			t.Fatalf("export %s: exit %d: %s", customer, code, stderr.String())
		}
		dec := json.NewDecoder(&stdout)
		var res pipeline.Result
		if err := dec.Decode(&res); err != nil {
			t.Fatalf("stdout is not a JSON object: %v", err)
		}
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			t.Fatalf("stdout holds more than one JSON object")
		}
		return res, stderr.String()
	}

	res, _ := export(granted)
	want := o.released(granted, from, to)
	if res.Status != release.StatusCommitted || res.Stats.Released != int64(len(want)) || len(res.Files) != 3 || len(res.Links) != 3 {
		t.Fatalf("export %s = %+v, want committed with %d rows in 2 files and a readme, with links", granted, res, len(want))
	}
	if !strings.HasPrefix(res.Manifest, "s3://"+bucket+"/releases/"+res.ReleaseID+"/") {
		t.Errorf("manifest location = %q", res.Manifest)
	}
	for _, l := range res.Links {
		if d := time.Until(l.ExpiresAt); d > 36*time.Hour || d < 35*time.Hour {
			t.Errorf("link expires in %s, want MIDATA_LINK_TTL=36h", d)
		}
		if l.Path != "transactions.ndjson" {
			continue
		}
		// No idle connection outlives the test (goleak).
		resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Get(l.URL)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			var rec struct {
				TransactionID string `json:"transaction_id"`
			}
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
				t.Fatal(err)
			}
			got = append(got, rec.TransactionID)
		}
		resp.Body.Close()
		slices.Sort(got)
		if resp.StatusCode != http.StatusOK || !slices.Equal(got, want) {
			t.Fatalf("downloaded ndjson (HTTP %d) holds %d ids, want the %d the data set says", resp.StatusCode, len(got), len(want))
		}
	}

	if res, _ := export(refused); res.Status != release.StatusNoConsent || len(res.Files) != 0 {
		t.Errorf("export %s without consent = %+v, want no_consent and no files", refused, res)
	}
	if again, _ := export(granted); again.Status != release.StatusAlreadyCommitted || again.ReleaseID != res.ReleaseID {
		t.Errorf("second export = %s %s, want already_committed %s", again.Status, again.ReleaseID, res.ReleaseID)
	}
}

// linkPattern finds the stable link to the midata CSV in dev's summary.
var linkPattern = regexp.MustCompile(`transactions\.midata\.csv \(expires [^)]*\):\n\s+(http://127\.0\.0\.1:\d+/v1/downloads/\S+)`)

func TestDevServesTheReleaseUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stdout, stderr lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"dev", "--http-addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--synth-customers", "20", "--synth-transactions", "2000"}, &stdout, &stderr)
	}()
	var link string
	deadline := time.Now().Add(60 * time.Second)
	for link == "" {
		select {
		case code := <-done:
			t.Fatalf("dev exited %d before serving: %s", code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no link printed within a minute: %s %s", stdout.String(), stderr.String())
		}
		if m := linkPattern.FindStringSubmatch(stdout.String()); m != nil {
			link = m[1]
		}
		time.Sleep(20 * time.Millisecond) // polling the output, with a deadline
	}
	if !strings.Contains(stdout.String(), ": committed") {
		t.Errorf("summary = %q, want a committed release", stdout.String())
	}
	status, body := httpGet(t, link)
	if status != http.StatusOK || !strings.HasPrefix(body, "Date,Type,Merchant/Description,Debit/Credit,Balance\r\n") {
		t.Fatalf("GET link = %d %q, want 200 and the midata CSV", status, body[:min(len(body), 80)])
	}
	tampered := link[:len(link)-1] + map[bool]string{true: "A", false: "B"}[!strings.HasSuffix(link, "A")]
	if status, body := httpGet(t, tampered); status != http.StatusNotFound || !strings.Contains(body, "not valid") {
		t.Fatalf("GET tampered link = %d %q, want 404 with a page saying it is not valid", status, body)
	}
	// The whole service runs: the API answers with the printed tokens, and
	// a partner release is delivered to the built-in receiver.
	ops := regexp.MustCompile(`\n  ops +(\S+)`).FindStringSubmatch(stdout.String())
	base := regexp.MustCompile(`The whole service runs on (\S+):`).FindStringSubmatch(stdout.String())
	if ops == nil || base == nil {
		t.Fatalf("no ops token or address printed: %s", stdout.String())
	}
	code, posted := call(t, "POST", base[1]+"/v1/releases", ops[1], `{"recipient":"partner:pds-one","customers":["C000001"],"from":"2026-07-01","to":"2026-10-01","formats":["ndjson"]}`)
	if code != http.StatusAccepted {
		t.Fatalf("POST a partner release = %d %s", code, posted)
	}
	deadline = time.Now().Add(60 * time.Second)
	for {
		_, hooks := httpGet(t, base[1]+"/dev/webhooks/pds-one")
		if strings.Contains(hooks, `"type":"release.delivered"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sample partner got no delivery within a minute: %s; %s", hooks, stderr.String())
		}
		time.Sleep(50 * time.Millisecond) // polling the server, with a deadline
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("dev exited %d after Ctrl-C: %s", code, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("dev did not stop within 30s of cancellation")
	}
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}
