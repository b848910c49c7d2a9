package testbench

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// newClient returns a kafka-go client for brokers whose connections are
// closed at the end of the test.
func newClient(t *testing.T, brokers []string) *kafka.Client {
	t.Helper()
	transport := &kafka.Transport{}
	t.Cleanup(transport.CloseIdleConnections)
	return &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second, Transport: transport}
}

// partitionCount reads topic's partition count from fresh metadata.
func partitionCount(t *testing.T, client *kafka.Client, topic string) int {
	t.Helper()
	meta, err := client.Metadata(t.Context(), &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		t.Fatalf("read metadata of %q: %v", topic, err)
	}
	for _, tp := range meta.Topics {
		if tp.Name == topic {
			if tp.Error != nil {
				t.Fatalf("metadata of %q: %v", topic, tp.Error)
			}
			return len(tp.Partitions)
		}
	}
	t.Fatalf("topic %q missing from metadata", topic)
	return 0
}

// produceAndFetch writes one record to partition of topic and reads it back
// from offset 0, failing the test unless key and value survive the trip.
func produceAndFetch(t *testing.T, client *kafka.Client, topic string, partition int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	key, value := "customer-42", "booked 12.34 GBP at "+time.Now().UTC().Format(time.RFC3339Nano)
	pr, err := client.Produce(ctx, &kafka.ProduceRequest{
		Topic:        topic,
		Partition:    partition,
		RequiredAcks: kafka.RequireAll,
		Records: kafka.NewRecordReader(kafka.Record{
			Key:   kafka.NewBytes([]byte(key)),
			Value: kafka.NewBytes([]byte(value)),
		}),
	})
	if err != nil {
		t.Fatalf("produce to %s/%d: %v", topic, partition, err)
	}
	if pr.Error != nil {
		t.Fatalf("produce to %s/%d: %v", topic, partition, pr.Error)
	}
	if pr.BaseOffset != 0 {
		t.Fatalf("produce to fresh %s/%d landed at offset %d, want 0", topic, partition, pr.BaseOffset)
	}
	fr, err := client.Fetch(ctx, &kafka.FetchRequest{
		Topic: topic, Partition: partition, Offset: 0,
		MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 2 * time.Second,
	})
	if err != nil {
		t.Fatalf("fetch %s/%d: %v", topic, partition, err)
	}
	if fr.Error != nil {
		t.Fatalf("fetch %s/%d: %v", topic, partition, fr.Error)
	}
	rec, err := fr.Records.ReadRecord()
	if err != nil {
		t.Fatalf("read record of %s/%d: %v", topic, partition, err)
	}
	gotKey, _ := io.ReadAll(rec.Key)
	gotValue, _ := io.ReadAll(rec.Value)
	if rec.Offset != 0 || string(gotKey) != key || string(gotValue) != value {
		t.Fatalf("fetched offset %d key %q value %q, want offset 0 key %q value %q",
			rec.Offset, gotKey, gotValue, key, value)
	}
}

func TestKafkaReturnsABrokerThatServesProduceAndFetch(t *testing.T) {
	t.Parallel()
	brokers := Kafka(t)
	topic := UniqueName(t, "tx")
	CreateTopic(t, brokers, topic, 3)
	client := newClient(t, brokers)
	if got := partitionCount(t, client, topic); got != 3 {
		t.Fatalf("CreateTopic(%q, 3) made %d partitions", topic, got)
	}
	for p := range 3 {
		produceAndFetch(t, client, topic, p)
	}
}

func TestKafkaFallsBackToAnInProcessBrokerWhenTheEnvironmentIsUnset(t *testing.T) {
	t.Setenv(EnvKafka, "")
	t.Setenv(EnvRequireBench, "")
	brokers := Kafka(t)
	if len(brokers) != 1 {
		t.Fatalf("Kafka() = %v, want the one address of the in-process broker", brokers)
	}
	if slices.Contains(brokers, "127.0.0.1:19092") {
		t.Fatalf("Kafka() = %v, the bench address, with %s unset", brokers, EnvKafka)
	}
	topic := UniqueName(t, "fake")
	CreateTopic(t, brokers, topic, 2)
	client := newClient(t, brokers)
	if got := partitionCount(t, client, topic); got != 2 {
		t.Fatalf("CreateTopic(%q, 2) on the fake made %d partitions", topic, got)
	}
	produceAndFetch(t, client, topic, 1)
}

func TestKafkaFailsWhenTheBenchIsRequiredButNotSet(t *testing.T) {
	t.Setenv(EnvKafka, "")
	t.Setenv(EnvRequireBench, "1")
	msg := expectFatal(t, func(tb testing.TB) { Kafka(tb) })
	if !strings.Contains(msg, EnvKafka) || !strings.Contains(msg, "make bench-up") {
		t.Fatalf("failure message %q should name %s and say how to start the bench", msg, EnvKafka)
	}
}

func TestKafkaFailsWhenTheBenchIsSetButDown(t *testing.T) {
	// Port 1 on loopback: nothing listens there on a test machine.
	t.Setenv(EnvKafka, "127.0.0.1:1")
	msg := expectFatal(t, func(tb testing.TB) { Kafka(tb) })
	if !strings.Contains(msg, "127.0.0.1:1") {
		t.Fatalf("failure message %q should name the unreachable address", msg)
	}
}

func TestSplitBrokers(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{name: "one address is kept", in: "127.0.0.1:19092", want: []string{"127.0.0.1:19092"}},
		{name: "commas separate addresses and spaces are trimmed", in: " a:1, b:2 ", want: []string{"a:1", "b:2"}},
		{name: "blank entries are dropped", in: "a:1,,b:2,", want: []string{"a:1", "b:2"}},
		{name: "an empty value means no addresses", in: "", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := splitBrokers(tt.in); !slices.Equal(got, tt.want) {
				t.Fatalf("splitBrokers(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestCreateTopicAcceptsAnExistingTopicWithTheSamePartitionCount(t *testing.T) {
	t.Parallel()
	brokers := Kafka(t)
	topic := UniqueName(t, "twice")
	CreateTopic(t, brokers, topic, 2)
	CreateTopic(t, brokers, topic, 2)
	if got := partitionCount(t, newClient(t, brokers), topic); got != 2 {
		t.Fatalf("topic %q has %d partitions after two CreateTopic(2), want 2", topic, got)
	}
}

func TestCreateTopicFailsOnAnExistingTopicWithAnotherPartitionCount(t *testing.T) {
	t.Parallel()
	brokers := Kafka(t)
	topic := UniqueName(t, "clash")
	CreateTopic(t, brokers, topic, 1)
	msg := expectFatal(t, func(tb testing.TB) { CreateTopic(tb, brokers, topic, 4) })
	if !strings.Contains(msg, "already exists with 1 partitions, want 4") {
		t.Fatalf("failure message %q should say the topic exists with another partition count", msg)
	}
}

func TestCreateTopicRejectsFewerThanOnePartition(t *testing.T) {
	t.Parallel()
	msg := expectFatal(t, func(tb testing.TB) { CreateTopic(tb, []string{"127.0.0.1:1"}, "x", 0) })
	if !strings.Contains(msg, "at least 1") {
		t.Fatalf("failure message %q should say partitions must be at least 1", msg)
	}
}
