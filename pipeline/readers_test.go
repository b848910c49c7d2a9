package pipeline_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/midata/midata/pipeline"
	"github.com/midata/midata/pipeline/releasestore"
	"github.com/midata/midata/pipeline/seed"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/schemas/release"
	"github.com/midata/midata/schemas/synth"
)

// checkRelease is the script that opens a release with readers we did not
// write (DuckDB, pyarrow, Python's csv and json), relative to this package.
const checkRelease = "../deploy/testbench/readers/check_release.py"

// readersPython is the Python with pyarrow and duckdb that test.sh sets up.
func readersPython(t *testing.T) string {
	t.Helper()
	py := os.Getenv("MIDATA_TEST_PYTHON")
	if py == "" {
		const msg = "set MIDATA_TEST_PYTHON (make test does): a Python with deploy/testbench/readers/requirements.txt installed"
		if os.Getenv("MIDATA_TEST_REQUIRE_BENCH") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return py
}

// runReaders runs check_release.py on dir and returns its output and
// whether it exited 0 (any other failure to run it fails the test).
func runReaders(t *testing.T, python, dir string) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, python, checkRelease, dir).CombinedOutput()
	if err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Fatalf("run %s %s: %v\n%s", python, checkRelease, err, out)
		}
		return string(out), false
	}
	return string(out), true
}

// summaryLine is the script's last line.
var summaryLine = regexp.MustCompile(`(?m)^readers: (\d+) passed, (\d+) failed$`)

// download writes the committed release id's manifest and every resource
// it lists into dir, as a recipient would have them.
func download(t *testing.T, b *bench, id, dir string) *release.Manifest {
	t.Helper()
	raw := b.read(t, pipeline.Prefix(id)+release.ManifestFile)
	m, err := release.ParseManifest(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, release.ManifestFile), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, rs := range m.Resources {
		if !filepath.IsLocal(rs.Path) {
			t.Fatalf("resource path %q is not a local path", rs.Path)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(rs.Path)), b.read(t, releasestore.Key(id, rs)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

// releaseAllFormats runs a self release of customer in every registered
// format and downloads it into dir.
func releaseAllFormats(t *testing.T, b *bench, customer, dir string) *release.Manifest {
	t.Helper()
	res, err := b.runner(t, "murmur2", nil).Release(t.Context(), request(customer, release.Names()...))
	if err != nil {
		t.Fatalf("Run %s: %v", customer, err)
	}
	if res.Status != release.StatusCommitted {
		t.Fatalf("Run %s: status %s (%s), want committed", customer, res.Status, res.Reason)
	}
	return download(t, b, res.ReleaseID, dir)
}

// readerEdges are records of C1, on top of seed's, that readers trip on:
// quoting, neutralised cells, UK dates across midnight in summer time,
// nanoseconds, a currency without minor units, zero and the largest amount
// Open Banking allows.
var readerEdges = []tx{
	{id: "TR1", customer: "C1", booked: "2026-04-10T23:30:00Z", amount: "-1.99", desc: "@SUM(A1) late night, dated 11/04 in UK time"},
	{id: "TR2", customer: "C1", booked: "2026-03-15T10:00:00.123456789Z", amount: "0.00", desc: "+ZERO \"quoted\", with comma"},
	{customer: "C1", booked: "2026-03-16T10:00:00+05:30", // yen: no balance_after with pence
		raw: `{"transaction_id":"TR3","customer_id":"C1","account_id":"A-C1-JPY","booked_at":"2026-03-16T10:00:00+05:30","amount":"1500","currency":"JPY","type":"FPI","description":"\tTAB first\nthen a new line"}`},
	{id: "TR4", customer: "C1", booked: "2026-03-17T10:00:00Z", amount: "-9999999999999.99", desc: "-LARGEST ÄMOUNT €"},
	{id: "TR5", customer: "C1", booked: "2026-03-29T00:30:00Z", amount: "7.01", desc: "the night the clocks go forward"},
}

func TestReleaseOpensInIndependentReaders(t *testing.T) {
	python := readersPython(t)
	b := newBench(t, 4)
	// The hand-made set (a formula description, a EUR amount, an offset
	// time, late and pending records) and a synthetic one: a customer with
	// GBP and EUR accounts, regulars, refunds and balances.
	seedData(t, b, kafka.Murmur2Balancer{})
	var edges []kafka.Message
	for _, x := range readerEdges {
		edges = append(edges, x.message())
	}
	produce(t, b.brokers, b.topic, kafka.Murmur2Balancer{}, edges...)
	cfg := synth.DefaultConfig()
	cfg.Customers, cfg.Transactions, cfg.Malformed = 8, 1600, 7
	cfg.Start, cfg.End = from, to
	cfg.TransactionsTopic, cfg.ConsentTopic = b.topic, b.consent
	if _, err := seed.Produce(t.Context(), topics.Connection{Brokers: b.brokers}, cfg, kafka.Murmur2Balancer{}); err != nil {
		t.Fatal(err)
	}
	// C000008 (index 7) has a euro account; grant it every category.
	const rich = "C000008"
	produce(t, b.brokers, b.consent, &kafka.Hash{}, consentEvent("K-readers", rich, "self", "granted", "transactions,balances,merchant"))

	dirs := map[string]string{}
	for _, customer := range []string{"C1", rich} {
		dir := t.TempDir()
		m := releaseAllFormats(t, b, customer, dir)
		dirs[customer] = dir
		t.Run("the release of "+customer+" passes every reader check", func(t *testing.T) {
			out, ok := runReaders(t, python, dir)
			t.Logf("check_release.py %s:\n%s", customer, out)
			if !ok {
				t.Fatalf("check_release.py failed on the release of %s:\n%s", customer, out)
			}
			sm := summaryLine.FindStringSubmatch(out)
			if sm == nil || sm[2] != "0" || sm[1] == "0" {
				t.Fatalf("no summary line with checks passed and none failed in:\n%s", out)
			}
			// Every file was looked at, and every registered format is in
			// the release.
			for _, rs := range m.Resources {
				if !strings.Contains(out, rs.Path) {
					t.Errorf("the output never names %s", rs.Path)
				}
			}
			for _, name := range release.Names() {
				f, _ := release.Lookup(name)
				if _, err := os.Stat(filepath.Join(dir, f.File)); err != nil {
					t.Errorf("format %s: %v", name, err)
				}
			}
			if m.Midata.Counts.Released < int64(len(released)+len(readerEdges)) {
				t.Errorf("released %d records, want a release worth reading", m.Midata.Counts.Released)
			}
		})
	}

	// Each change to a copy of C1's release must fail the script.
	good := dirs["C1"]
	for _, tc := range []struct {
		name   string
		file   string              // the file changed
		change func([]byte) []byte // how; the manifest is updated to match unless stale
		py     string              // or Python run on the file (sys.argv[1]) with pyarrow
		stale  bool                // keep the manifest's bytes and hash as they were
		want   []string            // what a FAIL line says
	}{
		{
			name: "one flipped byte is caught by the hash and names the file",
			file: "transactions.ndjson", stale: true,
			change: func(b []byte) []byte { b[len(b)/2] ^= 0x01; return b },
			want:   []string{"transactions.ndjson", "sha256"},
		},
		{
			name: "an Open Banking amount with six places fails the amount pattern",
			file: "transactions.json",
			change: func(b []byte) []byte {
				return bytes.Replace(b, []byte(`"Amount":"12.34"`), []byte(`"Amount":"12.340000"`), 1)
			},
			want: []string{"transactions.json", "Amount"},
		},
		{
			name: "a CSV that lost its last row disagrees with the manifest's rows",
			file: "transactions.csv",
			change: func(b []byte) []byte {
				lines := bytes.SplitAfter(b, []byte("\r\n"))
				return bytes.Join(lines[:len(lines)-2], nil)
			},
			want: []string{"transactions.csv", "rows"},
		},
		{
			name: "a midata CSV amount off by a penny no longer matches the ndjson",
			file: "transactions.midata.csv",
			change: func(b []byte) []byte {
				return bytes.Replace(b, []byte("-£12.34"), []byte("-£12.35"), 1)
			},
			want: []string{"transactions.midata.csv"},
		},
		{
			name: "a midata CSV with LF line ends is refused",
			file: "transactions.midata.csv",
			change: func(b []byte) []byte {
				return bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
			},
			want: []string{"transactions.midata.csv", "CRLF"},
		},
		{
			name: "an ndjson amount changed in place breaks the sums across formats",
			file: "transactions.ndjson",
			change: func(b []byte) []byte {
				return bytes.Replace(b, []byte(`"amount":"2500.00"`), []byte(`"amount":"2500.01"`), 1)
			},
			want: []string{"sum"},
		},
		{
			name: "a Parquet amount stored as a double is refused",
			file: "transactions.parquet",
			py:   parquetRewrite + `t = t.set_column(t.schema.get_field_index("amount"), "amount", t["amount"].cast(pa.float64()))` + "\n" + parquetWrite,
			want: []string{"transactions.parquet", "amount is double"},
		},
		{
			name: "a Parquet booked_at without UTC adjustment is refused",
			file: "transactions.parquet",
			py:   parquetRewrite + `t = t.set_column(t.schema.get_field_index("booked_at"), "booked_at", t["booked_at"].cast(pa.timestamp("us")))` + "\n" + parquetWrite,
			want: []string{"transactions.parquet", "booked_at is timestamp[us]", "TIMESTAMP"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyRelease(t, good)
			path := filepath.Join(dir, tc.file)
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var after []byte
			if tc.py != "" {
				if out, err := exec.CommandContext(t.Context(), python, "-c", tc.py, path).CombinedOutput(); err != nil {
					t.Fatalf("rewrite %s: %v\n%s", tc.file, err, out)
				}
				if after, err = os.ReadFile(path); err != nil {
					t.Fatal(err)
				}
			} else {
				after = tc.change(bytes.Clone(before))
				if err := os.WriteFile(path, after, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if bytes.Equal(before, after) {
				t.Fatalf("the change left %s as it was", tc.file)
			}
			if !tc.stale {
				restamp(t, dir, tc.file, after)
			}
			out, ok := runReaders(t, python, dir)
			if ok {
				t.Fatalf("check_release.py passed a release with a changed %s:\n%s", tc.file, out)
			}
			var fails []string
			for _, line := range strings.Split(out, "\n") {
				if strings.HasPrefix(line, "FAIL") {
					fails = append(fails, line)
				}
			}
			failed := strings.Join(fails, "\n")
			t.Logf("check_release.py on the changed release:\n%s", failed)
			for _, w := range tc.want {
				if !strings.Contains(failed, w) {
					t.Errorf("no FAIL line says %q:\n%s", w, out)
				}
			}
			if sm := summaryLine.FindStringSubmatch(out); sm == nil || sm[2] == "0" {
				t.Errorf("the summary line does not count a failure:\n%s", out)
			}
		})
	}
}

// parquetRewrite and parquetWrite open and write back the Parquet file of a
// corruption, as pyarrow would write it.
const (
	parquetRewrite = "import sys, pyarrow as pa, pyarrow.parquet as pq\nt = pq.read_table(sys.argv[1])\n"
	parquetWrite   = "pq.write_table(t, sys.argv[1])\n"
)

// copyRelease copies the files of a downloaded release to a new temp dir.
func copyRelease(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		body, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// restamp sets the bytes and hash of resource path in dir's manifest to
// those of body, so only the checks of the file's content can catch a
// change.
func restamp(t *testing.T, dir, path string, body []byte) {
	t.Helper()
	mpath := filepath.Join(dir, release.ManifestFile)
	raw, err := os.ReadFile(mpath)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	found := false
	for _, r := range m["resources"].([]any) {
		rs := r.(map[string]any)
		if rs["path"] == path {
			rs["bytes"], rs["hash"] = len(body), "sha256:"+hex.EncodeToString(sum[:])
			found = true
		}
	}
	if !found {
		t.Fatalf("no resource %s in the manifest", path)
	}
	out, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mpath, out, 0o644); err != nil {
		t.Fatal(err)
	}
}
