package main

import (
	"context"
	"io"
	"os"

	"github.com/midata/midata/pipeline/config"
	"github.com/midata/midata/pipeline/memlimit"
	"github.com/midata/midata/pipeline/serve"
)

const serveSynopsis = `serve [--config FILE] [--print-config] [flags]

Runs a midata worker: takes export requests from the midata.requests topic
with the other workers of its consumer group, records every run on
midata.runs, fires the cron schedules, and serves the HTTP API with
/healthz, /readyz, /metrics and /openapi.json. Every key of the config file
can also be set by its environment variable and its flag (see
pipeline/config/README.md). SIGTERM stops intake, lets running releases
finish for the drain timeout, then hands the rest back.`

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", serveSynopsis, stderr)
	cl := config.NewCommandLine(config.CommandServe, fs)
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
		return cfg.Print(stdout, config.CommandServe)
	}
	logger := cfg.Log.Logger(stderr)
	for _, name := range config.UnknownEnv(os.Environ()) {
		logger.Warn("unknown environment variable ignored", "name", name)
	}
	if limit, from := memlimit.Apply(int64(cfg.MemoryLimit)); from != "" {
		logger.Info("soft memory limit", "bytes", limit, "from", from)
	}
	svc, err := serve.New(ctx, cfg, logger)
	if err != nil {
		return asUsage(err)
	}
	defer svc.Close()
	return svc.Run(ctx)
}
