package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/pipeline/bench"
)

// envRunMain makes the test binary midata itself: `midata bench` starts
// its serve and export children from os.Executable, which in a test is
// this binary.
const envRunMain = "MIDATA_TEST_RUN_MAIN"

func init() {
	if os.Getenv(envRunMain) != "1" {
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// twoWorkersRan matches the note of a two-worker run whose tasks both
// workers ran.
var twoWorkersRan = regexp.MustCompile(`tasks [1-9][0-9]*\+[1-9][0-9]*,`)

// TestBenchSmokeMeasuresEveryFigure runs `midata bench` at a tiny scale
// against the real servers so that the tool keeps working: every figure
// is there with a positive value. (The full bench is `make bench`; no
// figure is judged here.)
func TestBenchSmokeMeasuresEveryFigure(t *testing.T) {
	srv, ok := testbench.S3(t)
	if !ok {
		t.Skip("needs the real Kafka and S3: make bench-up")
	}
	brokers := testbench.Kafka(t)
	t.Setenv(envRunMain, "1")
	t.Setenv("MIDATA_KAFKA_BROKERS", strings.Join(brokers, ","))
	t.Setenv("MIDATA_S3_ENDPOINT", srv.Endpoint)
	t.Setenv("MIDATA_S3_REGION", srv.Region)
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	t.Setenv("MIDATA_CONFIG", "")
	out := filepath.Join(t.TempDir(), "bench.json")
	prefix := testbench.UniqueName(t, "smoke")
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	if code := run(ctx, []string{"bench", "--shapes", "typical", "--scale", "0.001", "--run-timeout", "2m", "--out", out, "--prefix", prefix}, &stdout, &stderr); code != 0 {
		t.Fatalf("midata bench exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	t.Logf("\n%s", stdout.String())
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var r bench.Report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"seed", "raw_consume",
		"raw_s3_put.csv", "limit.csv", "bulk.csv", "raw_s3_put.ndjson", "limit.ndjson", "bulk.ndjson",
		"raw_s3_put.parquet", "limit.parquet", "bulk.parquet", "bulk.ndjson.two_workers",
		"one_customer.shell", "one_customer.export", "one_customer.scanned_share", "peak_rss.N", "peak_rss.10N"} {
		f, ok := r.Find("typical", name)
		switch {
		case !ok:
			t.Errorf("no figure %s", name)
		case f.Value <= 0:
			t.Errorf("figure %s = %v, want > 0", name, f.Value)
		case f.Baseline != "" && f.Ratio <= 0:
			t.Errorf("figure %s: ratio to %s = %v, want > 0", name, f.Baseline, f.Ratio)
		}
	}
	// Both workers of the two-worker run took some of its tasks (one per
	// partition of the transactions topic): it measured two, not one.
	if f, ok := r.Find("typical", "bulk.ndjson.two_workers"); ok && !twoWorkersRan.MatchString(f.Note) {
		t.Errorf("two-worker run: %q; want tasks run by both workers (tasks a+b)", f.Note)
	}
	if len(r.Errors) > 0 {
		t.Errorf("not measured: %q", r.Errors)
	}
	// Every bucket the bench made is gone again (a full bench writes tens
	// of gigabytes; once they filled the test machine's disk).
	buckets, err := testbench.S3Client(srv).ListBuckets(t.Context(), &s3.ListBucketsInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, bk := range buckets.Buckets {
		if name := aws.ToString(bk.Name); strings.HasPrefix(name, prefix) {
			t.Errorf("bucket %s left behind", name)
		}
	}
}
