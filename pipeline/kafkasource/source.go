package kafkasource

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
	"github.com/segmentio/kafka-go/protocol/listoffsets"
)

// ErrTopicNotFound is what errors for a missing topic match with errors.Is.
var ErrTopicNotFound = errors.New("topic not found")

// topicNotFoundError names the missing topic and the brokers asked.
type topicNotFoundError struct{ topic, brokers string }

func (e *topicNotFoundError) Error() string {
	return fmt.Sprintf("topic %q not found on brokers %s", e.topic, e.brokers)
}

func (e *topicNotFoundError) Is(target error) bool { return target == ErrTopicNotFound }

// Special ListOffsets timestamps.
const (
	latestOffset   = -1 // the high watermark, or the last stable offset under read_committed
	earliestOffset = -2 // the log start offset
)

// readCommitted is the isolation level of every offset lookup and fetch:
// records of open or aborted transactions are never part of a snapshot.
const readCommitted = int8(kafka.ReadCommitted)

// Source plans and reads releases' source snapshots on one Kafka cluster.
// It is safe for concurrent use; Close it when done.
type Source struct {
	cfg      Config
	balancer kafka.Balancer
	addr     net.Addr

	mu        sync.Mutex
	transport *kafka.Transport // replaced when its metadata cache is stale
}

// New validates cfg and returns a Source. It does not connect: the first
// Plan or Read does.
func New(cfg Config) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	b, err := PartitionerByName(cfg.Partitioner)
	if err != nil {
		return nil, err
	}
	// The transport is one of our own (not kafka-go's DefaultTransport), so
	// that Close can stop its goroutines.
	return &Source{cfg: cfg, balancer: b, addr: cfg.Kafka.Addr(), transport: newTransport(cfg)}, nil
}

// newTransport returns a transport whose metadata cache holds the topic
// alone: kafka-go's default caches every topic of the cluster and refreshes
// it every few seconds (7 to 12 MB of heap for a cluster of 1,000 to 1,400
// topics, whatever the release).
func newTransport(cfg Config) *kafka.Transport {
	t := cfg.Kafka.Transport()
	t.MetadataTopics = []string{cfg.Topic}
	return t
}

// on returns a Source like s on another topic, with a transport of its
// own (s's knows its topic alone), for ReadTopic and Ends; the caller
// closes it.
func (s *Source) on(topic string) *Source {
	cfg := s.cfg
	cfg.Topic = topic
	return &Source{cfg: cfg, balancer: s.balancer, addr: s.addr, transport: newTransport(cfg)}
}

// Close closes the Source's connections. Calls in flight fail.
func (s *Source) Close() error {
	s.rt().CloseIdleConnections()
	return nil
}

// rt returns the current transport.
func (s *Source) rt() *kafka.Transport {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.transport
}

// brokers names the bootstrap brokers in errors.
func (s *Source) brokers() string { return s.cfg.Kafka.String() }

// partitions returns the sorted partition ids of topic, or an error wrapping
// ErrTopicNotFound.
func (s *Source) partitions(ctx context.Context, topic string) ([]int, error) {
	old := s.rt()
	ids, err := s.metadata(ctx, &kafka.Client{Addr: s.addr, Transport: old}, topic)
	if !errors.Is(err, ErrTopicNotFound) {
		return ids, err
	}
	// The transport answers metadata from a cache refreshed every few
	// seconds: ask the cluster afresh before calling the topic missing, and
	// if it is there after all, continue with the fresh transport.
	fresh := newTransport(s.cfg)
	ids, err = s.metadata(ctx, &kafka.Client{Addr: s.addr, Transport: fresh}, topic)
	if err != nil {
		fresh.CloseIdleConnections()
		return nil, err
	}
	s.mu.Lock()
	if s.transport == old {
		s.transport, fresh = fresh, old
	}
	s.mu.Unlock()
	fresh.CloseIdleConnections() // the replaced one, or ours if another call replaced it first
	return ids, nil
}

func (s *Source) metadata(ctx context.Context, c *kafka.Client, topic string) ([]int, error) {
	var ids []int
	err := s.retry(ctx, func(ctx context.Context) error {
		res, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
		if err != nil {
			return err
		}
		for _, t := range res.Topics {
			if t.Name != topic {
				continue
			}
			if errors.Is(t.Error, kafka.UnknownTopicOrPartition) {
				return &topicNotFoundError{topic: topic, brokers: s.brokers()}
			}
			if t.Error != nil {
				return t.Error
			}
			ids = ids[:0]
			for _, p := range t.Partitions {
				ids = append(ids, p.ID)
			}
			slices.Sort(ids)
			if len(ids) == 0 {
				return kafka.LeaderNotAvailable // a topic being created
			}
			return nil
		}
		return &topicNotFoundError{topic: topic, brokers: s.brokers()}
	})
	if err != nil && !errors.Is(err, ErrTopicNotFound) {
		return nil, fmt.Errorf("list partitions of topic %q: %w", topic, err)
	}
	return ids, err
}

// listOffsets asks the partition leaders for one offset of each partition:
// ts is a millisecond timestamp (the first offset whose record timestamp is
// at least ts, -1 if none) or latestOffset or earliestOffset.
func (s *Source) listOffsets(ctx context.Context, topic string, partitions []int, ts int64) (map[int]int64, error) {
	req := &listoffsets.Request{ReplicaID: -1, IsolationLevel: readCommitted,
		Topics: []listoffsets.RequestTopic{{Topic: topic}}}
	for _, p := range partitions {
		req.Topics[0].Partitions = append(req.Topics[0].Partitions,
			listoffsets.RequestPartition{Partition: int32(p), CurrentLeaderEpoch: -1, Timestamp: ts})
	}
	offsets := make(map[int]int64, len(partitions))
	err := s.retry(ctx, func(ctx context.Context) error {
		m, err := s.rt().RoundTrip(ctx, s.addr, req)
		if err != nil {
			return err
		}
		res, ok := m.(*listoffsets.Response)
		if !ok {
			return fmt.Errorf("unexpected response %T", m)
		}
		clear(offsets)
		for _, t := range res.Topics {
			for _, p := range t.Partitions {
				if p.ErrorCode != 0 {
					return fmt.Errorf("partition %d: %w", p.Partition, kafka.Error(p.ErrorCode))
				}
				offsets[int(p.Partition)] = p.Offset
			}
		}
		for _, p := range partitions {
			if _, ok := offsets[p]; !ok {
				return fmt.Errorf("partition %d: no answer", p)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list offsets of topic %q (%s): %w", topic, offsetKind(ts), err)
	}
	return offsets, nil
}

func offsetKind(ts int64) string {
	switch ts {
	case latestOffset:
		return "latest"
	case earliestOffset:
		return "earliest"
	}
	return "for time " + time.UnixMilli(ts).UTC().Format(time.RFC3339Nano)
}

// retry runs op with a deadline of the request timeout, again while it fails with
// a retriable Kafka error (a leader moving, a topic being created), and
// turns a timeout into an error that names the brokers.
func (s *Source) retry(ctx context.Context, op func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Kafka.RequestTimeout)
	defer cancel()
	backoff := 50 * time.Millisecond
	for {
		err := op(ctx)
		if err == nil || !retriable(err) || ctx.Err() != nil {
			return s.explain(err)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return s.explain(err)
		case <-t.C:
		}
		backoff = min(2*backoff, time.Second)
	}
}

// explain adds what to check to errors that mean the brokers did not answer.
func (s *Source) explain(err error) error {
	if err == nil {
		return nil
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return fmt.Errorf("no answer from kafka brokers %s within %s (check the addresses and that the brokers run): %w", s.brokers(), s.cfg.Kafka.RequestTimeout, err)
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return fmt.Errorf("cannot reach kafka brokers %s (check the addresses and that the brokers run): %w", s.brokers(), err)
	}
	return err
}

// retriable reports whether err is a Kafka error that may pass by itself,
// or the transport's metadata cache not knowing a topic or leader yet (it
// refreshes every few seconds).
func retriable(err error) bool {
	if errors.Is(err, protocol.ErrNoTopic) || errors.Is(err, protocol.ErrNoPartition) || errors.Is(err, protocol.ErrNoLeader) {
		return true
	}
	var ke kafka.Error
	if errors.As(err, &ke) {
		return ke.Temporary()
	}
	return false
}
