package testbench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

// topicTimeout bounds CreateTopic, request and readiness polling together.
const topicTimeout = 60 * time.Second

// Kafka returns the bootstrap addresses of a Kafka cluster for the test.
//
// When EnvKafka is set it returns those addresses (the bench of `make test`),
// after checking that one of them accepts connections. Otherwise, unless
// EnvRequireBench is "1", it starts franz-go's in-process kfake cluster with
// one broker, closed at t.Cleanup. Like the bench broker, the fake creates
// topics on first use with one partition. A test that needs a given number
// of partitions calls CreateTopic.
func Kafka(t testing.TB) []string {
	t.Helper()
	if brokers := splitBrokers(os.Getenv(EnvKafka)); len(brokers) > 0 {
		var errs []error
		for _, b := range brokers {
			err := reachable(b)
			if err == nil {
				return brokers
			}
			errs = append(errs, err)
		}
		t.Fatalf("kafka bench: no broker of %s=%s accepts connections (%v); %s",
			EnvKafka, os.Getenv(EnvKafka), errors.Join(errs...), startHint)
	}
	if benchRequired() {
		t.Fatalf("kafka bench: %s is not set but %s=1 requires the real broker; %s",
			EnvKafka, EnvRequireBench, startHint)
	}
	c, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(1),
	)
	if err != nil {
		t.Fatalf("kafka fake: start cluster: %v", err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

// splitBrokers splits a comma-separated address list, dropping blanks.
func splitBrokers(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// CreateTopic creates topic with the given number of partitions (replication
// factor 1) and returns once every partition has a leader that answers
// offset requests, so the test can produce and consume at once. A topic that
// already exists with the same partition count is accepted; with another
// count the test fails. Polling gives up after one minute.
func CreateTopic(t testing.TB, brokers []string, topic string, partitions int) {
	t.Helper()
	if partitions < 1 {
		t.Fatalf("create topic %q: partitions must be at least 1, got %d", topic, partitions)
	}
	ctx, cancel := context.WithTimeout(t.Context(), topicTimeout)
	defer cancel()

	transport := &kafka.Transport{ClientID: "midata-testbench"}
	defer transport.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second, Transport: transport}

	resp, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{
		Topics: []kafka.TopicConfig{{Topic: topic, NumPartitions: partitions, ReplicationFactor: 1,
			// Test data carries historical timestamps: never expire it.
			ConfigEntries: []kafka.ConfigEntry{{ConfigName: "retention.ms", ConfigValue: "-1"}}}},
	})
	if err != nil {
		t.Fatalf("create topic %q on %v: %v", topic, brokers, err)
	}
	existed := false
	if err := resp.Errors[topic]; err != nil {
		if !errors.Is(err, kafka.TopicAlreadyExists) {
			t.Fatalf("create topic %q on %v: %v", topic, brokers, err)
		}
		existed = true
	}

	for {
		got, err := topicReady(ctx, client, topic, partitions)
		if err == nil {
			return
		}
		if existed && got > 0 && got != partitions {
			t.Fatalf("create topic %q: it already exists with %d partitions, want %d", topic, got, partitions)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("create topic %q: not ready after %v: %v", topic, topicTimeout, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// topicReady checks that topic has want partitions, each with a leader that
// answers a ListOffsets request. It returns the partition count it saw.
func topicReady(ctx context.Context, client *kafka.Client, topic string, want int) (int, error) {
	meta, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return 0, fmt.Errorf("read metadata: %w", err)
	}
	var found *kafka.Topic
	for i := range meta.Topics {
		if meta.Topics[i].Name == topic {
			found = &meta.Topics[i]
		}
	}
	if found == nil {
		return 0, errors.New("topic missing from metadata")
	}
	if found.Error != nil {
		return 0, fmt.Errorf("topic metadata: %w", found.Error)
	}
	got := len(found.Partitions)
	if got != want {
		return got, fmt.Errorf("metadata shows %d partitions, want %d", got, want)
	}
	offsets := make([]kafka.OffsetRequest, 0, want)
	for _, p := range found.Partitions {
		if p.Error != nil {
			return got, fmt.Errorf("partition %d metadata: %w", p.ID, p.Error)
		}
		if p.Leader.ID < 0 || p.Leader.Host == "" {
			return got, fmt.Errorf("partition %d has no leader", p.ID)
		}
		offsets = append(offsets, kafka.FirstOffsetOf(p.ID))
	}
	lo, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{
		Topics: map[string][]kafka.OffsetRequest{topic: offsets},
	})
	if err != nil {
		return got, fmt.Errorf("list offsets: %w", err)
	}
	answered := 0
	for _, p := range lo.Topics[topic] {
		if p.Error != nil {
			return got, fmt.Errorf("list offsets of partition %d: %w", p.Partition, p.Error)
		}
		answered++
	}
	if answered != want {
		return got, fmt.Errorf("list offsets answered for %d partitions, want %d", answered, want)
	}
	return got, nil
}
