package topics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/segmentio/kafka-go"
)

// Message is one record read from Kafka. Key and Value are owned by the
// receiver; Value is nil for a tombstone, Key is nil for a record without a
// key.
type Message struct {
	Partition int
	Offset    int64
	Key       []byte
	Value     []byte
	Time      time.Time // the record's Kafka timestamp, UTC
	Headers   []Header
}

// Header is one record header.
type Header struct {
	Key   string
	Value []byte
}

// ErrNoRecord is the cause of a ReadAt that finds no record at its offset
// (compacted away, or not written).
var ErrNoRecord = errors.New("no record at that offset")

// ReadAt reads the one record at offset of partition of topic: a consent
// receipt reads back the event its grant was built from, for what the
// compact consent view does not keep (its actor).
func ReadAt(ctx context.Context, conn Connection, topic string, partition int, offset int64) (Message, error) {
	conn = conn.WithDefaults()
	t := conn.Transport()
	defer t.CloseIdleConnections()
	c := &kafka.Client{Addr: conn.Addr(), Transport: t, Timeout: conn.RequestTimeout}
	resp, err := c.Fetch(ctx, &kafka.FetchRequest{Topic: topic, Partition: partition, Offset: offset, MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 500 * time.Millisecond})
	if err == nil && resp.Error != nil {
		err = resp.Error
	}
	if err != nil {
		return Message{}, fmt.Errorf("read %s[%d]@%d: %w", topic, partition, offset, err)
	}
	for {
		r, err := resp.Records.ReadRecord()
		if err != nil || r.Offset > offset {
			return Message{}, fmt.Errorf("read %s[%d]@%d: %w", topic, partition, offset, ErrNoRecord)
		}
		if r.Offset < offset {
			continue
		}
		m := Message{Partition: partition, Offset: r.Offset, Time: r.Time.UTC()}
		if r.Key != nil {
			m.Key, _ = io.ReadAll(r.Key)
		}
		if r.Value != nil {
			m.Value, _ = io.ReadAll(r.Value)
		}
		for _, h := range r.Headers {
			m.Headers = append(m.Headers, Header{Key: h.Key, Value: h.Value})
		}
		return m, nil
	}
}
