package config_test

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/midata/midata/pipeline"
	"github.com/midata/midata/pipeline/config"
	"github.com/midata/midata/pipeline/kafkasource"
	"github.com/midata/midata/pipeline/partners"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/sinks"
)

var update = flag.Bool("update", false, "rewrite README.md and the top README's configuration section from Keys")

// leaves returns the YAML path of every leaf of v (a struct), with its value.
// Lists, maps and Durations are leaves.
func leaves(v reflect.Value, path string, out map[string]reflect.Value) {
	if v.Kind() != reflect.Struct || v.Type() == reflect.TypeFor[config.Duration]() {
		out[path] = v
		return
	}
	for i := range v.NumField() {
		name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ",")
		p := name
		if path != "" {
			p = path + "." + name
		}
		leaves(v.Field(i), p, out)
	}
}

func TestEveryFieldHasExactlyOneKey(t *testing.T) {
	t.Parallel()
	fieldPaths := make(map[string]reflect.Value)
	leaves(reflect.ValueOf(config.Default()), "", fieldPaths)
	var keyNames []string
	for _, k := range config.Keys() {
		keyNames = append(keyNames, k.Name)
		if _, ok := fieldPaths[k.Name]; !ok {
			t.Errorf("key %s is no field of Config", k.Name)
		}
	}
	for path := range fieldPaths {
		if !slices.Contains(keyNames, path) {
			t.Errorf("field %s has no key: add it to fields()", path)
		}
	}
}

func TestVariablesAndFlagsAreUniqueAndFollowOneRule(t *testing.T) {
	t.Parallel()
	envs, flags := map[string]string{}, map[string]string{}
	for _, k := range config.Keys() {
		if !strings.HasPrefix(k.Env, "MIDATA_") || strings.ToUpper(k.Env) != k.Env {
			t.Errorf("%s: variable %q is not MIDATA_ in upper case", k.Name, k.Env)
		}
		want := strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(k.Env, "MIDATA_")), "_", "-")
		if k.Secret {
			want = "" // no flag: ps shows a command line
		}
		if k.Flag != want {
			t.Errorf("%s: flag %q, want %q (the variable's name; none for a secret)", k.Name, k.Flag, want)
		}
		if other, dup := envs[k.Env]; dup {
			t.Errorf("%s and %s share %s", k.Name, other, k.Env)
		}
		if other, dup := flags[k.Flag]; dup && k.Flag != "" {
			t.Errorf("%s and %s share --%s", k.Name, other, k.Flag)
		}
		envs[k.Env], flags[k.Flag] = k.Name, k.Name
		if k.Meaning == "" {
			t.Errorf("%s has no meaning", k.Name)
		}
	}
	// The variables `midata export` already reads keep their names.
	for env, key := range map[string]string{
		"MIDATA_KAFKA_BROKERS": "kafka.brokers", "MIDATA_PARTITIONER": "kafka.partitioner",
		"MIDATA_TRANSACTIONS_TOPIC": "topics.transactions", "MIDATA_CONSENT_TOPIC": "topics.consent",
		"MIDATA_QUARANTINE_TOPIC": "topics.quarantine", "MIDATA_S3_ENDPOINT": "s3.endpoint",
		"MIDATA_S3_BUCKET": "s3.bucket", "MIDATA_S3_REGION": "s3.region",
		"MIDATA_LINK_TTL": "links.ttl", "MIDATA_TEMP_DIR": "temp_dir",
	} {
		if envs[env] != key {
			t.Errorf("%s sets %q, want %s as in midata export", env, envs[env], key)
		}
	}
}

// sample returns a value for the variable of a key whose field is v, not
// the default.
func sample(v reflect.Value) string {
	switch v.Interface().(type) {
	case config.Duration:
		return "3h"
	case config.ByteSize:
		return "300MiB"
	case bool:
		return fmt.Sprint(!v.Bool())
	case int, int64:
		return "77"
	case []string:
		return "sample-host:1234"
	case map[string]string:
		return "sample-token-0123456789=ops"
	case []partners.Partner:
		return "[{id: p1, name: Partner One, formats: [ndjson]}]"
	case []config.Schedule:
		return "[{id: s, cron: '@daily', recipient: self, scope: {all: true}, period: previous_day, formats: [ndjson]}]"
	}
	return "sample-value"
}

func TestEachVariableAndFlagSetsItsOwnKeyAndNoOther(t *testing.T) {
	t.Parallel()
	def := make(map[string]reflect.Value)
	leaves(reflect.ValueOf(config.Default()), "", def)
	for _, k := range config.Keys() {
		value := sample(def[k.Name])
		cmd := k.Commands[0]
		fromEnv, err := config.Load(cmd, "", envOf(map[string]string{k.Env: value}))
		if err != nil {
			t.Errorf("%s=%s: %v", k.Env, value, err)
			continue
		}
		if k.Flag == "" {
			continue
		}
		fromFlag, err := loadFor(t, cmd, "", nil, "--"+k.Flag+"="+value)
		if err != nil {
			t.Errorf("midata %s --%s=%s: %v", cmd, k.Flag, value, err)
			continue
		}
		for layer, c := range map[string]config.Config{k.Env: fromEnv, "--" + k.Flag: fromFlag} {
			got := make(map[string]reflect.Value)
			leaves(reflect.ValueOf(c), "", got)
			for path, v := range got {
				changed := !reflect.DeepEqual(v.Interface(), def[path].Interface())
				if changed != (path == k.Name) {
					t.Errorf("%s=%s changed %s: %v (want only %s changed)", layer, value, path, changed, k.Name)
				}
			}
		}
	}
}

func TestDefaultsAgreeWithThePipeline(t *testing.T) {
	t.Parallel()
	d := config.Default()
	// pipeline/jobs is read as source: this package does not depend on it,
	// and its tests should not stop compiling while it is being changed.
	jobs := stringConsts(t, "../jobs")
	for _, tt := range []struct {
		name      string
		got, want any
	}{
		{"topics.transactions", d.Topics.Transactions, topics.DefaultTransactions},
		{"topics.consent", d.Topics.Consent, topics.DefaultConsent},
		{"topics.quarantine", d.Topics.Quarantine, topics.DefaultQuarantine},
		{"topics.requests", d.Topics.Requests, topics.DefaultRequests},
		{"topics.runs", d.Topics.Runs, topics.DefaultRuns},
		{"topics.schedules", d.Topics.Schedules, topics.DefaultSchedules},
		{"workers.group", d.Workers.Group, jobs["DefaultGroupID"]},
		{"workers.commit_depth", d.Workers.CommitDepth, pipeline.DefaultCommitDepth},
		{"links.ttl", time.Duration(d.Links.TTL), sinks.MaxLinkTTL},
	} {
		if tt.got != tt.want {
			t.Errorf("default %s = %v, the pipeline's is %v", tt.name, tt.got, tt.want)
		}
	}
}

// stringConsts returns the string constants declared in the Go files of dir.
func stringConsts(t *testing.T, dir string) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Go files in %s: %v", dir, err)
	}
	out := make(map[string]string)
	for _, file := range files {
		f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.SkipObjectResolution)
		if err != nil {
			continue // a file being edited; the constants are elsewhere or the test says which is missing
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if i < len(vs.Values) {
						if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							out[name.Name], _ = strconv.Unquote(lit.Value)
						}
					}
				}
			}
		}
	}
	return out
}

func TestPartitionersAreThoseKafkasourceKnows(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"murmur2", "crc32", "fnv1a", "random", "MURMUR2", ""} {
		c := valid()
		c.Kafka.Partitioner = name
		configOK := c.Validate(config.CommandServe) == nil
		_, err := kafkasource.PartitionerByName(name)
		if kafkaOK := err == nil; kafkaOK && !configOK {
			t.Errorf("partitioner %q: kafkasource takes it, config refuses it", name)
		} else if !kafkaOK && configOK {
			t.Errorf("partitioner %q: config takes it, kafkasource refuses it", name)
		}
	}
}

// TestREADMEListsEveryKey keeps pipeline/config/README.md and the
// Configuration section of the top README.md, both generated from Keys,
// current: go test ./pipeline/config -run README -update rewrites them.
func TestREADMEListsEveryKey(t *testing.T) {
	t.Parallel()
	top, err := os.ReadFile(topREADME)
	if err != nil {
		t.Fatal(err)
	}
	topWant, err := withSection(string(top))
	if err != nil {
		t.Fatalf("%s: %v", topREADME, err)
	}
	for _, f := range []struct{ path, want string }{{"README.md", readme()}, {topREADME, topWant}} {
		if *update {
			if err := os.WriteFile(f.path, []byte(f.want), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != f.want {
			t.Errorf("%s is stale: run go test ./pipeline/config -run README -update and review the diff", f.path)
		}
	}
}

func TestTheREADMEExampleLoadsAndValidates(t *testing.T) {
	t.Parallel()
	text := readme()
	start := strings.Index(text, "```yaml\n") + len("```yaml\n")
	end := strings.Index(text[start:], "```") + start
	c, err := config.Load(config.CommandServe, writeFile(t, text[start:end]), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(config.CommandServe); err != nil {
		t.Fatal(err)
	}
	if len(c.Schedules) != 1 || c.HTTP.Addr != "0.0.0.0:8080" {
		t.Errorf("the example loaded as %+v", c)
	}
}

// topREADME is the repository's README.md; its Configuration section lies
// between these markers.
const (
	topREADME    = "../../README.md"
	sectionBegin = "<!-- Generated from pipeline/config's Keys: go test ./pipeline/config -run README -update -->\n"
	sectionEnd   = "<!-- End of the generated configuration table. -->\n"
)

// withSection returns the top README with the text between the markers
// replaced by the table of keys.
func withSection(text string) (string, error) {
	b := strings.Index(text, sectionBegin)
	e := strings.Index(text, sectionEnd)
	if b < 0 || e < b {
		return "", fmt.Errorf("no markers %q and %q around the configuration table", sectionBegin, sectionEnd)
	}
	return text[:b+len(sectionBegin)] + "\n" + table() + "\n" + text[e:], nil
}

// table is the one table of keys, for every command.
func table() string {
	var b strings.Builder
	b.WriteString("| key | environment | flag | default | commands | meaning |\n|---|---|---|---|---|---|\n")
	for _, k := range config.Keys() {
		def := "`" + k.Default + "`"
		switch {
		case len(k.Required) > 0 && k.Default == "":
			def = "(required)"
		case k.Default == "":
			def = "(none)"
		}
		var cmds []string
		for _, c := range k.Commands {
			name := string(c)
			if k.RequiredBy(c) && len(k.Required) != len(k.Commands) {
				name += " (required)"
			}
			cmds = append(cmds, name)
		}
		meaning := strings.ReplaceAll(k.Meaning, "|", `\|`)
		if k.Secret {
			meaning += " **Secret**: set it from a secret store, never in the file."
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | `--%s` | %s | %s | %s |\n", k.Name, k.Env, k.Flag, def, strings.Join(cmds, ", "), meaning)
	}
	var renamed []string
	for _, k := range config.Keys() {
		for _, old := range k.Renamed {
			renamed = append(renamed, fmt.Sprintf("`--%s` is `--%s`", old, k.Flag))
		}
	}
	b.WriteString("\nFlags renamed so that every command has one name per setting (the old names stop with\na message naming the new one): " + strings.Join(renamed, ", ") + ".\n")
	return b.String()
}

func readme() string {
	var b strings.Builder
	b.WriteString(`# Configuration of every midata command

Generated from ` + "`config.Keys()`" + ` by ` + "`go test ./pipeline/config -run README -update`" + `.

One table of keys serves ` + "`midata dev`, `serve`, `export`, `seed`, `runs` and `schedule`" + `:
each key has one name in the YAML file (` + "`--config FILE`" + `, or ` + "`MIDATA_CONFIG`" + `), one
environment variable and one flag, the same in every command that uses it;
a command reads, checks and prints only its own keys, so one file can serve
them all. Flags win over variables, variables over the file, the file over
defaults; a list or map replaces the one below it. An empty variable counts
as unset. An unknown key in the file, or a bad value anywhere, stops
start-up with a message naming the key, its variable and its flag (exit 2);
` + "`midata <command> --print-config`" + ` prints the effective configuration with
secrets masked. AWS credentials come from the AWS SDK's chain
(` + "`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_PROFILE`" + `, instance roles).

`)
	b.WriteString(table())
	b.WriteString(`
A config file (the Kubernetes example is in ` + "`deploy/k8s/configmap.yaml`" + `):

` + "```yaml" + `
kafka:
  brokers: [kafka-1:9092, kafka-2:9092]
s3:
  bucket: midata-releases
http:
  addr: 0.0.0.0:8080
schedules:
  - id: monthly-self
    cron: "CRON_TZ=Europe/London 0 3 1 * *"
    recipient: self
    scope: {all: true}
    period: previous_month
    formats: [midata-csv, ndjson]
` + "```" + `

The same schedules in the environment: ` + "`MIDATA_SCHEDULES='[{id: monthly-self, cron: \"@monthly\", recipient: self, scope: {all: true}, period: previous_month, formats: [ndjson]}]'`" + `.
Tokens: ` + "`MIDATA_AUTH_TOKENS=<token>=ops,<token>=customer:C000123`" + ` (the role follows
the last ` + "`=`" + `, so base64 padding is fine; tokens hold no commas).
`)
	return b.String()
}

func TestEveryKeyBelongsToACommandAndEveryOldFlagIsGone(t *testing.T) {
	t.Parallel()
	flags := make(map[string]bool)
	for _, k := range config.Keys() {
		flags[k.Flag] = true
	}
	for _, k := range config.Keys() {
		if len(k.Commands) == 0 {
			t.Errorf("%s is used by no command", k.Name)
		}
		for _, c := range k.Commands {
			if !slices.Contains(config.Commands(), c) {
				t.Errorf("%s: unknown command %q", k.Name, c)
			}
		}
		for _, c := range k.Required {
			if !k.UsedBy(c) {
				t.Errorf("%s is required by %s, which does not use it", k.Name, c)
			}
		}
		for _, old := range k.Renamed {
			if flags[old] {
				t.Errorf("%s was --%s, which is now another key's flag", k.Name, old)
			}
			if got, ok := config.Renamed(old); !ok || got.Name != k.Name {
				t.Errorf("Renamed(%q) = %s, %v; want %s", old, got.Name, ok, k.Name)
			}
		}
	}
	// The settings every command that talks to Kafka and S3 shares.
	for _, tt := range []struct {
		key  string
		cmds []config.Command
	}{
		{"kafka.brokers", []config.Command{config.CommandServe, config.CommandExport, config.CommandSeed}},
		{"s3.bucket", []config.Command{config.CommandServe, config.CommandExport}},
		{"topics.quarantine", []config.Command{config.CommandServe, config.CommandExport, config.CommandSeed}},
		{"http.addr", []config.Command{config.CommandDev, config.CommandServe}},
		{"client.server", []config.Command{config.CommandRuns, config.CommandSchedule}},
	} {
		for _, c := range tt.cmds {
			if !slices.ContainsFunc(config.KeysOf(c), func(k config.Key) bool { return k.Name == tt.key }) {
				t.Errorf("midata %s does not read %s", c, tt.key)
			}
		}
	}
}
