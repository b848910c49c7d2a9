package consumer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/midata/midata/pipeline/topics"
)

// Config configures a Consumer.
type Config struct {
	// Group is the consumer group. Required.
	Group string
	// Topic is the topic the group consumes. Required.
	Topic string
	// ClientID names this member to the brokers. Default the
	// topics.Connection's.
	ClientID string
	// SessionTimeout, HeartbeatInterval and RebalanceTimeout tune the
	// group (kafka-go's defaults 30s, 3s, 30s when zero).
	SessionTimeout    time.Duration
	HeartbeatInterval time.Duration
	RebalanceTimeout  time.Duration
	// Logger receives the reader's own errors at debug level. Default:
	// discard.
	Logger *slog.Logger
}

// Consumer is one member of a consumer group: it fetches the records of
// the partitions the group gives it, from the group's committed offsets
// (the first offset for a new group). A fetched record is in flight until
// Done; CommitDone commits, per partition, only below the oldest record
// still in flight, so a consumer that works on several records at once
// never commits one that is unfinished (it comes again if the member
// dies). It is safe for one goroutine fetching while others finish and
// commit.
type Consumer struct {
	r       *kafka.Reader
	topic   string
	offsets *offsetTracker

	commitMu sync.Mutex // commits one at a time, so the offsets only grow
}

// New joins cfg.Group on conn. It does not block: the first Fetch
// waits for the group to give it partitions.
func New(conn topics.Connection, cfg Config) (*Consumer, error) {
	if err := conn.Validate(); err != nil {
		return nil, fmt.Errorf("new consumer: %w", err)
	}
	if cfg.Group == "" || cfg.Topic == "" {
		return nil, errors.New("new consumer: a group and a topic are required")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := conn.Dialer()
	if cfg.ClientID != "" {
		d.ClientID = cfg.ClientID
	}
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:           conn.Brokers,
		GroupID:           cfg.Group,
		Topic:             cfg.Topic,
		MinBytes:          1,
		MaxBytes:          1 << 20,
		MaxWait:           time.Second,
		StartOffset:       kafka.FirstOffset,
		CommitInterval:    0, // commit synchronously, when told
		SessionTimeout:    cfg.SessionTimeout,
		HeartbeatInterval: cfg.HeartbeatInterval,
		RebalanceTimeout:  cfg.RebalanceTimeout,
		JoinGroupBackoff:  time.Second,
		ReadBackoffMin:    50 * time.Millisecond,
		ReadBackoffMax:    time.Second,
		Dialer:            d,
		ErrorLogger: kafka.LoggerFunc(func(msg string, args ...any) {
			log.Debug(cfg.Topic + " reader: " + fmt.Sprintf(msg, args...))
		}),
	})
	return &Consumer{r: r, topic: cfg.Topic, offsets: newOffsetTracker()}, nil
}

// Topic returns the topic consumed.
func (c *Consumer) Topic() string { return c.topic }

// Fetch returns the next record of the member's partitions, waiting for
// one until ctx ends. The record is in flight until Done.
func (c *Consumer) Fetch(ctx context.Context) (topics.Message, error) {
	m, err := c.r.FetchMessage(ctx)
	if err != nil {
		return topics.Message{}, fmt.Errorf("fetch from %s: %w", c.topic, err)
	}
	c.offsets.fetched(m.Partition, m.Offset)
	out := topics.Message{Partition: m.Partition, Offset: m.Offset, Key: m.Key, Value: m.Value, Time: m.Time.UTC()}
	for _, h := range m.Headers {
		out.Headers = append(out.Headers, topics.Header{Key: h.Key, Value: h.Value})
	}
	return out, nil
}

// Done records that the work of msgs, fetched by Fetch, is finished: their
// offsets may be committed.
func (c *Consumer) Done(msgs ...topics.Message) { c.offsets.done(msgs...) }

// CommitDone commits, synchronously, what Done allows: per partition, up
// to the oldest record still in flight, or past the last one fetched when
// none is. A failed commit leaves the offsets to the next one.
func (c *Consumer) CommitDone(ctx context.Context) error {
	c.commitMu.Lock()
	defer c.commitMu.Unlock()
	msgs := c.offsets.commitable()
	if len(msgs) == 0 {
		return nil
	}
	if err := c.commit(ctx, msgs...); err != nil {
		return err
	}
	c.offsets.committed(msgs)
	return nil
}

// commit moves the group's offset past each of msgs (to Offset+1 of its
// partition).
func (c *Consumer) commit(ctx context.Context, msgs ...topics.Message) error {
	km := make([]kafka.Message, len(msgs))
	for i, m := range msgs {
		km[i] = kafka.Message{Topic: c.topic, Partition: m.Partition, Offset: m.Offset}
	}
	if err := c.r.CommitMessages(ctx, km...); err != nil {
		return fmt.Errorf("commit offsets of %s: %w", c.topic, err)
	}
	return nil
}

// Close leaves the group and closes the connections.
func (c *Consumer) Close() error {
	if err := c.r.Close(); err != nil {
		return fmt.Errorf("close %s consumer: %w", c.topic, err)
	}
	return nil
}
