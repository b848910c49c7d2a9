package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/midata/midata/pipeline/config"
	"github.com/midata/midata/schemas/release"
)

// newFlagSet returns a flag set that prints its usage to w and returns
// errors instead of exiting. Its usage lists the flags in two groups: the
// settings (pipeline/config's keys, with their variables) and the
// arguments of the command.
func newFlagSet(name, synopsis string, w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(w)
	fs.Usage = func() {
		fmt.Fprintf(w, "Usage: midata %s\n", synopsis)
		printFlags(w, fs)
	}
	return fs
}

// printFlags writes the flags of fs, settings first, each as --name.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	settings := map[string]bool{"config": true, "print-config": true}
	for _, k := range config.Keys() {
		settings[k.Flag] = true
	}
	for _, group := range []struct {
		title    string
		settings bool
	}{
		{"Arguments:", false},
		{"Settings (each also a key of the config file and the environment variable in brackets):", true},
	} {
		var b strings.Builder
		fs.VisitAll(func(f *flag.Flag) {
			if settings[f.Name] != group.settings {
				return
			}
			kind, usage := flag.UnquoteUsage(f)
			fmt.Fprintf(&b, "  --%s", f.Name)
			if kind != "" {
				fmt.Fprintf(&b, " %s", kind)
			}
			fmt.Fprintf(&b, "\n    \t%s", strings.ReplaceAll(usage, "\n", "\n    \t"))
			if d := f.DefValue; d != "" && d != "false" && d != "0" {
				fmt.Fprintf(&b, " (default %s)", d)
			}
			b.WriteString("\n")
		})
		if b.Len() > 0 {
			fmt.Fprintf(w, "\n%s\n%s", group.title, b.String())
		}
	}
}

// parseFlags parses args with cl: flag.ErrHelp comes back as is, every
// other mistake (a renamed flag too) as a usageError.
func parseFlags(cl *config.CommandLine, args []string) error {
	if err := cl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	return nil
}

// loadConfig returns the command's configuration from the file, the
// environment and the flags, validated; a mistake in it is a usageError,
// a file that cannot be read is not.
func loadConfig(cl *config.CommandLine) (config.Config, error) {
	cfg, err := cl.Load(os.LookupEnv)
	if err != nil {
		return config.Config{}, asUsage(err)
	}
	return cfg, nil
}

// asUsage makes a mistake in the configuration (an error matching
// config.ErrInvalid) a usageError; other errors stay as they are.
func asUsage(err error) error {
	if errors.Is(err, config.ErrInvalid) {
		return usageError{err}
	}
	return err
}

// The arguments of a request: what to release, not how midata is set up.
// Each has one name, form and meaning in every command that takes it.
// Periods are [from, to): a date (midnight in the organisation's time
// zone, setting timezone) or an RFC 3339 time, read by schemas.ParseTimeIn.

func customerFlag(fs *flag.FlagSet, p *string, def, usage string) {
	fs.StringVar(p, "customer", def, usage)
}

func customersFlag(fs *flag.FlagSet, p *string) {
	fs.StringVar(p, "customers", "", "customer ids, comma-separated")
}

func allFlag(fs *flag.FlagSet, p *bool) {
	fs.BoolVar(p, "all", false, "everyone whose consent covers the recipient (a bulk release)")
}

func recipientFlag(fs *flag.FlagSet, p *string, def string) {
	fs.StringVar(p, "recipient", def, "self or partner:<id>")
}

func periodFlags(fs *flag.FlagSet, from, to *string, defFrom, defTo, note string) {
	fs.StringVar(from, "from", defFrom, "period start, inclusive: a date (2026-02-01, a day in the organisation's time zone: setting timezone) or RFC 3339"+note)
	fs.StringVar(to, "to", defTo, "period end, exclusive: a date (2026-05-01) or RFC 3339"+note)
}

func formatFlag(fs *flag.FlagSet, p *string) {
	fs.StringVar(p, "format", "midata-csv,ndjson", "formats, comma-separated: "+strings.Join(release.Names(), ", "))
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
