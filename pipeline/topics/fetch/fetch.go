// Package fetch reads one partition of a Kafka topic with the Fetch API:
// one request per call, sent through a kafka-go transport (which routes it
// to the partition's leader, over its connections, with its TLS and SASL),
// and the record batches of the response read straight from its bytes,
// without decoding each record into kafka-go's structures. It is how a
// topics.View reads its partitions, the backlog at start and the new
// records after it.
//
// It owns the bookkeeping of a partition's position: the offset moves past
// every batch a response holds (transaction markers and the offsets
// compaction emptied included), past offsets without records at the end
// of the log, and forward to the log start when the records before it were
// deleted. It reads with read_uncommitted isolation, as kafka-go's Reader
// does: records of open and aborted transactions are delivered,
// transaction markers are not. It reads record format v2 (Kafka 0.11 and
// later) with any of Kafka's compression codecs.
//
// It does not know what the records mean, which partitions a topic has, or
// where a View stands; package topics does.
package fetch

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	fetchapi "github.com/segmentio/kafka-go/protocol/fetch"
	"github.com/segmentio/kafka-go/protocol/listoffsets"
)

// Record is one data record of the partition. Value is nil for a
// tombstone, Key nil for a record without a key.
type Record struct {
	Offset  int64
	Key     []byte
	Value   []byte
	Time    time.Time // the record's timestamp, UTC
	Headers []Header
}

// Header is one record header.
type Header struct {
	Key   string
	Value []byte
}

// DefaultMaxBytes is the default Reader.MaxBytes.
const DefaultMaxBytes = 1 << 20

// maxGrownBytes bounds how far a Reader grows its fetch size to get a
// whole batch larger than MaxBytes from a broker that cuts it short.
const maxGrownBytes = 64 << 20

// ErrSkipped is what the error of a Reader that skipped deleted records
// matches with errors.Is: the records between its offset and the log start
// were deleted before it read them, and it now reads from the log start.
var ErrSkipped = errors.New("records deleted before they were read")

// Reader reads one partition from Offset on. It is not safe for
// concurrent use: one goroutine owns it.
type Reader struct {
	// Transport sends the requests to the partition's leader, which it
	// finds in its metadata (refreshed every few seconds). Required.
	Transport kafka.RoundTripper
	// Addr is the bootstrap brokers. Required.
	Addr net.Addr
	// ClientID names the client in each request, as the transport's own
	// requests do.
	ClientID string
	// Topic and Partition name the partition. Required.
	Topic     string
	Partition int
	// Offset is the next offset to read; Fetch moves it.
	Offset int64
	// MaxBytes is how many bytes of records one response may carry (the
	// broker sends at least one whole batch whatever its size). Default
	// DefaultMaxBytes.
	MaxBytes int
	// MaxWait is how long the broker may wait for a first record when
	// there is none at Offset yet: 0 answers at once.
	MaxWait time.Duration
	// Timeout bounds one fetch beyond MaxWait. Default 10s.
	Timeout time.Duration
	// Reuse makes the Key, Value and header values of the records that
	// Fetch returns share memory that the second Fetch after it reuses:
	// no allocation per record. Default: each record owns its bytes.
	Reuse bool

	bufs  [2][]byte // the last two responses
	zbufs [2][]byte // their decompressed batches
	flip  int       // the index of the next response's buffers
	grown int       // the fetch size after a response with no whole batch
}

// Fetch sends one fetch request at r.Offset, appends the data records of
// the response with offsets from r.Offset on to recs, in offset order, and
// moves r.Offset past everything the response covered. With nothing new
// it returns after about MaxWait with no records. After an error, ignore
// recs: r.Offset is where it was, except after one that wraps ErrSkipped.
func (r *Reader) Fetch(ctx context.Context, recs []Record) ([]Record, error) {
	recs, err := r.fetch(ctx, recs)
	if err == nil {
		r.flip ^= 1 // the buffers of these records are kept for one more Fetch
	}
	return recs, err
}

func (r *Reader) fetch(ctx context.Context, recs []Record) ([]Record, error) {
	a, err := r.roundTrip(ctx)
	if err != nil {
		return recs, fmt.Errorf("fetch partition %d at offset %d: %w", r.Partition, r.Offset, err)
	}
	if a.errorCode != 0 {
		err := kafka.Error(a.errorCode)
		if errors.Is(err, kafka.OffsetOutOfRange) {
			// Before the log start (records deleted), or past the end?
			if start, serr := r.logStart(ctx); serr == nil && start > r.Offset {
				from := r.Offset
				r.Offset = start
				return recs, fmt.Errorf("partition %d: offsets %d to %d: %w (%w)", r.Partition, from, start-1, ErrSkipped, err)
			}
		}
		return recs, fmt.Errorf("fetch partition %d at offset %d: %w", r.Partition, r.Offset, err)
	}
	r.zbufs[r.flip] = trim(r.zbufs[r.flip])
	w := batches{pos: r.Offset, reuse: r.Reuse, zbuf: &r.zbufs[r.flip], recs: recs}
	if err := w.walk(a.records); err != nil {
		return w.recs, fmt.Errorf("fetch partition %d at offset %d: %w", r.Partition, r.Offset, err)
	}
	switch {
	case w.whole:
		r.Offset, r.grown = w.next, 0
	case len(a.records) > 0:
		// Only the start of a batch larger than the limit: ask for more.
		r.grown = min(2*max(r.grown, r.maxBytes()), maxGrownBytes)
	case a.highWatermark > r.Offset && a.throttleMs == 0:
		// Nothing at or after r.Offset below the high watermark, which
		// the broker took before it read: the offsets up to it have no
		// records (compacted away at the end of the log). A throttled
		// answer is empty whatever the log holds.
		r.Offset = a.highWatermark
	}
	if a.throttleMs > 0 && len(w.recs) == len(recs) {
		return w.recs, wait(ctx, time.Duration(a.throttleMs)*time.Millisecond)
	}
	return w.recs, nil
}

func (r *Reader) maxBytes() int {
	if r.MaxBytes > 0 {
		return r.MaxBytes
	}
	return DefaultMaxBytes
}

// roundTrip sends the fetch request and returns the partition's answer.
func (r *Reader) roundTrip(ctx context.Context) (answer, error) {
	x := &exchange{clientID: r.ClientID, buf: r.bufs[r.flip], req: fetchapi.Request{
		ReplicaID:   -1,
		MaxWaitTime: int32(min(r.MaxWait.Milliseconds(), math.MaxInt32)),
		MinBytes:    1,
		// One partition per request: its limit, not the response's, ends
		// a fetch.
		MaxBytes:       math.MaxInt32,
		IsolationLevel: int8(kafka.ReadUncommitted),
		SessionID:      -1,
		SessionEpoch:   -1,
		Topics: []fetchapi.RequestTopic{{Topic: r.Topic, Partitions: []fetchapi.RequestPartition{{
			Partition: int32(r.Partition), CurrentLeaderEpoch: -1, FetchOffset: r.Offset,
			LogStartOffset: -1, PartitionMaxBytes: int32(min(max(r.grown, r.maxBytes()), math.MaxInt32)),
		}}}},
	}}
	// A connection that failed may still be writing into the buffer: it
	// is only reused once a response came back.
	r.bufs[r.flip] = nil
	m, err := r.Transport.RoundTrip(ctx, r.Addr, x)
	if err != nil {
		return answer{}, err
	}
	res, ok := m.(*rawResponse)
	if !ok {
		return answer{}, fmt.Errorf("unexpected response %T", m)
	}
	r.bufs[r.flip] = res.body
	return parseResponse(res.version, res.body, r.Topic, int32(r.Partition))
}

// logStart asks the partition's leader for its first offset.
func (r *Reader) logStart(ctx context.Context) (int64, error) {
	m, err := r.Transport.RoundTrip(ctx, r.Addr, &listoffsets.Request{ReplicaID: -1,
		Topics: []listoffsets.RequestTopic{{Topic: r.Topic, Partitions: []listoffsets.RequestPartition{{
			Partition: int32(r.Partition), CurrentLeaderEpoch: -1, Timestamp: earliestOffset,
		}}}}})
	if err != nil {
		return 0, err
	}
	res, ok := m.(*listoffsets.Response)
	if !ok || len(res.Topics) != 1 || len(res.Topics[0].Partitions) != 1 {
		return 0, fmt.Errorf("list offsets: unexpected response %T", m)
	}
	p := res.Topics[0].Partitions[0]
	if p.ErrorCode != 0 {
		return 0, fmt.Errorf("list offsets: %w", kafka.Error(p.ErrorCode))
	}
	return p.Offset, nil
}

// earliestOffset is the ListOffsets timestamp that asks for the log start.
const earliestOffset = -2

// Backoffs of Stream after a failed fetch.
const (
	minBackoff = 50 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// Stream reads the partition until ctx ends: it fetches on a goroutine of
// its own and calls apply on the calling goroutine with the records of
// each response and the offset after them, so that the next response is on
// its way while apply works. With Reuse, the records are valid until apply
// returns. A failed fetch is logged to log and tried again with backoff;
// records deleted before they were read are logged and skipped. A fetch in
// flight does not end with ctx: Stream returns after it (within MaxWait),
// so that no connection is left reading.
func (r *Reader) Stream(ctx context.Context, log *slog.Logger, apply func(recs []Record, next int64)) {
	type response struct {
		recs []Record
		next int64
	}
	responses := make(chan response) // unbuffered: apply is done with the one before
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		defer close(responses)
		var recs [2][]Record // the records of the response apply has and of the next
		timeout := r.MaxWait + cmp.Or(r.Timeout, 10*time.Second)
		for i, backoff := 0, minBackoff; ctx.Err() == nil; {
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
			got, err := r.Fetch(fctx, recs[i][:0])
			cancel()
			if err != nil {
				log.Warn("read partition", "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "error", err)
				if !errors.Is(err, ErrSkipped) && wait(ctx, backoff) == nil {
					backoff = min(2*backoff, maxBackoff)
				}
				continue
			}
			backoff = minBackoff
			select {
			case responses <- response{got, r.Offset}:
			case <-ctx.Done():
				return
			}
			recs[i], i = got, i^1
			clear(recs[i]) // what apply kept stays, the rest can go
		}
	})
	for res := range responses {
		apply(res.recs, res.next)
	}
}

// trim empties b for reuse, or drops it when it is much larger than the
// last answers needed.
func trim(b []byte) []byte {
	if cap(b) > 2*len(b) && cap(b) > minKept {
		return nil
	}
	return b[:0]
}

// wait sleeps for d or until ctx ends.
func wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
