package pipeline_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/segmentio/kafka-go"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/pipeline"
	"github.com/midata/midata/pipeline/consent"
	"github.com/midata/midata/pipeline/kafkasource"
	"github.com/midata/midata/pipeline/releasestore"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/schemas"
	"github.com/midata/midata/schemas/release"
	"github.com/midata/midata/sinks"
	"github.com/midata/midata/sinks/filesink"
	"github.com/midata/midata/sinks/s3sink"
)

// bench is one test's Kafka topics and object store: the real servers under
// `make test`, kfake and a temp-dir store in the quick loop.
type bench struct {
	brokers                 []string
	topic, consent, quarant string
	sink                    sinks.Sink
	keys                    func(t *testing.T, prefix string) []string // object keys under prefix
}

func newBench(t testing.TB, partitions int) *bench {
	t.Helper()
	b := &bench{brokers: testbench.Kafka(t)}
	b.topic = testbench.UniqueName(t, "tx")
	b.consent = testbench.UniqueName(t, "consent")
	b.quarant = testbench.UniqueName(t, "quarantine")
	testbench.CreateTopic(t, b.brokers, b.topic, partitions)
	testbench.CreateTopic(t, b.brokers, b.consent, 2)
	testbench.CreateTopic(t, b.brokers, b.quarant, 1)
	if srv, ok := testbench.S3(t); ok {
		client := testbench.S3Client(srv)
		bucket := testbench.Bucket(t, srv)
		s, err := s3sink.NewFromClient(client, s3sink.Config{Endpoint: srv.Endpoint, Bucket: bucket, Region: srv.Region})
		if err != nil {
			t.Fatal(err)
		}
		b.sink = s
		b.keys = func(t *testing.T, prefix string) []string {
			out, err := client.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
			if err != nil {
				t.Fatalf("list %s: %v", prefix, err)
			}
			var keys []string
			for _, o := range out.Contents {
				keys = append(keys, aws.ToString(o.Key))
			}
			return keys
		}
		return b
	}
	root := t.TempDir()
	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	fs, err := filesink.New(filesink.Config{Root: root, BaseURL: srv.URL, Secret: bytes.Repeat([]byte("k"), 32)})
	if err != nil {
		t.Fatal(err)
	}
	handler = fs.Handler()
	b.sink = fs
	b.keys = func(t *testing.T, prefix string) []string {
		var keys []string
		filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				rel, _ := filepath.Rel(root, path)
				if key := filepath.ToSlash(rel); strings.HasPrefix(key, prefix) && !strings.Contains(key, ".tmp") {
					keys = append(keys, key)
				}
			}
			return nil
		})
		return keys
	}
	return b
}

func (b *bench) runner(t testing.TB, partitioner string, sink sinks.Sink) *pipeline.Runner {
	t.Helper()
	return b.runnerWith(t, func(c *pipeline.Config) {
		c.Source = b.source(t, partitioner)
		if sink != nil {
			c.Sink = sink
		}
	})
}

// runnerWith is a runner on the bench (murmur2) with the changes of edit.
func (b *bench) runnerWith(t testing.TB, edit func(*pipeline.Config)) *pipeline.Runner {
	t.Helper()
	cfg := pipeline.Config{Sink: b.sink, QuarantineTopic: b.quarant, TempDir: t.TempDir(), SpillRecords: spillRecords}
	edit(&cfg)
	if cfg.Source == nil {
		cfg.Source = b.source(t, "murmur2")
	}
	if cfg.Producer == nil {
		prod := topics.NewProducer(topics.Connection{Brokers: b.brokers}, nil)
		t.Cleanup(func() { prod.Close() })
		cfg.Producer = prod
	}
	if cfg.Grants == nil {
		cfg.Grants = b.grants(t, cfg.Producer)
	}
	r, err := pipeline.NewRunner(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (b *bench) source(t testing.TB, partitioner string) *kafkasource.Source {
	t.Helper()
	src, err := kafkasource.New(kafkasource.Config{Kafka: topics.Connection{Brokers: b.brokers}, Topic: b.topic, Partitioner: partitioner})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

// grants opens the consent view of the bench, closed at cleanup.
func (b *bench) grants(t testing.TB, prod consent.Quarantiner) *consent.View {
	t.Helper()
	v, err := consent.OpenView(t.Context(), consent.ViewConfig{Kafka: topics.Connection{Brokers: b.brokers}, Topic: b.consent,
		Quarantine: prod, QuarantineTopic: b.quarant, MaxWait: 250 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

// spillRecords is small in tests so that sorting spills to disk.
var spillRecords = 3

// produce writes messages with the given balancer, keeping their timestamps.
func produce(t testing.TB, brokers []string, topic string, balancer kafka.Balancer, msgs ...kafka.Message) {
	t.Helper()
	// A transport of its own: the shared default one caches metadata from
	// before the test's topics existed.
	transport := &kafka.Transport{}
	defer transport.CloseIdleConnections()
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, Balancer: balancer, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond, Transport: transport}
	defer w.Close()
	if err := w.WriteMessages(t.Context(), msgs...); err != nil {
		t.Fatalf("produce to %s: %v", topic, err)
	}
}

var (
	from = time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	to   = time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
)

// tx is a transaction event in the input contract, published shortly after
// it was booked unless late is set.
type tx struct {
	id, customer, booked, amount, currency, status, desc string
	late                                                 time.Duration
	raw                                                  string // when set, the exact value bytes
	key                                                  string // when set, the message key
}

func (x tx) message() kafka.Message {
	key := x.customer
	if x.key != "" {
		key = x.key
	}
	value := x.raw
	booked, _ := time.Parse(time.RFC3339, x.booked)
	if value == "" {
		cur := x.currency
		if cur == "" {
			cur = "GBP"
		}
		status := ""
		if x.status != "" {
			status = fmt.Sprintf(`"status":%q,`, x.status)
		}
		desc := x.desc
		if desc == "" {
			desc = "TESCO STORES 1234"
		}
		value = fmt.Sprintf(`{"transaction_id":%q,"customer_id":%q,"account_id":"A-%s","booked_at":%q,"amount":%q,"currency":%q,%s"type":"POS","description":%q,"merchant":{"name":"Tesco","category_code":"5411"},"balance_after":"1234.56","unknown_field":true}`,
			x.id, x.customer, x.customer, x.booked, x.amount, cur, status, desc)
	}
	if booked.IsZero() {
		booked = from.Add(time.Hour)
	}
	return kafka.Message{Key: []byte(key), Value: []byte(value), Time: booked.Add(time.Minute + x.late)}
}

func consentEvent(id, customer, recipient, status, categories string) kafka.Message {
	cats, _ := json.Marshal(strings.Split(categories, ","))
	v := fmt.Sprintf(`{"consent_id":%q,"customer_id":%q,"recipient":%q,"status":%q,"categories":%s,"window_from":null,"window_to":null,"expires_at":"2099-01-01T00:00:00Z","event_time":"2026-01-15T12:00:00Z"}`,
		id, customer, recipient, status, cats)
	return kafka.Message{Key: []byte(customer + "|" + recipient), Value: []byte(v)}
}

// dataset is the shared input of the end-to-end tests.
var dataset = []tx{
	{id: "T1", customer: "C1", booked: "2026-02-03T09:00:00Z", amount: "-12.34"},
	{id: "T2", customer: "C1", booked: "2026-02-10T10:00:00+01:00", amount: "2500.00", desc: "SALARY"},
	{id: "T3", customer: "C1", booked: "2026-03-01T08:00:00Z", amount: "-5.00", desc: "=HYPERLINK(\"http://x\")"},
	{id: "T4", customer: "C1", booked: "2026-03-02T08:00:00Z", amount: "-7.50", status: "pending"},
	{id: "T5", customer: "C1", booked: "2026-01-31T23:59:59Z", amount: "-1.00"}, // before the period
	{id: "T6", customer: "C1", booked: "2026-05-01T00:00:00Z", amount: "-1.00"}, // at the period's end
	{id: "T7", customer: "C1", booked: "2026-04-20T12:00:00Z", amount: "-99.99", late: 20 * 24 * time.Hour},
	{id: "T8", customer: "C1", booked: "2026-04-21T12:00:00Z", amount: "-3.10", currency: "EUR"},
	{id: "T9", customer: "C2", booked: "2026-03-05T12:00:00Z", amount: "-8.00"},
	{id: "T10", customer: "C3", booked: "2026-03-06T12:00:00Z", amount: "-9.00"},
	{id: "T11", customer: "C1", booked: "2026-03-07T12:00:00Z", amount: "12.345"}, // GBP has 2 decimals: quarantined
	{customer: "C1", raw: `{"transaction_id":`},                                   // not JSON: quarantined
	{id: "T12", customer: "C1", booked: "2026-03-08T12:00:00Z", amount: "-4.00", key: "C1"},
}

// released are the ids C1's self release must hold, oldest first.
var released = []string{"T1", "T2", "T3", "T12", "T7", "T8"}

func seedData(t *testing.T, b *bench, balancer kafka.Balancer) {
	t.Helper()
	var msgs []kafka.Message
	for _, x := range dataset {
		msgs = append(msgs, x.message())
	}
	produce(t, b.brokers, b.topic, balancer, msgs...)
	produce(t, b.brokers, b.consent, &kafka.Hash{},
		consentEvent("K-1", "C1", "self", "granted", "transactions,merchant"),
		consentEvent("K-2", "C2", "self", "granted", "transactions"),
		consentEvent("K-3", "C2", "self", "revoked", "transactions"), // the latest event wins
		consentEvent("K-4", "C3", "self", "granted", "transactions,balances,merchant"),
	)
}

func request(customer string, formats ...string) pipeline.Request {
	if len(formats) == 0 {
		formats = []string{"midata-csv", "ndjson"}
	}
	return pipeline.Request{CustomerID: schemas.CustomerID(customer), Recipient: "self", From: from, To: to, Formats: formats}
}

func (b *bench) read(t *testing.T, key string) []byte {
	t.Helper()
	rc, err := b.sink.Open(t.Context(), key)
	if err != nil {
		t.Fatalf("open %s: %v", key, err)
	}
	defer rc.Close()
	body, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return body
}

// file reads the file a recipient downloads as name from committed release
// id: the object its manifest names.
func (b *bench) file(t *testing.T, id, name string) []byte {
	t.Helper()
	m, err := release.ParseManifest(b.read(t, pipeline.Prefix(id)+release.ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(m.Resources, func(rs release.Resource) bool { return rs.Path == name })
	if i < 0 {
		t.Fatalf("release %s has no file %s", id, name)
	}
	return b.read(t, releasestore.Key(id, m.Resources[i]))
}

func TestReleaseOfOneCustomerEndToEnd(t *testing.T) {
	b := newBench(t, 4)
	seedData(t, b, kafka.Murmur2Balancer{})
	r := b.runner(t, "murmur2", nil)

	res, err := r.Release(t.Context(), request("C1"))
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.Status != release.StatusCommitted {
		t.Fatalf("status = %s (%s), want committed", res.Status, res.Reason)
	}

	t.Run("only the customer's partition is read", func(t *testing.T) {
		want := kafkasource.PartitionFor(kafka.Murmur2Balancer{}, "C1", 4)
		if !res.Snapshot.Pruned || len(res.Snapshot.Partitions) != 1 || res.Snapshot.Partitions[0].Partition != want {
			t.Fatalf("snapshot = %+v, want pruned to partition %d", res.Snapshot, want)
		}
	})

	t.Run("stats count every scanned record once", func(t *testing.T) {
		s := res.Stats
		if s.Released != int64(len(released)) || s.Quarantined != 2 || s.Excluded["pending"] != 1 || s.Excluded["outside_period"] != 2 {
			t.Fatalf("stats = %+v, want released %d, quarantined 2, pending 1, outside_period 2", s, len(released))
		}
		var excluded int64
		for _, n := range s.Excluded {
			excluded += n
		}
		if s.Scanned != s.Released+excluded+s.Quarantined {
			t.Fatalf("scanned %d != released %d + excluded %d + quarantined %d", s.Scanned, s.Released, excluded, s.Quarantined)
		}
	})

	files := map[string][]byte{}
	for _, f := range res.Files {
		body := b.read(t, f.Path)
		sum := sha256.Sum256(body)
		if f.Format == "readme" {
			continue
		}
		if hex.EncodeToString(sum[:]) != f.SHA256 || int64(len(body)) != f.Bytes || f.Rows != int64(len(released)) {
			t.Errorf("%s: stored %d bytes sha256 %x, result says %d bytes %s, %d rows", f.Format, len(body), sum, f.Bytes, f.SHA256, f.Rows)
		}
		files[f.Format] = body
	}

	t.Run("ndjson holds the released records oldest first with exact text and granted fields only", func(t *testing.T) {
		var ids []string
		sc := bufio.NewScanner(bytes.NewReader(files["ndjson"]))
		for sc.Scan() {
			var rec map[string]any
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
				t.Fatalf("line %q: %v", sc.Text(), err)
			}
			ids = append(ids, rec["transaction_id"].(string))
			if _, ok := rec["balance_after"]; ok {
				t.Errorf("%s carries balance_after, but balances were not granted", rec["transaction_id"])
			}
			if _, ok := rec["merchant"]; !ok {
				t.Errorf("%s lacks merchant, which was granted", rec["transaction_id"])
			}
			if rec["transaction_id"] == "T2" && (rec["amount"] != "2500.00" || rec["booked_at"] != "2026-02-10T09:00:00Z") {
				t.Errorf("T2 = %v, want exact amount 2500.00 and booked_at in UTC", rec)
			}
		}
		if !slices.Equal(ids, released) {
			t.Fatalf("ndjson ids = %v, want %v", ids, released)
		}
	})

	t.Run("midata CSV is newest first with neutralised cells and no balance", func(t *testing.T) {
		body := files["midata-csv"]
		if !bytes.Contains(body, []byte("\r\n")) {
			t.Error("midata CSV lines do not end in CRLF")
		}
		rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
		if err != nil {
			t.Fatalf("parse midata CSV: %v", err)
		}
		if got := strings.Join(rows[0], ","); got != "Date,Type,Merchant/Description,Debit/Credit,Balance" {
			t.Fatalf("header = %q", got)
		}
		if len(rows) != len(released)+1 {
			t.Fatalf("%d rows, want %d", len(rows)-1, len(released))
		}
		if rows[1][0] != "21/04/2026" || rows[1][3] != "-EUR3.10" {
			t.Errorf("first row = %v, want the newest (21/04/2026, -EUR3.10)", rows[1])
		}
		if last := rows[len(rows)-1]; last[0] != "03/02/2026" || last[3] != "-£12.34" {
			t.Errorf("last row = %v, want the oldest (03/02/2026, -£12.34)", last)
		}
		var sawFormula bool
		for _, row := range rows[1:] {
			if row[4] != "" {
				t.Errorf("row %v has a balance, but balances were not granted", row)
			}
			if strings.Contains(row[2], "HYPERLINK") {
				sawFormula = true
				if !strings.HasPrefix(row[2], "'=") {
					t.Errorf("formula description %q is not neutralised", row[2])
				}
			}
		}
		if !sawFormula {
			t.Error("the formula description is missing")
		}
	})

	t.Run("the manifest is committed last and explains the release", func(t *testing.T) {
		m, err := release.ParseManifest(b.read(t, pipeline.Prefix(res.ReleaseID)+release.ManifestFile))
		if err != nil {
			t.Fatal(err)
		}
		if m.ID != res.ReleaseID || m.Midata.ConsentIDs[0] != "K-1" || m.Midata.Counts.Released != int64(len(released)) ||
			!m.Midata.Period.From.Equal(from) || len(m.Midata.Snapshot.Partitions) != 1 || m.Midata.Snapshot.Partitions[0].End == 0 {
			t.Fatalf("manifest = %+v", m)
		}
		if m.Schema != release.DataPackageProfile || len(m.Resources) != 3 {
			t.Fatalf("manifest profile %q with %d resources, want a Data Package v2 with 2 files and the readme", m.Schema, len(m.Resources))
		}
		for _, rs := range m.Resources {
			if dir, name := path.Split(rs.Object); dir == "" || name != rs.Path {
				t.Errorf("resource %s is stored at %q, want <attempt>/%s", rs.Path, rs.Object, rs.Path)
			}
			body := b.read(t, releasestore.Key(res.ReleaseID, rs))
			sum := sha256.Sum256(body)
			if rs.Hash != "sha256:"+hex.EncodeToString(sum[:]) || rs.Bytes != int64(len(body)) {
				t.Errorf("resource %s: hash %s bytes %d do not match the stored file", rs.Path, rs.Hash, rs.Bytes)
			}
			if rs.Name == "readme" {
				for _, other := range m.Resources[:2] {
					if !bytes.Contains(body, []byte(strings.TrimPrefix(other.Hash, "sha256:")+"  "+other.Path+"\r\n")) {
						t.Errorf("README.txt lacks the sha256sum line of %s", other.Path)
					}
				}
			}
		}
	})

	t.Run("invalid records are in quarantine with their reason", func(t *testing.T) {
		msgs := readAll(t, b.brokers, b.quarant, 2)
		var reasons []string
		for _, m := range msgs {
			for _, h := range m.Headers {
				if h.Key == "midata-reason" {
					reasons = append(reasons, string(h.Value))
				}
			}
			if string(m.Key) != "C1" {
				t.Errorf("quarantined key = %q, want the original C1", m.Key)
			}
		}
		if len(reasons) != 2 || !slices.ContainsFunc(reasons, func(s string) bool { return strings.Contains(s, "amount") }) {
			t.Fatalf("quarantine reasons = %q, want 2 with one about the amount", reasons)
		}
	})

	t.Run("links download the files; a tampered link is refused", func(t *testing.T) {
		if len(res.Links) != len(res.Files) {
			t.Fatalf("%d links for %d files", len(res.Links), len(res.Files))
		}
		for _, l := range res.Links {
			if l.Path == release.ReadmeFile {
				continue
			}
			if d := time.Until(l.ExpiresAt); d < 6*24*time.Hour || d > 7*24*time.Hour {
				t.Errorf("link expires in %s, want the default 7 days", d)
			}
			status, body := get(t, l.URL)
			format := "ndjson"
			if strings.HasSuffix(l.Path, ".midata.csv") {
				format = "midata-csv"
			}
			if status != http.StatusOK || !bytes.Equal(body, files[format]) {
				t.Errorf("GET %s = %d, %d bytes; want 200 and the file", l.Path, status, len(body))
			}
			tampered := strings.Replace(l.URL, "transactions", "transactionz", 1)
			if status, _ := get(t, tampered); status != http.StatusForbidden {
				t.Errorf("GET tampered link = %d, want 403", status)
			}
		}
	})

	t.Run("the same request again finds the committed release and writes nothing", func(t *testing.T) {
		before := b.keys(t, pipeline.Prefix(res.ReleaseID))
		counting := &countingSink{Sink: b.sink}
		again, err := b.runner(t, "murmur2", counting).Release(t.Context(), request("C1"))
		if err != nil {
			t.Fatal(err)
		}
		if again.ReleaseID != res.ReleaseID || again.Status != release.StatusAlreadyCommitted {
			t.Fatalf("re-run = %s %s, want %s already_committed", again.ReleaseID, again.Status, res.ReleaseID)
		}
		for i, f := range again.Files {
			if f.SHA256 != res.Files[i].SHA256 {
				t.Errorf("re-run %s sha256 %s, want %s", f.Format, f.SHA256, res.Files[i].SHA256)
			}
		}
		if after := b.keys(t, pipeline.Prefix(res.ReleaseID)); !slices.Equal(before, after) {
			t.Errorf("objects changed: %v → %v", before, after)
		}
		if counting.writes.Load() != 0 {
			t.Errorf("the re-run wrote %d objects, want none", counting.writes.Load())
		}
	})
}

func TestReleaseIsByteIdenticalWhenMadeAgainFromScratch(t *testing.T) {
	b := newBench(t, 3)
	seedData(t, b, kafka.Murmur2Balancer{})
	first, err := b.runner(t, "murmur2", nil).Release(t.Context(), request("C1"))
	if err != nil {
		t.Fatal(err)
	}
	// A second store, the same Kafka snapshot: the same id and bytes.
	other := newBench(t, 1)
	second, err := b.runner(t, "murmur2", other.sink).Release(t.Context(), request("C1"))
	if err != nil {
		t.Fatal(err)
	}
	if first.ReleaseID != second.ReleaseID || second.Status != release.StatusCommitted {
		t.Fatalf("second release %s %s, want %s committed", second.ReleaseID, second.Status, first.ReleaseID)
	}
	if len(first.Files) != len(second.Files) {
		t.Fatalf("%d files, then %d", len(first.Files), len(second.Files))
	}
	for i, f := range first.Files {
		name := filepath.Base(f.Path)
		if f.Format == "readme" {
			continue
		}
		a, c := b.file(t, first.ReleaseID, name), other.file(t, second.ReleaseID, name)
		if !bytes.Equal(a, c) || f.SHA256 != second.Files[i].SHA256 {
			t.Errorf("%s differs between the two stores", name)
		}
	}
}

// countingSink counts the objects a runner writes through it.
type countingSink struct {
	sinks.Sink
	writes atomic.Int64
}

func (s *countingSink) Create(ctx context.Context, key string) (sinks.ObjectWriter, error) {
	s.writes.Add(1)
	return s.Sink.Create(ctx, key)
}

func (s *countingSink) Commit(ctx context.Context, key string, body []byte) error {
	s.writes.Add(1)
	return s.Sink.Commit(ctx, key, body)
}

func TestReleaseOfGrantedCategories(t *testing.T) {
	b := newBench(t, 2)
	seedData(t, b, kafka.Murmur2Balancer{})
	res, err := b.runner(t, "murmur2", nil).Release(t.Context(), request("C3"))
	if err != nil || res.Status != release.StatusCommitted {
		t.Fatalf("Run = %+v, %v", res, err)
	}
	ndjson := b.file(t, res.ReleaseID, "transactions.ndjson")
	if !bytes.Contains(ndjson, []byte(`"balance_after":"1234.56"`)) {
		t.Errorf("balances granted, but ndjson has no balance: %s", ndjson)
	}
	midata := b.file(t, res.ReleaseID, "transactions.midata.csv")
	if !bytes.Contains(midata, []byte(",+£1234.56\r\n")) {
		t.Errorf("balances granted, but the midata CSV has no balance: %s", midata)
	}
}

func TestReleaseWithoutConsentWritesNothing(t *testing.T) {
	b := newBench(t, 2)
	seedData(t, b, kafka.Murmur2Balancer{})
	r := b.runner(t, "murmur2", nil)
	for _, customer := range []string{"C2" /* revoked */, "C9" /* never asked */} {
		res, err := r.Release(t.Context(), request(customer))
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != release.StatusNoConsent || res.ReleaseID != "" || res.Reason == "" {
			t.Errorf("%s: %+v, want no_consent with a reason and no release", customer, res)
		}
	}
	// Another recipient than the one consented to.
	req := request("C1")
	req.Recipient = "partner:pds-one"
	if res, err := r.Release(t.Context(), req); err != nil || res.Status != release.StatusNoConsent {
		t.Errorf("partner release without partner consent = %+v, %v", res, err)
	}
	if keys := b.keys(t, "releases/"); len(keys) != 0 {
		t.Fatalf("objects written without consent: %v", keys)
	}
}

func TestReleaseWithConsentButNoRecordsIsEmpty(t *testing.T) {
	b := newBench(t, 2)
	seedData(t, b, kafka.Murmur2Balancer{})
	req := request("C1")
	req.From, req.To = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)
	res, err := b.runner(t, "murmur2", nil).Release(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != release.StatusEmpty || res.Stats.Released != 0 || len(res.Files) != 3 {
		t.Fatalf("res = %+v, want empty with two committed files and the readme", res)
	}
}

func TestReleaseFromATopicOfAnotherPartitionerScansEveryPartition(t *testing.T) {
	b := newBench(t, 6)
	// The producers used kafka-go's Hash (fnv1a): C1 sits on partition 5,
	// where murmur2 would put it on 3.
	seedData(t, b, &kafka.Hash{})
	res, err := b.runner(t, "murmur2", nil).Release(t.Context(), request("C1"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Snapshot.Pruned || len(res.Snapshot.Partitions) != 6 {
		t.Fatalf("snapshot = %+v, want every partition after the partitioner mismatch", res.Snapshot)
	}
	if res.Stats.Released != int64(len(released)) {
		t.Fatalf("released %d, want %d: records lost to a partitioner mismatch", res.Stats.Released, len(released))
	}
}

// revokingSink revokes the consent when the release starts staging, so the
// revocation lands between plan and commit.
type revokingSink struct {
	sinks.Sink
	once   sync.Once
	revoke func() error
	err    error
}

func (s *revokingSink) Create(ctx context.Context, key string) (sinks.ObjectWriter, error) {
	s.once.Do(func() { s.err = s.revoke() })
	if s.err != nil {
		return nil, s.err
	}
	return s.Sink.Create(ctx, key)
}

func (s *revokingSink) Delete(ctx context.Context, key string) error {
	return s.Sink.(sinks.Deleter).Delete(ctx, key)
}

func TestRevocationBeforeCommitCancelsTheRelease(t *testing.T) {
	b := newBench(t, 2)
	seedData(t, b, kafka.Murmur2Balancer{})
	sink := &revokingSink{Sink: b.sink, revoke: func() error {
		produce(t, b.brokers, b.consent, &kafka.Hash{}, consentEvent("K-1r", "C1", "self", "revoked", "transactions"))
		return nil
	}}
	res, err := b.runner(t, "murmur2", sink).Release(t.Context(), request("C1"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != release.StatusCancelled || !strings.Contains(res.Reason, "revoked") {
		t.Fatalf("res = %s %q, want cancelled because of the revocation", res.Status, res.Reason)
	}
	if keys := b.keys(t, "releases/"); len(keys) != 0 {
		t.Fatalf("a cancelled release left objects: %v", keys)
	}
}

func TestReleaseOfAnUnknownTopicFailsWithAClearError(t *testing.T) {
	b := newBench(t, 1)
	produce(t, b.brokers, b.consent, &kafka.Hash{}, consentEvent("K-1", "C1", "self", "granted", "transactions"))
	src, err := kafkasource.New(kafkasource.Config{Kafka: topics.Connection{Brokers: b.brokers}, Topic: "no-such-topic-" + b.topic})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	prod := topics.NewProducer(topics.Connection{Brokers: b.brokers}, nil)
	defer prod.Close()
	r, err := pipeline.NewRunner(pipeline.Config{Source: src, Grants: b.grants(t, prod), Producer: prod, Sink: b.sink, QuarantineTopic: b.quarant})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Release(t.Context(), request("C1"))
	if err == nil || !strings.Contains(err.Error(), "no-such-topic") {
		t.Fatalf("Run = %v, want an error naming the topic", err)
	}
}

func readAll(t *testing.T, brokers []string, topic string, want int) []kafka.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: 0, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	var out []kafka.Message
	for len(out) < want {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("read %s: got %d of %d messages: %v", topic, len(out), want, err)
		}
		out = append(out, m)
	}
	return out
}

// noKeepAlive fetches links without keeping idle connections (the bench's
// S3 server keeps them alive; goleak would see their goroutines).
var noKeepAlive = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := noKeepAlive.Get(url)
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

func TestAGarbledLatestConsentEventLeavesNoConsent(t *testing.T) {
	b := newBench(t, 2)
	seedData(t, b, kafka.Murmur2Balancer{})
	// A revocation with a misspelt category is invalid: it must not leave
	// the grant before it in force.
	garbled := consentEvent("K-1x", "C1", "self", "revoked", "Transactions")
	produce(t, b.brokers, b.consent, &kafka.Hash{}, garbled)
	r := b.runner(t, "murmur2", nil)
	for range 2 {
		res, err := r.Release(t.Context(), request("C1"))
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != release.StatusNoConsent {
			t.Fatalf("status = %s, want no_consent after a garbled latest event", res.Status)
		}
	}
	// Quarantined once, though the topic was read twice.
	msgs := readAll(t, b.brokers, b.quarant, 1)
	if string(msgs[0].Key) != "C1|self" {
		t.Fatalf("quarantined %q, want the garbled consent event", msgs[0].Key)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	rd := kafka.NewReader(kafka.ReaderConfig{Brokers: b.brokers, Topic: b.quarant, Partition: 0, MaxWait: 100 * time.Millisecond})
	defer rd.Close()
	rd.SetOffset(1)
	if m, err := rd.ReadMessage(ctx); err == nil {
		t.Fatalf("a second quarantined message %q: consent events are quarantined once per process", m.Key)
	}
}

func TestAConsentChangeThatStillCoversTheReleaseLetsItCommit(t *testing.T) {
	b := newBench(t, 2)
	seedData(t, b, kafka.Murmur2Balancer{})
	sink := &revokingSink{Sink: b.sink, revoke: func() error {
		// A broader grant lands while the release is staged.
		produce(t, b.brokers, b.consent, &kafka.Hash{}, consentEvent("K-1b", "C1", "self", "granted", "transactions,merchant,balances"))
		return nil
	}}
	res, err := b.runner(t, "murmur2", sink).Release(t.Context(), request("C1"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != release.StatusCommitted {
		t.Fatalf("status = %s (%s), want committed: the new grant covers what was staged", res.Status, res.Reason)
	}
}

func TestReleaseWithoutAConsentTopicFailsNamingIt(t *testing.T) {
	// The consent view is opened once, before any release: that is where a
	// missing consent topic is found.
	b := newBench(t, 1)
	prod := topics.NewProducer(topics.Connection{Brokers: b.brokers}, nil)
	defer prod.Close()
	v, err := consent.OpenView(t.Context(), consent.ViewConfig{Kafka: topics.Connection{Brokers: b.brokers}, Topic: "no-such-consent-" + b.consent, Quarantine: prod})
	if err == nil {
		v.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "no-such-consent-") {
		t.Fatalf("OpenView = %v, want an error naming the consent topic", err)
	}
}

// TestEveryValidAmountIsInEveryFile: an amount of 14 integer digits is
// valid input (18 significant digits), but was beyond Parquet's
// DECIMAL(18,5) and Open Banking's 13 integer digits, so a release asking
// for parquet or json left the record out of every file, ndjson and csv too
// (trust issue, finding 12).
func TestEveryValidAmountIsInEveryFile(t *testing.T) {
	b := newBench(t, 1)
	seedData(t, b, kafka.Murmur2Balancer{})
	produce(t, b.brokers, b.topic, kafka.Murmur2Balancer{}, tx{id: "THUGE", customer: "C1", booked: "2026-03-20T12:00:00Z", amount: "-12345678901234.00"}.message())
	r := b.runner(t, "murmur2", nil)
	res, err := r.Release(t.Context(), request("C1", "ndjson", "json", "parquet"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != release.StatusCommitted || len(res.Stats.Excluded) != 0 && res.Stats.Excluded[pipeline.NotRepresentable] != 0 || res.Stats.Released != int64(len(released))+1 {
		t.Fatalf("res = %s %+v, want every record released, the huge one too", res.Status, res.Stats)
	}
	for file, want := range map[string]string{"transactions.ndjson": `"amount":"-12345678901234.00"`, "transactions.json": `"Amount":"12345678901234.00"`} {
		if got := b.file(t, res.ReleaseID, file); !bytes.Contains(got, []byte(want)) {
			t.Errorf("%s does not hold %s", file, want)
		}
	}
}
