package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/midata/midata/pipeline/api/bearer"
	"github.com/midata/midata/pipeline/kafkasource"
	"github.com/midata/midata/pipeline/partners"
	"github.com/midata/midata/schemas"
	"github.com/midata/midata/sinks"
)

var (
	topicPattern      = regexp.MustCompile(`^[A-Za-z0-9._-]{1,249}$`)
	bucketPattern     = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	regionPattern     = regexp.MustCompile(`^[a-z0-9-]{1,32}$`)
	scheduleIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
)

// MinTokenBytes is the shortest bearer token Validate accepts (the API's
// own minimum).
const MinTokenBytes = bearer.MinTokenBytes

// minMemoryLimit is the smallest memory_limit Validate accepts: serve
// holds about 50 MiB live in a bulk release at the default settings.
const minMemoryLimit = 64 << 20

// Validate checks every key cmd uses once, before anything connects, and
// reports every problem at once, one a line, each naming the key, its bad
// value (never a secret) and the variable and flag that set it:
//
//	invalid configuration:
//	kafka.partitioner "random": want murmur2, crc32 or fnv1a [MIDATA_PARTITIONER, --partitioner]
//
// Keys cmd does not use are not checked: a config file shared by every
// command may hold them. The error matches ErrInvalid. The schedules are
// checked for shape only (ids, recipients, scopes); pipeline/schedule
// checks cron specs, periods and formats when `midata serve` converts them.
func (c Config) Validate(cmd Command) error {
	v := validator{where: make(map[string]string), uses: make(map[string]bool)}
	for _, f := range fields() {
		if !f.UsedBy(cmd) {
			continue
		}
		v.uses[f.Name] = true
		v.where[f.Name] = " [" + f.Env + ", --" + f.Flag + "]"
		if f.Flag == "" {
			v.where[f.Name] = " [" + f.Env + "]"
		}
		if f.RequiredBy(cmd) && f.get(&c) == "" {
			v.add(f.Name, "required: set it in the file, %s or --%s", f.Env, f.Flag)
		}
	}

	for _, b := range c.Kafka.Brokers {
		if err := checkHostPort(b, false); err != nil {
			v.addValue("kafka.brokers", b, "%v", err)
		}
	}
	if _, err := kafkasource.PartitionerByName(c.Kafka.Partitioner); err != nil {
		v.addValue("kafka.partitioner", c.Kafka.Partitioner, "want murmur2, crc32 or fnv1a")
	}
	if _, err := time.LoadLocation(c.Timezone); err != nil || c.Timezone == "" || c.Timezone == "Local" {
		v.addValue("timezone", c.Timezone, "want an IANA time zone such as Europe/London (Local differs between machines)")
	}
	if _, err := kafkasource.PartitionerByName(c.Kafka.ConsentPartitioner); err != nil {
		v.addValue("kafka.consent_partitioner", c.Kafka.ConsentPartitioner, "want murmur2, crc32 or fnv1a")
	}
	if err := c.Kafka.TLS.Validate(); err != nil {
		v.add("kafka.tls.enabled", "%s", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	if err := c.Kafka.SASL.Validate(); err != nil {
		v.add("kafka.sasl.mechanism", "%s", strings.ReplaceAll(err.Error(), "\n", "; "))
	}

	topics := []struct{ key, name string }{
		{"topics.transactions", c.Topics.Transactions}, {"topics.consent", c.Topics.Consent},
		{"topics.quarantine", c.Topics.Quarantine}, {"topics.requests", c.Topics.Requests},
		{"topics.runs", c.Topics.Runs}, {"topics.schedules", c.Topics.Schedules},
	}
	seen := make(map[string]string)
	for _, t := range topics {
		switch {
		case !v.uses[t.key]:
		case !topicPattern.MatchString(t.name) || t.name == "." || t.name == "..":
			v.addValue(t.key, t.name, "want a Kafka topic name: 1-249 of A-Z a-z 0-9 . _ -")
		case seen[t.name] != "":
			v.addValue(t.key, t.name, "the same topic as %s: every topic must be its own", seen[t.name])
		default:
			seen[t.name] = t.key
		}
	}

	if c.Workers.Group == "" {
		v.add("workers.group", "empty: want a consumer group id")
	}
	v.between("workers.concurrency", int64(c.Workers.Concurrency), 1, 256)
	v.between("workers.max_attempts", int64(c.Workers.MaxAttempts), 1, 100)
	v.between("workers.commit_depth", int64(c.Workers.CommitDepth), 1, 256)
	if d := time.Duration(c.Workers.DrainTimeout); d <= 0 || d > time.Hour {
		v.addValue("workers.drain_timeout", c.Workers.DrainTimeout.String(), "want more than 0 and at most 1h")
	}

	if e := c.S3.Endpoint; e != "" {
		if !isHTTPURL(e) {
			v.addValue("s3.endpoint", e, "want an http:// or https:// URL with a host, or empty for AWS")
		}
	}
	if b := c.S3.Bucket; b != "" && (!bucketPattern.MatchString(b) || strings.Contains(b, "..")) {
		v.addValue("s3.bucket", b, "want a bucket name: 3-63 of a-z 0-9 . -, starting and ending with a letter or digit")
	}
	if e := c.S3.SSE; e != "" && e != "AES256" && e != "aws:kms" || c.S3.KMSKeyID != "" && e != "aws:kms" {
		v.addValue("s3.sse", e, "want AES256 (SSE-S3), aws:kms (SSE-KMS, the only one with s3.sse_kms_key_id) or empty")
	}
	if c.S3.AttemptTimeout < 0 || c.S3.MaxAttempts < 0 || c.S3.MaxAttempts > 20 {
		v.addValue("s3.max_attempts", strconv.Itoa(c.S3.MaxAttempts), "want 1-20 attempts and a positive s3.attempt_timeout (0: the defaults)")
	}
	if r := c.S3.Region; r != "" && !regionPattern.MatchString(r) {
		v.addValue("s3.region", r, "want a region such as us-east-1, or empty for the AWS SDK chain")
	}

	if err := sinks.CheckLinkTTL(time.Duration(c.Links.TTL)); err != nil {
		v.addValue("links.ttl", c.Links.TTL.String(), "%v", err)
	}
	if err := checkHostPort(c.HTTP.Addr, true); err != nil {
		v.addValue("http.addr", c.HTTP.Addr, "%v", err)
	}
	if a := c.HTTP.PprofAddr; a != "" {
		if err := checkHostPort(a, true); err != nil {
			v.addValue("http.pprof_addr", a, "%v", err)
		} else if host, _, _ := net.SplitHostPort(a); !isLoopback(host) {
			v.addValue("http.pprof_addr", a, "want a loopback host (127.0.0.1, ::1 or localhost): profiles show internals")
		}
	}
	if a := c.HTTP.MetricsAddr; a != "" && checkHostPort(a, true) != nil {
		v.addValue("http.metrics_addr", a, "%v", checkHostPort(a, true))
	}
	if err := c.Auth.OIDC.Validate(); err != nil {
		v.add("auth.oidc.issuer", "%s", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	for _, p := range tokenProblems(c.Auth.Tokens) {
		v.add("auth.tokens", "%s", p)
	}
	if err := partners.Check(c.Partners); err != nil {
		v.add("partners", "%s", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	for _, p := range scheduleProblems(c.Schedules) {
		v.add("schedules", "%s", p)
	}

	if m := c.MemoryLimit; m != 0 && m < minMemoryLimit {
		v.addValue("memory_limit", m.String(), "want 0 (none set here) or at least %s: below what serve holds live the garbage collector runs all the time", ByteSize(minMemoryLimit))
	}

	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		v.addValue("log.level", c.Log.Level, "want debug, info, warn or error")
	}
	if c.Log.Format != "json" && c.Log.Format != "text" {
		v.addValue("log.format", c.Log.Format, "want json or text")
	}

	if s := c.Client.Server; s != "" && !isHTTPURL(s) {
		v.addValue("client.server", s, "want an http:// or https:// URL with a host")
	}
	v.between("dev.kafka_port", int64(c.Dev.KafkaPort), 0, 65535)
	if c.Dev.DataDir == "" {
		v.add("dev.data_dir", "empty: want a folder")
	}
	v.between("synth.customers", int64(c.Synth.Customers), 1, 999_999)
	v.between("synth.transactions", int64(c.Synth.Transactions), 0, math.MaxInt32)
	v.between("synth.malformed", int64(c.Synth.Malformed), 0, math.MaxInt32)
	v.between("synth.partitions", int64(c.Synth.Partitions), 1, 10_000)
	if cmd == CommandDev && c.Synth.Transactions < c.Synth.Customers {
		// dev's sample customer needs transactions to release.
		v.addValue("synth.transactions", strconv.Itoa(c.Synth.Transactions), "want at least as many as synth.customers (%d)", c.Synth.Customers)
	}

	if len(v.problems) == 0 {
		return nil
	}
	return &invalidError{msg: "invalid configuration:\n" + strings.Join(v.problems, "\n")}
}

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// validator collects the problems of the keys a command uses; those of
// other keys are dropped.
type validator struct {
	where    map[string]string // key → " [ENV, --flag]"
	uses     map[string]bool   // the keys of the command
	problems []string
}

func (v *validator) add(key, format string, args ...any) {
	if !v.uses[key] {
		return
	}
	v.problems = append(v.problems, key+": "+fmt.Sprintf(format, args...)+v.where[key])
}

func (v *validator) addValue(key, value, format string, args ...any) {
	if !v.uses[key] {
		return
	}
	v.problems = append(v.problems, fmt.Sprintf("%s %q: ", key, value)+fmt.Sprintf(format, args...)+v.where[key])
}

// between adds a problem when n is not in [lo, hi].
func (v *validator) between(key string, n, lo, hi int64) {
	if n < lo || n > hi {
		v.addValue(key, strconv.FormatInt(n, 10), "want %d to %d", lo, hi)
	}
}

// checkHostPort accepts host:port; the host may be empty (all interfaces)
// only for a listen address, and port 0 (any free port) too.
func checkHostPort(s string, listen bool) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return errors.New("want host:port")
	}
	n, err := strconv.Atoi(port)
	min := 1
	if listen {
		min = 0
	}
	if err != nil || n < min || n > 65535 {
		return fmt.Errorf("port %q: want %d to 65535", port, min)
	}
	if host == "" && !listen {
		return errors.New("want host:port with a host")
	}
	return nil
}

// isLoopback says whether host names this machine only.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// tokenProblems checks each token's role and length, naming tokens by role
// only, sorted so the errors come out the same every time.
func tokenProblems(tokens map[string]string) []string {
	var out []string
	for tok, role := range tokens {
		if err := schemas.CheckRole(role); err != nil {
			out = append(out, fmt.Sprintf("token with role %q: %v", role, err))
		}
		if len(tok) < MinTokenBytes {
			out = append(out, fmt.Sprintf("token with role %q: shorter than %d bytes: use a long random token (openssl rand -hex 32)", role, MinTokenBytes))
		}
	}
	slices.Sort(out)
	return out
}

// scheduleProblems checks the shape of the declared schedules.
func scheduleProblems(list []Schedule) []string {
	var out []string
	ids := make(map[string]int)
	for i, s := range list {
		add := func(format string, args ...any) {
			out = append(out, fmt.Sprintf("[%d] (id %q): ", i, s.ID)+fmt.Sprintf(format, args...))
		}
		if !scheduleIDPattern.MatchString(s.ID) {
			add("id: want 1-64 of a-z 0-9 . _ -, starting with a letter or digit")
		} else if j, dup := ids[s.ID]; dup {
			add("id: the same as schedules[%d]", j)
		} else {
			ids[s.ID] = i
		}
		if strings.TrimSpace(s.Spec) == "" {
			add("cron: empty: want a spec such as \"0 3 1 * *\" or \"@monthly\"")
		}
		if err := s.Recipient.Validate(); err != nil {
			add("%v", err)
		}
		if err := s.Scope.Validate(); err != nil {
			add("scope: %v", err)
		}
		if s.Period == "" {
			add("period: empty: want previous_day, previous_week, previous_month, previous_year or last:<duration>")
		}
		if len(s.Formats) == 0 {
			add("formats: none: want one or more, e.g. [midata-csv]")
		}
	}
	return out
}
