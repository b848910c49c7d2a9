package topics_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/pipeline/topics/topicstest"
)

// readPartition returns every record of one partition up to its end now.
func readPartition(t *testing.T, conn topics.Connection, topic string, partition int) []kafka.Message {
	t.Helper()
	ends, err := topics.Ends(t.Context(), conn, topic)
	if err != nil {
		t.Fatal(err)
	}
	end := ends[partition]
	if end == 0 {
		return nil
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: conn.Brokers, Topic: topic, Partition: partition, MaxWait: 250 * time.Millisecond, Dialer: conn.Dialer()})
	defer r.Close()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	var out []kafka.Message
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			t.Fatalf("read %s/%d: %v", topic, partition, err)
		}
		out = append(out, m)
		if m.Offset+1 >= end {
			return out
		}
	}
}

func header(m kafka.Message, key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return "<none>"
}

func quarantineTopic(t *testing.T, conn topics.Connection) string {
	t.Helper()
	name := testbench.UniqueName(t, "quarantine")
	if err := topics.Ensure(t.Context(), conn, topics.QuarantineSpec(name)); err != nil {
		t.Fatal(err)
	}
	return name
}

func TestQuarantineKeepsTheOriginalBytesWithReasonAndSource(t *testing.T) {
	conn := topicstest.Connect(t)
	q := quarantineTopic(t, conn)
	p := topicstest.NewProducer(t, conn)

	bad := []topics.Message{
		{Partition: 3, Offset: 42, Key: []byte("C1"), Value: []byte("{not json\xff")},
		{Partition: 0, Offset: 7, Key: nil, Value: []byte(`{"customer_id":"C2"}`)},
		{Partition: 1, Offset: 9, Key: []byte("C3"), Value: nil},
	}
	reasons := []string{"decode: invalid character", "key: missing", "empty value"}
	for i, m := range bad {
		if err := p.Quarantine(t.Context(), q, m, "transactions", reasons[i]); err != nil {
			t.Fatalf("Quarantine: %v", err)
		}
	}
	if got := readPartition(t, conn, q, 0); len(got) != 0 {
		t.Fatalf("%d records written before Flush, want them batched", len(got))
	}
	if err := p.Flush(t.Context()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	got := readPartition(t, conn, q, 0)
	if len(got) != len(bad) {
		t.Fatalf("quarantine holds %d records, want %d", len(got), len(bad))
	}
	for i, m := range got {
		want := bad[i]
		if string(m.Key) != string(want.Key) || (m.Key == nil) != (want.Key == nil) ||
			string(m.Value) != string(want.Value) || (m.Value == nil) != (want.Value == nil) {
			t.Errorf("record %d = key %q value %q, want key %q value %q", i, m.Key, m.Value, want.Key, want.Value)
		}
		if r := header(m, topics.HeaderReason); r != reasons[i] {
			t.Errorf("record %d midata-reason = %q, want %q", i, r, reasons[i])
		}
		if src, wantSrc := header(m, topics.HeaderSource), fmt.Sprintf("transactions/%d/%d", want.Partition, want.Offset); src != wantSrc {
			t.Errorf("record %d midata-source = %q, want %q", i, src, wantSrc)
		}
	}
}

func TestProducerCloseFlushesQuarantinedRecords(t *testing.T) {
	conn := topicstest.Connect(t)
	q := quarantineTopic(t, conn)
	p := topics.NewProducer(conn, nil)
	if err := p.Quarantine(t.Context(), q, topics.Message{Key: []byte("C1"), Value: []byte("x")}, "transactions", "r"); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := readPartition(t, conn, q, 0); len(got) != 1 || string(got[0].Value) != "x" {
		t.Fatalf("quarantine = %d records, want the one queued before Close", len(got))
	}
}

// endedWrites is how many writes with an ended context a test makes:
// whether kafka-go wrote such a record was a coin toss (a select between
// the context and cached metadata), so one write would prove little.
const endedWrites = 20

// TestAWriteWhoseContextEndedWritesNothing: Publish and PublishBatch with
// a context that already ended return its error and write nothing. Before,
// kafka-go often queued the records all the same and wrote them after the
// call returned the error: a caller that stopped (a worker whose lease was
// lost) still wrote.
func TestAWriteWhoseContextEndedWritesNothing(t *testing.T) {
	conn := topicstest.Connect(t)
	topic := testbench.UniqueName(t, "ended")
	testbench.CreateTopic(t, conn.Brokers, topic, 1)
	p := topicstest.NewProducer(t, conn)
	if err := p.Publish(t.Context(), topic, []byte("k"), []byte("before")); err != nil {
		t.Fatal(err) // the writer knows the topic's partitions from now on
	}
	ended, cancel := context.WithCancel(t.Context())
	cancel()
	for range endedWrites {
		if err := p.Publish(ended, topic, []byte("k"), []byte("after")); !errors.Is(err, context.Canceled) {
			t.Fatalf("Publish: %v, want the context's error", err)
		}
		if err := p.PublishBatch(ended, topic, []topics.Record{{Key: []byte("k"), Value: []byte("after")}}); !errors.Is(err, context.Canceled) {
			t.Fatalf("PublishBatch: %v, want the context's error", err)
		}
	}
	// A record written after them marks the point where theirs would be.
	if err := p.Publish(t.Context(), topic, []byte("k"), []byte("last")); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range readPartition(t, conn, topic, 0) {
		got = append(got, string(m.Value))
	}
	if fmt.Sprint(got) != "[before last]" {
		t.Errorf("the topic holds %q, want [before last]", got)
	}
}

// TestAFlushWhoseContextEndedKeepsTheRecordsUnwritten: a Flush with a
// context that ended writes nothing and keeps the records queued, so the
// next Flush writes each once. Before, the records were often written and
// kept queued too: written again by the next Flush.
func TestAFlushWhoseContextEndedKeepsTheRecordsUnwritten(t *testing.T) {
	conn := topicstest.Connect(t)
	q := quarantineTopic(t, conn)
	p := topicstest.NewProducer(t, conn)
	if err := p.Quarantine(t.Context(), q, topics.Message{Key: []byte("C0"), Value: []byte("w")}, "transactions", "r"); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(t.Context()); err != nil {
		t.Fatal(err) // the writer knows the topic's partitions from now on
	}
	if err := p.Quarantine(t.Context(), q, topics.Message{Key: []byte("C1"), Value: []byte("x")}, "transactions", "r"); err != nil {
		t.Fatal(err)
	}
	ended, cancel := context.WithCancel(t.Context())
	cancel()
	for range endedWrites {
		if err := p.Flush(ended); !errors.Is(err, context.Canceled) {
			t.Fatalf("Flush: %v, want the context's error", err)
		}
	}
	if err := p.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := readPartition(t, conn, q, 0); len(got) != 2 {
		t.Errorf("quarantine = %d records, want 2 (each once)", len(got))
	}
}
