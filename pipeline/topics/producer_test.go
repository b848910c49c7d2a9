package topics_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/pipeline/topics"
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
	conn := connect(t)
	q := quarantineTopic(t, conn)
	p := newProducer(t, conn)

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
	conn := connect(t)
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
