package jobs

import (
	"context"
	"fmt"

	"github.com/midata/midata/pipeline/kafkasource"
)

// Partition counts of the topics EnsureTopics creates.
const (
	RequestsPartitions = 6 // the most workers that share the requests at once
	RunsPartitions     = 3
)

// Topics names the topics of the queue and the ledger. Empty names mean
// DefaultRequestsTopic and DefaultRunsTopic.
type Topics struct {
	Requests string
	Runs     string
}

func (t Topics) withDefaults() Topics {
	if t.Requests == "" {
		t.Requests = DefaultRequestsTopic
	}
	if t.Runs == "" {
		t.Runs = DefaultRunsTopic
	}
	return t
}

// EnsureTopics creates the requests topic (RequestsPartitions partitions)
// and the compacted runs topic (RunsPartitions partitions) when they do not
// exist yet; existing topics are left as they are.
func EnsureTopics(ctx context.Context, brokers []string, t Topics) error {
	t = t.withDefaults()
	err := kafkasource.EnsureTopics(ctx, brokers,
		kafkasource.TopicSpec{Name: t.Requests, Partitions: RequestsPartitions},
		kafkasource.TopicSpec{Name: t.Runs, Partitions: RunsPartitions, Compacted: true},
	)
	if err != nil {
		return fmt.Errorf("ensure job topics: %w", err)
	}
	return nil
}
