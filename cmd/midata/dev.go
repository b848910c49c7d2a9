package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/midata/midata/pipeline"
	"github.com/midata/midata/pipeline/config"
	"github.com/midata/midata/pipeline/serve"
	"github.com/midata/midata/schemas"
	"github.com/midata/midata/schemas/synth"
)

// devArgs is what `midata dev` runs: the settings (pipeline/config's keys
// of the command), the request (the command's arguments), and whether to
// stop after the release.
type devArgs struct {
	serve.DevConfig
	Request pipeline.Request
	Once    bool // exit after the release instead of serving
	// Print is the configuration to print instead of running
	// (--print-config); nil otherwise.
	Print *config.Config
}

const devSynopsis = `dev [flags]

Runs the whole service on one machine with nothing installed but Go: an
in-process Kafka-protocol broker seeded with a synthetic data set, and
everything of midata serve on it: the worker, the scheduler (with a
sample monthly schedule), the API, partner delivery (bundles to the local
store, webhooks to a built-in sample receiver) and the customers' stable
download links, on a local-disk store whose signed files midata serves
itself. It makes one on-demand release for a sample customer (recorded
first as the customer's own consent event, as every on-demand request
is), prints it with the addresses and a bearer token per role, and runs
until Ctrl-C. Its keys, tokens and store are kept in --data-dir.`

func parseDev(args []string, stderr io.Writer) (*devArgs, error) {
	gen := synth.DefaultConfig()
	c := &devArgs{}
	fs := newFlagSet("dev", devSynopsis, stderr)
	cl := config.NewCommandLine(config.CommandDev, fs)
	var formats, from, to string
	customerFlag(fs, (*string)(&c.Request.CustomerID), "C000001", "the sample customer")
	periodFlags(fs, &from, &to, gen.End.AddDate(0, -3, 0).Format(time.DateOnly), gen.End.Format(time.DateOnly), "")
	formatFlag(fs, &formats)
	fs.BoolVar(&c.Once, "once", false, "exit after the release instead of running the service")
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
	gen.Customers, gen.Transactions, gen.Malformed, gen.Seed = cfg.Synth.Customers, cfg.Synth.Transactions, cfg.Synth.Malformed, cfg.Synth.Seed
	c.DevConfig = serve.DevConfig{Service: cfg, Addr: cfg.HTTP.Addr, DataDir: cfg.Dev.DataDir, KafkaPort: cfg.Dev.KafkaPort,
		Partitions: cfg.Synth.Partitions, Synth: gen}

	c.Request.Recipient = schemas.RecipientSelf
	c.Request.Formats = splitList(formats)
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

func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parseDev(args, stderr)
	if err != nil {
		return err
	}
	if c.Print != nil {
		return c.Print.Print(stdout, config.CommandDev)
	}
	c.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	c.Progress = stderr
	dev, err := serve.NewDev(ctx, c.DevConfig)
	if err != nil {
		return asUsage(err)
	}
	defer dev.Close()
	res, err := dev.Release(ctx, c.Request)
	if err != nil {
		return err
	}
	printSummary(stdout, c.Request, res)
	if c.Once {
		return nil
	}
	printDevGuide(stdout, dev)
	fmt.Fprintf(stderr, "midata dev: running the service on %s until Ctrl-C\n", dev.Base())
	if err := dev.Serve(ctx); err != nil {
		return err
	}
	fmt.Fprintln(stderr, "midata dev: stopped")
	return nil
}

// printDevGuide says where everything is, with a token per role.
func printDevGuide(w io.Writer, dev *serve.Dev) {
	b, t := dev.Base(), dev.Tokens
	fmt.Fprintf(w, `
Sign in to the pages:
  operations console   %[10]s
  customer dashboard   %[11]s
  partner page         %[12]s

The whole service runs on %[1]s:
  API                  %[1]s/openapi.json (every route, who may call it)
  ready                %[1]s/readyz
  signing keys         %[1]s/.well-known/midata-signing-key
  sample webhook       %[1]s/dev/webhooks/%[5]s (what the sample partner received)

Tokens (kept in --data-dir; send "Authorization: Bearer <token>"):
  %-20[7]s %[2]s
  %-20[8]s %[3]s
  %-20[9]s %[4]s

Try:
  curl -H "Authorization: Bearer %[3]s" %[1]s/v1/customers/%[6]s/grants
  curl -H "Authorization: Bearer %[3]s" %[1]s/v1/customers/%[6]s/releases
  curl -H "Authorization: Bearer %[2]s" %[1]s/v1/runs
  midata runs start --server %[1]s --recipient partner:%[5]s --customers %[6]s --from 2026-07-01 --to 2026-10-01
    (with MIDATA_TOKEN=%[2]s; then the bundle is listed at
     curl -H "Authorization: Bearer %[4]s" %[1]s/v1/partners/%[5]s/bundles)
`, b, t.Ops, t.Customer, t.Partner, serve.DevPartner, serve.DevCustomer, "ops", "customer:"+serve.DevCustomer, "partner:"+serve.DevPartner,
		dev.SignInLink("ops"), dev.SignInLink("customer:"+serve.DevCustomer), dev.SignInLink("partner:"+serve.DevPartner))
}

func printSummary(w io.Writer, req pipeline.Request, res *pipeline.Result) {
	fmt.Fprintf(w, "\nRelease %s for %s (%s), %s to %s: %s\n", res.ReleaseID, req.CustomerID, req.Recipient,
		req.From.Format("2006-01-02"), req.To.Format("2006-01-02"), res.Status)
	if res.Reason != "" {
		fmt.Fprintf(w, "  %s\n", res.Reason)
	}
	fmt.Fprintf(w, "  scanned %d records, released %d, quarantined %d", res.Stats.Scanned, res.Stats.Released, res.Stats.Quarantined)
	for _, k := range slices.Sorted(maps.Keys(res.Stats.Excluded)) {
		fmt.Fprintf(w, ", %s %d", k, res.Stats.Excluded[k])
	}
	fmt.Fprintln(w)
	if res.Manifest != "" {
		fmt.Fprintf(w, "  manifest: %s\n", res.Manifest)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, f := range res.Files {
		fmt.Fprintf(tw, "  %s\t%d rows\t%d bytes\tsha256 %s\n", f.Format, f.Rows, f.Bytes, f.SHA256)
	}
	tw.Flush()
	for _, l := range res.Links {
		fmt.Fprintf(w, "  %s (expires %s):\n    %s\n", l.Path, l.ExpiresAt.Format(time.RFC3339), l.URL)
	}
}
