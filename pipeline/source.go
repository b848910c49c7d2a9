package pipeline

import (
	"context"
	"time"

	"github.com/midata/midata/pipeline/consent"
	"github.com/midata/midata/pipeline/kafkasource"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/schemas"
)

var _ Grants = (*consent.View)(nil)

// Source reads what a release is made from: it plans and reads the
// transactions topic. *kafkasource.Source implements it.
type Source interface {
	// Plan freezes the snapshot of one customer's release from from on.
	Plan(ctx context.Context, customerID string, from time.Time) (kafkasource.Snapshot, error)
	// PlanBulk freezes the snapshot of a bulk release from from on.
	PlanBulk(ctx context.Context, from time.Time) (kafkasource.Snapshot, error)
	// Owner returns the partition, of partitions, that customerID's records sit on.
	Owner(customerID string, partitions int) int
	// Read streams the records of snap to fn, in offset order per partition.
	Read(ctx context.Context, snap kafkasource.Snapshot, fn func(topics.Message) error) error
}

// Grants answers whether a customer's consent lets records go to a
// recipient, from a view of the consent topic shared by every release.
// *consent.View implements it.
type Grants interface {
	// Sync brings the grants up to the consent topic's current end.
	Sync(ctx context.Context) error
	// Grant returns the grant of customerID to recipient at now, or an
	// error wrapping consent.ErrNoConsent that says why there is none.
	Grant(customerID string, recipient schemas.Recipient, now time.Time) (consent.Grant, error)
	// GrantedWhere returns the grant of every customer to recipient at
	// now whom keep keeps (every one when keep is nil).
	GrantedWhere(recipient schemas.Recipient, now time.Time, keep func(customerID string) bool) map[string]consent.Grant
}

// Quarantiner keeps invalid records with the reason they are invalid.
// *topics.Producer implements it.
type Quarantiner interface {
	// Quarantine queues m, read from sourceTopic, for topic with reason.
	Quarantine(ctx context.Context, topic string, m topics.Message, sourceTopic, reason string) error
	// Flush returns once every queued record is written.
	Flush(ctx context.Context) error
}
