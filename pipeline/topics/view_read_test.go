package topics_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/pipeline/topics/topicstest"
)

// transact writes key=value records to partition 0 of topic in one
// transaction, commits or aborts it, and waits for its marker.
func transact(t *testing.T, conn topics.Connection, topic string, commit bool, kv ...string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(conn.Brokers...), kgo.TransactionalID(testbench.UniqueName(t, "txn")),
		kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := t.Context()
	before := endOf(t, conn, topic)
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(kv); i += 2 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte(kv[i]), Value: []byte(kv[i+1]), Partition: 0}).FirstErr(); err != nil {
			t.Fatalf("produce in transaction: %v", err)
		}
	}
	if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
		t.Fatalf("end transaction: %v", err)
	}
	// The coordinator writes the marker after EndTransaction returns.
	want := before + int64(len(kv)/2) + 1
	eventually(t, "the transaction's marker", func() bool { return endOf(t, conn, topic) >= want })
}

// endOf returns the high watermark of partition 0 of topic.
func endOf(t *testing.T, conn topics.Connection, topic string) int64 {
	t.Helper()
	ends, err := topics.Ends(t.Context(), conn, topic)
	if err != nil {
		t.Fatalf("Ends(%s): %v", topic, err)
	}
	return ends[0]
}

// A transaction marker is an offset without a record: it is neither an
// entry nor counted, and a log that ends with one still syncs. Records of
// an aborted transaction are read, as before (read_uncommitted).
func TestAViewSkipsTransactionMarkersAndSyncsPastOne(t *testing.T) {
	conn := topicstest.Connect(t)
	topic := testbench.UniqueName(t, "view")
	if err := topics.Ensure(t.Context(), conn, topics.Spec{Name: topic, Partitions: 1, Compacted: true}); err != nil {
		t.Fatal(err)
	}
	p := topicstest.NewProducer(t, conn)
	topicstest.Publish(t, p, topic, "plain", []byte("1"))
	transact(t, conn, topic, true, "c1", "2", "c2", "3")
	transact(t, conn, topic, false, "a1", "4")
	transact(t, conn, topic, true, "c3", "5")
	// Offsets: plain 0, c1 1, c2 2, marker 3, a1 4, marker 5, c3 6, marker 7.

	v := openView(t, conn, topics.ViewConfig[entry]{Topic: topic})
	if err := v.Sync(t.Context()); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	got := contents(v)
	want := map[string]string{"plain": "1", "c1": "2", "c2": "3", "a1": "4", "c3": "5"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("view = %q, want %q (no entry for a marker)", got, want)
	}
	if n := v.Records(); n != 5 {
		t.Errorf("Records = %d, want the 5 data records", n)
	}
	// A new record after the last marker is read too.
	topicstest.Publish(t, p, topic, "after", []byte("6"))
	if err := v.Sync(t.Context()); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if e, ok := v.Get("after"); !ok || e.value != "6" {
		t.Errorf("Get(after) = %+v, %v after Sync; want 6", e, ok)
	}
}

// raw is an entry that keeps the bytes of its record's value, as a
// View's Decode may unless the View is Transient.
type raw struct{ value []byte }

// produceMany writes n keys to topic (values of about 1 KiB, in batches of
// 50), then again every third key, then deletes every fifth key with a
// tombstone, and returns the expected contents: values from every fetch.
func produceMany(t *testing.T, conn topics.Connection, topic string, n int) map[string]string {
	t.Helper()
	tr := conn.Transport()
	defer tr.CloseIdleConnections()
	w := &kafka.Writer{Addr: conn.Addr(), Topic: topic, Balancer: &kafka.Hash{}, Transport: tr,
		RequiredAcks: kafka.RequireAll, BatchSize: 50, BatchTimeout: time.Millisecond, BatchBytes: 16 << 20}
	defer w.Close()
	want := map[string]string{}
	pad := bytes.Repeat([]byte("x"), 1000)
	var msgs []kafka.Message
	for round := range 2 {
		for i := range n {
			if round == 1 && i%3 != 0 {
				continue
			}
			key := fmt.Sprintf("key-%05d", i)
			value := fmt.Appendf(nil, "%s=%d:%s", key, round, pad)
			msgs = append(msgs, kafka.Message{Key: []byte(key), Value: value})
			want[key] = string(value)
		}
	}
	for i := 0; i < n; i += 5 {
		key := fmt.Sprintf("key-%05d", i)
		msgs = append(msgs, kafka.Message{Key: []byte(key)})
		delete(want, key)
	}
	if err := w.WriteMessages(context.Background(), msgs...); err != nil {
		t.Fatalf("produce to %s: %v", topic, err)
	}
	return want
}

// A backlog of several fetches per partition, in many batches, builds the
// same view whether Decode keeps the record's bytes (each Message owns
// them) or copies them (a Transient View reuses its memory).
func TestAViewReadsABacklogOfManyBatchesOnEveryPartition(t *testing.T) {
	conn := topicstest.Connect(t)
	topic := compacted(t, conn)
	const keys = 5000 // values of 1 KiB: more than one fetch per partition
	want := produceMany(t, conn, topic, keys)
	records := int64(keys + (keys+2)/3 + keys/5)

	t.Run("a Decode that keeps the bytes", func(t *testing.T) {
		v, err := topics.OpenView(t.Context(), conn, topics.ViewConfig[raw]{Topic: topic,
			Decode: func(m topics.Message) (raw, error) { return raw{m.Value}, nil }})
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		if err := v.Sync(t.Context()); err != nil {
			t.Fatalf("Sync: %v", err)
		}
		got := map[string]string{}
		v.Range(func(k string, e raw) bool {
			got[k] = string(e.value)
			return true
		})
		assertSame(t, got, want)
		if v.Records() != records {
			t.Errorf("Records = %d, want %d", v.Records(), records)
		}
	})
	t.Run("a Transient View whose Decode copies", func(t *testing.T) {
		v := openView(t, conn, topics.ViewConfig[entry]{Topic: topic, Transient: true})
		if err := v.Sync(t.Context()); err != nil {
			t.Fatalf("Sync: %v", err)
		}
		assertSame(t, contents(v), want)
		if v.Records() != records {
			t.Errorf("Records = %d, want %d", v.Records(), records)
		}
	})
}

// assertSame compares two views' contents key by key.
func assertSame(t *testing.T, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("view has %d keys, want %d", len(got), len(want))
	}
	bad := 0
	for k, w := range want {
		if g, ok := got[k]; (!ok || g != w) && bad < 3 {
			bad++
			t.Errorf("key %s = %.20q (present %v), want %.20q", k, g, ok, w)
		}
	}
}
