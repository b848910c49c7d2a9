package pipeline

import (
	"context"
	"time"

	"github.com/midata/midata/pipeline/kafkasource"
	"github.com/midata/midata/pipeline/topics"
)

// Source reads what a release is made from: it plans and reads the
// transactions topic and reads the compacted consent topic.
// *kafkasource.Source implements it.
type Source interface {
	// Plan freezes the snapshot of one customer's release from from on.
	Plan(ctx context.Context, customerID string, from time.Time) (kafkasource.Snapshot, error)
	// PlanBulk freezes the snapshot of a bulk release from from on.
	PlanBulk(ctx context.Context, from time.Time) (kafkasource.Snapshot, error)
	// Owner returns the partition, of partitions, that customerID's records sit on.
	Owner(customerID string, partitions int) int
	// Ends returns the end offset of each partition of topic.
	Ends(ctx context.Context, topic string) (map[int]int64, error)
	// Read streams the records of snap to fn, in offset order per partition.
	Read(ctx context.Context, snap kafkasource.Snapshot, fn func(topics.Message) error) error
	// ReadTopic streams every record of topic, up to its end at the call, to fn.
	ReadTopic(ctx context.Context, topic string, fn func(topics.Message) error) error
}

// Quarantiner keeps invalid records with the reason they are invalid.
// *topics.Producer implements it.
type Quarantiner interface {
	// Quarantine queues m, read from sourceTopic, for topic with reason.
	Quarantine(ctx context.Context, topic string, m topics.Message, sourceTopic, reason string) error
	// Flush returns once every queued record is written.
	Flush(ctx context.Context) error
}
