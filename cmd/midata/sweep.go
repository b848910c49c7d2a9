package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/midata/midata/pipeline/config"
	"github.com/midata/midata/pipeline/releasestore"
	"github.com/midata/midata/sinks/s3sink"
)

const sweepSynopsis = `sweep [--older-than 24h] [--dry-run]

Removes from the releases bucket (s3.*) what writers left behind, older
than --older-than: the staged files of releases that never got their
manifest (a writer killed before its commit), the files of a committed
release's losing writers (which its manifest does not name), and
unfinished multipart uploads. It never removes a file a manifest names.
midata serve sweeps the same way every hour. Prints what it did as JSON.`

func runSweep(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("sweep", sweepSynopsis, stderr)
	olderThan := fs.Duration("older-than", releasestore.DefaultSweepAge, "remove only what was written longer ago than this (at least 1h)")
	dryRun := fs.Bool("dry-run", false, "count what would go, remove nothing")
	cl := config.NewCommandLine(config.CommandSweep, fs)
	if err := parseFlags(cl, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("sweep: unexpected argument %q", fs.Arg(0))
	}
	if *olderThan < time.Hour {
		return usagef("sweep: --older-than %v: at least 1h, so no writer still staging a release loses its files", *olderThan)
	}
	cfg, err := loadConfig(cl)
	if err != nil {
		return err
	}
	if cl.PrintConfig() {
		return cfg.Print(stdout, config.CommandSweep)
	}
	s, err := s3sink.New(ctx, s3sink.Config{Endpoint: cfg.S3.Endpoint, Bucket: cfg.S3.Bucket, Region: cfg.S3.Region, PathStyle: cfg.S3.PathStyle,
		AttemptTimeout: time.Duration(cfg.S3.AttemptTimeout), MaxAttempts: cfg.S3.MaxAttempts})
	if err != nil {
		return asUsage(err)
	}
	defer s.Close()
	rep, err := releasestore.Sweep(ctx, s, time.Now().Add(-*olderThan), *dryRun)
	b, _ := json.MarshalIndent(rep, "", "  ")
	fmt.Fprintln(stdout, string(b))
	return err
}
