package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/midata/midata/pipeline"
	"github.com/midata/midata/pipeline/api"
	"github.com/midata/midata/pipeline/config"
	"github.com/midata/midata/pipeline/consent"
	"github.com/midata/midata/pipeline/jobs"
	"github.com/midata/midata/pipeline/kafkasource"
	"github.com/midata/midata/pipeline/metrics"
	"github.com/midata/midata/pipeline/schedule"
	"github.com/midata/midata/pipeline/schedule/store"
	pserve "github.com/midata/midata/pipeline/serve"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/sinks/s3sink"
)

const serveSynopsis = `serve [--config FILE] [--print-config] [flags]

Runs a midata worker: takes export requests from the midata.requests topic
with the other workers of its consumer group, records every run on
midata.runs, fires the cron schedules, and serves the HTTP API with
/healthz, /readyz, /metrics and /openapi.json. Every key of the config file
can also be set by its environment variable and its flag (see
pipeline/config/README.md). SIGTERM stops intake, lets running releases
finish for the drain timeout, then hands the rest back.`

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", serveSynopsis, stderr)
	cl := config.NewCommandLine(config.CommandServe, fs)
	if err := parseFlags(cl, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	cfg, err := loadConfig(cl)
	if err != nil {
		return err
	}
	if cl.PrintConfig() {
		return cfg.Print(stdout, config.CommandServe)
	}
	logger := cfg.Log.Logger(stderr)
	for _, name := range config.UnknownEnv(os.Environ()) {
		logger.Warn("unknown environment variable ignored", "name", name)
	}
	return serve(ctx, cfg, logger)
}

// schedulesOf converts the schedules declared in the config file.
func schedulesOf(cfg config.Config) ([]schedule.Schedule, error) {
	var out []schedule.Schedule
	var errs []error
	for i, d := range cfg.Schedules {
		sc := schedule.Schedule{ID: d.ID, Spec: d.Spec, Recipient: d.Recipient, Scope: d.Scope,
			Period: schedule.Period(d.Period), Formats: d.Formats, Paused: d.Paused}
		if err := sc.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("schedules[%d]: %w", i, err))
			continue
		}
		out = append(out, sc)
	}
	return out, errors.Join(errs...)
}

// queueRuns adapts the jobs queue to the API's view of runs.
type queueRuns struct{ *jobs.Queue }

func (q queueRuns) List(f api.RunFilter) []jobs.Run { return q.Queue.List(jobs.RunFilter(f)) }

func serve(ctx context.Context, cfg config.Config, logger *slog.Logger) error {
	declared, err := schedulesOf(cfg)
	if err != nil {
		return usageError{err}
	}
	kafka := topics.Connection{Brokers: cfg.Kafka.Brokers}
	names := topics.Names{Transactions: cfg.Topics.Transactions, Consent: cfg.Topics.Consent, Quarantine: cfg.Topics.Quarantine,
		Requests: cfg.Topics.Requests, Runs: cfg.Topics.Runs, Schedules: cfg.Topics.Schedules}
	if err := topics.Ensure(ctx, kafka, names.Service()...); err != nil {
		return err
	}

	reg, err := metrics.NewRegistry()
	if err != nil {
		return err
	}
	m, err := metrics.New(reg)
	if err != nil {
		return err
	}
	raw, err := s3sink.New(ctx, s3sink.Config{Endpoint: cfg.S3.Endpoint, Bucket: cfg.S3.Bucket, Region: cfg.S3.Region,
		PathStyle: cfg.S3.PathStyle, MaxLinkTTL: time.Duration(cfg.Links.TTL)})
	if err != nil {
		return err
	}
	if err := raw.Check(ctx); err != nil {
		return err
	}
	source, err := kafkasource.New(kafkasource.Config{Kafka: kafka, Topic: cfg.Topics.Transactions, Partitioner: cfg.Kafka.Partitioner, Logger: logger})
	if err != nil {
		return err
	}
	defer source.Close()
	producer := topics.NewProducer(kafka, logger)
	defer producer.Close()
	balancer, err := kafkasource.PartitionerByName(cfg.Kafka.Partitioner)
	if err != nil {
		return usageError{err}
	}
	producer.UsePartitioner(balancer)
	runner, err := pipeline.NewRunner(pipeline.Config{Source: source, Producer: producer, Sink: m.Sink(raw),
		ConsentTopic: cfg.Topics.Consent, QuarantineTopic: cfg.Topics.Quarantine, LinkTTL: time.Duration(cfg.Links.TTL),
		TempDir: cfg.TempDir, Logger: logger,
		Locate:  func(key string) string { return "s3://" + cfg.S3.Bucket + "/" + key },
		Observe: func(res *pipeline.Result) { m.AddCounts(res.Stats); m.Release(string(res.Status)) }})
	if err != nil {
		return err
	}

	ledger, err := jobs.NewLedger(jobs.LedgerConfig{Kafka: kafka, Topic: cfg.Topics.Runs, Logger: logger})
	if err != nil {
		return err
	}
	defer ledger.Close()
	// Topics just created (by this or another instance starting at the same
	// time) may have no leader yet: retry for a while.
	var view *jobs.View
	for attempt := 1; ; attempt++ {
		view, err = jobs.OpenView(ctx, jobs.ViewConfig{Kafka: kafka, Topic: cfg.Topics.Runs, Logger: logger})
		if err == nil || attempt == 30 || ctx.Err() != nil {
			break
		}
		logger.Warn("run view not open yet; retrying", "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	if err != nil {
		return err
	}
	defer view.Close()
	queue, err := jobs.NewQueue(jobs.QueueConfig{Ledger: ledger, View: view, RequestsTopic: cfg.Topics.Requests})
	if err != nil {
		return err
	}
	executor := &pserve.Executor{Runner: runner, Tasks: queue}
	worker, err := jobs.NewWorker(jobs.WorkerConfig{Kafka: kafka, GroupID: cfg.Workers.Group, RequestsTopic: cfg.Topics.Requests,
		Executor: metered(executor, m), Ledger: ledger, View: view, Concurrency: cfg.Workers.Concurrency,
		MaxAttempts: cfg.Workers.MaxAttempts, DrainTimeout: time.Duration(cfg.Workers.DrainTimeout), Logger: logger})
	if err != nil {
		return err
	}
	schedules, err := store.Open(ctx, store.Config{Declared: declared, Kafka: kafka, Producer: producer,
		Topic: cfg.Topics.Schedules, Queue: queue, Logger: logger})
	if err != nil {
		return err
	}
	defer schedules.Close()

	recorder := &consent.Recorder{Publisher: producer, Topic: cfg.Topics.Consent}
	a, err := api.New(api.Config{Runs: queueRuns{queue}, Control: queue, Schedules: schedules, Consent: recorder, Links: runner,
		Health: api.HealthFunc(func(ctx context.Context) error {
			if !view.Ready() {
				return errors.New("the run view is not rebuilt yet")
			}
			if _, err := topics.Ends(ctx, kafka, cfg.Topics.Requests); err != nil {
				return fmt.Errorf("kafka: %w", err)
			}
			return raw.Check(ctx)
		}),
		Tokens: cfg.Auth.Tokens, Logger: logger})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics.Handler(reg))
	mux.Handle("/", a.Handler())
	ln, err := net.Listen("tcp", cfg.HTTP.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTP.Addr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, WriteTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute}
	logger.Info("midata serve started", "addr", ln.Addr().String(), "worker", worker.ID(), "schedules", len(schedules.Schedules()))

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return worker.Run(gctx) })
	g.Go(func() error {
		return topics.WatchLag(gctx, kafka, cfg.Workers.Group, cfg.Topics.Requests, 15*time.Second,
			func(p int, lag int64) { m.Lag(int32(p), lag) }, logger)
	})
	if cfg.Scheduler.Enabled {
		sched, err := schedule.NewScheduler(schedule.Config{Source: schedules, Fire: schedules.Fire, Clock: schedule.SystemClock{}, Logger: logger})
		if err != nil {
			return err
		}
		g.Go(func() error { return sched.Run(gctx) })
	}
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http server: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		logger.Info("midata serve stopping")
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		return srv.Shutdown(shutdownCtx)
	})
	return g.Wait()
}

// metered records each run's duration in the metrics (the runner's
// Observe records each release).
func metered(e jobs.Executor, m *metrics.Metrics) jobs.Executor {
	return jobs.ExecutorFunc(func(ctx context.Context, req jobs.Request, report func(jobs.Progress)) ([]jobs.Release, error) {
		start := time.Now()
		rels, err := e.Execute(ctx, req, report)
		status := "succeeded"
		if err != nil {
			status = "failed"
		}
		m.Run(string(req.Kind), status, time.Since(start))
		return rels, err
	})
}
