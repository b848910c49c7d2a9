package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/pipeline"
	"github.com/midata/midata/pipeline/kafkasource"
	"github.com/midata/midata/pipeline/seed"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/schemas/release"
	"github.com/midata/midata/schemas/synth"
)

// A new user's first export runs against a cluster that has the input
// topics and nothing of midata's own: export creates the quarantine topic
// before it reads, so the malformed records it meets are kept there.
func TestExportCreatesAMissingQuarantineTopicAndKeepsTheMalformedRecords(t *testing.T) {
	srv, ok := testbench.S3(t)
	if !ok {
		t.Skip("export writes to S3: set MIDATA_TEST_S3 (make test does)")
	}
	brokers := testbench.Kafka(t)
	cfg := synth.DefaultConfig()
	cfg.Customers, cfg.Transactions, cfg.Malformed = 10, 500, 20
	cfg.TransactionsTopic = testbench.UniqueName(t, "tx")
	cfg.ConsentTopic = testbench.UniqueName(t, "consent")
	quarantine := testbench.UniqueName(t, "quarantine") // not created
	// One partition: every customer's partition holds every malformed record.
	testbench.CreateTopic(t, brokers, cfg.TransactionsTopic, 1)
	testbench.CreateTopic(t, brokers, cfg.ConsentTopic, 1)
	if _, err := seed.Produce(t.Context(), topics.Connection{Brokers: brokers}, cfg, nil); err != nil {
		t.Fatal(err)
	}
	// A release decodes only its customer's records: pick a customer with a
	// grant under whose key a malformed record was written.
	malformed := map[string]int{}
	if err := synth.Generate(cfg, func(m synth.Message) error {
		if m.InvalidField != "" {
			malformed[string(m.Key)]++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	o := readOracle(t, cfg)
	var customer string
	for i := 1; i <= cfg.Customers && customer == ""; i++ {
		if c := fmt.Sprintf("C%06d", i); malformed[c] > 0 && len(o.released(c, cfg.Start, cfg.End)) > 0 {
			customer = c
		}
	}
	if customer == "" {
		t.Fatalf("the data set has no customer with a self grant and a malformed record (malformed by key: %v)", malformed)
	}
	want := malformed[customer]

	bucket := testbench.Bucket(t, srv)
	setS3Env(t, srv)
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"export", "--kafka-brokers", strings.Join(brokers, ","), "--s3-endpoint", srv.Endpoint, "--s3-bucket", bucket,
		"--transactions-topic", cfg.TransactionsTopic, "--consent-topic", cfg.ConsentTopic, "--quarantine-topic", quarantine,
		"--customer", customer, "--from", cfg.Start.Format(time.RFC3339), "--to", cfg.End.Format(time.RFC3339)}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("export against a cluster without %s: exit %d: %s", quarantine, code, stderr.String())
	}
	var res pipeline.Result
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("stdout is not a JSON object: %v", err)
	}
	if res.Status != release.StatusCommitted || res.Stats.Quarantined != int64(want) {
		t.Fatalf("export of %s = %s with %d quarantined, want committed with its %d malformed records quarantined", customer, res.Status, res.Stats.Quarantined, want)
	}

	src, err := kafkasource.New(kafkasource.Config{Kafka: topics.Connection{Brokers: brokers}})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var kept []topics.Message
	if err := src.ReadTopic(t.Context(), quarantine, func(m topics.Message) error {
		kept = append(kept, m)
		return nil
	}); err != nil {
		t.Fatalf("read %s: %v", quarantine, err)
	}
	if len(kept) != want {
		t.Fatalf("%s holds %d records, want the %d quarantined", quarantine, len(kept), want)
	}
	for _, m := range kept {
		var reason, source string
		for _, h := range m.Headers {
			switch h.Key {
			case "midata-reason":
				reason = string(h.Value)
			case "midata-source":
				source = string(h.Value)
			}
		}
		if reason == "" || !strings.HasPrefix(source, cfg.TransactionsTopic+"/0/") {
			t.Errorf("quarantined record at %d: reason %q, source %q; want a reason and %s/0/<offset>", m.Offset, reason, source, cfg.TransactionsTopic)
		}
	}
}
