package fetch_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/goleak"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/pipeline/topics/fetch"
)

// Every transport and client is closed by its test: nothing needs ignoring.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// bench is a fresh one-partition topic on the bench's Kafka.
type bench struct {
	t     *testing.T
	conn  topics.Connection
	topic string
}

func newBench(t *testing.T) *bench {
	t.Helper()
	b := &bench{t: t, conn: topics.Connection{Brokers: testbench.Kafka(t)}, topic: testbench.UniqueName(t, "fetch")}
	testbench.CreateTopic(t, b.conn.Brokers, b.topic, 1)
	return b
}

// produce writes msgs in batches of batchSize with the given compression.
func (b *bench) produce(batchSize int, c kafka.Compression, msgs ...kafka.Message) {
	b.t.Helper()
	tr := b.conn.Transport()
	defer tr.CloseIdleConnections()
	w := &kafka.Writer{Addr: b.conn.Addr(), Topic: b.topic, Transport: tr, RequiredAcks: kafka.RequireAll,
		BatchSize: batchSize, BatchTimeout: time.Millisecond, Compression: c}
	defer w.Close()
	if err := w.WriteMessages(b.t.Context(), msgs...); err != nil {
		b.t.Fatalf("produce to %s: %v", b.topic, err)
	}
}

// client returns a franz-go client of the bench, closed at cleanup.
func (b *bench) client(opts ...kgo.Opt) *kgo.Client {
	b.t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(b.conn.Brokers...), kgo.DefaultProduceTopic(b.topic)}, opts...)...)
	if err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(cl.Close)
	return cl
}

// transact writes values in one transaction, commits or aborts it and
// waits for its marker.
func (b *bench) transact(commit bool, values ...string) {
	b.t.Helper()
	cl := b.client(kgo.TransactionalID(testbench.UniqueName(b.t, "txn")))
	before := b.end()
	if err := cl.BeginTransaction(); err != nil {
		b.t.Fatal(err)
	}
	for _, v := range values {
		if err := cl.ProduceSync(b.t.Context(), &kgo.Record{Key: []byte("txn"), Value: []byte(v)}).FirstErr(); err != nil {
			b.t.Fatalf("produce in transaction: %v", err)
		}
	}
	if err := cl.EndTransaction(b.t.Context(), kgo.TransactionEndTry(commit)); err != nil {
		b.t.Fatalf("end transaction: %v", err)
	}
	want := before + int64(len(values)) + 1
	for deadline := time.Now().Add(30 * time.Second); b.end() < want; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.t.Fatalf("the marker of the transaction did not land at offset %d", want-1)
		}
	}
}

// end returns the partition's high watermark.
func (b *bench) end() int64 {
	b.t.Helper()
	ends, err := topics.Ends(b.t.Context(), b.conn, b.topic)
	if err != nil {
		b.t.Fatalf("Ends: %v", err)
	}
	return ends[0]
}

// reader returns a Reader of the partition from offset, and its transport
// closed at cleanup.
func (b *bench) reader(offset int64, maxBytes int) *fetch.Reader {
	tr := b.conn.Transport()
	b.t.Cleanup(tr.CloseIdleConnections)
	return &fetch.Reader{Transport: tr, Addr: b.conn.Addr(), ClientID: "midata-test", Topic: b.topic,
		Offset: offset, MaxBytes: maxBytes, MaxWait: 100 * time.Millisecond}
}

// readTo fetches until the reader reaches end and returns the records as
// "offset:key=value" ("<nil>" for a tombstone).
func readTo(t *testing.T, r *fetch.Reader, end int64) []string {
	t.Helper()
	var out []string
	for fetches := 0; r.Offset < end; fetches++ {
		if fetches > 1000 {
			t.Fatalf("at offset %d after %d fetches, want %d", r.Offset, fetches, end)
		}
		recs, err := r.Fetch(t.Context(), nil)
		if err != nil {
			t.Fatalf("Fetch at %d: %v", r.Offset, err)
		}
		for _, m := range recs {
			v := string(m.Value)
			if m.Value == nil {
				v = "<nil>"
			}
			out = append(out, fmt.Sprintf("%d:%s=%s", m.Offset, m.Key, v))
		}
	}
	return out
}

func TestFetchReadsEveryBatchToTheEndThenWaitsForMore(t *testing.T) {
	b := newBench(t)
	b.produce(2, 0, kafka.Message{Key: []byte("a"), Value: []byte("1")}, kafka.Message{Key: []byte("b"), Value: []byte("2")},
		kafka.Message{Key: []byte("a")}, // a tombstone
		kafka.Message{Key: []byte("h"), Value: []byte("3"), Headers: []kafka.Header{{Key: "origin", Value: []byte("test")}}})
	b.produce(3, kafka.Lz4, kafka.Message{Key: []byte("z1"), Value: []byte("4")}, kafka.Message{Key: []byte("z2"), Value: []byte("5")},
		kafka.Message{Key: []byte("z3"), Value: []byte("6")})
	b.transact(true, "7")
	b.transact(false, "8") // read_uncommitted: delivered
	b.produce(1, 0, kafka.Message{Key: []byte("last"), Value: []byte("9")})
	// Offsets: a 0, b 1, a 2, h 3, z1–z3 4–6, txn 7, marker 8, txn 9, marker 10, last 11.
	end := b.end()
	if end != 12 {
		t.Fatalf("high watermark %d, want 12", end)
	}
	want := "0:a=1 1:b=2 2:a=<nil> 3:h=3 4:z1=4 5:z2=5 6:z3=6 7:txn=7 9:txn=8 11:last=9"

	for _, maxBytes := range []int{1, 0} { // one batch per fetch; the default
		t.Run(fmt.Sprintf("max bytes %d", maxBytes), func(t *testing.T) {
			r := b.reader(0, maxBytes)
			if got := strings.Join(readTo(t, r, end), " "); got != want {
				t.Fatalf("read %s, want %s", got, want)
			}
		})
	}

	r := b.reader(3, 0)
	recs, err := r.Fetch(t.Context(), nil)
	if err != nil || len(recs) == 0 || recs[0].Offset != 3 || len(recs[0].Headers) != 1 ||
		recs[0].Headers[0].Key != "origin" || string(recs[0].Headers[0].Value) != "test" {
		t.Fatalf("Fetch from offset 3 = %+v, %v; want h with its header first", recs, err)
	}
	r.Offset = end
	if recs, err := r.Fetch(t.Context(), nil); err != nil || len(recs) != 0 || r.Offset != end {
		t.Fatalf("Fetch at the end = %d records, %v, offset %d; want none, offset %d", len(recs), err, r.Offset, end)
	}
	done := make(chan []fetch.Record, 1)
	go func() {
		r.MaxWait = 10 * time.Second // the record, not the wait, ends the fetch
		recs, err := r.Fetch(context.Background(), nil)
		if err != nil {
			t.Errorf("Fetch: %v", err)
		}
		done <- recs
	}()
	b.produce(1, 0, kafka.Message{Key: []byte("new"), Value: []byte("10")})
	select {
	case recs := <-done:
		if len(recs) != 1 || string(recs[0].Key) != "new" || r.Offset != end+1 {
			t.Fatalf("Fetch waiting at the end = %+v, offset %d; want the new record", recs, r.Offset)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("a fetch waiting at the end did not return the new record")
	}
}

func TestFetchSkipsRecordsDeletedBeforeItReadThem(t *testing.T) {
	b := newBench(t)
	var msgs []kafka.Message
	for i := range 10 {
		msgs = append(msgs, kafka.Message{Key: []byte("k"), Value: fmt.Append(nil, i)})
	}
	b.produce(3, 0, msgs...)
	req := kmsg.NewPtrDeleteRecordsRequest()
	rt := kmsg.NewDeleteRecordsRequestTopic()
	rt.Topic = b.topic
	rp := kmsg.NewDeleteRecordsRequestTopicPartition()
	rp.Partition, rp.Offset = 0, 5
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics, req.TimeoutMillis = append(req.Topics, rt), 10_000
	res, err := req.RequestWith(t.Context(), b.client())
	if err == nil && res.Topics[0].Partitions[0].ErrorCode != 0 {
		err = kafka.Error(res.Topics[0].Partitions[0].ErrorCode)
	}
	if err != nil {
		t.Fatalf("delete records before offset 5: %v", err)
	}

	r := b.reader(2, 0)
	if _, err := r.Fetch(t.Context(), nil); !errors.Is(err, fetch.ErrSkipped) || r.Offset != 5 {
		t.Fatalf("Fetch at deleted offset 2 = %v, offset %d; want ErrSkipped and offset 5", err, r.Offset)
	}
	if got := strings.Join(readTo(t, r, 10), " "); got != "5:k=5 6:k=6 7:k=7 8:k=8 9:k=9" {
		t.Fatalf("after the skip: read %s, want the records from 5", got)
	}
}

func TestFetchPastTheEndIsAnErrorThatKeepsTheOffset(t *testing.T) {
	b := newBench(t)
	b.produce(1, 0, kafka.Message{Key: []byte("k"), Value: []byte("v")})
	r := b.reader(5, 0)
	if _, err := r.Fetch(t.Context(), nil); !errors.Is(err, kafka.OffsetOutOfRange) || errors.Is(err, fetch.ErrSkipped) || r.Offset != 5 {
		t.Fatalf("Fetch past the end = %v, offset %d; want OffsetOutOfRange at offset 5", err, r.Offset)
	}
}

// produceSeq writes records "k<i>" = "v<i>" one per batch.
func (b *bench) produceSeq(n int) {
	b.t.Helper()
	var msgs []kafka.Message
	for i := range n {
		msgs = append(msgs, kafka.Message{Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "v%d", i)})
	}
	b.produce(1, 0, msgs...)
}

// With Reuse, the records of a fetch stay as they are through the next
// fetch (Stream hands them to apply while it fetches the next response).
func TestReusedRecordsLastUntilTheSecondFetchAfterThem(t *testing.T) {
	b := newBench(t)
	b.produceSeq(6)
	r := b.reader(0, 1) // one batch, so one record, per fetch
	r.Reuse = true
	var prev []fetch.Record
	for i := range 6 {
		recs, err := r.Fetch(t.Context(), nil)
		if err != nil || len(recs) != 1 {
			t.Fatalf("fetch %d: %d records, %v", i, len(recs), err)
		}
		if i > 0 && (string(prev[0].Key) != fmt.Sprint("k", i-1) || string(prev[0].Value) != fmt.Sprint("v", i-1)) {
			t.Fatalf("after fetch %d the record of fetch %d is %q=%q", i, i-1, prev[0].Key, prev[0].Value)
		}
		prev = recs
	}
}

func TestStreamHandsEveryResponseToApplyAndEndsWithItsContext(t *testing.T) {
	b := newBench(t)
	b.produceSeq(20)
	for _, reuse := range []bool{false, true} {
		t.Run(fmt.Sprintf("reuse %v", reuse), func(t *testing.T) {
			r := b.reader(0, 1)
			r.Reuse = reuse
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var got []string
			var last int64
			r.Stream(ctx, slog.New(slog.DiscardHandler), func(recs []fetch.Record, next int64) {
				for _, m := range recs {
					got = append(got, fmt.Sprintf("%d:%s=%s", m.Offset, m.Key, m.Value))
				}
				if next < last {
					t.Errorf("next offset went back from %d to %d", last, next)
				}
				if last = next; next == 20 {
					cancel() // Stream returns once the fetch in flight is back
				}
			})
			var want []string
			for i := range 20 {
				want = append(want, fmt.Sprintf("%d:k%d=v%d", i, i, i))
			}
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Fatalf("applied %s, want %s", got, want)
			}
		})
	}
}
