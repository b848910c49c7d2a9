package kafkasource

import (
	"fmt"
	"strings"

	"github.com/segmentio/kafka-go"
)

// PartitionerByName returns the kafka-go balancer that places keyed records
// the way the named producer partitioner does: "murmur2" (Java clients'
// default, librdkafka murmur2_random), "crc32" (librdkafka
// consistent_random) or "fnv1a" (kafka-go's Hash, Sarama's default).
// Names are case-insensitive.
func PartitionerByName(name string) (kafka.Balancer, error) {
	switch strings.ToLower(name) {
	case "murmur2":
		return kafka.Murmur2Balancer{}, nil
	case "crc32":
		return kafka.CRC32Balancer{}, nil
	case "fnv1a":
		return &kafka.Hash{}, nil
	}
	return nil, fmt.Errorf("partitioner %q: want murmur2, crc32 or fnv1a", name)
}

// PartitionFor returns the partition, in [0, n), that balancer b sends a
// record with the given non-empty key to on a topic of n partitions.
func PartitionFor(b kafka.Balancer, key string, n int) int {
	if n <= 1 {
		return 0
	}
	partitions := make([]int, n)
	for i := range partitions {
		partitions[i] = i
	}
	return b.Balance(kafka.Message{Key: []byte(key)}, partitions...)
}
