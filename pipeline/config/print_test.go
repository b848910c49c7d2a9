package config_test

import (
	"bytes"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/midata/midata/pipeline/config"
	"github.com/midata/midata/pipeline/partners"
)

func TestPrintMasksTokensButKeepsTheirRoles(t *testing.T) {
	t.Parallel()
	c := valid()
	c.Auth.Tokens = map[string]string{
		"first-secret-token-0123": "ops",
		"other-secret-token-4567": "customer:C000123",
		"third-secret-token-8901": "partner:pds-1",
	}
	var out strings.Builder
	if err := c.Print(&out, config.CommandServe); err != nil {
		t.Fatal(err)
	}
	for tok := range c.Auth.Tokens {
		if strings.Contains(out.String(), tok) {
			t.Errorf("Print shows token %q:\n%s", tok, out.String())
		}
	}
	for _, want := range []string{"'****1': customer:C000123", "'****2': ops", "'****3': partner:pds-1"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("Print does not show %q:\n%s", want, out.String())
		}
	}
}

func TestPrintWritesEveryKeyAndLoadsBackTheSameConfig(t *testing.T) {
	t.Parallel()
	c := valid()
	c.S3.Endpoint = "http://127.0.0.1:7070"
	c.TempDir = "/var/tmp/midata"
	var out strings.Builder
	if err := c.Print(&out, config.CommandServe); err != nil {
		t.Fatal(err)
	}
	for _, k := range config.KeysOf(config.CommandServe) {
		last := k.Name[strings.LastIndex(k.Name, ".")+1:]
		if !strings.Contains(out.String(), last+":") {
			t.Errorf("Print leaves out %s:\n%s", k.Name, out.String())
		}
	}
	for _, other := range []string{"client:", "dev:", "synth:"} {
		if strings.Contains(out.String(), other) {
			t.Errorf("serve's Print shows %s, no key of serve:\n%s", other, out.String())
		}
	}
	// Without the masked tokens, the printed YAML is a config file that
	// loads into the same Config.
	text := out.String()
	text = text[:strings.Index(text, "auth:")] + text[strings.Index(text, "scheduler:"):]
	back, err := config.Load(config.CommandServe, writeFile(t, text), nil)
	if err != nil {
		t.Fatalf("the printed config does not load: %v\n%s", err, text)
	}
	c.Auth.Tokens = nil
	c.Signing.OldPublicKeyFiles = []string{} // printed as [], read back empty
	c.Partners = []partners.Partner{}
	if !reflect.DeepEqual(back, c) {
		t.Errorf("printed and loaded back:\n%+v\nwant\n%+v", back, c)
	}
}

func TestLoggerFollowsLevelAndFormat(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	logger := config.Log{Level: "warn", Format: "json"}.Logger(&buf)
	logger.Info("hidden")
	logger.Warn("shown", slog.String("run", "r1"))
	if got := buf.String(); strings.Contains(got, "hidden") || !strings.HasPrefix(got, "{") || !strings.Contains(got, `"run":"r1"`) {
		t.Errorf("a json logger at warn wrote %q", got)
	}
	buf.Reset()
	config.Log{Level: "debug", Format: "text"}.Logger(&buf).Debug("detail", "run", "r2")
	if got := buf.String(); !strings.Contains(got, "level=DEBUG") || !strings.Contains(got, "run=r2") {
		t.Errorf("a text logger at debug wrote %q", got)
	}
}

func TestPrintOfACommandShowsItsKeysOnlyAndMasksTheCLIToken(t *testing.T) {
	t.Parallel()
	c := valid()
	c.Client.Token = "cli-secret-token-0123456789"
	for _, cmd := range config.Commands() {
		var out strings.Builder
		if err := c.Print(&out, cmd); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out.String(), c.Client.Token) || strings.Contains(out.String(), "0123456789abcdef0123") {
			t.Errorf("midata %s --print-config shows a secret:\n%s", cmd, out.String())
		}
		if !strings.HasPrefix(out.String(), "# The effective configuration of midata "+string(cmd)+" ") {
			t.Errorf("midata %s --print-config starts %q", cmd, out.String()[:40])
		}
		if _, err := config.Load(cmd, writeFile(t, out.String()), nil); err != nil {
			t.Errorf("midata %s --print-config does not load back as a file: %v\n%s", cmd, err, out.String())
		}
	}
	var runs strings.Builder
	if err := c.Print(&runs, config.CommandRuns); err != nil {
		t.Fatal(err)
	}
	if want := "client:\n  server: http://127.0.0.1:8080\n  token: '****'\n  token_file: \"\"\n"; !strings.HasSuffix(runs.String(), want) || strings.Count(runs.String(), "\n") != 5 {
		t.Errorf("midata runs --print-config =\n%s\nwant a header and\n%s", runs.String(), want)
	}
}
