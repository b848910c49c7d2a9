package config_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/midata/midata/pipeline/config"
	"github.com/midata/midata/schemas"
)

// valid returns a configuration that validates: the defaults plus the two
// required keys, a token and a schedule.
func valid() config.Config {
	c := config.Default()
	c.Kafka.Brokers = []string{"kafka-1:9092", "10.0.0.2:9092"}
	c.S3.Bucket = "midata-releases"
	c.Auth.Tokens = map[string]string{"0123456789abcdef0123": "ops"}
	c.Schedules = []config.Schedule{{
		ID: "monthly", Spec: "@monthly", Recipient: "self", Scope: schemas.Scope{All: true},
		Period: "previous_month", Formats: []string{"midata-csv"},
	}}
	return c
}

func TestValidateAcceptsAWorkingConfig(t *testing.T) {
	t.Parallel()
	if err := valid().Validate(config.CommandServe); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
}

func TestValidateNamesEachBadKeyAndValue(t *testing.T) {
	t.Parallel()
	const secret = "short-secret"
	tests := []struct {
		name   string
		change func(*config.Config)
		wants  []string
	}{
		{"an unknown partitioner", func(c *config.Config) { c.Kafka.Partitioner = "random" },
			[]string{`kafka.partitioner "random"`, "want murmur2, crc32 or fnv1a", "MIDATA_PARTITIONER", "--partitioner"}},
		{"a link lifetime over the SigV4 limit", func(c *config.Config) { c.Links.TTL = config.Duration(8 * 24 * time.Hour) },
			[]string{`links.ttl "8d"`, "at most 7d", "MIDATA_LINK_TTL", "--link-ttl"}},
		{"a link lifetime of zero", func(c *config.Config) { c.Links.TTL = 0 },
			[]string{`links.ttl "0s"`, "more than 0"}},
		{"no brokers", func(c *config.Config) { c.Kafka.Brokers = nil },
			[]string{"kafka.brokers: required", "MIDATA_KAFKA_BROKERS", "--kafka-brokers"}},
		{"a broker without a port", func(c *config.Config) { c.Kafka.Brokers = []string{"kafka-1:9092", "kafka-2"} },
			[]string{`kafka.brokers "kafka-2"`, "want host:port"}},
		{"no bucket", func(c *config.Config) { c.S3.Bucket = "" },
			[]string{"s3.bucket: required", "MIDATA_S3_BUCKET"}},
		{"a bucket name S3 refuses", func(c *config.Config) { c.S3.Bucket = "Midata_Releases" },
			[]string{`s3.bucket "Midata_Releases"`, "want a bucket name"}},
		{"an endpoint without a scheme", func(c *config.Config) { c.S3.Endpoint = "s3:7070" },
			[]string{`s3.endpoint "s3:7070"`, "http:// or https://"}},
		{"two keys on one topic", func(c *config.Config) { c.Topics.Runs = "midata.requests" },
			[]string{`topics.runs "midata.requests"`, "the same topic as topics.requests"}},
		{"a topic name Kafka refuses", func(c *config.Config) { c.Topics.Consent = "midata consent" },
			[]string{`topics.consent "midata consent"`, "want a Kafka topic name"}},
		{"no workers", func(c *config.Config) { c.Workers.Concurrency = 0 },
			[]string{`workers.concurrency "0"`, "want 1 to 256"}},
		{"no attempts", func(c *config.Config) { c.Workers.MaxAttempts = 0 },
			[]string{`workers.max_attempts "0"`, "want 1 to 100"}},
		{"no drain time", func(c *config.Config) { c.Workers.DrainTimeout = 0 },
			[]string{`workers.drain_timeout "0s"`}},
		{"an empty group", func(c *config.Config) { c.Workers.Group = "" },
			[]string{"workers.group: empty"}},
		{"a listen port out of range", func(c *config.Config) { c.HTTP.Addr = "0.0.0.0:80800" },
			[]string{`http.addr "0.0.0.0:80800"`, "want 0 to 65535", "MIDATA_HTTP_ADDR"}},
		{"a token shorter than 16 bytes, named by its role only", func(c *config.Config) { c.Auth.Tokens = map[string]string{secret: "ops"} },
			[]string{`auth.tokens: token with role "ops": shorter than 16 bytes`}},
		{"a token with an unknown role", func(c *config.Config) { c.Auth.Tokens = map[string]string{"0123456789abcdef0123": "admin"} },
			[]string{`token with role "admin": unknown role`}},
		{"a customer role without an id", func(c *config.Config) { c.Auth.Tokens = map[string]string{"0123456789abcdef0123": "customer:"} },
			[]string{`token with role "customer:": customer id`}},
		{"a schedule for everyone and a list", func(c *config.Config) { c.Schedules[0].Scope.Customers = []string{"C1"} },
			[]string{`schedules: [0] (id "monthly"): scope: both "all" and "customers"`}},
		{"two schedules with one id", func(c *config.Config) { c.Schedules = append(c.Schedules, c.Schedules[0]) },
			[]string{`schedules: [1] (id "monthly"): id: the same as schedules[0]`}},
		{"a schedule without cron, period or formats", func(c *config.Config) {
			c.Schedules[0].Spec, c.Schedules[0].Period, c.Schedules[0].Formats = "", "", nil
		}, []string{"cron: empty", "period: empty", "formats: none"}},
		{"a schedule to a bad recipient", func(c *config.Config) { c.Schedules[0].Recipient = "bob" },
			[]string{`recipient "bob": want self or partner:<id>`}},
		{"an unknown log level", func(c *config.Config) { c.Log.Level = "verbose" },
			[]string{`log.level "verbose"`, "want debug, info, warn or error"}},
		{"an unknown log format", func(c *config.Config) { c.Log.Format = "xml" },
			[]string{`log.format "xml"`, "want json or text"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := valid()
			tt.change(&c)
			err := c.Validate(config.CommandServe)
			if err == nil {
				t.Fatal("Validate accepted it")
			}
			if !errors.Is(err, config.ErrInvalid) {
				t.Errorf("error %v does not match ErrInvalid", err)
			}
			for _, want := range tt.wants {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "0123456789abcdef0123") {
				t.Errorf("error %q shows a token", err)
			}
		})
	}
}

func TestValidateReportsEveryProblemOneALine(t *testing.T) {
	t.Parallel()
	err := config.Default().Validate(config.CommandServe)
	if err == nil {
		t.Fatal("the defaults validate without brokers and bucket")
	}
	lines := strings.Split(err.Error(), "\n")
	want := []string{"invalid configuration:", "kafka.brokers: required", "s3.bucket: required"}
	if len(lines) != len(want) {
		t.Fatalf("Validate() = %q, want %d lines", err, len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d = %q, want it to start with %q", i, lines[i], w)
		}
	}
}

func TestValidateKeepsPprofOnLoopback(t *testing.T) {
	t.Parallel()
	for addr, ok := range map[string]bool{"": true, "127.0.0.1:6060": true, "[::1]:6060": true, "localhost:0": true,
		"0.0.0.0:6060": false, ":6060": false, "10.0.0.2:6060": false, "127.0.0.1": false} {
		c := valid()
		c.HTTP.PprofAddr = addr
		err := c.Validate(config.CommandServe)
		if (err == nil) != ok {
			t.Errorf("http.pprof_addr %q: Validate() = %v, want ok %v", addr, err, ok)
		}
		if err != nil && !strings.Contains(err.Error(), "http.pprof_addr") {
			t.Errorf("http.pprof_addr %q: error %q does not name the key", addr, err)
		}
	}
}

func TestValidateRefusesAMemoryLimitBelowWhatServeHoldsLive(t *testing.T) {
	t.Parallel()
	for limit, ok := range map[config.ByteSize]bool{0: true, 64 << 20: true, 256 << 20: true, 1: false, 32 << 20: false} {
		c := valid()
		c.MemoryLimit = limit
		err := c.Validate(config.CommandServe)
		if (err == nil) != ok {
			t.Errorf("memory_limit %s: Validate() = %v, want ok %v", limit, err, ok)
		}
		if err != nil && !strings.Contains(err.Error(), "memory_limit") {
			t.Errorf("memory_limit %s: error %q does not name the key", limit, err)
		}
	}
}
