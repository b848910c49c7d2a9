package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/midata/midata/pipeline"
	"github.com/midata/midata/pipeline/config"
	"github.com/midata/midata/pipeline/consent"
	"github.com/midata/midata/pipeline/kafkasource"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/schemas"
	"github.com/midata/midata/schemas/synth"
	"github.com/midata/midata/sinks/filesink"
)

// devConfig is everything `midata dev` needs; it has defaults for all of
// it. The settings come from pipeline/config's keys of the command, the
// request from the command's arguments.
type devConfig struct {
	Addr         string // http.addr: where the download server listens
	DataDir      string // dev.data_dir: the local object store and the link key
	KafkaPort    int    // dev.kafka_port: the in-process broker's port; 0 = any free port
	Partitions   int    // synth.partitions: of the transactions topic
	Customers    int    // synth.*: the synthetic data set
	Transactions int
	Malformed    int
	Seed         int64
	TempDir      string // temp_dir
	Request      pipeline.Request
	Once         bool          // exit after the release instead of serving
	LinkTTL      time.Duration // links.ttl: lifetime of the download links
	// Print is the configuration to print instead of running
	// (--print-config); nil otherwise.
	Print *config.Config
}

const devSynopsis = `dev [flags]

Runs the whole job on one machine with nothing installed but Go: an
in-process Kafka-protocol broker seeded with a synthetic data set, a
local-disk store whose HMAC-signed links midata serves itself, and one
on-demand release for a sample customer (recorded first as the customer's
own consent event, as every on-demand request is). Then it serves the
download links until Ctrl-C.`

func parseDev(args []string, stderr io.Writer) (*devConfig, error) {
	gen := synth.DefaultConfig()
	c := &devConfig{}
	fs := newFlagSet("dev", devSynopsis, stderr)
	cl := config.NewCommandLine(config.CommandDev, fs)
	var formats, from, to string
	customerFlag(fs, (*string)(&c.Request.CustomerID), "C000001", "the sample customer")
	periodFlags(fs, &from, &to, gen.End.AddDate(0, -3, 0).Format(time.DateOnly), gen.End.Format(time.DateOnly), "")
	formatFlag(fs, &formats)
	fs.BoolVar(&c.Once, "once", false, "exit after the release instead of serving the links")
	if err := parseFlags(cl, args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, usagef("unexpected argument %q", fs.Arg(0))
	}
	cfg, err := loadConfig(cl)
	if err != nil {
		return nil, err
	}
	if cl.PrintConfig() {
		c.Print = &cfg
		return c, nil
	}
	c.Addr, c.DataDir, c.KafkaPort, c.TempDir, c.LinkTTL = cfg.HTTP.Addr, cfg.Dev.DataDir, cfg.Dev.KafkaPort, cfg.TempDir, time.Duration(cfg.Links.TTL)
	c.Partitions, c.Customers, c.Transactions, c.Malformed, c.Seed = cfg.Synth.Partitions, cfg.Synth.Customers, cfg.Synth.Transactions, cfg.Synth.Malformed, cfg.Synth.Seed

	c.Request.Recipient = schemas.RecipientSelf
	c.Request.Formats = splitList(formats)
	if c.Request.From, err = config.ParseTime(from); err != nil {
		return nil, usagef("--from: %v", err)
	}
	if c.Request.To, err = config.ParseTime(to); err != nil {
		return nil, usagef("--to: %v", err)
	}
	if _, err := c.Request.Validate(); err != nil {
		return nil, usageError{err}
	}
	return c, nil
}

func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parseDev(args, stderr)
	if err != nil {
		return err
	}
	if c.Print != nil {
		return c.Print.Print(stdout, config.CommandDev)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	// Kafka: an in-process broker with the topics of the input contract.
	opts := []kfake.Opt{kfake.NumBrokers(1)}
	if c.KafkaPort != 0 {
		opts = append(opts, kfake.Ports(c.KafkaPort))
	}
	cluster, err := kfake.NewCluster(opts...)
	if err != nil {
		return fmt.Errorf("start in-process Kafka: %w", err)
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()
	gen := synth.DefaultConfig()
	gen.Customers, gen.Transactions, gen.Malformed, gen.Seed = c.Customers, c.Transactions, c.Malformed, c.Seed
	if err := gen.Validate(); err != nil {
		return usageError{err}
	}
	kafka := topics.Connection{Brokers: brokers}
	if err := topics.Ensure(ctx, kafka, topics.TransactionsSpec(gen.TransactionsTopic, c.Partitions),
		topics.ConsentSpec(gen.ConsentTopic), topics.QuarantineSpec(topics.DefaultQuarantine)); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "midata dev: in-process Kafka on %s; seeding %d transactions of %d customers …\n", strings.Join(brokers, ","), gen.Transactions, gen.Customers)
	start := time.Now()
	counts, err := topics.Seed(ctx, kafka, gen, nil)
	if err != nil {
		return fmt.Errorf("seed synthetic data: %w", err)
	}
	fmt.Fprintf(stderr, "midata dev: seeded %s in %s\n", counts, time.Since(start).Round(time.Millisecond))

	// The store and the server that signs and serves its links.
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (choose another with --http-addr)", c.Addr, err)
	}
	secret, err := linkKey(c.DataDir)
	if err != nil {
		return err
	}
	sink, err := filesink.New(filesink.Config{Root: filepath.Join(c.DataDir, "store"), BaseURL: "http://" + ln.Addr().String(), Secret: secret})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/files/", sink.Handler())
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "midata dev: download links are served under /files/")
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	defer func() {
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdownCtx)
		<-serveErr
	}()

	// The on-demand request: the customer's own consent event first.
	source, err := kafkasource.New(kafkasource.Config{Kafka: kafka, Topic: gen.TransactionsTopic, Logger: logger})
	if err != nil {
		return err
	}
	defer source.Close()
	producer := topics.NewProducer(kafka, logger)
	defer producer.Close()
	recorder := &consent.Recorder{Publisher: producer, Topic: gen.ConsentTopic}
	if _, err := recorder.RecordRequest(ctx, string(c.Request.CustomerID), c.Request.From, c.Request.To); err != nil {
		return err
	}
	runner, err := pipeline.NewRunner(pipeline.Config{
		Source: source, Producer: producer, Sink: sink, ConsentTopic: gen.ConsentTopic,
		TempDir: c.TempDir, Logger: logger, Progress: stderr, LinkTTL: c.LinkTTL,
		Locate: func(key string) string { return filepath.Join(c.DataDir, "store", filepath.FromSlash(key)) },
	})
	if err != nil {
		return err
	}
	res, err := runner.Release(ctx, c.Request)
	if err != nil {
		return err
	}
	printSummary(stdout, c.Request, res)
	if c.Once {
		return nil
	}
	fmt.Fprintf(stderr, "midata dev: serving download links on http://%s until Ctrl-C\n", ln.Addr())
	select {
	case <-ctx.Done():
		fmt.Fprintln(stderr, "midata dev: stopping")
		return nil
	case err := <-serveErr:
		return fmt.Errorf("download server: %w", err)
	}
}

// linkKey returns the HMAC key for download links, kept in the data folder
// so links stay valid across restarts.
func linkKey(dir string) ([]byte, error) {
	path := filepath.Join(dir, "link.key")
	if b, err := os.ReadFile(path); err == nil && len(b) >= 32 {
		return b, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data folder: %w", err)
	}
	key := make([]byte, 32)
	rand.Read(key)
	if err := os.WriteFile(path, key, 0o600); err != nil {
		return nil, fmt.Errorf("write link key: %w", err)
	}
	return key, nil
}

func printSummary(w io.Writer, req pipeline.Request, res *pipeline.Result) {
	fmt.Fprintf(w, "\nRelease %s for %s (%s), %s to %s: %s\n", res.ReleaseID, req.CustomerID, req.Recipient,
		req.From.Format("2006-01-02"), req.To.Format("2006-01-02"), res.Status)
	if res.Reason != "" {
		fmt.Fprintf(w, "  %s\n", res.Reason)
	}
	fmt.Fprintf(w, "  scanned %d records, released %d, quarantined %d", res.Stats.Scanned, res.Stats.Released, res.Stats.Quarantined)
	for _, k := range slices.Sorted(maps.Keys(res.Stats.Excluded)) {
		fmt.Fprintf(w, ", %s %d", k, res.Stats.Excluded[k])
	}
	fmt.Fprintln(w)
	if res.Manifest != "" {
		fmt.Fprintf(w, "  manifest: %s\n", res.Manifest)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, f := range res.Files {
		fmt.Fprintf(tw, "  %s\t%d rows\t%d bytes\tsha256 %s\n", f.Format, f.Rows, f.Bytes, f.SHA256)
	}
	tw.Flush()
	for _, l := range res.Links {
		fmt.Fprintf(w, "  %s (expires %s):\n    %s\n", l.Path, l.ExpiresAt.Format(time.RFC3339), l.URL)
	}
}
