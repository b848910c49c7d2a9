package serve

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/midata/midata/pipeline"
	"github.com/midata/midata/pipeline/consent"
	"github.com/midata/midata/pipeline/kafkasource"
	"github.com/midata/midata/pipeline/seed"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/schemas/synth"
	"github.com/midata/midata/sinks/filesink"
)

// DevConfig is everything `midata dev` needs.
type DevConfig struct {
	Addr       string        // where the download server listens
	DataDir    string        // the local object store and the link key
	KafkaPort  int           // the in-process broker's port; 0 = any free port
	Partitions int           // of the transactions topic
	Synth      synth.Config  // the synthetic data set, with its topics
	TempDir    string        // for the runner's files
	LinkTTL    time.Duration // lifetime of the download links
	Logger     *slog.Logger
	// Progress, when set, gets one line per step ("midata dev: …") and the
	// runner's progress.
	Progress io.Writer
}

// Dev is the embedded default, all in one process: an in-process Kafka
// broker seeded with the synthetic data set, a local-disk store whose
// HMAC-signed links it serves itself, and the runner. Make it with
// NewDev, make the on-demand release with Release, serve the links with
// Serve, and Close it when done.
type Dev struct {
	cfg      DevConfig
	progress io.Writer
	cluster  *kfake.Cluster
	listener net.Listener
	server   *http.Server
	served   chan error // the download server's end
	source   *kafkasource.Source
	producer *topics.Producer
	grants   *consent.View
	recorder *consent.Recorder
	runner   *pipeline.Runner
}

// NewDev starts the broker, ensures and seeds its topics, and starts the
// download server. An error of the data set's settings matches
// config.ErrInvalid.
func NewDev(ctx context.Context, cfg DevConfig) (d *Dev, err error) {
	if err := cfg.Synth.Validate(); err != nil {
		return nil, invalid{err}
	}
	d = &Dev{cfg: cfg, progress: cfg.Progress}
	if d.progress == nil {
		d.progress = io.Discard
	}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()

	// Kafka: an in-process broker with the topics of the input contract.
	opts := []kfake.Opt{kfake.NumBrokers(1)}
	if cfg.KafkaPort != 0 {
		opts = append(opts, kfake.Ports(cfg.KafkaPort))
	}
	if d.cluster, err = kfake.NewCluster(opts...); err != nil {
		return nil, fmt.Errorf("start in-process Kafka: %w", err)
	}
	brokers, gen := d.cluster.ListenAddrs(), cfg.Synth
	kafka := topics.Connection{Brokers: brokers}
	if err := topics.Ensure(ctx, kafka, topics.TransactionsSpec(gen.TransactionsTopic, cfg.Partitions),
		topics.ConsentSpec(gen.ConsentTopic), topics.QuarantineSpec(topics.DefaultQuarantine)); err != nil {
		return nil, err
	}
	fmt.Fprintf(d.progress, "midata dev: in-process Kafka on %s; seeding %d transactions of %d customers …\n", strings.Join(brokers, ","), gen.Transactions, gen.Customers)
	start := time.Now()
	counts, err := seed.Produce(ctx, kafka, gen, nil)
	if err != nil {
		return nil, fmt.Errorf("seed synthetic data: %w", err)
	}
	fmt.Fprintf(d.progress, "midata dev: seeded %s in %s\n", counts, time.Since(start).Round(time.Millisecond))

	// The store and the server that signs and serves its links.
	if d.listener, err = net.Listen("tcp", cfg.Addr); err != nil {
		return nil, fmt.Errorf("listen on %s: %w (choose another with --http-addr)", cfg.Addr, err)
	}
	secret, err := linkKey(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	sink, err := filesink.New(filesink.Config{Root: filepath.Join(cfg.DataDir, "store"), BaseURL: "http://" + d.listener.Addr().String(), Secret: secret})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/files/", sink.Handler())
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "midata dev: download links are served under /files/")
	})
	d.server = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	d.served = make(chan error, 1)
	go func() { d.served <- d.server.Serve(d.listener) }()

	// The runner, and the recorder of the customers' own requests.
	if d.source, err = kafkasource.New(kafkasource.Config{Kafka: kafka, Topic: gen.TransactionsTopic, Logger: cfg.Logger}); err != nil {
		return nil, err
	}
	d.producer = topics.NewProducer(kafka, cfg.Logger)
	// The view outlives ctx, for the releases still in flight when it
	// ends: Close ends it.
	if d.grants, err = consent.OpenView(context.WithoutCancel(ctx), consent.ViewConfig{Kafka: kafka, Topic: gen.ConsentTopic, Quarantine: d.producer, Logger: cfg.Logger}); err != nil {
		return nil, err
	}
	d.recorder = &consent.Recorder{Publisher: d.producer, Topic: gen.ConsentTopic, Grants: d.grants}
	d.runner, err = pipeline.NewRunner(pipeline.Config{
		Source: d.source, Grants: d.grants, Producer: d.producer, Sink: sink,
		TempDir: cfg.TempDir, Logger: cfg.Logger, Progress: cfg.Progress, LinkTTL: cfg.LinkTTL,
		Locate: func(key string) string { return filepath.Join(cfg.DataDir, "store", filepath.FromSlash(key)) },
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// Addr is the address of the download server.
func (d *Dev) Addr() net.Addr { return d.listener.Addr() }

// Release makes the on-demand release req for its customer, recorded
// first as the customer's own consent event, as every on-demand request
// is.
func (d *Dev) Release(ctx context.Context, req pipeline.Request) (*pipeline.Result, error) {
	if _, err := d.recorder.RecordRequest(ctx, string(req.CustomerID), req.From, req.To); err != nil {
		return nil, err
	}
	return d.runner.Release(ctx, req)
}

// Serve serves the download links until ctx ends (nil) or the server
// fails.
func (d *Dev) Serve(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case err := <-d.served:
		d.served <- err // for Close
		return fmt.Errorf("download server: %w", err)
	}
}

// Close stops the download server (finishing its requests for up to five
// seconds) and releases the consent view, the producer, the source and
// the broker.
func (d *Dev) Close() {
	if d.grants != nil {
		d.grants.Close()
	}
	if d.producer != nil {
		d.producer.Close()
	}
	if d.source != nil {
		d.source.Close()
	}
	if d.server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		d.server.Shutdown(ctx)
		<-d.served
	} else if d.listener != nil {
		d.listener.Close()
	}
	if d.cluster != nil {
		d.cluster.Close()
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
