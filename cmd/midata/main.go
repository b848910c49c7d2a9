// Command midata releases customers' transaction data, consent-checked, from
// Kafka to an object store, with signed download links.
//
//	midata dev       the embedded default: in-process Kafka, local store, one release
//	midata export    one release against any Kafka and S3
//	midata seed      the synthetic data set, written to any Kafka
//	midata serve     a worker: queue, run ledger, schedules, HTTP API
//	midata runs      runs, through the API
//	midata schedule  schedules, through the API
//	midata audit     every release about one customer, through the API
//	midata bench     speed and memory figures against a real Kafka and S3
//	midata version   print the version
//
// This package is thin: each command is flags and environment → config →
// constructors → Run, and prints the result. The settings of every command
// come from pipeline/config's one table of keys; each command adds only
// its request's arguments (--customer, --from, …), with one name and form
// wherever they recur (flags.go). The wiring of dev, export and serve is
// pipeline/serve's (serve.NewDev, serve.Export, serve.New); runs and
// schedule speak to the API with pipeline/api's body types (client.go).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `midata releases customers' transaction data, consent-checked, from Kafka
to an object store, with signed, expiring download links.

Usage:
  midata <command> [flags]

Commands:
  dev       run the embedded default: an in-process Kafka broker seeded with a
            synthetic data set, a local-disk store, one on-demand release for a
            sample customer, and the download server (until Ctrl-C)
  export    make one release against any Kafka and S3, print it as JSON
  seed      write the synthetic data set to a Kafka cluster (to try export)
  serve     run a worker: the queue, the run ledger, schedules and the HTTP API
  runs      list, watch, start, cancel and retry runs (through the API)
  schedule  list, create, pause, resume, run and delete schedules (through the API)
  audit     every release made about one customer: consent, files, downloads (through the API)
  bench     measure speed and memory against a real Kafka and S3 (make bench)
  keys      print the public signing keys, or generate a key pair
  verify    check a partner bundle: decrypt, signatures, every file's hash
  sweep     remove what killed and losing writers left in the releases bucket
  version   print the version

Every command takes --config FILE (or MIDATA_CONFIG) and --print-config; a
setting has one flag, one variable and one key in every command that uses
it (pipeline/config/README.md). Run 'midata <command> --help' for a
command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// exitUsage is the exit code for bad flags or arguments.
const exitUsage = 2

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	var err error
	switch cmd {
	case "dev":
		err = runDev(ctx, rest, stdout, stderr)
	case "export":
		err = runExport(ctx, rest, stdout, stderr)
	case "seed":
		err = runSeed(ctx, rest, stdout, stderr)
	case "serve":
		err = runServe(ctx, rest, stdout, stderr)
	case "runs":
		err = runRuns(ctx, rest, stdout, stderr)
	case "schedule":
		err = runSchedule(ctx, rest, stdout, stderr)
	case "audit":
		err = runAudit(ctx, rest, stdout, stderr)
	case "bench":
		err = runBench(ctx, rest, stdout, stderr)
	case "keys":
		err = runKeys(ctx, rest, stdout, stderr)
	case "sweep":
		err = runSweep(ctx, rest, stdout, stderr)
	case "verify":
		err = runVerify(ctx, rest, stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "midata", version)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "midata: unknown command %q\n\n%s", cmd, usage)
		return exitUsage
	}
	var ue usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "midata %s: %s (see 'midata %s --help')\n", cmd, oneLine(err), cmd)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "midata %s: %s\n", cmd, oneLine(err))
		return 1
	}
}

// oneLine renders an error on one line: joined errors are separated by "; ".
func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }

// usageError is a mistake in the command line: exit code 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }
