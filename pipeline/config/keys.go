package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/midata/midata/pipeline/partners"
)

// Key describes one configuration key in each layer that can set it.
type Key struct {
	Name     string    // the path in the YAML file, e.g. "kafka.brokers"
	Env      string    // the environment variable, e.g. "MIDATA_KAFKA_BROKERS"
	Flag     string    // the flag, without dashes, e.g. "kafka-brokers"
	Default  string    // the default, written as the variable would be; "" = none
	Commands []Command // the commands that read it
	Required []Command // the commands whose Validate fails while it is empty
	Renamed  []string  // flags it had before (without dashes), refused naming Flag
	Secret   bool      // Print masks it; errors never show it
	Meaning  string    // one sentence for people
}

// Keys returns every key, in the order of the Config struct.
func Keys() []Key {
	fs := fields()
	keys := make([]Key, len(fs))
	def := Default()
	for i, f := range fs {
		keys[i] = f.Key
		keys[i].Default = f.get(&def)
	}
	return keys
}

// field is a Key with what reads and writes it as text (environment
// variables and flags).
type field struct {
	Key
	isBool bool
	set    func(c *Config, s string) error
	get    func(c *Config) string
}

// on says which commands read the field.
func (f field) on(cmds ...Command) field { f.Commands = cmds; return f }

// requiredBy says which commands need the field set.
func (f field) requiredBy(cmds ...Command) field { f.Required = cmds; return f }

// was lists the flags the field had before.
func (f field) was(old ...string) field { f.Renamed = old; return f }

// The sets of commands that share keys.
var (
	kafkaCommands = []Command{CommandServe, CommandExport, CommandSeed}
	s3Commands    = []Command{CommandServe, CommandExport, CommandSweep}
	synthCommands = []Command{CommandDev, CommandSeed}
)

// benchToo returns cmds and CommandBench: `midata bench` reads the servers'
// keys and passes them on to the serve and export processes it starts.
func benchToo(cmds []Command) []Command { return append(slices.Clip(cmds), CommandBench) }

// fields returns the table every layer is built from. The flag of each key
// is its variable without MIDATA_, in lower case, with dashes.
func fields() []field {
	return []field{
		listField("kafka.brokers", "MIDATA_KAFKA_BROKERS", "Kafka bootstrap brokers, host:port, comma-separated",
			func(c *Config) *[]string { return &c.Kafka.Brokers }).on(benchToo(kafkaCommands)...).requiredBy(benchToo(kafkaCommands)...).was("brokers"),
		stringField("kafka.partitioner", "MIDATA_PARTITIONER", "how the producers partition by customer: murmur2 (Java clients, librdkafka murmur2_random), crc32 (librdkafka consistent_random) or fnv1a (kafka-go Hash)",
			func(c *Config) *string { return &c.Kafka.Partitioner }).on(kafkaCommands...),
		stringField("kafka.consent_partitioner", "MIDATA_CONSENT_PARTITIONER", "how the consent topic is partitioned by its key (customer|recipient), whatever kafka.partitioner says: murmur2, crc32 or fnv1a",
			func(c *Config) *string { return &c.Kafka.ConsentPartitioner }).on(kafkaCommands...),
		boolField("kafka.tls.enabled", "MIDATA_KAFKA_TLS", "encrypt every connection to the brokers with TLS (checked against kafka.tls.ca_file, else the system's roots)",
			func(c *Config) *bool { return &c.Kafka.TLS.Enabled }).on(benchToo(kafkaCommands)...),
		stringField("kafka.tls.ca_file", "MIDATA_KAFKA_TLS_CA_FILE", "PEM file of the certificate authorities that sign the brokers' certificates",
			func(c *Config) *string { return &c.Kafka.TLS.CAFile }).on(benchToo(kafkaCommands)...),
		stringField("kafka.tls.cert_file", "MIDATA_KAFKA_TLS_CERT_FILE", "PEM client certificate, for brokers that ask for one (with kafka.tls.key_file)",
			func(c *Config) *string { return &c.Kafka.TLS.CertFile }).on(benchToo(kafkaCommands)...),
		stringField("kafka.tls.key_file", "MIDATA_KAFKA_TLS_KEY_FILE", "PEM key of the client certificate",
			func(c *Config) *string { return &c.Kafka.TLS.KeyFile }).on(benchToo(kafkaCommands)...),
		stringField("kafka.tls.server_name", "MIDATA_KAFKA_TLS_SERVER_NAME", "the name checked in the brokers' certificates; empty = each broker's host",
			func(c *Config) *string { return &c.Kafka.TLS.ServerName }).on(benchToo(kafkaCommands)...),
		stringField("kafka.sasl.mechanism", "MIDATA_KAFKA_SASL_MECHANISM", "SASL authentication to the brokers: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or empty (none); use it with kafka.tls.enabled",
			func(c *Config) *string { return &c.Kafka.SASL.Mechanism }).on(benchToo(kafkaCommands)...),
		stringField("kafka.sasl.username", "MIDATA_KAFKA_SASL_USERNAME", "the SASL user",
			func(c *Config) *string { return &c.Kafka.SASL.Username }).on(benchToo(kafkaCommands)...),
		secretField("kafka.sasl.password", "MIDATA_KAFKA_SASL_PASSWORD", "the SASL password (or kafka.sasl.password_file)",
			func(c *Config) *string { return &c.Kafka.SASL.Password }).on(benchToo(kafkaCommands)...),
		stringField("kafka.sasl.password_file", "MIDATA_KAFKA_SASL_PASSWORD_FILE", "a file whose first line is the SASL password",
			func(c *Config) *string { return &c.Kafka.SASL.PasswordFile }).on(benchToo(kafkaCommands)...),

		stringField("topics.transactions", "MIDATA_TRANSACTIONS_TOPIC", "the transactions topic (the input)",
			func(c *Config) *string { return &c.Topics.Transactions }).on(kafkaCommands...).was("topic"),
		stringField("topics.consent", "MIDATA_CONSENT_TOPIC", "the compacted consent topic",
			func(c *Config) *string { return &c.Topics.Consent }).on(kafkaCommands...),
		stringField("topics.quarantine", "MIDATA_QUARANTINE_TOPIC", "where invalid records go, with the reason in header midata-reason",
			func(c *Config) *string { return &c.Topics.Quarantine }).on(kafkaCommands...),
		stringField("topics.requests", "MIDATA_REQUESTS_TOPIC", "the work queue of export requests",
			func(c *Config) *string { return &c.Topics.Requests }).on(CommandServe),
		stringField("topics.runs", "MIDATA_RUNS_TOPIC", "the run ledger (audit trail), compacted",
			func(c *Config) *string { return &c.Topics.Runs }).on(CommandServe),
		stringField("topics.schedules", "MIDATA_SCHEDULES_TOPIC", "the schedules created through the API, compacted",
			func(c *Config) *string { return &c.Topics.Schedules }).on(CommandServe),
		stringField("topics.notifications", "MIDATA_NOTIFICATIONS_TOPIC", "events for the organisation's messaging systems (docs/notifications.md)",
			func(c *Config) *string { return &c.Topics.Notifications }).on(CommandServe),

		stringField("workers.group", "MIDATA_WORKERS_GROUP", "the Kafka consumer group every instance's workers join",
			func(c *Config) *string { return &c.Workers.Group }).on(CommandServe),
		intField("workers.concurrency", "MIDATA_WORKERS_CONCURRENCY", "requests (or bulk tasks) one instance runs at once",
			func(c *Config) *int { return &c.Workers.Concurrency }).on(CommandServe, CommandBench),
		intField("workers.max_attempts", "MIDATA_WORKERS_MAX_ATTEMPTS", "tries of a request, with exponential backoff, before its run fails",
			func(c *Config) *int { return &c.Workers.MaxAttempts }).on(CommandServe),
		durationField("workers.drain_timeout", "MIDATA_WORKERS_DRAIN_TIMEOUT", "how long shutdown waits for work in flight before cancelling it",
			func(c *Config) *Duration { return &c.Workers.DrainTimeout }).on(CommandServe),
		intField("workers.commit_depth", "MIDATA_WORKERS_COMMIT_DEPTH", "customers' releases one bulk task stages and commits at once",
			func(c *Config) *int { return &c.Workers.CommitDepth }).on(CommandServe),

		stringField("s3.endpoint", "MIDATA_S3_ENDPOINT", "base URL of an S3-compatible server; empty = AWS",
			func(c *Config) *string { return &c.S3.Endpoint }).on(benchToo(s3Commands)...),
		stringField("s3.bucket", "MIDATA_S3_BUCKET", "the bucket releases are written to; it must exist",
			func(c *Config) *string { return &c.S3.Bucket }).on(s3Commands...).requiredBy(s3Commands...).was("bucket"),
		stringField("s3.region", "MIDATA_S3_REGION", "the signing region; empty = the AWS SDK chain (AWS_REGION), else us-east-1",
			func(c *Config) *string { return &c.S3.Region }).on(benchToo(s3Commands)...),
		boolField("s3.path_style", "MIDATA_S3_PATH_STYLE", "address objects as endpoint/bucket/key (always on when s3.endpoint is set)",
			func(c *Config) *bool { return &c.S3.PathStyle }).on(s3Commands...),
		stringField("s3.sse", "MIDATA_S3_SSE", "server-side encryption of every object written: AES256 (SSE-S3), aws:kms (SSE-KMS) or empty (the bucket's default)",
			func(c *Config) *string { return &c.S3.SSE }).on(s3Commands...),
		stringField("s3.sse_kms_key_id", "MIDATA_S3_SSE_KMS_KEY_ID", "the KMS key (id, ARN or alias) of s3.sse aws:kms; empty = the account's default key",
			func(c *Config) *string { return &c.S3.KMSKeyID }).on(s3Commands...),
		durationField("s3.attempt_timeout", "MIDATA_S3_ATTEMPT_TIMEOUT", "the longest one attempt of one S3 request may take (a stalled endpoint fails it and it is retried); 0 = 1m",
			func(c *Config) *Duration { return &c.S3.AttemptTimeout }).on(s3Commands...),
		intField("s3.max_attempts", "MIDATA_S3_MAX_ATTEMPTS", "how often one S3 request is tried, with backoff and jitter, on 5xx, throttling and timeouts (1-20); 0 = 5",
			func(c *Config) *int { return &c.S3.MaxAttempts }).on(s3Commands...),

		durationField("links.ttl", "MIDATA_LINK_TTL", "lifetime of signed download links, at most 7d (the SigV4 limit)",
			func(c *Config) *Duration { return &c.Links.TTL }).on(CommandDev, CommandServe, CommandExport),
		stringField("http.addr", "MIDATA_HTTP_ADDR", "where the API, /healthz, /readyz and /metrics listen (0.0.0.0:8080 in a container); dev: its download server",
			func(c *Config) *string { return &c.HTTP.Addr }).on(CommandDev, CommandServe).was("addr"),
		stringField("http.pprof_addr", "MIDATA_PPROF_ADDR", "where serve answers /debug/pprof/ for profiling, loopback host:port only (127.0.0.1:6060); empty = off",
			func(c *Config) *string { return &c.HTTP.PprofAddr }).on(CommandServe),
		stringField("http.metrics_addr", "MIDATA_METRICS_ADDR", "where serve also answers /metrics without a token (host:port, e.g. an internal 0.0.0.0:9090); on http.addr /metrics takes an ops token; empty = only there",
			func(c *Config) *string { return &c.HTTP.MetricsAddr }).on(CommandServe),
		tokensField().on(CommandServe).was("auth-tokens"),
		stringField("auth.tokens_file", "MIDATA_AUTH_TOKENS_FILE", "a file of more API bearer tokens, one token=role a line (# comments); serve re-reads it when it changes",
			func(c *Config) *string { return &c.Auth.TokensFile }).on(CommandServe),
		stringField("auth.oidc.issuer", "MIDATA_OIDC_ISSUER", "accept bearer JWTs from this OIDC issuer (its iss); keys by discovery unless auth.oidc.jwks_url or public_key_file is set; empty = off",
			func(c *Config) *string { return &c.Auth.OIDC.Issuer }).on(CommandServe),
		stringField("auth.oidc.jwks_url", "MIDATA_OIDC_JWKS_URL", "the issuer's JWKS (signing keys), re-fetched when a token names a new key",
			func(c *Config) *string { return &c.Auth.OIDC.JWKSURL }).on(CommandServe),
		stringField("auth.oidc.public_key_file", "MIDATA_OIDC_PUBLIC_KEY_FILE", "a PEM public key (RSA, ECDSA, Ed25519) that signs the JWTs, instead of a JWKS",
			func(c *Config) *string { return &c.Auth.OIDC.PublicKeyFile }).on(CommandServe),
		stringField("auth.oidc.audience", "MIDATA_OIDC_AUDIENCE", "the aud every JWT must hold (required with an issuer)",
			func(c *Config) *string { return &c.Auth.OIDC.Audience }).on(CommandServe),
		stringField("auth.oidc.role_claim", "MIDATA_OIDC_ROLE_CLAIM", "the JWT claim naming the role: ops, customer:<id> or partner:<id>",
			func(c *Config) *string { return &c.Auth.OIDC.RoleClaim }).on(CommandServe),

		boolField("scheduler.enabled", "MIDATA_SCHEDULER_ENABLED", "fire due schedules from this instance (safe on every instance)",
			func(c *Config) *bool { return &c.Scheduler.Enabled }).on(CommandServe),
		yamlListField("schedules", "MIDATA_SCHEDULES", "schedules declared with the config: a YAML list of {id, cron, recipient, scope: {customers: [...]} or {all: true}, period, formats, paused}",
			func(c *Config) *[]Schedule { return &c.Schedules }, func(s Schedule) string { return s.ID }).on(CommandServe),
		yamlListField("partners", "MIDATA_PARTNERS", "the partners (personal data stores) midata delivers to: a YAML list of {id, name, bucket, prefix, webhook_url, webhook_secret_file, webhook_attempts, age_recipient, formats, categories}",
			func(c *Config) *[]partners.Partner { return &c.Partners }, func(p partners.Partner) string { return p.ID }).on(CommandServe),

		stringField("signing.key_file", "MIDATA_SIGNING_KEY_FILE", "the organisation's minisign secret key (unencrypted, mounted as a secret) that signs what partners receive; midata keys generate makes one; empty = serve signs nothing and serves no key",
			func(c *Config) *string { return &c.Signing.KeyFile }).on(CommandServe, CommandKeys),
		listField("signing.old_public_key_files", "MIDATA_SIGNING_OLD_PUBLIC_KEY_FILES", "public key files of signing keys rotated out, comma-separated: still served at /.well-known/midata-signing-key so older signatures check",
			func(c *Config) *[]string { return &c.Signing.OldPublicKeyFiles }).on(CommandServe, CommandKeys),

		stringField("log.level", "MIDATA_LOG_LEVEL", "debug, info, warn or error",
			func(c *Config) *string { return &c.Log.Level }).on(CommandServe),
		stringField("log.format", "MIDATA_LOG_FORMAT", "json (one object per line) or text",
			func(c *Config) *string { return &c.Log.Format }).on(CommandServe),

		stringField("client.server", "MIDATA_SERVER", "the API of midata serve that the ops CLI calls",
			func(c *Config) *string { return &c.Client.Server }).on(CommandRuns, CommandSchedule, CommandAudit).requiredBy(CommandRuns, CommandSchedule, CommandAudit),
		secretField("client.token", "MIDATA_TOKEN", "the bearer token the ops CLI sends (role ops)",
			func(c *Config) *string { return &c.Client.Token }).on(CommandRuns, CommandSchedule, CommandAudit).was("token"),
		stringField("client.token_file", "MIDATA_TOKEN_FILE", "a file whose first line is the ops CLI's bearer token",
			func(c *Config) *string { return &c.Client.TokenFile }).on(CommandRuns, CommandSchedule, CommandAudit),

		stringField("dev.data_dir", "MIDATA_DATA_DIR", "the folder of dev's local object store and link key",
			func(c *Config) *string { return &c.Dev.DataDir }).on(CommandDev),
		intField("dev.kafka_port", "MIDATA_KAFKA_PORT", "the port of dev's in-process Kafka broker; 0 = any free port",
			func(c *Config) *int { return &c.Dev.KafkaPort }).on(CommandDev),

		intField("synth.customers", "MIDATA_SYNTH_CUSTOMERS", "customers in the synthetic data set",
			func(c *Config) *int { return &c.Synth.Customers }).on(synthCommands...).was("customers"),
		intField("synth.transactions", "MIDATA_SYNTH_TRANSACTIONS", "valid transactions in the synthetic data set",
			func(c *Config) *int { return &c.Synth.Transactions }).on(synthCommands...).was("transactions"),
		intField("synth.malformed", "MIDATA_SYNTH_MALFORMED", "malformed records added to the synthetic transactions",
			func(c *Config) *int { return &c.Synth.Malformed }).on(synthCommands...).was("malformed"),
		intField("synth.seed", "MIDATA_SYNTH_SEED", "random seed of the synthetic data set: the same seed gives the same data",
			func(c *Config) *int64 { return &c.Synth.Seed }).on(synthCommands...).was("seed"),
		intField("synth.partitions", "MIDATA_SYNTH_PARTITIONS", "partitions of the transactions topic when dev or seed creates it",
			func(c *Config) *int { return &c.Synth.Partitions }).on(synthCommands...).was("partitions"),

		stringField("timezone", "MIDATA_TIMEZONE", "the organisation's time zone (IANA name): a period given as dates (--from 2026-06-01 --to 2026-07-01, or in an API request) is those calendar days there, and a schedule made without CRON_TZ fires and cuts its periods there",
			func(c *Config) *string { return &c.Timezone }).on(CommandDev, CommandServe, CommandExport),
		stringField("organisation", "MIDATA_ORGANISATION", "the organisation's name, shown to partners as the controller in every consent receipt",
			func(c *Config) *string { return &c.Organisation }).on(CommandServe),
		stringField("temp_dir", "MIDATA_TEMP_DIR", "where bulk releases and sorting spill to disk; empty = the system's",
			func(c *Config) *string { return &c.TempDir }).on(CommandDev, CommandServe, CommandExport, CommandBench),
		stringField("state_dir", "MIDATA_STATE_DIR", "where serve keeps on disk what it rebuilds from Kafka at start (the run view's release outcomes), emptied at start, one instance per folder; empty = a new folder under temp_dir",
			func(c *Config) *string { return &c.StateDir }).on(CommandServe),
		byteSizeField("memory_limit", "MIDATA_MEMORY_LIMIT", "serve's soft memory limit, e.g. 200MiB (the garbage collector works harder near it); 0 = GOMEMLIMIT when set, else 90 % of the container's memory limit (cgroup), else none",
			func(c *Config) *ByteSize { return &c.MemoryLimit }).on(CommandServe),
	}
}

// flagName is the flag of the variable env: MIDATA_S3_BUCKET → s3-bucket.
func flagName(env string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(env, "MIDATA_")), "_", "-")
}

func newField(name, env, meaning string) field {
	return field{Key: Key{Name: name, Env: env, Flag: flagName(env), Meaning: meaning}}
}

func stringField(name, env, meaning string, p func(*Config) *string) field {
	f := newField(name, env, meaning)
	f.set = func(c *Config, s string) error { *p(c) = s; return nil }
	f.get = func(c *Config) string { return *p(c) }
	return f
}

// secretField is a string that Print masks and errors never show, with no
// flag (ps shows a command line).
func secretField(name, env, meaning string, p func(*Config) *string) field {
	f := stringField(name, env, meaning, p)
	f.Secret, f.Flag = true, ""
	f.get = func(c *Config) string {
		if *p(c) == "" {
			return ""
		}
		return "****"
	}
	return f
}

func listField(name, env, meaning string, p func(*Config) *[]string) field {
	f := newField(name, env, meaning)
	f.set = func(c *Config, s string) error { *p(c) = splitList(s); return nil }
	f.get = func(c *Config) string { return strings.Join(*p(c), ",") }
	return f
}

// intField reads an int or int64 key in decimal.
func intField[T int | int64](name, env, meaning string, p func(*Config) *T) field {
	f := newField(name, env, meaning)
	f.set = func(c *Config, s string) error {
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil || int64(T(n)) != n {
			return fmt.Errorf("want an integer")
		}
		*p(c) = T(n)
		return nil
	}
	f.get = func(c *Config) string { return strconv.FormatInt(int64(*p(c)), 10) }
	return f
}

func boolField(name, env, meaning string, p func(*Config) *bool) field {
	f := newField(name, env, meaning)
	f.isBool = true
	f.set = func(c *Config, s string) error {
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("want true or false")
		}
		*p(c) = b
		return nil
	}
	f.get = func(c *Config) string { return strconv.FormatBool(*p(c)) }
	return f
}

func durationField(name, env, meaning string, p func(*Config) *Duration) field {
	f := newField(name, env, meaning)
	f.set = func(c *Config, s string) error {
		d, err := ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("want a duration such as 7d, 36h, 90m or 30s")
		}
		*p(c) = d
		return nil
	}
	f.get = func(c *Config) string { return p(c).String() }
	return f
}

func byteSizeField(name, env, meaning string, p func(*Config) *ByteSize) field {
	f := newField(name, env, meaning)
	f.set = func(c *Config, s string) error {
		b, err := ParseByteSize(s)
		if err != nil {
			return fmt.Errorf("want a size such as 256MiB, 1GiB or a number of bytes")
		}
		*p(c) = b
		return nil
	}
	f.get = func(c *Config) string { return p(c).String() }
	return f
}

// tokensField reads "token=role,token=role". A token may hold "=" (base64
// padding) but not ",": the role is after the last "=". Errors never show a
// token.
func tokensField() field {
	f := newField("auth.tokens", "MIDATA_AUTH_TOKENS", "API bearer tokens and their roles: token=ops,token=customer:<id>,token=partner:<id> (a token is at least 16 bytes)")
	f.Secret, f.Flag = true, ""
	f.set = func(c *Config, s string) error {
		entries := splitList(s)
		tokens := make(map[string]string, len(entries))
		for i, e := range entries {
			eq := strings.LastIndexByte(e, '=')
			if eq <= 0 || eq == len(e)-1 {
				return fmt.Errorf("entry %d of %d: want <token>=<role>", i+1, len(entries))
			}
			tok, role := strings.TrimSpace(e[:eq]), strings.TrimSpace(e[eq+1:])
			if _, dup := tokens[tok]; dup {
				return fmt.Errorf("entry %d of %d (role %q): the same token as an earlier entry", i+1, len(entries), role)
			}
			tokens[tok] = role
		}
		c.Auth.Tokens = tokens
		return nil
	}
	f.get = func(c *Config) string { return strings.Join(maskedTokens(c.Auth.Tokens), ",") }
	return f
}

// maskedTokens returns "****=role" for every token, sorted by role.
func maskedTokens(tokens map[string]string) []string {
	out := make([]string, 0, len(tokens))
	for _, role := range tokens {
		out = append(out, "****="+role)
	}
	slices.Sort(out)
	return out
}

// yamlListField reads a list written as YAML, usually in flow style:
// [{id: monthly, cron: "@monthly", …}]; Print shows the ids only.
func yamlListField[T any](name, env, meaning string, p func(*Config) *[]T, id func(T) string) field {
	f := newField(name, env, meaning)
	f.set = func(c *Config, s string) error {
		var list []T
		if err := decodeStrict([]byte(s), &list, name); err != nil {
			return err
		}
		*p(c) = list
		return nil
	}
	f.get = func(c *Config) string {
		var ids []string
		for _, v := range *p(c) {
			ids = append(ids, id(v))
		}
		if len(ids) > 0 {
			return fmt.Sprintf("%d %s: %s", len(ids), name, strings.Join(ids, ", "))
		}
		return ""
	}
	return f
}

// splitList splits a comma-separated list, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
