package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/midata/midata/pipeline"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/midata/midata/pipeline/kafkasource"
	"github.com/midata/midata/pipeline/topics"
)

// Config says what to measure and against which servers.
type Config struct {
	Kafka topics.Connection // required: the brokers
	S3    S3
	// Command runs midata (serve, export) as a child process. Required.
	Command Command

	Shapes  []Shape  // default Shapes
	Scale   float64  // multiplies each shape's records; default 1
	Formats []string // bulk formats; default csv, ndjson, parquet
	// Partitions of each transactions topic. Default 12.
	Partitions int
	// Concurrency is workers.concurrency of the serve children; 0 keeps
	// serve's default (2). Raw consume reads this many partitions at once.
	Concurrency int
	// PutConcurrency is how many raw PUTs are in flight: what the bulk
	// release keeps in flight at most. Default Concurrency (serve's default
	// when 0) × pipeline.DefaultCommitDepth: each of a worker's tasks
	// commits up to that many releases at once.
	PutConcurrency int
	// RSSShape is the shape measured again at 10 N for peak RSS (10 times
	// the customers). Default "typical", else the first shape.
	RSSShape string
	// RunTimeout bounds one bulk run. Default 30m.
	RunTimeout time.Duration
	// Env is added to every child's environment (MIDATA_TEMP_DIR, …).
	Env []string
	// Log receives progress lines. Default: discard.
	Log io.Writer
	// Prefix names the bench's topics, groups and buckets. Default
	// midata-bench-<time>.
	Prefix string
	// Keep leaves the seeded topics and the buckets in place (both are
	// deleted by default, each as soon as its figures are taken).
	Keep bool
}

const serveDefaultConcurrency = 2 // config.Default().Workers.Concurrency

func (c *Config) defaults() error {
	if len(c.Kafka.Brokers) == 0 {
		return errors.New("bench: kafka brokers are required")
	}
	if c.Command == nil {
		return errors.New("bench: Command is required")
	}
	if c.Shapes == nil {
		c.Shapes = Shapes
	}
	if c.Scale <= 0 {
		c.Scale = 1
	}
	if c.Formats == nil {
		c.Formats = []string{"csv", "ndjson", "parquet"}
	}
	if c.Partitions <= 0 {
		c.Partitions = 12
	}
	if c.PutConcurrency <= 0 {
		c.PutConcurrency = cmp(c.Concurrency, serveDefaultConcurrency) * pipeline.DefaultCommitDepth
	}
	if c.RSSShape == "" {
		c.RSSShape = "typical"
		if !slices.ContainsFunc(c.Shapes, func(s Shape) bool { return s.Name == "typical" }) && len(c.Shapes) > 0 {
			c.RSSShape = c.Shapes[0].Name
		}
	}
	if c.RunTimeout <= 0 {
		c.RunTimeout = 30 * time.Minute
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	if c.Prefix == "" {
		c.Prefix = "midata-bench-" + strconv.FormatInt(time.Now().Unix(), 36)
	}
	return nil
}

// cmp returns v, or def when v is not positive.
func cmp(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// ShapeByName returns the shape of Shapes with that name.
func ShapeByName(name string) (Shape, bool) {
	for _, s := range Shapes {
		if s.Name == name {
			return s, true
		}
	}
	return Shape{}, false
}

// bencher is one run of the bench.
type bencher struct {
	cfg    Config
	s3     *s3.Client
	report *Report
	seq    int
}

// Run measures every figure of every shape and returns the report. A part
// that cannot be measured is named in Report.Errors and the rest goes on;
// the error is for what stops the whole run (no servers, ctx).
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	client, tr, err := cfg.S3.client(ctx)
	if err != nil {
		return nil, err
	}
	defer tr.CloseIdleConnections()
	b := &bencher{cfg: cfg, s3: client, report: &Report{Date: time.Now().UTC(), Machine: machine(), Scale: cfg.Scale,
		Path: "a child `midata serve` per run, bulk request POST /v1/releases {all: true} through its worker, timed until the run is final"}}
	for _, shape := range cfg.Shapes {
		if err := b.shape(ctx, shape); err != nil {
			if ctx.Err() != nil {
				return b.report, ctx.Err()
			}
			b.fail(shape.Name, "", err)
		}
	}
	return b.report, nil
}

func (b *bencher) logf(format string, args ...any) {
	fmt.Fprintf(b.cfg.Log, "bench: "+format+"\n", args...)
}

func (b *bencher) fail(shape, what string, err error) {
	msg := shape + ": " + err.Error()
	if what != "" {
		msg = shape + " " + what + ": " + err.Error()
	}
	b.logf("%s", msg)
	b.report.Errors = append(b.report.Errors, msg)
}

// bucket creates a fresh bucket and returns its name and a func that
// deletes it with everything in it (nothing with Config.Keep): a full
// bench writes tens of gigabytes, which must not stay on the S3 server.
func (b *bencher) bucket(ctx context.Context, what string) (string, func(), error) {
	name := b.name(what)
	if err := createBucket(ctx, b.s3, name); err != nil {
		return "", nil, err
	}
	return name, func() {
		if b.cfg.Keep {
			return
		}
		if err := dropBucket(context.WithoutCancel(ctx), b.s3, name); err != nil {
			b.logf("%v (delete it by hand)", err)
		}
	}, nil
}

// name returns a fresh name for topics, groups and buckets.
func (b *bencher) name(what string) string {
	b.seq++
	return fmt.Sprintf("%s-%d-%s", b.cfg.Prefix, b.seq, what)
}

func rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

func (b *bencher) shape(ctx context.Context, full Shape) error {
	shape := full.Scaled(b.cfg.Scale)
	r := b.report
	b.logf("%s: seeding %d customers × %d records", shape.Name, shape.Customers, shape.Records)
	d, err := seedData(ctx, b.cfg.Kafka, b.name(shape.Name), shape, b.cfg.Partitions, time.Now())
	if err != nil {
		return err
	}
	if !b.cfg.Keep {
		defer d.drop(context.WithoutCancel(ctx), b.cfg.Kafka)
	}
	note := fmt.Sprintf("%d customers × %d, %d self grants", shape.Customers, shape.Records, d.selfGrants)
	r.add(Figure{Shape: shape.Name, Name: "seed", Value: rate(d.records, d.seedTime), Unit: "rec/s", Note: note})

	n, took, err := rawConsume(ctx, b.cfg.Kafka, d.tx, cmp(b.cfg.Concurrency, serveDefaultConcurrency))
	if err != nil {
		return err
	}
	consume := rate(n, took)
	r.add(Figure{Shape: shape.Name, Name: "raw_consume", Value: consume, Unit: "rec/s",
		Note: fmt.Sprintf("%d records in %.2fs, fetch %d MiB", n, took.Seconds(), kafkasource.DefaultFetchMaxBytes>>20)})
	b.logf("%s: raw consume %.0f rec/s", shape.Name, consume)

	var oneWorker float64
	var rssN int64
	stuck := ""
	for _, format := range b.cfg.Formats {
		if stuck != "" {
			b.fail(shape.Name, "bulk "+format, fmt.Errorf("skipped: the bulk %s run did not end", stuck))
			continue
		}
		res, err := b.bulk(ctx, d, format, 1)
		if errors.Is(err, errNotFinal) {
			stuck = format
		}
		if err != nil {
			b.fail(shape.Name, "bulk "+format, err)
			continue
		}
		bulkRate := rate(d.records, res.took)
		if format == "ndjson" || oneWorker == 0 {
			oneWorker, rssN = bulkRate, res.rss
		}
		// raw S3: the same objects, the same mean size, the same concurrency
		put := 0.0
		if res.objects > 0 {
			bucket, drop, err := b.bucket(ctx, "raw-s3")
			if err != nil {
				return err
			}
			took, err := rawPut(ctx, b.s3, bucket, res.objects, res.bytes/res.objects, b.cfg.PutConcurrency)
			drop()
			if err != nil {
				b.fail(shape.Name, "raw s3 "+format, err)
				continue
			}
			put = rate(res.objects, took)
			r.add(Figure{Shape: shape.Name, Name: "raw_s3_put." + format, Value: put, Unit: "obj/s",
				Note: fmt.Sprintf("%d objects of %d B, %d in flight", res.objects, res.bytes/res.objects, b.cfg.PutConcurrency)})
		}
		limit := consume
		if res.releases > 0 && put > 0 {
			perRelease := float64(res.objects) / float64(res.releases)
			recordsPerRelease := float64(d.records) / float64(res.releases)
			limit = min(consume, put/perRelease*recordsPerRelease)
		}
		r.add(Figure{Shape: shape.Name, Name: "limit." + format, Value: limit, Unit: "rec/s",
			Note: "L = min(raw consume, PUT rate ÷ objects per release × records per release)"})
		want := 0.8
		if format == "parquet" {
			want = 0.5
		}
		f := r.add(Figure{Shape: shape.Name, Name: "bulk." + format, Value: bulkRate, Unit: "rec/s",
			Note: fmt.Sprintf("%.2fs, %d releases, %d objects, peak RSS %d MiB, serve CPU %.1fs", res.took.Seconds(), res.releases, res.objects, res.rss>>20, res.cpu.Seconds())})
		f.judge("limit."+format, limit, fmt.Sprintf(">= %.1f", want), func(x float64) bool { return x >= want })
		b.logf("%s: bulk %s %.0f rec/s (%.2f of L)", shape.Name, format, bulkRate, f.Ratio)
	}

	if oneWorker == 0 {
		b.fail(shape.Name, "two workers", errors.New("skipped: no one-worker bulk run to compare with"))
	} else {
		res, err := b.bulk(ctx, d, "ndjson", 2)
		if err != nil {
			b.fail(shape.Name, "two workers", err)
		} else {
			f := r.add(Figure{Shape: shape.Name, Name: "bulk.ndjson.two_workers", Value: rate(d.records, res.took), Unit: "rec/s",
				Note: fmt.Sprintf("%.2fs, tasks %s, serve CPU %.1fs (both); %d cores for both processes, Kafka and S3", res.took.Seconds(), res.split, res.cpu.Seconds(), runtime.NumCPU())})
			f.judge("bulk.ndjson", oneWorker, ">= 1.7", func(x float64) bool { return x >= 1.7 })
		}
	}

	b.oneCustomer(ctx, d)

	switch {
	case shape.Name != b.cfg.RSSShape:
	case rssN == 0:
		b.fail(shape.Name, "peak rss", errors.New("skipped: no bulk run at N"))
	default:
		b.rss(ctx, shape, rssN)
	}
	return nil
}

// bulkResult is one bulk run's outcome.
type bulkResult struct {
	took           time.Duration
	rss            int64 // peak of the first serve process
	objects, bytes int64
	releases       int64         // manifests
	cpu            time.Duration // of every serve process, start to stop
	split          string        // tasks by worker ("7+5"), when several ran
}

// bulk runs one bulk release of d in format on workers fresh `midata
// serve` processes sharing one group, into a fresh bucket.
func (b *bencher) bulk(ctx context.Context, d *dataset, format string, workers int) (bulkResult, error) {
	var res bulkResult
	bucket, drop, err := b.bucket(ctx, "bulk")
	if err != nil {
		return res, err
	}
	defer drop()
	group := b.name("svc")
	env := append(b.env(d, bucket),
		"MIDATA_QUARANTINE_TOPIC="+group+"-quarantine", "MIDATA_REQUESTS_TOPIC="+group+"-requests",
		"MIDATA_RUNS_TOPIC="+group+"-runs", "MIDATA_SCHEDULES_TOPIC="+group+"-schedules",
		"MIDATA_WORKERS_GROUP="+group, "MIDATA_SCHEDULER_ENABLED=false")
	if b.cfg.Concurrency > 0 {
		env = append(env, "MIDATA_WORKERS_CONCURRENCY="+strconv.Itoa(b.cfg.Concurrency))
	}
	var servers []*server
	defer func() {
		for _, s := range servers {
			s.stop()
		}
	}()
	for range workers {
		s, err := startServe(ctx, b.cfg.Command, env)
		if err != nil {
			return res, err
		}
		servers = append(servers, s)
	}
	if workers > 1 {
		if err := awaitMembers(ctx, b.cfg.Kafka, group, workers); err != nil {
			return res, err
		}
	}
	b.logf("%s: bulk %s on %d worker(s)…", d.shape.Name, format, workers)
	ended, took, err := servers[0].bulk(ctx, d, format, group, b.cfg.RunTimeout)
	res.took = took
	if err != nil {
		return res, err
	}
	if workers > 1 {
		if res.split, err = servers[0].taskSplit(ctx, ended.ID); err != nil {
			return res, err
		}
	}
	res.rss = servers[0].stop()
	for _, s := range servers {
		s.stop()
		res.cpu += s.cpu()
	}
	if res.objects, res.bytes, err = bucketUsage(ctx, b.s3, bucket); err != nil {
		return res, err
	}
	res.releases, err = countManifests(ctx, b.s3, bucket)
	return res, err
}

// env is every child's environment for dataset d and bucket.
func (b *bencher) env(d *dataset, bucket string) []string {
	env := []string{"MIDATA_CONFIG=", "MIDATA_KAFKA_BROKERS=" + strings.Join(b.cfg.Kafka.Brokers, ","), "MIDATA_PARTITIONER=murmur2",
		"MIDATA_TRANSACTIONS_TOPIC=" + d.tx, "MIDATA_CONSENT_TOPIC=" + d.consent,
		"MIDATA_S3_BUCKET=" + bucket, "MIDATA_S3_ENDPOINT=" + b.cfg.S3.Endpoint, "MIDATA_S3_REGION=" + b.cfg.S3.Region,
		"MIDATA_LOG_LEVEL=warn"}
	return append(env, b.cfg.Env...)
}

// oneCustomer times `midata export` of one consenting customer against
// the user's shell for the same customer.
func (b *bencher) oneCustomer(ctx context.Context, d *dataset) {
	r := b.report
	bucket, drop, err := b.bucket(ctx, "one")
	if err != nil {
		b.fail(d.shape.Name, "one customer", err)
		return
	}
	defer drop()
	env := append(b.env(d, bucket), "MIDATA_QUARANTINE_TOPIC="+bucket+"-quarantine")
	res, took, err := export(ctx, b.cfg.Command, env, d, d.consentedCustomer, "ndjson")
	if err != nil {
		b.fail(d.shape.Name, "one customer", err)
		return
	}
	_, how, shellTook, err := shell(ctx, b.cfg.Kafka, b.s3, b.cfg.S3, bucket, d, d.consentedCustomer)
	if err != nil {
		b.fail(d.shape.Name, "shell", err)
	} else {
		r.add(Figure{Shape: d.shape.Name, Name: "one_customer.shell", Value: shellTook.Seconds(), Unit: "s", Note: how})
	}
	f := r.add(Figure{Shape: d.shape.Name, Name: "one_customer.export", Value: took.Seconds(), Unit: "s",
		Note: fmt.Sprintf("midata export, process start to end; %d records released", res.Stats.Released)})
	if err == nil {
		f.judge("one_customer.shell", shellTook.Seconds(), "", nil)
	}
	share := float64(res.Stats.Scanned) / float64(d.records)
	want := 1.2 / float64(b.cfg.Partitions)
	f = r.add(Figure{Shape: d.shape.Name, Name: "one_customer.scanned_share", Value: share, Unit: "ratio",
		Note: fmt.Sprintf("%d of %d records scanned", res.Stats.Scanned, d.records)})
	f.Target = fmt.Sprintf("<= 1.2/%d = %.3f", b.cfg.Partitions, want)
	met := share > 0 && share*float64(b.cfg.Partitions) <= 1.2+1e-9
	f.Met = &met
	b.logf("%s: one customer %.2fs (shell %.2fs), scanned share %.3f", d.shape.Name, took.Seconds(), shellTook.Seconds(), share)
}

// rss measures the bulk run's peak RSS at 10 N (ten times the customers
// of shape) against rssN, the peak at N.
func (b *bencher) rss(ctx context.Context, shape Shape, rssN int64) {
	r := b.report
	big := Shape{Name: shape.Name + "-10N", Customers: min(shape.Customers*10, 999_999), Records: shape.Records}
	b.logf("%s: seeding %d customers × %d records for peak RSS at 10 N", big.Name, big.Customers, big.Records)
	d, err := seedData(ctx, b.cfg.Kafka, b.name(big.Name), big, b.cfg.Partitions, time.Now())
	if err != nil {
		b.fail(shape.Name, "rss 10N", err)
		return
	}
	if !b.cfg.Keep {
		defer d.drop(context.WithoutCancel(ctx), b.cfg.Kafka)
	}
	res, err := b.bulk(ctx, d, "ndjson", 1)
	if err != nil {
		b.fail(shape.Name, "rss 10N", err)
		return
	}
	const mib = 1 << 20
	f := r.add(Figure{Shape: shape.Name, Name: "peak_rss.N", Value: float64(rssN) / mib, Unit: "MiB",
		Note: fmt.Sprintf("serve, bulk ndjson of %d records", shape.Total())})
	f.Target = "<= 256"
	met := rssN <= 256*mib
	f.Met = &met
	f = r.add(Figure{Shape: shape.Name, Name: "peak_rss.10N", Value: float64(res.rss) / mib, Unit: "MiB",
		Note: fmt.Sprintf("serve, bulk ndjson of %d records (%.0f rec/s)", big.Total(), rate(d.records, res.took))})
	f.judge("peak_rss.N", float64(rssN)/mib, "<= 1.2 and <= 256 MiB", func(x float64) bool { return x <= 1.2 && res.rss <= 256*mib })
}

// machine describes this machine: cores and memory.
func machine() string {
	mem := ""
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
				mem = fmt.Sprintf(", %.0f GiB", float64(kb)/(1<<20))
			}
		}
		f.Close()
	}
	return fmt.Sprintf("%d cores%s, %s/%s", runtime.NumCPU(), mem, runtime.GOOS, runtime.GOARCH)
}
