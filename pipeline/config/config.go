package config

import (
	"time"

	"github.com/midata/midata/pipeline/api/bearer"
	"github.com/midata/midata/pipeline/kafkasource"
	"github.com/midata/midata/pipeline/partners"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/pipeline/topics/kafkasec"
	"github.com/midata/midata/schemas"
	"github.com/midata/midata/sinks"
)

// Config is the configuration of every midata command; each command reads
// and checks only the keys it uses (Keys says which). The zero value is
// not useful: start from Default (Load does). The YAML tags are the keys
// of the config file.
type Config struct {
	Kafka   Kafka        `yaml:"kafka"`
	Topics  topics.Names `yaml:"topics"`
	Workers Workers      `yaml:"workers"`
	S3      S3           `yaml:"s3"`
	Links   Links        `yaml:"links"`
	HTTP    HTTP         `yaml:"http"`
	Auth    Auth         `yaml:"auth"`
	// Scheduler says whether this instance fires the schedules. Every
	// instance may: each firing has a deterministic id, so instances firing
	// the same tick make one release.
	Scheduler Scheduler `yaml:"scheduler"`
	// Schedules are declared in the config file (or MIDATA_SCHEDULES) in
	// addition to those created through the API.
	Schedules []Schedule `yaml:"schedules"`
	// Partners are the personal data stores midata delivers to.
	Partners []partners.Partner `yaml:"partners"`
	Log      Log                `yaml:"log"`
	// Signing is the key that signs what partners receive (package signing).
	Signing Signing `yaml:"signing"`
	// Client says which `midata serve` the ops CLI (runs, schedule) calls.
	Client Client `yaml:"client"`
	// Dev tunes the embedded default, `midata dev`.
	Dev Dev `yaml:"dev"`
	// Synth sizes the synthetic data set that dev and seed write.
	Synth Synth `yaml:"synth"`
	// TempDir is where bulk releases spill records and sorting spills runs;
	// empty means the system's temporary folder.
	TempDir string `yaml:"temp_dir"`
	// Timezone is the organisation's time zone, of periods given as dates.
	Timezone     string `yaml:"timezone"`
	Organisation string `yaml:"organisation"` // its name, the controller in consent receipts
	// StateDir is where serve keeps on disk what it rebuilds from Kafka at
	// start (the run view's release outcomes, in its folder runs-view),
	// emptied at start: one instance per folder. Empty means a new folder
	// under TempDir, removed at exit.
	StateDir string `yaml:"state_dir"`
	// MemoryLimit is serve's soft memory limit (package memlimit): near it
	// the garbage collector runs more often instead of letting the heap
	// grow to twice what is live. 0 (the default) means GOMEMLIMIT when it
	// is set, else 90 % of the container's memory limit when there is one,
	// else none.
	MemoryLimit ByteSize `yaml:"memory_limit"`
}

// Kafka says where the brokers are and how producers partition.
type Kafka struct {
	// Brokers are the bootstrap brokers, host:port. Required.
	Brokers []string `yaml:"brokers"`
	// Partitioner is how the producers of the transactions topic partition
	// by customer id: murmur2 (default; Java clients, librdkafka's
	// murmur2_random), crc32 (librdkafka's consistent_random) or fnv1a
	// (kafka-go's Hash).
	Partitioner string `yaml:"partitioner"`
	// ConsentPartitioner partitions the consent topic by its key: murmur2
	// by default, whatever Partitioner says; midata writes consent with it.
	ConsentPartitioner string `yaml:"consent_partitioner"`
	// TLS and SASL secure every connection to the brokers (kafkasec).
	TLS  kafkasec.TLS  `yaml:"tls"`
	SASL kafkasec.SASL `yaml:"sasl"`
}

// KafkaConnection returns the connection every Kafka client of a command
// dials with: the brokers, TLS and SASL (reading their files).
func (c Config) KafkaConnection() (topics.Connection, error) {
	t, err := c.Kafka.TLS.Config()
	if err != nil {
		return topics.Connection{}, invalidf("kafka.tls: %v", err)
	}
	m, err := c.Kafka.SASL.Build()
	if err != nil {
		return topics.Connection{}, invalidf("kafka.sasl: %v", err)
	}
	return topics.Connection{Brokers: c.Kafka.Brokers, TLS: t, SASL: m}, nil
}

// Workers tunes the workers that take requests from the requests topic.
type Workers struct {
	// Group is the Kafka consumer group every instance joins; default
	// "midata-workers".
	Group string `yaml:"group"`
	// Concurrency is how many requests (or bulk tasks) one instance runs at
	// once; default 2.
	Concurrency int `yaml:"concurrency"`
	// MaxAttempts is how many times a request is tried, with exponential
	// backoff, before its run ends failed; default 5.
	MaxAttempts int `yaml:"max_attempts"`
	// DrainTimeout is how long shutdown waits for work in flight before
	// cancelling it (nothing partial is committed); default 30s.
	DrainTimeout Duration `yaml:"drain_timeout"`
	// CommitDepth is how many customers' releases one bulk task stages and
	// commits at once; default 16 (pipeline.DefaultCommitDepth).
	CommitDepth int `yaml:"commit_depth"`
}

// S3 says where releases are stored. Credentials come from the AWS SDK's
// chain, not from here.
type S3 struct {
	// Endpoint is the base URL of an S3-compatible server; empty means AWS.
	Endpoint string `yaml:"endpoint"`
	// Bucket holds the releases. Required; it must exist.
	Bucket string `yaml:"bucket"`
	// Region is the signing region; empty means the SDK's chain
	// (AWS_REGION), else us-east-1.
	Region string `yaml:"region"`
	// PathStyle addresses objects as endpoint/bucket/key. The S3 sink
	// always uses it when Endpoint is set.
	PathStyle bool `yaml:"path_style"`
	// SSE, KMSKeyID: the server-side encryption of every object (s3.sse).
	SSE      string `yaml:"sse"`
	KMSKeyID string `yaml:"sse_kms_key_id"`
	// AttemptTimeout, MaxAttempts: the time limits of S3 requests (0: 1m, 5).
	AttemptTimeout Duration `yaml:"attempt_timeout"`
	MaxAttempts    int      `yaml:"max_attempts"`
}

// Links tunes the signed download links.
type Links struct {
	// TTL is how long a link lives; default and maximum 7d, the longest a
	// SigV4 presigned link may live.
	TTL Duration `yaml:"ttl"`
}

// HTTP says where the API, /healthz, /readyz and /metrics listen.
type HTTP struct {
	// Addr is host:port; default 127.0.0.1:8080 (loopback only). A
	// container sets 0.0.0.0:8080.
	Addr string `yaml:"addr"`
	// PprofAddr, when set, is where serve answers net/http/pprof's
	// /debug/pprof/: a loopback host:port only (profiles show internals).
	PprofAddr string `yaml:"pprof_addr"`
	// MetricsAddr, when set, also answers /metrics, without a token.
	MetricsAddr string `yaml:"metrics_addr"`
}

// Auth holds the API's bearer tokens.
type Auth struct {
	// Tokens maps each bearer token (at least 16 bytes) to its role: "ops",
	// "customer:<id>" or "partner:<id>". Secret: Print masks the tokens;
	// put them in MIDATA_AUTH_TOKENS from a secret store, not in the file.
	Tokens map[string]string `yaml:"tokens"`
	// TokensFile holds more, one token=role a line; serve re-reads it when
	// it changes (rotation without a restart).
	TokensFile string `yaml:"tokens_file"`
	// OIDC accepts bearer JWTs too (package pipeline/api/bearer).
	OIDC bearer.JWTSettings `yaml:"oidc"`
}

// Scheduler switches the schedule runner of this instance.
type Scheduler struct {
	// Enabled fires due schedules from this instance; default true.
	Enabled bool `yaml:"enabled"`
}

// Schedule declares a cron schedule of releases, with the shape of the
// API's schedules: pipeline/schedule.Schedule checks it fully (cron syntax,
// periods, formats) when `midata serve` converts it.
type Schedule struct {
	// ID names the schedule: 1-64 of a-z 0-9 . _ -.
	ID string `yaml:"id"`
	// Spec is the cron spec: "0 3 1 * *", "CRON_TZ=Europe/London 0 1 * * *",
	// "@monthly".
	Spec string `yaml:"cron"`
	// Recipient is "self" (each customer) or "partner:<id>".
	Recipient schemas.Recipient `yaml:"recipient"`
	// Scope says whose records: listed customers, or all with consent.
	Scope schemas.Scope `yaml:"scope"`
	// Period is previous_day, previous_week, previous_month, previous_year
	// or last:<duration>.
	Period string `yaml:"period"`
	// Formats names the release formats, e.g. midata-csv, ndjson.
	Formats []string `yaml:"formats"`
	// Paused declares the schedule without letting it fire.
	Paused bool `yaml:"paused,omitempty"`
}

// Signing names the signing key and the public keys rotated out.
type Signing struct {
	// KeyFile is the minisign secret key (unencrypted, a mounted secret).
	KeyFile string `yaml:"key_file"`
	// OldPublicKeyFiles are the public keys of keys rotated out, still
	// served so that older signatures can be checked.
	OldPublicKeyFiles []string `yaml:"old_public_key_files"`
}

// Log tunes the structured logs.
type Log struct {
	// Level is debug, info (default), warn or error.
	Level string `yaml:"level"`
	// Format is json (default: one object per line, for collectors) or text.
	Format string `yaml:"format"`
}

// Client says where the API of `midata serve` is, for `midata runs` and
// `midata schedule`.
type Client struct {
	// Server is the base URL of the API; default http://127.0.0.1:8080.
	Server string `yaml:"server"`
	// Token is the bearer token sent, with the ops role. Secret: Print
	// masks it; put it in MIDATA_TOKEN, not in the file.
	Token string `yaml:"token"`
	// TokenFile holds the token instead (its first line).
	TokenFile string `yaml:"token_file"`
}

// Dev tunes `midata dev`: where it keeps its local store and the port of
// its in-process Kafka broker.
type Dev struct {
	// DataDir holds the local object store and the link key; default
	// "data" (relative to the working directory).
	DataDir string `yaml:"data_dir"`
	// KafkaPort is the in-process broker's port; 0 (default) = any free
	// port.
	KafkaPort int `yaml:"kafka_port"`
}

// Synth sizes the synthetic data set `midata dev` and `midata seed`
// write; its defaults are schemas/synth's DefaultConfig.
type Synth struct {
	// Customers is how many customers the set has; default 120.
	Customers int `yaml:"customers"`
	// Transactions is how many valid transactions; default 24,000.
	Transactions int `yaml:"transactions"`
	// Malformed is how many invalid records are added; default 12.
	Malformed int `yaml:"malformed"`
	// Seed makes the set: the same seed gives the same bytes; default 1.
	Seed int64 `yaml:"seed"`
	// Partitions is the partition count of the transactions topic when
	// dev or seed creates it; default 6.
	Partitions int `yaml:"partitions"`
}

// The defaults that are not obvious from Default.
const (
	DefaultHTTPAddr = "127.0.0.1:8080"
	// DefaultServer is the API the ops CLI calls: a local midata serve.
	DefaultServer = "http://127.0.0.1:8080"
)

// Default returns the configuration before any file, variable or flag:
// everything but Kafka.Brokers and S3.Bucket has a working value.
func Default() Config {
	return Config{
		Kafka:    Kafka{Partitioner: kafkasource.DefaultPartitioner, ConsentPartitioner: kafkasource.DefaultPartitioner},
		Timezone: schemas.DefaultTimezone, Organisation: "midata",
		Topics: topics.Names{}.WithDefaults(),
		Workers: Workers{
			Group:        "midata-workers",
			Concurrency:  2,
			MaxAttempts:  5,
			DrainTimeout: Duration(30 * time.Second),
			CommitDepth:  16,
		},
		Links:     Links{TTL: Duration(sinks.MaxLinkTTL)},
		Auth:      Auth{OIDC: bearer.JWTSettings{RoleClaim: bearer.DefaultRoleClaim}},
		HTTP:      HTTP{Addr: DefaultHTTPAddr},
		Scheduler: Scheduler{Enabled: true},
		Log:       Log{Level: "info", Format: "json"},
		Client:    Client{Server: DefaultServer},
		Dev:       Dev{DataDir: "data"},
		Synth:     Synth{Customers: 120, Transactions: 24_000, Malformed: 12, Seed: 1, Partitions: 6},
	}
}

// Location returns the organisation's time zone (Timezone; validated).
func (c Config) Location() *time.Location {
	loc, err := time.LoadLocation(c.Timezone)
	if err != nil || c.Timezone == "" {
		loc, _ = time.LoadLocation(schemas.DefaultTimezone)
	}
	return loc
}
