package serve

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/midata/midata/pipeline"
	"github.com/midata/midata/pipeline/config"
	"github.com/midata/midata/pipeline/consent"
	"github.com/midata/midata/pipeline/kafkasource"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/sinks/s3sink"
)

// Export makes the one release req of `midata export` against the Kafka
// and S3 that cfg names, writing the runner's progress to progress (when
// not nil). It checks the bucket and ensures the quarantine topic before
// reading anything.
// exportViewMaxWait is the fetch wait of export's consent view.
const exportViewMaxWait = 100 * time.Millisecond

func Export(ctx context.Context, cfg config.Config, req pipeline.Request, logger *slog.Logger, progress io.Writer) (*pipeline.Result, error) {
	sink, err := s3sink.New(ctx, s3sink.Config{Endpoint: cfg.S3.Endpoint, Bucket: cfg.S3.Bucket, Region: cfg.S3.Region, PathStyle: cfg.S3.PathStyle,
		SSE: cfg.S3.SSE, KMSKeyID: cfg.S3.KMSKeyID, AttemptTimeout: time.Duration(cfg.S3.AttemptTimeout), MaxAttempts: cfg.S3.MaxAttempts})
	if err != nil {
		return nil, err
	}
	defer sink.Close()
	if err := sink.Check(ctx); err != nil {
		return nil, err
	}
	// The quarantine topic is midata's own: a cluster that has only the
	// input topics gets it before anything is read, so the first
	// malformed record does not fail the release after the whole read.
	kafka, err := cfg.KafkaConnection()
	if err != nil {
		return nil, invalid{err}
	}
	if err := topics.Ensure(ctx, kafka, topics.QuarantineSpec(cfg.Topics.Quarantine)); err != nil {
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
	source, err := kafkasource.New(kafkasource.Config{Kafka: kafka, Topic: cfg.Topics.Transactions, Partitioner: cfg.Kafka.Partitioner, Logger: logger})
	if err != nil {
		return nil, err
	}
	defer source.Close()
	producer := topics.NewProducer(kafka, logger)
	defer producer.Close()
	producer.UsePartitioner(balancer)
	// The consent topic has its own partitioner (murmur2 by default): with
	// the transactions topic's, a C|self written here could land on
	// another partition than upstream's events of the key, and grant
	// nothing (trust issue, finding 10).
	producer.UsePartitionerFor(cfg.Topics.Consent, consentBalancer)
	// One release, then the view closes: a short fetch wait lets it close
	// at once instead of after a fetch of the default wait.
	grants, err := consent.OpenView(ctx, consent.ViewConfig{Kafka: kafka, Topic: cfg.Topics.Consent,
		Quarantine: producer, QuarantineTopic: cfg.Topics.Quarantine, Logger: logger, MaxWait: exportViewMaxWait})
	if err != nil {
		return nil, err
	}
	defer grants.Close()

	runner, err := pipeline.NewRunner(pipeline.Config{
		Source: source, Grants: grants, Producer: producer, Sink: sink,
		QuarantineTopic: cfg.Topics.Quarantine,
		LinkTTL:         time.Duration(cfg.Links.TTL), TempDir: cfg.TempDir, Logger: logger, Progress: progress,
		Locate: func(key string) string { return "s3://" + cfg.S3.Bucket + "/" + key },
	})
	if err != nil {
		return nil, err
	}
	return runner.Release(ctx, req)
}
