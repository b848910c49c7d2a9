package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"time"

	"github.com/midata/midata/pipeline"
	"github.com/midata/midata/pipeline/config"
	"github.com/midata/midata/pipeline/kafkasource"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/sinks/s3sink"
)

// exportConfig is everything `midata export` needs: the settings, from
// pipeline/config's keys of the command (the file, MIDATA_* variables and
// flags), and the request, from the command's arguments.
type exportConfig struct {
	Brokers         []string // kafka.brokers
	Topic           string   // topics.transactions
	ConsentTopic    string   // topics.consent
	QuarantineTopic string   // topics.quarantine
	Partitioner     string   // kafka.partitioner
	S3Endpoint      string   // s3.endpoint
	S3Bucket        string   // s3.bucket
	S3Region        string   // s3.region
	S3PathStyle     bool     // s3.path_style
	LinkTTL         time.Duration
	TempDir         string
	Request         pipeline.Request
	Verbose         bool
	// Print is the configuration to print instead of releasing
	// (--print-config); nil otherwise.
	Print *config.Config
}

const exportSynopsis = `export --customer ID [--recipient self|partner:ID] --from DATE --to DATE [--format LIST] [flags]

Makes one consent-checked release of one customer's transactions for the
period [from, to) and prints it as one JSON object on stdout: release_id,
status (committed, empty, no_consent, already_committed, cancelled), manifest,
files, links and stats. Progress goes to stderr. Exit 0 for every status;
1 when the release could not be made; 2 for bad flags.`

func parseExport(args []string, stderr io.Writer) (*exportConfig, error) {
	c := &exportConfig{}
	fs := newFlagSet("export", exportSynopsis, stderr)
	cl := config.NewCommandLine(config.CommandExport, fs)
	var formats, from, to string
	customerFlag(fs, (*string)(&c.Request.CustomerID), "", "the customer id (required)")
	recipientFlag(fs, (*string)(&c.Request.Recipient), "self")
	periodFlags(fs, &from, &to, "", "", " (required)")
	formatFlag(fs, &formats)
	fs.BoolVar(&c.Verbose, "v", false, "log each step to stderr")
	if err := parseFlags(cl, args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, usagef("unexpected argument %q", fs.Arg(0))
	}
	cfg, err := loadConfig(cl)
	if err != nil {
		return nil, err
	}
	if cl.PrintConfig() {
		c.Print = &cfg
		return c, nil
	}
	c.Brokers, c.Topic, c.ConsentTopic, c.QuarantineTopic = cfg.Kafka.Brokers, cfg.Topics.Transactions, cfg.Topics.Consent, cfg.Topics.Quarantine
	c.Partitioner, c.TempDir, c.LinkTTL = cfg.Kafka.Partitioner, cfg.TempDir, time.Duration(cfg.Links.TTL)
	c.S3Endpoint, c.S3Bucket, c.S3Region, c.S3PathStyle = cfg.S3.Endpoint, cfg.S3.Bucket, cfg.S3.Region, cfg.S3.PathStyle

	c.Request.Formats = splitList(formats)
	if from == "" || to == "" {
		return nil, usagef("--from and --to are required")
	}
	if c.Request.From, err = config.ParseTime(from); err != nil {
		return nil, usagef("--from: %v", err)
	}
	if c.Request.To, err = config.ParseTime(to); err != nil {
		return nil, usagef("--to: %v", err)
	}
	if _, err := c.Request.Validate(); err != nil {
		return nil, usageError{err}
	}
	return c, nil
}

func runExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parseExport(args, stderr)
	if err != nil {
		return err
	}
	if c.Print != nil {
		return c.Print.Print(stdout, config.CommandExport)
	}
	level := slog.LevelWarn
	if c.Verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	sink, err := s3sink.New(ctx, s3sink.Config{Endpoint: c.S3Endpoint, Bucket: c.S3Bucket, Region: c.S3Region, PathStyle: c.S3PathStyle})
	if err != nil {
		return err
	}
	if err := sink.Check(ctx); err != nil {
		return err
	}
	// The quarantine topic is midata's own: a cluster that has only the
	// input topics gets it before anything is read, so the first
	// malformed record does not fail the release after the whole read.
	kafka := topics.Connection{Brokers: c.Brokers}
	if err := topics.Ensure(ctx, kafka, topics.QuarantineSpec(c.QuarantineTopic)); err != nil {
		return err
	}
	source, err := kafkasource.New(kafkasource.Config{Kafka: kafka, Topic: c.Topic, Partitioner: c.Partitioner, Logger: logger})
	if err != nil {
		return err
	}
	defer source.Close()
	producer := topics.NewProducer(kafka, logger)
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
