package kafkasource

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"

	"github.com/midata/midata/pipeline/topics"
)

// Defaults of Config.
const (
	DefaultPartitioner   = "murmur2"
	DefaultSampleSize    = 16
	DefaultFetchMaxBytes = 2 << 20
)

// Config configures a Source. The zero value of every field but
// Kafka.Brokers means its default.
type Config struct {
	// Kafka is how to reach the cluster: brokers (required) and timeouts.
	// Its RequestTimeout bounds each metadata and offset request,
	// connecting to the brokers included, so that unreachable brokers fail
	// Plan instead of hanging it.
	Kafka topics.Connection

	// Topic is the transactions topic that Plan and Read work on.
	// Default topics.DefaultTransactions.
	Topic string

	// Partitioner names the partitioner the producers of Topic use, so that a
	// customer's key is found on the partition it was written to:
	// "murmur2" (default: the Java clients' default partitioner and
	// librdkafka's murmur2_random), "crc32" (librdkafka's consistent_random,
	// its default) or "fnv1a" (kafka-go's Hash balancer, Sarama's default).
	Partitioner string

	// SampleSize is how many keyed records Plan samples from each non-empty
	// partition to check that Partitioner matches the data before it prunes.
	// Default 16.
	SampleSize int

	// Logger receives warnings (a partitioner mismatch). Default: discard.
	Logger *slog.Logger

	// FetchMaxBytes is the most bytes one fetch asks for. Default 2 MiB:
	// a read holds about three fetches at once (see Read), and bulk tasks
	// read several partitions at once; on the bench broker 2 MiB fetches
	// read as fast as 8 MiB ones.
	FetchMaxBytes int

	// Progress, when set, is called by Read after each fetch with the offsets
	// done so far and the snapshot's total (Snapshot.Records). Offsets
	// skipped by compaction count as done, so done reaches total at the end.
	// It is called from the goroutine that calls Read.
	Progress func(done, total int64)
}

// Validate reports what is wrong with the configuration, all at once.
func (c Config) Validate() error {
	var errs []error
	if err := c.Kafka.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Partitioner != "" {
		if _, err := PartitionerByName(c.Partitioner); err != nil {
			errs = append(errs, err)
		}
	}
	if c.SampleSize < 0 {
		errs = append(errs, fmt.Errorf("sample size %d: want 0 (default %d) or more", c.SampleSize, DefaultSampleSize))
	}
	if c.FetchMaxBytes < 0 || c.FetchMaxBytes > math.MaxInt32 {
		errs = append(errs, fmt.Errorf("fetch max bytes %d: want 0 (default %d) to %d", c.FetchMaxBytes, DefaultFetchMaxBytes, math.MaxInt32))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid kafka source config: %w", err)
	}
	return nil
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.Topic == "" {
		c.Topic = topics.DefaultTransactions
	}
	if c.Partitioner == "" {
		c.Partitioner = DefaultPartitioner
	}
	c.Partitioner = strings.ToLower(c.Partitioner)
	if c.SampleSize == 0 {
		c.SampleSize = DefaultSampleSize
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.Kafka = c.Kafka.WithDefaults()
	if c.FetchMaxBytes == 0 {
		c.FetchMaxBytes = DefaultFetchMaxBytes
	}
	return c
}
