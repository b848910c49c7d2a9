package topics

import "github.com/segmentio/kafka-go"

// ByTopic is a kafka.Balancer that partitions each message with the
// balancer of its topic, else with Default: one writer can then write the
// consent topic with its own partitioner (murmur2 unless configured
// otherwise) and the transactions topic with the upstream's.
type ByTopic struct {
	Default kafka.Balancer
	Topics  map[string]kafka.Balancer
}

// Balance implements kafka.Balancer.
func (b *ByTopic) Balance(msg kafka.Message, partitions ...int) int {
	if p, ok := b.Topics[msg.Topic]; ok {
		return p.Balance(msg, partitions...)
	}
	return b.Default.Balance(msg, partitions...)
}
