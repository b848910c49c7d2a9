package synth

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

// Counts is how many messages Produce wrote, per topic.
type Counts map[string]int

// String lists the counts by topic name: "midata.consent=253 transactions=24012".
func (c Counts) String() string {
	topics := make([]string, 0, len(c))
	for t := range c {
		topics = append(topics, t)
	}
	slices.Sort(topics)
	var b strings.Builder
	for i, t := range topics {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(t)
		b.WriteByte('=')
		b.WriteString(strconv.Itoa(c[t]))
	}
	return b.String()
}

// Producer tuning: a chunk is what one WriteMessages call hands kafka-go,
// which splits it into per-partition batches of at most produceBatch
// messages and 1 MiB (the broker's default message.max.bytes).
const (
	produceChunk        = 8192
	produceBatch        = 2000
	produceBatchBytes   = 1 << 20
	produceBatchTimeout = 5 * time.Millisecond
	produceTimeout      = 30 * time.Second
)

// Produce writes the data set of cfg to Kafka at brokers with
// segmentio/kafka-go: keyed by Generate's keys, placed by partitioner
// (nil: kafka.Murmur2Balancer{}, the Java clients' default), each message
// stamped with its Time, every write acknowledged by all in-sync replicas.
// It creates nothing: both topics must exist. Brokers may refuse timestamps
// far ahead of their clock (log.message.timestamp.after.max.ms), so a
// period should end in the past. It returns how many messages each topic
// got; on error, the counts of what was acknowledged before it.
func Produce(ctx context.Context, brokers []string, cfg Config, partitioner kafka.Balancer) (Counts, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(brokers) == 0 {
		return nil, fmt.Errorf("produce synthetic data: no brokers")
	}
	if partitioner == nil {
		partitioner = kafka.Murmur2Balancer{}
	}
	transport := &kafka.Transport{ClientID: "midata-synth", DialTimeout: 10 * time.Second}
	defer transport.CloseIdleConnections()
	w := &kafka.Writer{
		Addr:                   kafka.TCP(brokers...),
		Balancer:               partitioner,
		RequiredAcks:           kafka.RequireAll,
		BatchSize:              produceBatch,
		BatchBytes:             produceBatchBytes,
		BatchTimeout:           produceBatchTimeout,
		WriteTimeout:           produceTimeout,
		ReadTimeout:            produceTimeout,
		AllowAutoTopicCreation: false,
		Transport:              transport,
	}

	counts := Counts{}
	chunk := make([]kafka.Message, 0, produceChunk)
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
	err := Generate(cfg, func(m Message) error {
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
		return counts, fmt.Errorf("produce synthetic data to %s: %w", strings.Join(brokers, ","), err)
	}
	return counts, nil
}
