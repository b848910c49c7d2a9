package kafkasource_test

import (
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/midata/midata/pipeline/kafkasource"
	"github.com/midata/midata/pipeline/topics"
)

// javaPartition is what Kafka's Java DefaultPartitioner (and its
// BuiltInPartitioner since 3.3) picks for a key: toPositive(murmur2(key)) % n.
func javaPartition(murmur2 int32, n int) int {
	return int(uint32(murmur2)&0x7fffffff) % n
}

func TestPartitionForMatchesPublishedVectors(t *testing.T) {
	tests := []struct {
		name        string
		partitioner string
		key         string
		n           int
		want        int
	}{
		// Java's Utils.murmur2 results for these keys, as pinned by Akka's
		// Murmur2Spec (akka-cluster-sharding-typed, "expected correct hash
		// values from the kafka murmur2 impl").
		{"murmur2 of 1 is Java's partition", "murmur2", "1", 12, javaPartition(-1993445489, 12)},
		{"murmur2 of 12 is Java's partition", "murmur2", "12", 12, javaPartition(126087238, 12)},
		{"murmur2 of 123 is Java's partition", "murmur2", "123", 7, javaPartition(-267702483, 7)},
		{"murmur2 of 1234 is Java's partition", "murmur2", "1234", 100, javaPartition(-1614185708, 100)},
		{"murmur2 of 12345 is Java's partition", "murmur2", "12345", 3, javaPartition(-1188365604, 3)},
		// kafka-python's Murmur2Partitioner tests over 1000 partitions, as
		// reused by kafka-go's TestMurmur2Balancer.
		{"murmur2 matches kafka-python for a", "murmur2", "a", 1000, 524},
		{"murmur2 matches kafka-python for abc", "murmur2", "abc", 1000, 107},
		{"murmur2 matches kafka-python for 123456789", "murmur2", "123456789", 1000, 566},
		// librdkafka tests/0048-partitioner.c murmur2_random, 17 partitions.
		{"murmur2 matches librdkafka for hejsan", "murmur2", "hejsan", 17, 0x5ec19395 % 17},
		{"murmur2 matches librdkafka for an unaligned key", "murmur2", "23456", 17, 0x058d780f % 17},
		// librdkafka tests/0048-partitioner.c consistent_random (CRC32).
		{"crc32 matches librdkafka for hejsan", "crc32", "hejsan", 17, 0xd077037e % 17},
		{"crc32 matches librdkafka for an unaligned key", "crc32", "23456", 17, 0xb1b451d7 % 17},
		{"crc32 matches librdkafka for a long key", "crc32", "this is another string with more length to it perhaps", 17, 0xb0150df7 % 17},
		// kafka-go's TestHashBalancer (Sarama-compatible FNV-1a).
		{"fnv1a puts blah on 0 of 2", "fnv1a", "blah", 2, 0},
		{"fnv1a puts blah on 1 of 3", "fnv1a", "blah", 3, 1},
		{"fnv1a puts boop on 2 of 3", "fnv1a", "boop", 3, 2},
		{"fnv1a handles a hash with the top bit set like Sarama", "fnv1a", "20", 16, 1},
		{"one partition is partition 0", "murmur2", "C000123", 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := kafkasource.PartitionerByName(tt.partitioner)
			if err != nil {
				t.Fatal(err)
			}
			if got := kafkasource.PartitionFor(b, tt.key, tt.n); got != tt.want {
				t.Fatalf("PartitionFor(%s, %q, %d) = %d, want %d", tt.partitioner, tt.key, tt.n, got, tt.want)
			}
		})
	}
}

func TestPartitionForAgreesWithTheProducersBalancer(t *testing.T) {
	// A kafka-go Writer with the same balancer places keys where PartitionFor says.
	for _, name := range []string{"murmur2", "crc32", "fnv1a", "MURMUR2"} {
		b, err := kafkasource.PartitionerByName(name)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 200 {
			key := "C" + strings.Repeat("0", i%5) + string(rune('a'+i%26)) + time.Duration(i).String()
			want := b.Balance(kafka.Message{Key: []byte(key)}, 0, 1, 2, 3, 4, 5, 6, 7)
			if got := kafkasource.PartitionFor(b, key, 8); got != want {
				t.Fatalf("%s: PartitionFor(%q) = %d, balancer says %d", name, key, got, want)
			}
		}
	}
}

func TestPartitionerByNameRejectsUnknownNames(t *testing.T) {
	for _, name := range []string{"", "random", "murmur3", "consistent_random"} {
		if _, err := kafkasource.PartitionerByName(name); err == nil {
			t.Errorf("PartitionerByName(%q) = nil error, want one", name)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     kafkasource.Config
		wantErr string
	}{
		{"brokers alone are enough", kafkasource.Config{Kafka: topics.Connection{Brokers: []string{"127.0.0.1:9092"}}}, ""},
		{"every field set is valid", kafkasource.Config{Kafka: topics.Connection{Brokers: []string{"a:1", "b:2"}, RequestTimeout: time.Second}, Topic: "t", Partitioner: "crc32",
			SampleSize: 4, FetchMaxBytes: 1 << 20}, ""},
		{"no brokers is an error", kafkasource.Config{}, "no brokers"},
		{"a blank broker is an error", kafkasource.Config{Kafka: topics.Connection{Brokers: []string{" "}}}, "want host:port"},
		{"an unknown partitioner is an error", kafkasource.Config{Kafka: topics.Connection{Brokers: []string{"a:1"}}, Partitioner: "round-robin"}, "round-robin"},
		{"a negative sample size is an error", kafkasource.Config{Kafka: topics.Connection{Brokers: []string{"a:1"}}, SampleSize: -1}, "sample size"},
		{"a negative timeout is an error", kafkasource.Config{Kafka: topics.Connection{Brokers: []string{"a:1"}, RequestTimeout: -time.Second}}, "timeout"},
		{"a fetch size over 2 GiB is an error", kafkasource.Config{Kafka: topics.Connection{Brokers: []string{"a:1"}}, FetchMaxBytes: 1 << 31}, "fetch max bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate = %v, want an error containing %q", err, tt.wantErr)
			}
			if _, err := kafkasource.New(tt.cfg); err == nil {
				t.Fatal("New accepted an invalid config")
			}
		})
	}
}
