package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/midata/midata/pipeline"
	"github.com/midata/midata/pipeline/activity"
	"github.com/midata/midata/pipeline/api"
	"github.com/midata/midata/pipeline/api/bearer"
	"github.com/midata/midata/pipeline/api/ports"
	"github.com/midata/midata/pipeline/config"
	"github.com/midata/midata/pipeline/consent"
	"github.com/midata/midata/pipeline/delivery"
	"github.com/midata/midata/pipeline/downloads"
	"github.com/midata/midata/pipeline/jobs"
	"github.com/midata/midata/pipeline/jobs/worker"
	"github.com/midata/midata/pipeline/kafkasource"
	"github.com/midata/midata/pipeline/metrics"
	"github.com/midata/midata/pipeline/notify"
	"github.com/midata/midata/pipeline/quarantine"
	"github.com/midata/midata/pipeline/releasestore"
	"github.com/midata/midata/pipeline/schedule"
	"github.com/midata/midata/pipeline/schedule/store"
	"github.com/midata/midata/pipeline/signing"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/pipeline/web"
	"github.com/midata/midata/sinks"
	"github.com/midata/midata/sinks/s3sink"
)

// Service is one instance of `midata serve`: a worker of the queue, the
// run ledger and its view, the schedules and their scheduler, the lag
// watch and the HTTP API (with /metrics), built from one config.Config.
// Make it with New, start it with Run, and Close it when done.
type Service struct {
	cfg    config.Config
	logger *slog.Logger
	kafka  topics.Connection

	metrics *metrics.Metrics
	// metricsSrv answers /metrics without a token on http.metrics_addr.
	metricsSrv *debugServer
	worker     *worker.Worker
	schedules  *store.Store
	scheduler  *schedule.Scheduler // nil when scheduler.enabled is false
	server     *http.Server
	listener   net.Listener
	debug      *debugServer       // nil unless http.pprof_addr is set
	tokensFile *bearer.File       // nil unless auth.tokens_file is set
	downloads  *downloads.Service // nil without signing.key_file
	recaller   *delivery.Recaller
	consent    *consent.View
	web        *web.Web         // nil without signing.key_file
	runner     *pipeline.Runner // for midata dev's sample release
	recorder   *consent.Recorder
	store      sinks.Sink

	closers []func() error // in the order of opening; Close calls them backwards
}

// New builds the service cfg describes: it ensures the service's topics
// (pipeline/topics specs), checks the object store, rebuilds the view of
// runs and the schedules, and listens on cfg.HTTP.Addr. Nothing runs until
// Run. An error of the configuration (a declared schedule that cannot
// work) matches config.ErrInvalid.
func New(ctx context.Context, cfg config.Config, logger *slog.Logger, opts ...Option) (svc *Service, err error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	declared, err := Declared(cfg.Schedules, cfg.Location())
	if err != nil {
		return nil, err
	}
	balancer, err := kafkasource.PartitionerByName(cfg.Kafka.Partitioner)
	if err != nil {
		return nil, invalid{err}
	}
	consentBalancer, err := kafkasource.PartitionerByName(cfg.Kafka.ConsentPartitioner)
	if err != nil {
		return nil, invalid{err}
	}
	conn, err := cfg.KafkaConnection()
	if err != nil {
		return nil, invalid{err}
	}
	s := &Service{cfg: cfg, logger: logger, kafka: conn}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if err := topics.Ensure(ctx, s.kafka, cfg.Topics.Service()...); err != nil {
		return nil, err
	}

	reg, err := metrics.NewRegistry()
	if err != nil {
		return nil, err
	}
	if s.metrics, err = metrics.New(reg); err != nil {
		return nil, err
	}
	raw, check, locate := o.store, o.check, o.locate
	if raw == nil {
		s3, err := s3sink.New(ctx, s3Config(cfg, cfg.S3.Bucket))
		if err != nil {
			return nil, err
		}
		s.closers = append(s.closers, s3.Close)
		raw, check, locate = s3, s3.Check, func(key string) string { return "s3://" + cfg.S3.Bucket + "/" + key }
	}
	if err := check(ctx); err != nil {
		return nil, err
	}
	s.store = raw // swept every SweepEvery
	source, err := kafkasource.New(kafkasource.Config{Kafka: s.kafka, Topic: cfg.Topics.Transactions, Partitioner: cfg.Kafka.Partitioner, Logger: logger})
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, source.Close)
	producer := topics.NewProducer(s.kafka, logger)
	s.closers = append(s.closers, producer.Close)
	producer.UsePartitioner(balancer)
	// The consent topic has its own partitioner (murmur2 by default): with
	// the transactions topic's, a C|self written here could land on
	// another partition than upstream's events of the key, and grant
	// nothing (trust issue, finding 10).
	producer.UsePartitionerFor(cfg.Topics.Consent, consentBalancer)
	// One consent view, built now and shared by every release.
	grants, err := openConsent(ctx, consent.ViewConfig{Kafka: s.kafka, Topic: cfg.Topics.Consent,
		Quarantine: producer, QuarantineTopic: cfg.Topics.Quarantine, Logger: logger}, logger)
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, grants.Close)
	m := s.metrics
	runner, err := pipeline.NewRunner(pipeline.Config{Source: source, Grants: delivery.LimitedGrants{Grants: grants, Partners: cfg.Partners}, Producer: producer, Sink: m.Sink(raw),
		QuarantineTopic: cfg.Topics.Quarantine, LinkTTL: time.Duration(cfg.Links.TTL),
		TempDir: cfg.TempDir, Logger: logger, CommitDepth: cfg.Workers.CommitDepth,
		Locate:  locate,
		Observe: func(res *pipeline.Result) { m.AddCounts(res.Stats); m.Release(string(res.Status)) }})
	if err != nil {
		return nil, err
	}

	ledger, err := jobs.NewLedger(jobs.LedgerConfig{Kafka: s.kafka, Topic: cfg.Topics.Runs, Logger: logger})
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, ledger.Close)
	viewCfg := jobs.ViewConfig{Kafka: s.kafka, Topic: cfg.Topics.Runs, Logger: logger, TempDir: cfg.TempDir}
	if cfg.StateDir != "" {
		viewCfg.Dir = filepath.Join(cfg.StateDir, "runs-view")
	}
	view, err := openView(ctx, viewCfg, logger)
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, view.Close)
	queue, err := jobs.NewQueue(jobs.QueueConfig{Ledger: ledger, View: view, RequestsTopic: cfg.Topics.Requests})
	if err != nil {
		return nil, err
	}
	var wellKnown []byte
	var keys *signing.Keys
	if cfg.Signing.KeyFile != "" {
		if keys, err = signing.Load(cfg.Signing.KeyFile, cfg.Signing.OldPublicKeyFiles); err != nil {
			return nil, invalid{err}
		}
		wellKnown = keys.WellKnown()
	}
	// What happens to releases after their run: on the ledger (package
	// activity), told to the organisation (package notify).
	notifier := notify.New(s.kafka, cfg.Topics.Notifications, logger)
	s.closers = append(s.closers, notifier.Close)
	act := activity.NewLedger(s.kafka, cfg.Topics.Runs, logger)
	s.closers = append(s.closers, act.Close)
	actView, err := activity.OpenView(context.WithoutCancel(ctx), s.kafka, cfg.Topics.Runs, logger)
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, actView.Close)
	var exec jobs.Executor = &Executor{Runner: runner, Tasks: queue}
	quarantined, err := quarantine.Open(context.WithoutCancel(ctx), s.kafka, cfg.Topics.Quarantine, logger)
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, quarantined.Close)
	var targets map[string]sinks.Sink // each partner's bucket
	if len(cfg.Partners) > 0 {
		var closers []func() error
		targets, closers, err = partnerTargets(ctx, cfg, raw)
		s.closers = append(s.closers, closers...)
		if err != nil {
			return nil, err
		}
		if exec, err = delivering(cfg, exec, keys, raw, targets, grants, act, actView, notifier, logger); err != nil {
			return nil, err
		}
	}
	exec = notifying(exec, notifier, logger)
	if s.downloads, err = newDownloads(keys, downloads.Service{Store: raw, Grants: grants, Ledger: act, View: actView,
		Notifier: notifier, TTL: time.Duration(cfg.Links.TTL), Fallback: runner.LinksFor, Logger: logger}); err != nil {
		return nil, err
	}
	links := ports.Links(ports.LinksFunc(runner.LinksFor))
	if s.downloads != nil {
		links = s.downloads
	}
	recorder := &consent.Recorder{Publisher: producer, Topic: cfg.Topics.Consent, Grants: grants}
	s.runner, s.recorder = runner, recorder
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.closers = append(s.closers, func() error { stop(); return nil })
	s.recaller = &delivery.Recaller{Partners: cfg.Partners, View: actView, Ledger: act, Notifier: notifier, Logger: logger}
	s.consent = grants
	grantsPort := ports.Grants(recallingGrants{Grants: recorder, logger: logger, ctx: bg, recaller: s.recaller})
	s.worker, err = worker.New(worker.Config{Kafka: s.kafka, GroupID: cfg.Workers.Group, RequestsTopic: cfg.Topics.Requests,
		Executor: Metered(exec, m), Ledger: ledger, View: view, Concurrency: cfg.Workers.Concurrency,
		MaxAttempts: cfg.Workers.MaxAttempts, DrainTimeout: time.Duration(cfg.Workers.DrainTimeout), Logger: logger})
	if err != nil {
		return nil, err
	}
	s.schedules, err = store.Open(ctx, store.Config{Declared: declared, Kafka: s.kafka, Producer: producer,
		Topic: cfg.Topics.Schedules, Queue: queue, Logger: logger})
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, s.schedules.Close)
	if cfg.Scheduler.Enabled {
		s.scheduler, err = schedule.NewScheduler(schedule.Config{Source: s.schedules, Fire: s.schedules.Fire, Clock: schedule.SystemClock{}, Logger: logger})
		if err != nil {
			return nil, err
		}
	}

	health := NewHealth(Health{Runs: view, Store: check, Kafka: func(ctx context.Context) error {
		_, err := topics.Ends(ctx, s.kafka, cfg.Topics.Requests)
		return err
	}})
	auth, tokensFile, err := authenticators(ctx, cfg.Auth)
	if err != nil {
		return nil, err
	}
	s.tokensFile = tokensFile
	var bundles ports.Bundles
	if len(cfg.Partners) > 0 {
		bundles = &delivery.Bundles{Partners: cfg.Partners, Stores: targets, Check: runner.LinksFor}
	}
	a, err := api.New(api.Config{Auth: auth, SigningKeys: wellKnown, Bundles: bundles, Runs: queue, Control: queue, Schedules: s.schedules, Consent: recorder, Grants: grantsPort,
		Links: links, Custody: custodyHandlers(s.downloads, actView, view, delivery.ActorFrom(s.kafka, cfg.Topics.Consent), quarantined, logger), Health: health, Validate: delivery.PartnerFormats(cfg.Partners, api.DefaultValidate), Tokens: cfg.Auth.Tokens, Logger: logger, Location: cfg.Location(),
		Metrics: metrics.Handler(reg)})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/", a.Handler())
	if keys != nil { // sessions are keyed from the signing key
		static, err := bearer.NewStatic(cfg.Auth.Tokens)
		if err != nil {
			return nil, err
		}
		if s.web, err = web.New(web.Config{API: a.Handler(), Role: bearer.Chain{static, auth}.Role, Secret: keys.Secret(), Partners: cfg.Partners,
			Organisation: cfg.Organisation, Location: cfg.Location(), DevTokens: o.devTokens, Logger: logger}); err != nil {
			return nil, err
		}
		mux.Handle(web.Prefix, s.web)
	}
	for pattern, h := range o.handlers {
		mux.Handle(pattern, h)
	}
	if s.listener = o.listener; s.listener == nil {
		if s.listener, err = net.Listen("tcp", cfg.HTTP.Addr); err != nil {
			return nil, fmt.Errorf("listen on %s: %w", cfg.HTTP.Addr, err)
		}
	}
	s.closers = append(s.closers, s.listener.Close)
	if cfg.HTTP.PprofAddr != "" {
		if s.debug, err = newDebugServer(cfg.HTTP.PprofAddr); err != nil {
			return nil, err
		}
		s.closers = append(s.closers, s.debug.listener.Close)
	}
	if cfg.HTTP.MetricsAddr != "" {
		m := http.NewServeMux()
		m.Handle("GET /metrics", metrics.Handler(reg))
		if s.metricsSrv, err = newSideServer(cfg.HTTP.MetricsAddr, "metrics", m); err != nil {
			return nil, err
		}
		s.closers = append(s.closers, s.metricsSrv.listener.Close)
	}
	s.server = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, WriteTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute}
	return s, nil
}

// Option changes how New builds the service: `midata dev` runs it on a
// local store, its own listener and a few pages of its own.
type Option func(*options)

type options struct {
	store     sinks.Sink // a Lister, Linker and Deleter
	check     func(context.Context) error
	locate    func(key string) string
	listener  net.Listener
	handlers  map[string]http.Handler
	devTokens map[string]string
}

// WithStore keeps the releases in store instead of S3 (s3.*): check says
// whether it answers, locate where a key is, for manifests and logs.
func WithStore(store sinks.Sink, check func(context.Context) error, locate func(key string) string) Option {
	return func(o *options) { o.store, o.check, o.locate = store, check, locate }
}

// WithDevTokens gives the pages the tokens of `midata dev`'s sign-in
// links, by role.
func WithDevTokens(tokens map[string]string) Option { return func(o *options) { o.devTokens = tokens } }

// WithListener serves the API on l instead of listening on http.addr.
func WithListener(l net.Listener) Option { return func(o *options) { o.listener = l } }

// WithHandler serves h at pattern, besides the API.
func WithHandler(pattern string, h http.Handler) Option {
	return func(o *options) {
		if o.handlers == nil {
			o.handlers = map[string]http.Handler{}
		}
		o.handlers[pattern] = h
	}
}

// s3Config is the store configuration of bucket.
func s3Config(cfg config.Config, bucket string) s3sink.Config {
	return s3sink.Config{Endpoint: cfg.S3.Endpoint, Bucket: bucket, Region: cfg.S3.Region,
		PathStyle: cfg.S3.PathStyle, MaxLinkTTL: time.Duration(cfg.Links.TTL), SSE: cfg.S3.SSE, KMSKeyID: cfg.S3.KMSKeyID,
		AttemptTimeout: time.Duration(cfg.S3.AttemptTimeout), MaxAttempts: cfg.S3.MaxAttempts}
}

// Addr is the address the HTTP API listens on.
func (s *Service) Addr() net.Addr { return s.listener.Addr() }

// Run runs the worker, the scheduler, the lag watch and the HTTP server
// until ctx ends or one of them fails. It stops in two phases: the worker
// stops intake, lets running releases finish for the drain timeout and
// hands the rest back, while the HTTP server stops taking connections and
// finishes its requests for up to ten seconds.
func (s *Service) Run(ctx context.Context) error {
	s.logger.Info("midata serve started", "addr", s.Addr().String(), "worker", s.worker.ID(), "schedules", len(s.schedules.Schedules()))
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.worker.Run(gctx) })
	g.Go(func() error {
		return topics.WatchLag(gctx, s.kafka, s.cfg.Workers.Group, s.cfg.Topics.Requests, 15*time.Second,
			func(p int, lag int64) { s.metrics.Lag(int32(p), lag) }, s.logger)
	})
	if s.scheduler != nil {
		g.Go(func() error { return s.scheduler.Run(gctx) })
	}
	if s.debug != nil {
		g.Go(func() error { return s.debug.run(gctx) })
	}
	if s.metricsSrv != nil {
		g.Go(func() error { return s.metricsSrv.run(gctx) })
	}
	if s.tokensFile != nil {
		g.Go(func() error { s.tokensFile.Watch(gctx, TokensFileEvery, s.logger); return nil })
	}
	if s.downloads != nil {
		g.Go(func() error {
			return every(gctx, ExpiringEvery, s.logger, "link.expiring notifications", func(ctx context.Context) error {
				_, err := s.downloads.SweepExpiring(ctx, ExpiringWithin)
				return err
			})
		})
	}
	if len(s.cfg.Partners) > 0 {
		g.Go(func() error {
			return every(gctx, RecallEvery, s.logger, "recall sweep", func(ctx context.Context) error { _, err := s.recaller.Sweep(ctx, s.consent); return err })
		})
	}
	g.Go(func() error {
		return every(gctx, SweepEvery, s.logger, "store sweep", func(ctx context.Context) error {
			rep, err := releasestore.Sweep(ctx, s.store, time.Now().Add(-releasestore.DefaultSweepAge), false)
			if rep.Staged+rep.Losers+rep.UploadsAborts > 0 {
				s.logger.Info("store swept", "staged", rep.Staged, "losers", rep.Losers, "uploads_aborted", rep.UploadsAborts, "young", rep.Young)
			}
			return err
		})
	})
	g.Go(func() error {
		if err := s.server.Serve(s.listener); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http server: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		s.logger.Info("midata serve stopping")
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		return s.server.Shutdown(shutdownCtx)
	})
	return g.Wait()
}

// Close releases what New opened: the listener, the schedules, the view
// of runs, the ledger, the consent view, the producer and the source. Call it after Run has
// returned.
func (s *Service) Close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		_ = s.closers[i]() // the listener is closed already when Run served
	}
	s.closers = nil
}

// openView opens the view of runs, retrying for up to 30 seconds: topics
// just created (by this or another instance starting at the same time)
// may have no leader yet.
func openView(ctx context.Context, cfg jobs.ViewConfig, logger *slog.Logger) (*jobs.View, error) {
	for attempt := 1; ; attempt++ {
		// As the consent view's (openConsent): it outlives ctx until Close.
		view, err := jobs.OpenView(context.WithoutCancel(ctx), cfg)
		if err == nil || attempt == 30 || ctx.Err() != nil {
			return view, err
		}
		logger.Warn("run view not open yet; retrying", "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// Metered records each run's duration and outcome in m (the runner's
// Observe records each release).
func Metered(e jobs.Executor, m *metrics.Metrics) jobs.Executor {
	return jobs.ExecutorFunc(func(ctx context.Context, req jobs.Request, rep jobs.Reporter) error {
		start := time.Now()
		err := e.Execute(ctx, req, rep)
		status := "succeeded"
		if err != nil {
			status = "failed"
		}
		m.Run(string(req.Kind), status, time.Since(start))
		return err
	})
}
