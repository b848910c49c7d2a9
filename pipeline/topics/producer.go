package topics

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
)

// Quarantine record headers.
const (
	HeaderReason = "midata-reason" // why the record was quarantined
	HeaderSource = "midata-source" // where it came from: <topic>/<partition>/<offset>
	// HeaderStub marks a stub: the record was too large to copy, and the
	// value describes it instead (QuarantineStub).
	HeaderStub = "midata-stub"
)

// MaxQuarantineCopy is the largest record (key and value) the quarantine
// keeps a copy of. A larger one (a valid record is a few KiB) is kept as a
// stub: a copy could exceed the broker's message size (1 MiB by default)
// once uncompressed, and a 2 MiB lz4-compressed record that the broker
// took on the input topic could not be copied, failed its batch, and the
// batch retried in every later release (trust issue, finding 4).
const MaxQuarantineCopy = 256 << 10

// QuarantineStub is the value of a stub in quarantine: where the record
// is, how large it was and its value's sha256, so it can be found again
// on the source topic (while its retention keeps it) and recognised.
type QuarantineStub struct {
	Topic     string `json:"topic"`
	Partition int    `json:"partition"`
	Offset    int64  `json:"offset"`
	KeyBytes  int    `json:"key_bytes"`
	Bytes     int    `json:"bytes"` // of the value
	SHA256    string `json:"sha256"`
}

// quarantineBatch is how many quarantined records Producer buffers before
// it writes them without waiting for Flush.
const quarantineBatch = 500

// closeTimeout bounds the flush that Close does.
const closeTimeout = 10 * time.Second

// Producer writes midata's own records: quarantined input records, consent
// events, runs, requests and schedules. Keyed records are placed with
// murmur2, as the Java clients do, unless UsePartitioner says otherwise.
// Every write is acknowledged by all in-sync replicas. It is safe for
// concurrent use.
type Producer struct {
	w         *kafka.Writer
	transport *kafka.Transport
	log       *slog.Logger

	mu      sync.Mutex
	pending []kafka.Message // quarantined records not yet written
}

// NewProducer returns a Producer on conn. A nil logger discards. It does
// not connect: the first write does.
func NewProducer(conn Connection, logger *slog.Logger) *Producer {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	t := conn.Transport()
	return &Producer{
		transport: t,
		log:       logger,
		w: &kafka.Writer{
			Addr:         conn.Addr(),
			Balancer:     kafka.Murmur2Balancer{},
			RequiredAcks: kafka.RequireAll,
			BatchSize:    quarantineBatch,
			BatchTimeout: 5 * time.Millisecond,
			Transport:    t,
		},
	}
}

// Quarantine queues record m, read from sourceTopic, for the quarantine
// topic (DefaultQuarantine when topic is empty): the original key and
// value, with headers midata-reason (reason) and midata-source
// (<sourceTopic>/<partition>/<offset>). Records are written in batches:
// when enough are queued, and by Flush, which callers must call before they
// count the records as kept. Close flushes too.
func (p *Producer) Quarantine(ctx context.Context, topic string, m Message, sourceTopic, reason string) error {
	msg := kafka.Message{
		Topic: or(topic, DefaultQuarantine),
		Key:   m.Key,
		Value: m.Value,
		Headers: []kafka.Header{
			{Key: HeaderReason, Value: []byte(reason)},
			{Key: HeaderSource, Value: []byte(sourceTopic + "/" + strconv.Itoa(m.Partition) + "/" + strconv.FormatInt(m.Offset, 10))},
		},
	}
	if len(m.Key)+len(m.Value) > MaxQuarantineCopy {
		sum := sha256.Sum256(m.Value)
		stub, err := json.Marshal(QuarantineStub{Topic: sourceTopic, Partition: m.Partition, Offset: m.Offset,
			KeyBytes: len(m.Key), Bytes: len(m.Value), SHA256: hex.EncodeToString(sum[:])})
		if err != nil {
			return fmt.Errorf("quarantine stub: %w", err)
		}
		if len(msg.Key) > 1024 {
			msg.Key = msg.Key[:1024] // a key is a customer id: a huge one is cut, its size is in the stub
		}
		msg.Value = stub
		msg.Headers = append(msg.Headers, kafka.Header{Key: HeaderStub, Value: []byte("too large to copy")})
	}
	p.mu.Lock()
	p.pending = append(p.pending, msg)
	full := len(p.pending) >= quarantineBatch
	p.mu.Unlock()
	if full {
		return p.Flush(ctx)
	}
	return nil
}

// Flush writes every queued quarantined record and returns when the brokers
// have them. On error the records stay queued for the next Flush (a retry
// may write some twice); with a context that ended it writes nothing.
func (p *Producer) Flush(ctx context.Context) error {
	p.mu.Lock()
	batch := p.pending
	if len(batch) > 0 && ctx.Err() != nil {
		p.mu.Unlock()
		return fmt.Errorf("write %d quarantined records to %s: %w", len(batch), batch[0].Topic, ctx.Err())
	}
	p.pending = nil
	p.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	if err := p.w.WriteMessages(ctx, batch...); err != nil {
		p.mu.Lock()
		p.pending = append(batch, p.pending...)
		p.mu.Unlock()
		return fmt.Errorf("write %d quarantined records to %s: %w", len(batch), batch[0].Topic, err)
	}
	return nil
}

// UsePartitioner makes Publish place keys as b does: the partitioner of the
// topic's other producers, so one key's events stay on one partition (the
// default is murmur2). Call it before the first Publish.
func (p *Producer) UsePartitioner(b kafka.Balancer) {
	if bt, ok := p.w.Balancer.(*ByTopic); ok {
		bt.Default = b
		return
	}
	p.w.Balancer = b
}

// UsePartitionerFor makes Publish place the keys of topic as b does,
// whatever UsePartitioner says for the others: the consent topic has a
// partitioner of its own (murmur2 unless configured otherwise), not the
// transactions topic's. Call it before the first Publish.
func (p *Producer) UsePartitionerFor(topic string, b kafka.Balancer) {
	bt, ok := p.w.Balancer.(*ByTopic)
	if !ok {
		bt = &ByTopic{Default: p.w.Balancer, Topics: map[string]kafka.Balancer{}}
		p.w.Balancer = bt
	}
	bt.Topics[topic] = b
}

// Publish writes one record and returns when the brokers have it. A nil
// value writes a tombstone. With a context that ended it writes nothing
// and returns the context's error; one that ends during the call may
// leave the record written (kafka-go cannot take back a queued record).
func (p *Producer) Publish(ctx context.Context, topic string, key, value []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("publish to %s: %w", topic, err)
	}
	if err := p.w.WriteMessages(ctx, kafka.Message{Topic: topic, Key: key, Value: value}); err != nil {
		return fmt.Errorf("publish to %s: %w", topic, err)
	}
	return nil
}

// Close flushes queued quarantined records (for at most 10s: call Flush
// first to choose the deadline) and closes the connections.
func (p *Producer) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	err := p.Flush(ctx)
	if err != nil {
		p.mu.Lock()
		n := len(p.pending)
		p.mu.Unlock()
		p.log.Error("quarantined records not written", "records", n, "error", err)
	}
	err = errors.Join(err, p.w.Close())
	p.transport.CloseIdleConnections()
	return err
}
