package seed_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/pipeline/seed"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/schemas/synth"
)

const txPartitions = 3

func smallConfig(t *testing.T, brokers []string) synth.Config {
	t.Helper()
	cfg := synth.DefaultConfig()
	cfg.Customers, cfg.Transactions, cfg.Malformed = 12, 600, 7
	cfg.TransactionsTopic = testbench.UniqueName(t, "synth-tx")
	cfg.ConsentTopic = testbench.UniqueName(t, "synth-consent")
	testbench.CreateTopic(t, brokers, cfg.TransactionsTopic, txPartitions)
	testbench.CreateTopic(t, brokers, cfg.ConsentTopic, 1)
	return cfg
}

func TestSeedWritesEveryMessageWhereMurmur2PlacesIt(t *testing.T) {
	brokers := testbench.Kafka(t)
	cfg := smallConfig(t, brokers)
	want := collect(t, cfg)

	counts, err := seed.Produce(t.Context(), topics.Connection{Brokers: brokers}, cfg, nil)
	if err != nil {
		t.Fatalf("Seed: %v", err)
	}
	wantCounts := seed.Counts{}
	for _, m := range want {
		wantCounts[m.Topic]++
	}
	if counts.String() != wantCounts.String() {
		t.Fatalf("Seed counts = %v, want %v", counts, wantCounts)
	}

	got := consumeAll(t, brokers, len(want), cfg.TransactionsTopic, cfg.ConsentTopic)

	// Per partition, the records are Generate's messages for that partition,
	// in order, with their keys, values (null for the tombstone) and times.
	partitions := map[string][]int{cfg.TransactionsTopic: {0, 1, 2}, cfg.ConsentTopic: {0}}
	expected := map[string]map[int32][]synth.Message{}
	for _, m := range want {
		p := int32(kafka.Murmur2Balancer{}.Balance(kafka.Message{Key: m.Key}, partitions[m.Topic]...))
		if expected[m.Topic] == nil {
			expected[m.Topic] = map[int32][]synth.Message{}
		}
		expected[m.Topic][p] = append(expected[m.Topic][p], m)
	}
	tombstones := 0
	for topic, byPartition := range got {
		for p, recs := range byPartition {
			exp := expected[topic][p]
			if len(recs) != len(exp) {
				t.Fatalf("%s/%d has %d records, want %d", topic, p, len(recs), len(exp))
			}
			for i, r := range recs {
				e := exp[i]
				if !bytes.Equal(r.Key, e.Key) || !bytes.Equal(r.Value, e.Value) || (r.Value == nil) != (e.Value == nil) {
					t.Fatalf("%s/%d offset %d = %s:%q, want %s:%q", topic, p, r.Offset, r.Key, r.Value, e.Key, e.Value)
				}
				if !r.Timestamp.Equal(e.Time.Truncate(time.Millisecond)) {
					t.Fatalf("%s/%d offset %d timestamp %v, want %v", topic, p, r.Offset, r.Timestamp, e.Time)
				}
				if r.Value == nil {
					tombstones++
				}
			}
		}
	}
	if tombstones != 1 {
		t.Errorf("read %d tombstones, want 1", tombstones)
	}
	if n := len(got[cfg.TransactionsTopic]); n != txPartitions {
		t.Errorf("transactions landed on %d partitions, want all %d", n, txPartitions)
	}
}

func TestSeedUsesTheGivenPartitioner(t *testing.T) {
	brokers := testbench.Kafka(t)
	cfg := smallConfig(t, brokers)
	last := kafka.BalancerFunc(func(_ kafka.Message, ps ...int) int { return ps[len(ps)-1] })
	counts, err := seed.Produce(t.Context(), topics.Connection{Brokers: brokers}, cfg, last)
	if err != nil {
		t.Fatalf("Seed: %v", err)
	}
	got := consumeAll(t, brokers, counts[cfg.TransactionsTopic], cfg.TransactionsTopic)
	for p, recs := range got[cfg.TransactionsTopic] {
		if p != txPartitions-1 {
			t.Errorf("%d records on partition %d; the partitioner sends all to %d", len(recs), p, txPartitions-1)
		}
	}
}

func TestSeedCreatesNoTopic(t *testing.T) {
	brokers := testbench.Kafka(t)
	cfg := synth.DefaultConfig()
	cfg.Customers, cfg.Transactions, cfg.Malformed = 2, 10, 0
	cfg.TransactionsTopic = testbench.UniqueName(t, "synth-missing")
	cfg.ConsentTopic = testbench.UniqueName(t, "synth-missing")
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	_, err := seed.Produce(ctx, topics.Connection{Brokers: brokers}, cfg, nil)
	if err == nil {
		t.Fatal("Seed to missing topics succeeded")
	}
	t.Logf("Seed to missing topics: %v", err)
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second, Transport: newTransport(t)}
	var meta *kafka.MetadataResponse
	meta, err = client.Metadata(t.Context(), &kafka.MetadataRequest{Topics: []string{cfg.TransactionsTopic}})
	if err != nil {
		t.Fatalf("metadata: %v", err)
	}
	for _, tp := range meta.Topics {
		if tp.Error == nil && len(tp.Partitions) > 0 {
			t.Errorf("topic %s exists after Seed", tp.Name)
		}
	}
}

func TestSeedStopsWhenTheContextIsCancelled(t *testing.T) {
	brokers := testbench.Kafka(t)
	cfg := smallConfig(t, brokers)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := seed.Produce(ctx, topics.Connection{Brokers: brokers}, cfg, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Seed with a cancelled context = %v, want context.Canceled", err)
	}
}

func newTransport(t *testing.T) *kafka.Transport {
	tr := &kafka.Transport{ClientID: "synth-test"}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// consumeAll reads n records from the topics from their start, polling
// until they are all there or a deadline passes, and returns them by topic
// and partition in offset order.
func consumeAll(t *testing.T, brokers []string, n int, topics ...string) map[string]map[int32][]*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatalf("consumer: %v", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	out := map[string]map[int32][]*kgo.Record{}
	read := 0
	for read < n {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records before the deadline", read, n)
		}
		if errs := fetches.Errors(); len(errs) > 0 {
			t.Fatalf("fetch: %v", errs[0].Err)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			if out[r.Topic] == nil {
				out[r.Topic] = map[int32][]*kgo.Record{}
			}
			out[r.Topic][r.Partition] = append(out[r.Topic][r.Partition], r)
			read++
		})
	}
	if read != n {
		t.Fatalf("read %d records, want %d", read, n)
	}
	return out
}

// collect returns every message Generate emits for cfg.
func collect(t testing.TB, cfg synth.Config) []synth.Message {
	t.Helper()
	var out []synth.Message
	if err := synth.Generate(cfg, func(m synth.Message) error {
		out = append(out, m)
		return nil
	}); err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return out
}
