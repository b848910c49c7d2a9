package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/midata/midata/pipeline"
	"github.com/midata/midata/pipeline/kafkasource"
	"github.com/midata/midata/schemas/release"
	"github.com/midata/midata/sinks/s3sink"
)

// exportConfig is everything `midata export` needs. Each field comes from a
// flag, else its environment variable, else the default.
type exportConfig struct {
	Brokers         []string      // MIDATA_KAFKA_BROKERS, comma-separated
	Topic           string        // MIDATA_TRANSACTIONS_TOPIC, default "transactions"
	ConsentTopic    string        // MIDATA_CONSENT_TOPIC, default "midata.consent"
	QuarantineTopic string        // MIDATA_QUARANTINE_TOPIC, default "midata.quarantine"
	Partitioner     string        // MIDATA_PARTITIONER: murmur2 (default), crc32, fnv1a
	S3Endpoint      string        // MIDATA_S3_ENDPOINT; empty = AWS
	S3Bucket        string        // MIDATA_S3_BUCKET, required
	S3Region        string        // MIDATA_S3_REGION, else the AWS SDK chain (AWS_REGION …)
	LinkTTL         time.Duration // MIDATA_LINK_TTL, default 7d (the S3 maximum)
	TempDir         string        // MIDATA_TEMP_DIR, where sorting spills; default the system's
	Request         pipeline.Request
	Verbose         bool
}

// Validate checks the configuration once, before anything connects.
func (c *exportConfig) Validate() error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("no Kafka brokers: set --brokers or MIDATA_KAFKA_BROKERS"))
	}
	if c.S3Bucket == "" {
		errs = append(errs, errors.New("no bucket: set --bucket or MIDATA_S3_BUCKET"))
	}
	if c.LinkTTL <= 0 || c.LinkTTL > 7*24*time.Hour {
		errs = append(errs, fmt.Errorf("link TTL %s: want more than 0 and at most 7d (the longest a SigV4 presigned link may live)", c.LinkTTL))
	}
	if _, err := kafkasource.PartitionerByName(c.Partitioner); err != nil {
		errs = append(errs, err)
	}
	if _, err := c.Request.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

const exportSynopsis = `export --customer ID [--recipient self|partner:ID] --from DATE --to DATE [--format LIST] [flags]

Makes one consent-checked release of one customer's transactions for the
period [from, to) and prints it as one JSON object on stdout: release_id,
status (committed, empty, no_consent, already_committed, cancelled), manifest,
files, links and stats. Progress goes to stderr. Exit 0 for every status;
1 when the release could not be made; 2 for bad flags.

Flags (each also read from the environment variable named in brackets):`

func parseExport(args []string, stderr io.Writer) (*exportConfig, error) {
	c := &exportConfig{LinkTTL: pipeline.DefaultLinkTTL}
	fs := newFlagSet("export", exportSynopsis, stderr)
	var brokers, formats, from, to string
	fs.StringVar(&brokers, "brokers", env("MIDATA_KAFKA_BROKERS", ""), "Kafka bootstrap brokers, comma-separated [MIDATA_KAFKA_BROKERS]")
	fs.StringVar(&c.Topic, "topic", env("MIDATA_TRANSACTIONS_TOPIC", "transactions"), "transactions topic [MIDATA_TRANSACTIONS_TOPIC]")
	fs.StringVar(&c.ConsentTopic, "consent-topic", env("MIDATA_CONSENT_TOPIC", pipeline.DefaultConsentTopic), "consent topic (compacted) [MIDATA_CONSENT_TOPIC]")
	fs.StringVar(&c.QuarantineTopic, "quarantine-topic", env("MIDATA_QUARANTINE_TOPIC", pipeline.DefaultQuarantineTopic), "where invalid records go [MIDATA_QUARANTINE_TOPIC]")
	fs.StringVar(&c.Partitioner, "partitioner", env("MIDATA_PARTITIONER", "murmur2"), "the producers' partitioner: murmur2, crc32 or fnv1a [MIDATA_PARTITIONER]")
	fs.StringVar(&c.S3Endpoint, "s3-endpoint", env("MIDATA_S3_ENDPOINT", ""), "S3-compatible endpoint URL; empty = AWS [MIDATA_S3_ENDPOINT]")
	fs.StringVar(&c.S3Bucket, "bucket", env("MIDATA_S3_BUCKET", ""), "bucket for releases [MIDATA_S3_BUCKET]")
	fs.StringVar(&c.S3Region, "s3-region", env("MIDATA_S3_REGION", ""), "S3 region; empty = the AWS SDK chain (AWS_REGION), else us-east-1 [MIDATA_S3_REGION]")
	fs.StringVar(&c.TempDir, "temp-dir", env("MIDATA_TEMP_DIR", ""), "where sorting spills to disk; empty = the system's [MIDATA_TEMP_DIR]")
	if v := os.Getenv("MIDATA_LINK_TTL"); v != "" {
		d, err := parseDuration(v)
		if err != nil {
			return nil, usagef("MIDATA_LINK_TTL: %v", err)
		}
		c.LinkTTL = d
	}
	fs.Var(duration{&c.LinkTTL}, "link-ttl", "lifetime of the signed download links, e.g. 7d, 36h [MIDATA_LINK_TTL]")
	fs.StringVar((*string)(&c.Request.CustomerID), "customer", "", "the customer id (required)")
	fs.StringVar((*string)(&c.Request.Recipient), "recipient", "self", "self or partner:<id>")
	fs.StringVar(&from, "from", "", "period start, inclusive: 2026-02-01 or RFC 3339 (required)")
	fs.StringVar(&to, "to", "", "period end, exclusive: 2026-05-01 or RFC 3339 (required)")
	fs.StringVar(&formats, "format", "midata-csv,ndjson", "formats, comma-separated: "+strings.Join(release.Names(), ", "))
	fs.BoolVar(&c.Verbose, "v", false, "log each step to stderr")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, usageError{err}
	}
	if fs.NArg() > 0 {
		return nil, usagef("unexpected argument %q", fs.Arg(0))
	}
	c.Brokers = splitList(brokers)
	c.Request.Formats = splitList(formats)
	var err error
	if from == "" || to == "" {
		return nil, usagef("--from and --to are required")
	}
	if c.Request.From, err = parseTime(from); err != nil {
		return nil, usagef("--from: %v", err)
	}
	if c.Request.To, err = parseTime(to); err != nil {
		return nil, usagef("--to: %v", err)
	}
	if err := c.Validate(); err != nil {
		return nil, usageError{err}
	}
	return c, nil
}

func runExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parseExport(args, stderr)
	if err != nil {
		return err
	}
	level := slog.LevelWarn
	if c.Verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	sink, err := s3sink.New(ctx, s3sink.Config{Endpoint: c.S3Endpoint, Bucket: c.S3Bucket, Region: c.S3Region})
	if err != nil {
		return err
	}
	if err := sink.Check(ctx); err != nil {
		return err
	}
	source, err := kafkasource.New(kafkasource.Config{Brokers: c.Brokers, Topic: c.Topic, Partitioner: c.Partitioner, Logger: logger})
	if err != nil {
		return err
	}
	defer source.Close()
	producer := kafkasource.NewProducer(c.Brokers, logger)
	defer producer.Close()
	balancer, _ := kafkasource.PartitionerByName(c.Partitioner) // checked by Validate
	producer.UsePartitioner(balancer)

	runner, err := pipeline.NewRunner(pipeline.Config{
		Source: source, Producer: producer, Sink: sink,
		ConsentTopic: c.ConsentTopic, QuarantineTopic: c.QuarantineTopic,
		LinkTTL: c.LinkTTL, TempDir: c.TempDir, Logger: logger, Progress: stderr,
		Locate: func(key string) string { return "s3://" + c.S3Bucket + "/" + key },
	})
	if err != nil {
		return err
	}
	res, err := runner.Release(ctx, c.Request)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(res)
}
