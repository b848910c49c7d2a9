package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/pipeline"
	"github.com/midata/midata/schemas/release"
	"github.com/midata/midata/schemas/synth"
)

// TestSeedAndExportOverSASLSSL runs `midata seed` and `midata export` as an
// operator of a secured cluster would: the bench broker's SASL_SSL
// listener, its CA, a SCRAM-SHA-512 user, the password in a file, all in
// one config file. A wrong password fails the command with one line that
// says SASL refused it.
func TestSeedAndExportOverSASLSSL(t *testing.T) {
	k := testbench.KafkaSASL(t)
	srv, ok := testbench.S3(t)
	if !ok {
		t.Skip("export writes to S3: set MIDATA_TEST_S3 (make test does)")
	}
	setS3Env(t, srv)
	dir := t.TempDir()
	pw := filepath.Join(dir, "kafka-password")
	if err := os.WriteFile(pw, []byte(k.Scram.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := synth.DefaultConfig()
	cfg.Customers, cfg.Transactions, cfg.Malformed = 8, 400, 0
	cfg.TransactionsTopic, cfg.ConsentTopic = testbench.UniqueName(t, "tx"), testbench.UniqueName(t, "consent")
	quarantine := testbench.UniqueName(t, "quarantine")
	writeConfig := func(name, password string) string {
		path := filepath.Join(dir, name)
		doc := fmt.Sprintf(`kafka:
  brokers: [%q]
  tls: {enabled: true, ca_file: %q}
  sasl: {mechanism: SCRAM-SHA-512, username: %q, password_file: %q}
topics: {transactions: %q, consent: %q, quarantine: %q}
s3: {endpoint: %q, bucket: %q, region: %q}
synth: {customers: %d, transactions: %d, malformed: 0, partitions: 2}
`, k.Addr, k.CAFile, k.Scram.Name, password, cfg.TransactionsTopic, cfg.ConsentTopic, quarantine,
			srv.Endpoint, testbench.Bucket(t, srv), srv.Region, cfg.Customers, cfg.Transactions)
		if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := writeConfig("good.yaml", pw)

	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), []string{"seed", "--config", good}, &stdout, &stderr); code != 0 {
		t.Fatalf("seed over SASL_SSL: exit %d: %s", code, stderr.String())
	}
	o := readOracle(t, cfg)
	from, to := cfg.End.AddDate(0, -3, 0), cfg.End
	customer := ""
	for i := 1; i <= cfg.Customers && customer == ""; i++ {
		c := fmt.Sprintf("C%06d", i)
		if _, ok := o.grant(c, time.Now()); ok && len(o.released(c, from, to)) > 0 {
			customer = c
		}
	}
	if customer == "" {
		t.Fatal("the data set has no customer with a self grant and transactions")
	}
	stdout.Reset()
	stderr.Reset()
	code := run(t.Context(), []string{"export", "--config", good, "--customer", customer,
		"--from", from.Format("2006-01-02"), "--to", to.Format("2006-01-02"), "--format", "ndjson"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("export over SASL_SSL: exit %d: %s", code, stderr.String())
	}
	var res pipeline.Result
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	if want := o.released(customer, from, to); res.Status != release.StatusCommitted || res.Stats.Released != int64(len(want)) {
		t.Errorf("export = %s with %d rows, want committed with %d", res.Status, res.Stats.Released, len(want))
	}

	badPW := filepath.Join(dir, "wrong")
	os.WriteFile(badPW, []byte("not-the-password\n"), 0o600)
	stderr.Reset()
	code = run(t.Context(), []string{"export", "--config", writeConfig("bad.yaml", badPW), "--customer", customer,
		"--from", from.Format("2006-01-02"), "--to", to.Format("2006-01-02")}, &stdout, &stderr)
	if msg := strings.TrimSpace(stderr.String()); code == 0 || !strings.Contains(msg, "SASL") || strings.Contains(msg, "not-the-password") {
		t.Errorf("export with a wrong password: exit %d, %q; want a failure that says SASL, without the password", code, msg)
	}
}
