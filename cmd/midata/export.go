package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"

	"github.com/midata/midata/pipeline"
	"github.com/midata/midata/pipeline/config"
	"github.com/midata/midata/pipeline/serve"
	"github.com/midata/midata/schemas"
)

// exportArgs is what `midata export` runs: the settings, from
// pipeline/config's keys of the command (the file, MIDATA_* variables and
// flags), and the request, from the command's arguments.
type exportArgs struct {
	config.Config
	Request pipeline.Request
	Verbose bool
	// PrintConfig is set for --print-config: print the configuration
	// instead of releasing.
	PrintConfig bool
}

const exportSynopsis = `export --customer ID [--recipient self|partner:ID] --from DATE --to DATE [--format LIST] [flags]

Makes one consent-checked release of one customer's transactions for the
period [from, to) and prints it as one JSON object on stdout: release_id,
status (committed, empty, no_consent, already_committed, cancelled), manifest,
files, links and stats. Progress goes to stderr. Exit 0 for every status;
1 when the release could not be made; 2 for bad flags.`

func parseExport(args []string, stderr io.Writer) (*exportArgs, error) {
	c := &exportArgs{}
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
	c.Config, c.PrintConfig = cfg, cl.PrintConfig()
	if c.PrintConfig {
		return c, nil
	}

	c.Request.Formats = splitList(formats)
	if from == "" || to == "" {
		return nil, usagef("--from and --to are required")
	}
	if c.Request.From, err = schemas.ParseTimeIn(from, cfg.Location()); err != nil {
		return nil, usagef("--from: %v", err)
	}
	if c.Request.To, err = schemas.ParseTimeIn(to, cfg.Location()); err != nil {
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
	if c.PrintConfig {
		return c.Print(stdout, config.CommandExport)
	}
	level := slog.LevelWarn
	if c.Verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	res, err := serve.Export(ctx, c.Config, c.Request, logger, stderr)
	if err != nil {
		return asUsage(err)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(res)
}
