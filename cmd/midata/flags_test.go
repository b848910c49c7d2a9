package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/midata/midata/pipeline/config"
)

// helpOf runs `midata <args> --help` and returns the flags its usage
// lists, each without dashes.
func helpOf(t *testing.T, args ...string) []string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), append(args, "--help"), &stdout, &stderr); code != 0 {
		t.Fatalf("midata %s --help: exit %d: %s", strings.Join(args, " "), code, stderr.String())
	}
	var flags []string
	for _, m := range regexp.MustCompile(`(?m)^  -+([a-z0-9-]+)`).FindAllStringSubmatch(stdout.String()+stderr.String(), -1) {
		flags = append(flags, m[1])
	}
	return flags
}

// requestArguments are the flags that are a request's arguments, named
// the same in every command that has them; "customers" (a list of ids)
// was also once the size of the synthetic data set.
var requestArguments = []string{"customer", "customers", "recipient", "from", "to", "format", "all", "period"}

func TestHelpShowsOneFlagNamePerSettingInEveryCommand(t *testing.T) {
	for _, tt := range []struct {
		cmd  config.Command
		args []string
	}{
		{config.CommandDev, []string{"dev"}},
		{config.CommandServe, []string{"serve"}},
		{config.CommandExport, []string{"export"}},
		{config.CommandSeed, []string{"seed"}},
		{config.CommandRuns, []string{"runs"}},
		{config.CommandRuns, []string{"runs", "list"}},
		{config.CommandRuns, []string{"runs", "start"}},
		{config.CommandRuns, []string{"runs", "get"}},
		{config.CommandSchedule, []string{"schedule"}},
		{config.CommandSchedule, []string{"schedule", "create"}},
		{config.CommandSchedule, []string{"schedule", "pause"}},
	} {
		name := "midata " + strings.Join(tt.args, " ")
		flags := helpOf(t, tt.args...)
		for _, want := range []string{"config", "print-config"} {
			if !slices.Contains(flags, want) {
				t.Errorf("%s --help does not show --%s", name, want)
			}
		}
		for _, k := range config.Keys() {
			if k.Flag == "" {
				if slices.Contains(flags, flagOf(k.Env)) {
					t.Errorf("%s --help shows a flag for the secret %s", name, k.Name)
				}
				continue
			}
			if shown := slices.Contains(flags, k.Flag); shown != k.UsedBy(tt.cmd) {
				t.Errorf("%s --help shows --%s (%s): %v, want %v", name, k.Flag, k.Name, shown, k.UsedBy(tt.cmd))
			}
			for _, old := range k.Renamed {
				if slices.Contains(flags, old) && !slices.Contains(requestArguments, old) {
					t.Errorf("%s --help shows --%s, the old name of --%s", name, old, k.Flag)
				}
			}
		}
	}
}

func TestEveryCommandPrintsItsConfig(t *testing.T) {
	t.Setenv("MIDATA_KAFKA_BROKERS", "k:9092")
	t.Setenv("MIDATA_S3_BUCKET", "releases")
	t.Setenv("MIDATA_TOKEN", "cli-token-not-printed")
	for _, args := range [][]string{{"dev"}, {"serve"}, {"export"}, {"seed"}, {"runs", "list"}, {"schedule", "list"}} {
		var stdout, stderr bytes.Buffer
		code := run(t.Context(), append(args, "--print-config"), &stdout, &stderr)
		if code != 0 || !strings.HasPrefix(stdout.String(), "# The effective configuration of midata "+args[0]+" ") {
			t.Errorf("midata %v --print-config = %d %q %q", args, code, stdout.String(), stderr.String())
		}
		if strings.Contains(stdout.String(), "cli-token-not-printed") {
			t.Errorf("midata %v --print-config shows the token", args)
		}
	}
}

// TestTheDocsUseEachCommandsOwnFlags reads the command lines of README.md,
// docs/ and docker-compose.yml and checks that every flag they give is one the
// command lists in its --help.
func TestTheDocsUseEachCommandsOwnFlags(t *testing.T) {
	line := regexp.MustCompile("midata ((?:runs|schedule) [a-z]+|dev|export|seed|serve)((?: +(?:--?[a-z0-9-]+(?:=\\S*)?|'[^']*'|[^-`\\s|)][^\\s`|)]*|…))*)")
	flagRE := regexp.MustCompile(`(?:^|\s)--?([a-z0-9-]+)`)
	checked := 0
	docs, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range append([]string{"../../README.md", "../../docker-compose.yml"}, docs...) {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		text := strings.ReplaceAll(string(data), "\n--", " --") // a command line wrapped in prose
		for _, m := range line.FindAllStringSubmatch(text, -1) {
			known := helpOf(t, strings.Fields(m[1])...)
			for _, f := range flagRE.FindAllStringSubmatch(m[2], -1) {
				checked++
				if !slices.Contains(known, f[1]) && f[1] != "help" {
					t.Errorf("%s: midata %s --%s: no flag of the command (midata %s --help)", file, m[1], f[1], m[1])
				}
			}
		}
	}
	if checked < 10 {
		t.Errorf("checked only %d flags of the docs' command lines: does the pattern still match them?", checked)
	}
}

// flagOf is the flag a key's variable would give: MIDATA_TOKEN → token.
func flagOf(env string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(env, "MIDATA_")), "_", "-")
}
