package kafkasource

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
	fetchapi "github.com/segmentio/kafka-go/protocol/fetch"

	"github.com/midata/midata/pipeline/topics"
)

// controlAbort is the type of the control record that ends an aborted
// transaction (the key of a control record is version int16, type int16).
const controlAbort = 0

// cancelEvery is how often, in records, a read checks for cancellation
// within one fetch response.
const cancelEvery = 64

// Read calls fn for every record of snap, partition by partition in the
// order of snap.Ranges, in offset order within a partition. Only records at
// offsets in [Start, End) are delivered; offsets without a record
// (compaction, transaction markers, aborted transactions) are skipped. It
// stops at the first error of fn, which it returns as is, and promptly when
// ctx is cancelled.
//
// One goroutine fetches and decodes the next response while fn runs on the
// caller's goroutine over the current one (fn is never called
// concurrently), so memory stays below about 3 × FetchMaxBytes: the records
// fn works on, and the next response with its decoded copy.
func (s *Source) Read(parent context.Context, snap Snapshot, fn func(topics.Message) error) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	chunks := make(chan chunk)
	free := make(chan []topics.Message, 2) // slices handed back for reuse
	var fetchErr error
	fetched := make(chan struct{})
	go func() {
		defer close(fetched)
		defer close(chunks)
		fetchErr = s.fetchRanges(ctx, snap, chunks, free)
	}()

	total, done := snap.Records(), int64(0)
	var err error
consume:
	for c := range chunks {
		for i, m := range c.msgs {
			if i%cancelEvery == cancelEvery-1 && ctx.Err() != nil {
				break consume
			}
			if err = fn(m); err != nil {
				break consume
			}
		}
		clear(c.msgs) // the messages belong to fn now
		select {
		case free <- c.msgs[:0]:
		default:
		}
		done += c.offsets
		if s.cfg.Progress != nil {
			s.cfg.Progress(done, total)
		}
	}
	cancel()
	for range chunks { // unblock the fetcher, which stops on cancel
	}
	<-fetched
	switch {
	case err != nil:
		return err
	case fetchErr != nil:
		return fetchErr
	}
	if done < total { // stopped by a cancel between two fetches
		return fmt.Errorf("read topic %q: %w", snap.Topic, cmp.Or(parent.Err(), context.Canceled))
	}
	return nil
}

// chunk is the records of one fetch response and the offsets it covered.
type chunk struct {
	msgs    []topics.Message
	offsets int64
}

// fetchRanges fetches the ranges of snap in order and sends their records
// to chunks, one chunk per fetch response.
func (s *Source) fetchRanges(ctx context.Context, snap Snapshot, chunks chan<- chunk, free <-chan []topics.Message) error {
	for _, r := range snap.Ranges {
		err := s.fetchRange(ctx, snap.Topic, r, func(c chunk) error {
			select {
			case chunks <- c:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}, free)
		if err != nil {
			return err
		}
	}
	return nil
}

// ReadTopic calls fn for every record of a whole topic, from the earliest
// offset of each partition to its end frozen when ReadTopic starts. It is
// meant for small compacted topics such as the consent topic. A missing
// topic is an error that wraps ErrTopicNotFound.
func (s *Source) ReadTopic(ctx context.Context, topic string, fn func(topics.Message) error) error {
	if topic != s.cfg.Topic {
		other := s.on(topic)
		defer other.Close()
		return other.ReadTopic(ctx, topic, fn)
	}
	partitions, err := s.partitions(ctx, topic)
	if err != nil {
		return fmt.Errorf("read whole topic: %w", err)
	}
	ranges, err := s.ranges(ctx, topic, partitions, time.Time{})
	if err != nil {
		return fmt.Errorf("read topic %q: %w", topic, err)
	}
	return s.Read(ctx, Snapshot{Topic: topic, Ranges: ranges}, fn)
}

// fetchRange emits the records of one range, one chunk per fetch. It
// advances its position past every offset the broker returns (records,
// markers, aborted records) and ends when the position reaches End, or when
// the broker has nothing more to return below End although the partition
// holds End.
func (s *Source) fetchRange(ctx context.Context, topic string, r Range, emit func(chunk) error, free <-chan []topics.Message) error {
	pos := r.Start
	for pos < r.End {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("read partition %d at offset %d: %w", r.Partition, pos, err)
		}
		p, err := s.fetch(ctx, topic, r.Partition, pos, s.cfg.FetchMaxBytes)
		if err != nil {
			return fmt.Errorf("read partition %d at offset %d: %w", r.Partition, pos, err)
		}
		var msgs []topics.Message
		select {
		case msgs = <-free:
		default:
		}
		next, err := walk(ctx, p, pos, r.End, func(m topics.Message) error {
			m.Partition = r.Partition
			msgs = append(msgs, m)
			return nil
		})
		if err != nil {
			return fmt.Errorf("read partition %d at offset %d: %w", r.Partition, pos, err)
		}
		if next == pos {
			// Nothing at or after pos below End: the rest of the range is
			// offsets without records, if the partition really reaches End.
			if p.HighWatermark < r.End {
				return fmt.Errorf("read partition %d at offset %d: the partition ends at %d, before the snapshot's end %d (truncated?)", r.Partition, pos, p.HighWatermark, r.End)
			}
			next = r.End
		}
		if err := emit(chunk{msgs: msgs, offsets: min(next, r.End) - pos}); err != nil {
			return fmt.Errorf("read partition %d at offset %d: %w", r.Partition, pos, err)
		}
		pos = next
	}
	return nil
}

// fetch asks the partition's leader for records from offset on, retrying
// while the broker throttles or the leader moves.
func (s *Source) fetch(ctx context.Context, topic string, partition int, offset int64, maxBytes int) (*fetchapi.ResponsePartition, error) {
	req := &fetchapi.Request{
		ReplicaID: -1,
		// Everything below the snapshot's end is already written: answer
		// with what is there, never wait for more.
		MinBytes:    0,
		MaxWaitTime: 100,
		// One partition per request: its limit, not the response's, ends
		// a fetch (kfake leaves out the aborted transactions of a
		// partition whose fetch the response limit cut short).
		MaxBytes:       math.MaxInt32,
		IsolationLevel: readCommitted,
		SessionID:      -1,
		SessionEpoch:   -1,
		Topics: []fetchapi.RequestTopic{{Topic: topic, Partitions: []fetchapi.RequestPartition{{
			Partition: int32(partition), CurrentLeaderEpoch: -1, FetchOffset: offset,
			LogStartOffset: -1, PartitionMaxBytes: int32(maxBytes),
		}}}},
	}
	backoff := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		p, throttle, err := s.fetchOnce(ctx, req)
		if err == nil && p.ErrorCode == 0 && (throttle == 0 || hasBatches(p)) {
			return p, nil
		}
		if err == nil && p.ErrorCode != 0 {
			err = kafka.Error(p.ErrorCode)
			if errors.Is(err, kafka.OffsetOutOfRange) && offset < p.LogStartOffset {
				return nil, fmt.Errorf("offsets %d to %d were deleted (retention) since the snapshot was planned: %w", offset, p.LogStartOffset-1, err)
			}
		}
		if err != nil && (!retriable(err) || attempt == 10) {
			return nil, s.explain(err)
		}
		wait := max(backoff, throttle)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

func (s *Source) fetchOnce(ctx context.Context, req *fetchapi.Request) (*fetchapi.ResponsePartition, time.Duration, error) {
	m, err := s.rt().RoundTrip(ctx, s.addr, req)
	if err != nil {
		return nil, 0, err
	}
	res, ok := m.(*fetchapi.Response)
	if !ok {
		return nil, 0, fmt.Errorf("unexpected response %T", m)
	}
	if res.ErrorCode != 0 {
		return nil, 0, kafka.Error(res.ErrorCode)
	}
	throttle := time.Duration(res.ThrottleTimeMs) * time.Millisecond
	if len(res.Topics) != 1 || len(res.Topics[0].Partitions) != 1 {
		return nil, 0, errors.New("fetch answer without the partition asked for")
	}
	return &res.Topics[0].Partitions[0], throttle, nil
}

func hasBatches(p *fetchapi.ResponsePartition) bool {
	if st, ok := p.RecordSet.Records.(*protocol.RecordStream); ok {
		return len(st.Records) > 0
	}
	return p.RecordSet.Records != nil
}

// walk delivers the data records of one fetch response with offsets in
// [pos, end), skipping transaction markers and the batches of aborted
// transactions (the read_committed rules of the Java consumer), and returns
// the offset after the last offset the response covered (pos if none). It
// checks ctx every cancelEvery records.
func walk(ctx context.Context, p *fetchapi.ResponsePartition, pos, end int64, fn func(topics.Message) error) (int64, error) {
	var batches []protocol.RecordReader
	switch rs := p.RecordSet.Records.(type) {
	case nil:
		return pos, nil
	case *protocol.RecordStream:
		batches = rs.Records
	default:
		batches = []protocol.RecordReader{rs}
	}

	// Aborted transactions overlapping this response, by first offset; a
	// producer is "aborted" from its first offset to its abort marker.
	pending := slices.SortedFunc(slices.Values(p.AbortedTransactions), func(a, b fetchapi.ResponseTransaction) int {
		return cmp.Compare(a.FirstOffset, b.FirstOffset)
	})
	aborted := map[int64]bool{}
	next, delivered := pos, 0

	for _, b := range batches {
		var deliver bool
		switch b := b.(type) {
		case *protocol.ControlBatch:
			for {
				rec, err := b.ReadRecord()
				if err != nil {
					break
				}
				if rec.Offset >= end {
					return next, nil
				}
				next = max(next, rec.Offset+1)
				if c, err := protocol.ReadControlRecord(rec); err == nil && c.Type == controlAbort {
					delete(aborted, b.ProducerID)
				}
			}
			continue
		case *protocol.RecordBatch:
			for len(pending) > 0 && pending[0].FirstOffset <= b.BaseOffset {
				aborted[pending[0].ProducerID] = true
				pending = pending[1:]
			}
			deliver = !(b.Attributes.Transactional() && aborted[b.ProducerID])
		default:
			deliver = true
		}
		for {
			rec, err := b.ReadRecord()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return next, fmt.Errorf("decode record after offset %d: %w", next-1, err)
			}
			if rec.Offset < pos {
				release(rec)
				continue
			}
			if rec.Offset >= end {
				release(rec)
				return next, nil
			}
			next = max(next, rec.Offset+1)
			if !deliver {
				release(rec)
				continue
			}
			if delivered++; delivered%cancelEvery == 0 && ctx.Err() != nil {
				release(rec)
				return next, fmt.Errorf("read at offset %d: %w", rec.Offset, ctx.Err())
			}
			m, err := message(rec)
			if err != nil {
				return next, fmt.Errorf("decode record at offset %d: %w", rec.Offset, err)
			}
			if err := fn(m); err != nil {
				return next, err
			}
		}
	}
	return next, nil
}

// message copies a record out of the fetch buffers (one allocation for key
// and value) and hands those buffers back to kafka-go's page pool.
func message(rec *protocol.Record) (topics.Message, error) {
	defer release(rec)
	m := topics.Message{Offset: rec.Offset, Time: rec.Time.UTC()}
	kl, vl := bytesLen(rec.Key), bytesLen(rec.Value)
	buf := make([]byte, max(kl, 0)+max(vl, 0))
	if kl >= 0 {
		m.Key = buf[:kl:kl]
		if _, err := io.ReadFull(rec.Key, m.Key); err != nil {
			return m, err
		}
	}
	if vl >= 0 {
		m.Value = buf[len(buf)-vl:]
		if _, err := io.ReadFull(rec.Value, m.Value); err != nil {
			return m, err
		}
	}
	if len(rec.Headers) > 0 {
		m.Headers = make([]topics.Header, len(rec.Headers))
		for i, h := range rec.Headers {
			m.Headers[i] = topics.Header{Key: h.Key, Value: h.Value}
		}
	}
	return m, nil
}

// bytesLen is the length of b, -1 for null.
func bytesLen(b protocol.Bytes) int {
	if b == nil {
		return -1
	}
	return b.Len()
}

func release(rec *protocol.Record) {
	if rec.Key != nil {
		rec.Key.Close()
	}
	if rec.Value != nil {
		rec.Value.Close()
	}
}
