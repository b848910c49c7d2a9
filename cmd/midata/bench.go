package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/midata/midata/pipeline/bench"
	"github.com/midata/midata/pipeline/config"
)

const benchSynopsis = `bench [--shapes LIST] [--scale F] [--format LIST] [--out FILE] [flags]

Measures midata against a real Kafka and S3, every figure in one run: raw
consume, raw S3 PUTs, bulk releases per format through child 'midata serve'
processes, one-customer 'midata export' against a shell pipeline (kcat |
grep | curl), one worker against two, and peak RSS at N and 10 N records.
Prints a table (figure, value, unit, ratio to its baseline, target, met) and
writes JSON to --out. Seeds its own topics and buckets (deleting the topics
after); S3 credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
'make bench' runs it against the test bench.`

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench", benchSynopsis, stderr)
	cl := config.NewCommandLine(config.CommandBench, fs)
	var shapes, formats, out, rssShape, prefix string
	var scale float64
	var partitions, putConcurrency int
	var timeout time.Duration
	var keep bool
	fs.StringVar(&shapes, "shapes", "many-small,typical,heavy", "shapes, comma-separated: many-small (100,000 × 20), typical (2,000 × 1,000), heavy (20 × 100,000)")
	fs.Float64Var(&scale, "scale", 1, "multiply each shape's records by this (fewer customers first)")
	fs.StringVar(&formats, "format", "csv,ndjson,parquet", "bulk formats, comma-separated")
	fs.StringVar(&out, "out", "bench.json", "write the figures as JSON to this file; empty: do not")
	fs.StringVar(&rssShape, "rss-shape", "typical", "the shape whose bulk peak RSS is measured again at 10 N")
	fs.IntVar(&partitions, "partitions", 12, "partitions of each seeded transactions topic")
	fs.IntVar(&putConcurrency, "put-concurrency", 0, "raw S3 PUTs in flight; 0: workers.concurrency × the commit depth (what a bulk release may keep in flight)")
	fs.DurationVar(&timeout, "run-timeout", 30*time.Minute, "the longest one bulk run may take")
	fs.StringVar(&prefix, "prefix", "", "name the bench's topics, groups and buckets with this prefix (lower-case letters, digits, '-'); empty: midata-bench-<time>")
	fs.BoolVar(&keep, "keep", false, "keep the seeded topics and buckets (deleted by default as soon as their figures are taken)")
	if err := parseFlags(cl, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	cfg, err := loadConfig(cl)
	if err != nil {
		return err
	}
	if cl.PrintConfig() {
		return cfg.Print(stdout, config.CommandBench)
	}
	var list []bench.Shape
	for _, name := range splitList(shapes) {
		s, ok := bench.ShapeByName(name)
		if !ok {
			return usagef("--shapes: unknown shape %q", name)
		}
		list = append(list, s)
	}
	if scale <= 0 {
		return usagef("--scale: want a positive factor")
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("bench: find midata: %w", err)
	}
	conn, err := cfg.KafkaConnection()
	if err != nil {
		return usageError{err}
	}
	bc := bench.Config{
		Kafka: conn,
		S3:    bench.S3{Endpoint: cfg.S3.Endpoint, Region: cfg.S3.Region},
		Command: func(ctx context.Context, args ...string) *exec.Cmd {
			return exec.CommandContext(ctx, exe, args...)
		},
		Shapes: list, Scale: scale, Formats: splitList(formats), Partitions: partitions,
		Concurrency: cfg.Workers.Concurrency, PutConcurrency: putConcurrency, RSSShape: rssShape,
		RunTimeout: timeout, Log: stderr, Keep: keep, Prefix: prefix,
	}
	if cfg.TempDir != "" {
		bc.Env = append(bc.Env, "MIDATA_TEMP_DIR="+cfg.TempDir)
	}
	// The children read no config file: they get the brokers' security
	// from the environment (an empty variable counts as unset).
	tl, sa := cfg.Kafka.TLS, cfg.Kafka.SASL
	bc.Env = append(bc.Env, "MIDATA_KAFKA_TLS="+strconv.FormatBool(tl.Enabled), "MIDATA_KAFKA_TLS_CA_FILE="+tl.CAFile,
		"MIDATA_KAFKA_TLS_CERT_FILE="+tl.CertFile, "MIDATA_KAFKA_TLS_KEY_FILE="+tl.KeyFile, "MIDATA_KAFKA_TLS_SERVER_NAME="+tl.ServerName,
		"MIDATA_KAFKA_SASL_MECHANISM="+sa.Mechanism, "MIDATA_KAFKA_SASL_USERNAME="+sa.Username,
		"MIDATA_KAFKA_SASL_PASSWORD="+sa.Password, "MIDATA_KAFKA_SASL_PASSWORD_FILE="+sa.PasswordFile)
	report, err := bench.Run(ctx, bc)
	if report != nil {
		if werr := report.WriteTable(stdout); werr != nil && err == nil {
			err = werr
		}
		if out != "" {
			if werr := writeReport(out, report); werr != nil && err == nil {
				err = werr
			}
		}
		if err == nil && len(report.Errors) > 0 {
			err = fmt.Errorf("bench: not measured: %s", strings.Join(report.Errors, "; "))
		}
	}
	return err
}

func writeReport(path string, r *bench.Report) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if err := r.WriteJSON(f); err != nil {
		f.Close()
		return fmt.Errorf("bench: write %s: %w", path, err)
	}
	return f.Close()
}
