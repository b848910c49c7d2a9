package config_test

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/midata/midata/pipeline/config"
	"github.com/midata/midata/schemas"
)

// writeFile writes a config file into a temp dir and returns its path.
func writeFile(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// envOf returns a lookup function over a fixed environment.
func envOf(vars map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

// load runs the start-up sequence of midata serve (loadFor).
func load(t *testing.T, path string, env map[string]string, args ...string) (config.Config, error) {
	t.Helper()
	return loadFor(t, config.CommandServe, path, env, args...)
}

// loadFor runs the whole start-up sequence of a command but Validate:
// flags registered on Default and parsed, the file and environment
// loaded, flags applied.
func loadFor(t *testing.T, cmd config.Command, path string, env map[string]string, args ...string) (config.Config, error) {
	t.Helper()
	fs := flag.NewFlagSet(string(cmd), flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	flagged := config.Default()
	flagged.Flags(cmd, fs)
	if err := fs.Parse(args); err != nil {
		return config.Config{}, err
	}
	c, err := config.Load(cmd, path, envOf(env))
	if err != nil {
		return config.Config{}, err
	}
	if err := c.ApplyFlags(fs); err != nil {
		return config.Config{}, err
	}
	return c, nil
}

const fullFile = `# every layer below sets some of these again
kafka:
  brokers: [file-1:9092, file-2:9092]
  partitioner: crc32
topics:
  transactions: file.transactions
workers:
  concurrency: 4
  drain_timeout: 45s
s3:
  endpoint: http://file-s3:7070
  bucket: file-bucket
  path_style: true
links:
  ttl: 2d
http:
  addr: 0.0.0.0:9090
auth:
  tokens:
    file-token-0123456789: ops
scheduler:
  enabled: false
schedules:
  - id: monthly-self
    cron: "CRON_TZ=Europe/London 0 3 1 * *"
    recipient: self
    scope: {all: true}
    period: previous_month
    formats: [midata-csv, ndjson]
log:
  level: debug
  format: text
temp_dir: /var/tmp/midata
`

func TestLoadLayersOverrideKeyByKey(t *testing.T) {
	t.Parallel()
	path := writeFile(t, fullFile)
	env := map[string]string{
		"MIDATA_KAFKA_BROKERS":       "env-1:9092",
		"MIDATA_S3_BUCKET":           "env-bucket",
		"MIDATA_LINK_TTL":            "36h",
		"MIDATA_WORKERS_CONCURRENCY": "8",
		"MIDATA_AUTH_TOKENS":         "ops-token-0123456789==ops,cust-token-0123456789=customer:C000123",
		"MIDATA_S3_REGION":           "", // empty counts as unset
	}
	c, err := load(t, path, env, "--s3-bucket", "flag-bucket", "--workers-concurrency=3", "--scheduler-enabled")
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		key       string
		got, want any
	}{
		{"kafka.brokers from env over file", c.Kafka.Brokers, []string{"env-1:9092"}},
		{"kafka.partitioner from file", c.Kafka.Partitioner, "crc32"},
		{"topics.transactions from file", c.Topics.Transactions, "file.transactions"},
		{"topics.consent keeps its default", c.Topics.Consent, "midata.consent"},
		{"workers.concurrency from flag over env over file", c.Workers.Concurrency, 3},
		{"workers.max_attempts keeps its default", c.Workers.MaxAttempts, 5},
		{"workers.drain_timeout from file", time.Duration(c.Workers.DrainTimeout), 45 * time.Second},
		{"s3.bucket from flag over env over file", c.S3.Bucket, "flag-bucket"},
		{"s3.endpoint from file", c.S3.Endpoint, "http://file-s3:7070"},
		{"s3.region empty env is unset", c.S3.Region, ""},
		{"s3.path_style from file", c.S3.PathStyle, true},
		{"links.ttl from env over file", time.Duration(c.Links.TTL), 36 * time.Hour},
		{"http.addr from file", c.HTTP.Addr, "0.0.0.0:9090"},
		{"auth.tokens from env replace the file's", c.Auth.Tokens, map[string]string{
			"ops-token-0123456789=": "ops", "cust-token-0123456789": "customer:C000123"}},
		{"scheduler.enabled from a bare bool flag over file", c.Scheduler.Enabled, true},
		{"log.level from file", c.Log.Level, "debug"},
		{"temp_dir from file", c.TempDir, "/var/tmp/midata"},
		{"schedules from file", c.Schedules, []config.Schedule{{
			ID: "monthly-self", Spec: "CRON_TZ=Europe/London 0 3 1 * *", Recipient: "self",
			Scope: schemas.Scope{All: true}, Period: "previous_month", Formats: []string{"midata-csv", "ndjson"},
		}}},
	}
	for _, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s: got %#v, want %#v", ch.key, ch.got, ch.want)
		}
	}
	if err := c.Validate(config.CommandServe); err != nil {
		t.Errorf("the layered config does not validate: %v", err)
	}
}

func TestLoadWithoutFileOrEnvironmentGivesDefaults(t *testing.T) {
	t.Parallel()
	c, err := config.Load(config.CommandServe, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, config.Default()) {
		t.Errorf("Load(\"\", nil) = %+v, want Default() %+v", c, config.Default())
	}
	empty := writeFile(t, "# nothing set\n")
	c, err = config.Load(config.CommandServe, empty, nil)
	if err != nil {
		t.Fatalf("a file of comments only: %v", err)
	}
	if !reflect.DeepEqual(c, config.Default()) {
		t.Errorf("a file of comments only changed the defaults: %+v", c)
	}
}

func TestLoadRejectsWhatTheFileGetsWrongNamingKeyAndLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		file  string
		wants []string // every one must be in the error
	}{
		{
			name:  "an unknown top-level key is named with its line and the known keys",
			file:  "kafka:\n  brokers: [k:9092]\ns3bucket: x\n",
			wants: []string{"line 3", "unknown key s3bucket", "known at the top level: kafka, topics"},
		},
		{
			name:  "a misspelt nested key is named with its full path",
			file:  "kafka:\n  brokers: [k:9092]\n  partitionr: crc32\n",
			wants: []string{"line 3", "unknown key kafka.partitionr", "known in kafka: brokers, partitioner"},
		},
		{
			name:  "an unknown key inside a schedule is named with its index",
			file:  "schedules:\n  - id: a\n    cron: '@daily'\n    scop: {all: true}\n",
			wants: []string{"line 4", "unknown key schedules[0].scop"},
		},
		{
			name:  "a word where a number goes names the key and the value",
			file:  "workers:\n  concurrency: two\n",
			wants: []string{"line 2", "workers.concurrency", `want an integer, got "two"`},
		},
		{
			name:  "a bad duration names the key and the value",
			file:  "links:\n  ttl: 8 days\n",
			wants: []string{"line 2", "links.ttl", `got "8 days"`},
		},
		{
			name:  "a single broker where a list goes says so",
			file:  "kafka:\n  brokers: k:9092\n",
			wants: []string{"line 2", "kafka.brokers", "want a list"},
		},
		{
			name:  "several problems are all reported",
			file:  "kafka:\n  brokerz: [x]\nlog:\n  levle: debug\n",
			wants: []string{"line 2: unknown key kafka.brokerz", "line 4: unknown key log.levle"},
		},
		{
			name:  "a key given twice is refused",
			file:  "s3:\n  bucket: a-bucket\n  bucket: b-bucket\n",
			wants: []string{"line 3", `"bucket" already defined at line 2`},
		},
		{
			name:  "two documents are refused",
			file:  "kafka: {brokers: [k:9092]}\n---\ns3: {bucket: b-bucket}\n",
			wants: []string{"more than one YAML document"},
		},
		{
			name:  "broken YAML names its line",
			file:  "kafka:\n  brokers: [k:9092\n",
			wants: []string{"line"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeFile(t, tt.file)
			_, err := config.Load(config.CommandServe, path, nil)
			if err == nil {
				t.Fatal("Load accepted the file")
			}
			if !errors.Is(err, config.ErrInvalid) {
				t.Errorf("error %v does not match ErrInvalid", err)
			}
			for _, want := range append(tt.wants, "config file "+path) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

func TestLoadOfAMissingFileSaysWhichFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "nope.yaml")
	_, err := config.Load(config.CommandServe, path, nil)
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Errorf("Load(missing) = %v, want a not-exist error naming %s", err, path)
	}
}

func TestEnvironmentValuesAreParsedByType(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		env   map[string]string
		check func(config.Config) bool
	}{
		{"a comma list drops blanks and spaces", map[string]string{"MIDATA_KAFKA_BROKERS": " a:1 , ,b:2,"},
			func(c config.Config) bool { return reflect.DeepEqual(c.Kafka.Brokers, []string{"a:1", "b:2"}) }},
		{"days are a duration", map[string]string{"MIDATA_LINK_TTL": "3d"},
			func(c config.Config) bool { return time.Duration(c.Links.TTL) == 72*time.Hour }},
		{"Go durations are durations", map[string]string{"MIDATA_WORKERS_DRAIN_TIMEOUT": "1m30s"},
			func(c config.Config) bool { return time.Duration(c.Workers.DrainTimeout) == 90*time.Second }},
		{"bools take false", map[string]string{"MIDATA_SCHEDULER_ENABLED": "false"},
			func(c config.Config) bool { return !c.Scheduler.Enabled }},
		{"tokens keep their base64 padding: the role follows the last =", map[string]string{"MIDATA_AUTH_TOKENS": "QUJDREVGR0hJSktMTU5PUA===partner:pds-1"},
			func(c config.Config) bool {
				return reflect.DeepEqual(c.Auth.Tokens, map[string]string{"QUJDREVGR0hJSktMTU5PUA==": "partner:pds-1"})
			}},
		{"schedules are YAML in flow style", map[string]string{"MIDATA_SCHEDULES": `[{id: d, cron: "@daily", recipient: "partner:pds-1", scope: {customers: [C1, C2]}, period: previous_day, formats: [ndjson]}]`},
			func(c config.Config) bool {
				return len(c.Schedules) == 1 && c.Schedules[0].Recipient == "partner:pds-1" &&
					reflect.DeepEqual(c.Schedules[0].Scope.Customers, []string{"C1", "C2"})
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := config.Load(config.CommandServe, "", envOf(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Errorf("environment %v gave %+v", tt.env, c)
			}
		})
	}
}

func TestBadEnvironmentValuesAreNamedButSecretsAreNot(t *testing.T) {
	t.Parallel()
	const secret = "do-not-print-me-0123456789"
	tests := []struct {
		name    string
		env     map[string]string
		wants   []string
		secrets []string // must not appear
	}{
		{"a word for a number", map[string]string{"MIDATA_WORKERS_MAX_ATTEMPTS": "lots"},
			[]string{"MIDATA_WORKERS_MAX_ATTEMPTS", `"lots"`, "want an integer"}, nil},
		{"a bad duration", map[string]string{"MIDATA_LINK_TTL": "a week"},
			[]string{"MIDATA_LINK_TTL", `"a week"`, "want a duration"}, nil},
		{"a bad bool", map[string]string{"MIDATA_S3_PATH_STYLE": "sometimes"},
			[]string{"MIDATA_S3_PATH_STYLE", "want true or false"}, nil},
		{"a token without a role", map[string]string{"MIDATA_AUTH_TOKENS": secret + "=ops," + secret + "x"},
			[]string{"MIDATA_AUTH_TOKENS", "entry 2 of 2", "want <token>=<role>"}, []string{secret}},
		{"a token given twice", map[string]string{"MIDATA_AUTH_TOKENS": secret + "=ops," + secret + "=customer:C1"},
			[]string{"MIDATA_AUTH_TOKENS", "entry 2 of 2", "the same token"}, []string{secret}},
		{"an unknown key in a schedule", map[string]string{"MIDATA_SCHEDULES": "[{id: a, crn: x}]"},
			[]string{"MIDATA_SCHEDULES", "unknown key schedules[0].crn"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Load(config.CommandServe, "", envOf(tt.env))
			if err == nil {
				t.Fatal("Load accepted it")
			}
			if !errors.Is(err, config.ErrInvalid) {
				t.Errorf("error %v does not match ErrInvalid", err)
			}
			for _, want := range tt.wants {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			for _, s := range tt.secrets {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q shows the secret", err)
				}
			}
		})
	}
}

func TestFlagsNameTheirKeyAndKeepSecretsOutOfErrors(t *testing.T) {
	t.Parallel()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var out strings.Builder
	fs.SetOutput(&out)
	flagged := config.Default()
	flagged.Flags(config.CommandServe, fs)

	err := fs.Parse([]string{"--workers-concurrency", "many"})
	if err == nil || !strings.Contains(err.Error(), "-workers-concurrency") || !strings.Contains(err.Error(), "want an integer") {
		t.Errorf("a bad non-secret flag: Parse = %v, want it to name the flag and what it wants", err)
	}

	// Secrets have no flag (ps shows a command line): the flags they had
	// are refused naming the variable, never the value.
	const secret = "do-not-print-me-0123456789"
	for _, cmd := range config.Commands() {
		fs2 := flag.NewFlagSet(string(cmd), flag.ContinueOnError)
		fs2.SetOutput(&out)
		flagged2 := config.Default()
		flagged2.Flags(cmd, fs2)
		for _, k := range config.KeysOf(cmd) {
			if k.Secret && fs2.Lookup(flagNameOf(k.Env)) != nil {
				t.Errorf("%s: secret key %s has flag --%s", cmd, k.Name, flagNameOf(k.Env))
			}
		}
	}
	for _, old := range []string{"auth-tokens", "token"} {
		fs2 := flag.NewFlagSet("serve", flag.ContinueOnError)
		err := config.CheckRenamed(fs2, []string{"--" + old, secret})
		if err == nil || !strings.Contains(err.Error(), "MIDATA_") || !strings.Contains(err.Error(), "_FILE") || strings.Contains(err.Error(), secret) {
			t.Errorf("--%s: CheckRenamed = %v, want a refusal naming the variable and the file key, without the value", old, err)
		}
	}
	if strings.Contains(out.String(), secret) {
		t.Errorf("the flag package printed the secret: %s", out.String())
	}
}

func TestHelpShowsEveryFlagOfTheCommandWithItsVariableAndDefault(t *testing.T) {
	t.Parallel()
	for _, cmd := range config.Commands() {
		fs := flag.NewFlagSet(string(cmd), flag.ContinueOnError)
		var out strings.Builder
		fs.SetOutput(&out)
		config.NewCommandLine(cmd, fs)
		fs.PrintDefaults()
		for _, k := range config.Keys() {
			listed := strings.Contains(out.String(), "-"+k.Flag+" ") || strings.Contains(out.String(), "-"+k.Flag+"\n")
			if k.Flag == "" {
				listed = k.UsedBy(cmd) // a secret: no flag, its variable named under --config
			}
			if listed != k.UsedBy(cmd) {
				t.Errorf("midata %s --help lists -%s: %v, want %v", cmd, k.Flag, listed, k.UsedBy(cmd))
			}
			if k.UsedBy(cmd) && !strings.Contains(out.String(), "["+k.Env+"]") && !(k.Flag == "" && strings.Contains(out.String(), k.Env+",")) {
				t.Errorf("midata %s --help does not name %s", cmd, k.Env)
			}
		}
		if cmd != config.CommandServe {
			continue
		}
		for _, want := range []string{"(default 7d)", "(default 127.0.0.1:8080)", "(default midata-workers)"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("--help does not show %s:\n%s", want, out.String())
			}
		}
	}
}

func TestCommandsReadOnlyTheirOwnVariables(t *testing.T) {
	t.Parallel()
	env := map[string]string{"MIDATA_AUTH_TOKENS": "not a token list", "MIDATA_KAFKA_BROKERS": "k:9092", "MIDATA_SERVER": "http://ops:8080"}
	c, err := config.Load(config.CommandExport, "", envOf(env))
	if err != nil {
		t.Fatalf("export read serve's MIDATA_AUTH_TOKENS: %v", err)
	}
	if c.Client.Server != config.DefaultServer || len(c.Kafka.Brokers) != 1 {
		t.Errorf("export loaded %+v, want brokers and not the CLI's server", c)
	}
	c, err = config.Load(config.CommandRuns, "", envOf(env))
	if err != nil || c.Client.Server != "http://ops:8080" || len(c.Kafka.Brokers) != 0 {
		t.Errorf("runs loaded %+v, %v; want the server only", c, err)
	}
}

func TestRenamedFlagsStopWithTheNewName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cmd  config.Command
		args []string
		want string // "" = accepted
	}{
		{config.CommandExport, []string{"--brokers", "k:9092"}, "flag --brokers is now --kafka-brokers (or MIDATA_KAFKA_BROKERS)"},
		{config.CommandExport, []string{"--bucket=b"}, "flag --bucket is now --s3-bucket"},
		{config.CommandSeed, []string{"-topic", "tx"}, "flag --topic is now --transactions-topic"},
		{config.CommandDev, []string{"--addr", "127.0.0.1:0"}, "flag --addr is now --http-addr"},
		{config.CommandSeed, []string{"--customers", "5"}, "flag --customers is now --synth-customers"},
		{config.CommandExport, []string{"--kafka-brokers", "--brokers"}, ""}, // a value, not a flag
		{config.CommandExport, []string{"--s3-path-style", "--bucket", "b"}, "--s3-bucket"},
		{config.CommandExport, []string{"--", "--brokers"}, ""},
	}
	for _, tt := range tests {
		fs := flag.NewFlagSet(string(tt.cmd), flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		c := config.Default()
		c.Flags(tt.cmd, fs)
		err := config.CheckRenamed(fs, tt.args)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("midata %s %q: %v, want it accepted", tt.cmd, tt.args, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, config.ErrInvalid)):
			t.Errorf("midata %s %q: %v, want %q", tt.cmd, tt.args, err, tt.want)
		}
	}
	// A flag of the command is never refused, though another key was once
	// called so: runs has --customers (a list of ids) of its own.
	fs := flag.NewFlagSet("runs start", flag.ContinueOnError)
	fs.String("customers", "", "")
	if err := config.CheckRenamed(fs, []string{"--customers", "C1"}); err != nil {
		t.Errorf("runs start --customers: %v", err)
	}
}

func TestCommandLineLoadsTheFileTheEnvironmentAndTheFlagsAndValidates(t *testing.T) {
	t.Parallel()
	path := writeFile(t, "kafka: {brokers: [file:9092]}\ns3: {bucket: file-bucket}\nauth: {tokens: {not-checked-by-export: nobody}}\n")
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cl := config.NewCommandLine(config.CommandExport, fs)
	if err := cl.Parse([]string{"--s3-bucket", "flag-bucket", "--print-config"}); err != nil {
		t.Fatal(err)
	}
	c, err := cl.Load(envOf(map[string]string{"MIDATA_CONFIG": path, "MIDATA_LINK_TTL": "2d"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Kafka.Brokers[0] != "file:9092" || c.S3.Bucket != "flag-bucket" || c.Links.TTL != config.Duration(48*time.Hour) || !cl.PrintConfig() {
		t.Errorf("loaded %+v, print %v", c, cl.PrintConfig())
	}

	fs = flag.NewFlagSet("seed", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cl = config.NewCommandLine(config.CommandSeed, fs)
	if err := cl.Parse([]string{"--config", path, "--synth-partitions", "0"}); err != nil {
		t.Fatal(err)
	}
	_, err = cl.Load(envOf(nil))
	if err == nil || !errors.Is(err, config.ErrInvalid) || !strings.Contains(err.Error(), `synth.partitions "0": want 1 to 10000 [MIDATA_SYNTH_PARTITIONS, --synth-partitions]`) {
		t.Errorf("seed with no partitions: %v", err)
	}
}

func TestValidateChecksOnlyTheCommandsKeys(t *testing.T) {
	t.Parallel()
	c := config.Default() // no brokers, no bucket
	c.Auth.Tokens = map[string]string{"short": "nobody"}
	for _, tt := range []struct {
		cmd  config.Command
		want []string // the keys named, in order; none = valid
	}{
		{config.CommandDev, nil},
		{config.CommandRuns, nil},
		{config.CommandSchedule, nil},
		{config.CommandSeed, []string{"kafka.brokers: required"}},
		{config.CommandExport, []string{"kafka.brokers: required", "s3.bucket: required"}},
		{config.CommandServe, []string{"kafka.brokers: required", "s3.bucket: required", "auth.tokens", "auth.tokens"}},
	} {
		err := c.Validate(tt.cmd)
		var got []string
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n")[1:] {
				got = append(got, line)
			}
		}
		ok := len(got) == len(tt.want)
		for i := 0; ok && i < len(got); i++ {
			ok = strings.HasPrefix(got[i], tt.want[i])
		}
		if !ok {
			t.Errorf("Validate(%s) = %q, want lines starting %q", tt.cmd, got, tt.want)
		}
	}
	c.Client.Server = ""
	if err := c.Validate(config.CommandRuns); err == nil || !strings.Contains(err.Error(), "client.server: required: set it in the file, MIDATA_SERVER or --server") {
		t.Errorf("runs without a server: %v", err)
	}
}

func TestUnknownEnvListsMisspeltVariablesOnly(t *testing.T) {
	t.Parallel()
	got := config.UnknownEnv([]string{
		"PATH=/bin",
		"MIDATA_S3_BUCKET=b",
		"MIDATA_CONFIG=/etc/midata/config.yaml",
		"MIDATA_S3_BUKET=b",
		"MIDATA_TEST_KAFKA=127.0.0.1:19092",
		"MIDATA_LINKS_TTL=7d",
		"MIDATA_S3_BUKET=again",
		"AWS_REGION=us-east-1",
	})
	want := []string{"MIDATA_LINKS_TTL", "MIDATA_S3_BUKET"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("UnknownEnv = %v, want %v", got, want)
	}
}

func TestDurationsReadAndWriteDays(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want time.Duration
		out  string
	}{
		{"7d", 7 * 24 * time.Hour, "7d"},
		{"168h", 7 * 24 * time.Hour, "7d"},
		{"36h", 36 * time.Hour, "36h0m0s"},
		{"30s", 30 * time.Second, "30s"},
		{"0d", 0, "0s"},
	}
	for _, tt := range tests {
		d, err := config.ParseDuration(tt.in)
		if err != nil || time.Duration(d) != tt.want || d.String() != tt.out {
			t.Errorf("ParseDuration(%q) = %v (%s), %v; want %v (%s)", tt.in, time.Duration(d), d, err, tt.want, tt.out)
		}
	}
	for _, bad := range []string{"", "7", "d", "1.5d", "seven days", "99999999d"} {
		if _, err := config.ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) accepted it", bad)
		}
	}
}

func TestByteSizesReadWithTheirUnits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want config.ByteSize
		text string
	}{
		{"268435456", 256 << 20, "256MiB"},
		{"256MiB", 256 << 20, "256MiB"},
		{"1GiB", 1 << 30, "1GiB"},
		{"1536 KiB", 1536 << 10, "1536KiB"},
		{"100B", 100, "100B"},
		{"0", 0, "0"},
	}
	for _, tt := range tests {
		got, err := config.ParseByteSize(tt.in)
		if err != nil || got != tt.want || got.String() != tt.text {
			t.Errorf("ParseByteSize(%q) = %d (%s), %v; want %d (%s)", tt.in, got, got, err, tt.want, tt.text)
		}
	}
	for _, bad := range []string{"", "-1MiB", "1.5GiB", "12MB", "MiB", "99999999999GiB"} {
		if got, err := config.ParseByteSize(bad); err == nil {
			t.Errorf("ParseByteSize(%q) = %d, want an error", bad, got)
		}
	}
}

// flagNameOf is the flag a key would have: MIDATA_S3_BUCKET → s3-bucket.
func flagNameOf(env string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(env, "MIDATA_")), "_", "-")
}
