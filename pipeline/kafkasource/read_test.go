package kafkasource_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/pipeline/kafkasource"
	"github.com/midata/midata/pipeline/topics"
)

func values(msgs []topics.Message) string {
	var v []string
	for _, m := range msgs {
		v = append(v, string(m.Value))
	}
	return strings.Join(v, ",")
}

func TestReadStreamsRangesInOrderAndStopsAtEnd(t *testing.T) {
	brokers := testbench.Kafka(t)
	name := topic(t, brokers, 3)
	for p := range 3 {
		var msgs []kafka.Message
		for i := range 10 {
			msgs = append(msgs, kafka.Message{Key: []byte("k"), Value: fmt.Appendf(nil, "p%d-%d", p, i), Time: t0})
		}
		produce(t, brokers, name, to(p), msgs...)
	}
	var progress [][2]int64
	s := newSource(t, kafkasource.Config{Kafka: topics.Connection{Brokers: brokers}, Topic: name, FetchMaxBytes: 200,
		Progress: func(done, total int64) { progress = append(progress, [2]int64{done, total}) }})
	snap := kafkasource.Snapshot{Topic: name, Ranges: []kafkasource.Range{
		{Partition: 2, Start: 8, End: 10},
		{Partition: 0, Start: 3, End: 6},
		{Partition: 1, Start: 4, End: 4}, // empty
	}}
	got := readAll(t, s, snap)
	if want := "p2-8,p2-9,p0-3,p0-4,p0-5"; values(got) != want {
		t.Fatalf("read %s, want %s", values(got), want)
	}
	for _, m := range got {
		if want := int(m.Value[1] - '0'); m.Partition != want || fmt.Sprintf("p%d-%d", m.Partition, m.Offset) != string(m.Value) {
			t.Fatalf("message %+v: partition or offset wrong", m)
		}
	}
	if len(progress) == 0 || progress[len(progress)-1] != [2]int64{5, 5} {
		t.Fatalf("progress %v, want to end at 5 of 5", progress)
	}
	for i := 1; i < len(progress); i++ {
		if progress[i][0] < progress[i-1][0] {
			t.Fatalf("progress went backwards: %v", progress)
		}
	}
}

func TestReadReturnsTheCallbacksErrorAndHonoursCancel(t *testing.T) {
	brokers := testbench.Kafka(t)
	name := topic(t, brokers, 1)
	var msgs []kafka.Message
	for i := range 100 {
		msgs = append(msgs, kafka.Message{Value: fmt.Appendf(nil, "%d", i)})
	}
	produce(t, brokers, name, to(0), msgs...)
	s := newSource(t, kafkasource.Config{Kafka: topics.Connection{Brokers: brokers}, Topic: name, FetchMaxBytes: 100})
	snap, err := s.Plan(t.Context(), "", time.Time{})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("the callback's error stops the read", func(t *testing.T) {
		stop := errors.New("stop")
		n := 0
		err := s.Read(t.Context(), snap, func(topics.Message) error {
			if n++; n == 3 {
				return stop
			}
			return nil
		})
		if err != stop || n != 3 {
			t.Fatalf("Read = %v after %d records, want stop after 3", err, n)
		}
	})

	t.Run("cancelling the context stops the read", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		n := 0
		err := s.Read(ctx, snap, func(topics.Message) error {
			if n++; n == 5 {
				cancel()
			}
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Read = %v, want context.Canceled", err)
		}
		if n >= 100 {
			t.Fatalf("read all %d records despite the cancel", n)
		}
	})

	t.Run("a cancelled context reads nothing", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		err := s.Read(ctx, snap, func(topics.Message) error {
			t.Fatal("callback called")
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Read = %v, want context.Canceled", err)
		}
	})
}

func TestReadFailsWhenThePartitionEndsBeforeTheSnapshot(t *testing.T) {
	brokers := testbench.Kafka(t)
	name := topic(t, brokers, 1)
	produce(t, brokers, name, to(0), kafka.Message{Value: []byte("only")})
	s := newSource(t, kafkasource.Config{Kafka: topics.Connection{Brokers: brokers}, Topic: name})
	n := 0
	err := s.Read(t.Context(), kafkasource.Snapshot{Topic: name, Ranges: []kafkasource.Range{{Partition: 0, Start: 0, End: 5}}},
		func(topics.Message) error { n++; return nil })
	if err == nil || !strings.Contains(err.Error(), "before the snapshot's end") || n != 1 {
		t.Fatalf("Read = %v after %d records, want the one record then a truncation error", err, n)
	}
}

// transact writes records to partition 0 of topic in one transaction and
// commits or aborts it.
func transact(t *testing.T, brokers []string, topic string, commit bool, values ...string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID(testbench.UniqueName(t, "txn")),
		kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := t.Context()
	end := func() int64 {
		ends, err := topics.Ends(ctx, topics.Connection{Brokers: brokers}, topic)
		if err != nil {
			t.Fatalf("end offsets of %s: %v", topic, err)
		}
		return ends[0]
	}
	before := end()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for _, v := range values {
		if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte("C1"), Value: []byte(v), Partition: 0}).FirstErr(); err != nil {
			t.Fatalf("produce in transaction: %v", err)
		}
	}
	if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
		t.Fatalf("end transaction: %v", err)
	}
	// The coordinator writes the marker after EndTransaction returns: wait
	// for it, so that a record produced next lands after it.
	want := before + int64(len(values)) + 1
	for deadline := time.Now().Add(30 * time.Second); end() < want; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the marker of the transaction on %s did not land at offset %d", topic, want-1)
		}
	}
}

func TestReadSkipsAbortedTransactionsAndEndsOnAMarker(t *testing.T) {
	brokers := testbench.Kafka(t)
	name := topic(t, brokers, 1)
	produce(t, brokers, name, to(0), kafka.Message{Value: []byte("plain")})
	transact(t, brokers, name, true, "c1", "c2")
	transact(t, brokers, name, false, "a1", "a2")
	produce(t, brokers, name, to(0), kafka.Message{Value: []byte("plain2")})
	transact(t, brokers, name, true, "c3")
	// The log ends with the commit marker of c3: offset End-1 has no record.

	for _, maxBytes := range []int{0, 1} { // one fetch, or one batch per fetch
		t.Run(fmt.Sprintf("fetch max bytes %d", maxBytes), func(t *testing.T) {
			s := newSource(t, kafkasource.Config{Kafka: topics.Connection{Brokers: brokers}, Topic: name, FetchMaxBytes: maxBytes})
			snap, err := s.Plan(t.Context(), "", time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			if r := snap.Ranges[0]; r.End != 10 {
				t.Fatalf("range = %+v, want End 10 (7 records and 3 markers)", r)
			}
			got := readAll(t, s, snap)
			if want := "plain,c1,c2,plain2,c3"; values(got) != want {
				t.Fatalf("read %s, want %s", values(got), want)
			}
			// A range ending just after the last record, on the marker, also ends.
			snap.Ranges[0].Start = 8
			if got := readAll(t, s, snap); values(got) != "c3" {
				t.Fatalf("read %s from [8, 10), want c3", values(got))
			}
			snap.Ranges[0].Start = 9
			if got := readAll(t, s, snap); len(got) != 0 {
				t.Fatalf("read %s from [9, 10) (the marker alone), want nothing", values(got))
			}
			// Inside the aborted transaction: nothing, then its marker.
			snap.Ranges[0] = kafkasource.Range{Start: 4, End: 7}
			if got := readAll(t, s, snap); len(got) != 0 {
				t.Fatalf("read %s from the aborted transaction [4, 7), want nothing", values(got))
			}
		})
	}
}

func TestOneSourceServesConcurrentPlansAndReads(t *testing.T) {
	brokers := testbench.Kafka(t)
	name := topic(t, brokers, partitions)
	seedCustomers(t, brokers, name, kafka.Murmur2Balancer{}, 20, 10)
	s := newSource(t, kafkasource.Config{Kafka: topics.Connection{Brokers: brokers}, Topic: name})
	errs := make(chan error, 8)
	for i := range 8 {
		go func() {
			customer := fmt.Sprintf("C%d", i)
			snap, err := s.Plan(t.Context(), customer, t0)
			if err != nil {
				errs <- err
				return
			}
			n := 0
			err = s.Read(t.Context(), snap, func(m topics.Message) error {
				if string(m.Key) == customer {
					n++
				}
				return nil
			})
			if err == nil && n != 10 {
				err = fmt.Errorf("%s: read %d of 10 records", customer, n)
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
