// Package seed writes midata's synthetic data set (schemas/synth) to a
// Kafka cluster, for `midata seed`, `midata dev`, tests and benchmarks: the
// transactions and consent events keyed and placed as upstream producers
// place them, with their historic timestamps, and counts of what was
// written. It creates no topic (pipeline/topics.Ensure does) and decides
// nothing about the data (schemas/synth generates it).
package seed

import (
	"context"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/schemas/synth"
)

// Producer tuning of Produce: a chunk is what one WriteMessages call hands
// kafka-go, which splits it into per-partition batches of at most
// seedBatch messages and 1 MiB (the broker's default message.max.bytes).
const (
	seedChunk        = 8192
	seedBatch        = 2000
	seedBatchBytes   = 1 << 20
	seedBatchTimeout = 5 * time.Millisecond
	seedTimeout      = 30 * time.Second
)

// Produce writes the synthetic data set of cfg (package schemas/synth) to
// Kafka on conn: keyed by the generator's keys, placed by partitioner
// (nil: kafka.Murmur2Balancer{}, the Java clients' default), each message
// stamped with its Time, every write acknowledged by all in-sync replicas.
// It creates nothing: both topics must exist (Ensure them with
// TransactionsSpec and ConsentSpec). Brokers may refuse timestamps far
// ahead of their clock (log.message.timestamp.after.max.ms), so a period
// should end in the past. It returns how many messages each topic got; on
// error, the counts of what was acknowledged before it.
func Produce(ctx context.Context, conn topics.Connection, cfg synth.Config, partitioner kafka.Balancer) (Counts, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := conn.Validate(); err != nil {
		return nil, fmt.Errorf("produce synthetic data: %w", err)
	}
	if partitioner == nil {
		partitioner = kafka.Murmur2Balancer{}
	}
	transport := conn.Transport()
	defer transport.CloseIdleConnections()
	w := &kafka.Writer{
		Addr:                   conn.Addr(),
		Balancer:               partitioner,
		RequiredAcks:           kafka.RequireAll,
		BatchSize:              seedBatch,
		BatchBytes:             seedBatchBytes,
		BatchTimeout:           seedBatchTimeout,
		WriteTimeout:           seedTimeout,
		ReadTimeout:            seedTimeout,
		AllowAutoTopicCreation: false,
		Transport:              transport,
	}

	counts := Counts{}
	chunk := make([]kafka.Message, 0, seedChunk)
	flush := func() error {
		if len(chunk) == 0 {
			return nil
		}
		if err := w.WriteMessages(ctx, chunk...); err != nil {
			return fmt.Errorf("write %d messages: %w", len(chunk), err)
		}
		for i := range chunk {
			counts[chunk[i].Topic]++
		}
		// kafka-go is done with the messages: the chunk's array is reused.
		clear(chunk)
		chunk = chunk[:0]
		return nil
	}
	err := synth.Generate(cfg, func(m synth.Message) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		chunk = append(chunk, kafka.Message{Topic: m.Topic, Key: m.Key, Value: m.Value, Time: m.Time})
		if len(chunk) == cap(chunk) {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if cerr := w.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close writer: %w", cerr)
	}
	if err != nil {
		return counts, fmt.Errorf("produce synthetic data to %s: %w", conn, err)
	}
	return counts, nil
}
