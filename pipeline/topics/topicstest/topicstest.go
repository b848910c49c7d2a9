// Package topicstest holds the test helpers of the packages that test
// against the bench's real Kafka through pipeline/topics: one connection,
// a producer closed with the test, and a checked publish.
package topicstest

import (
	"testing"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/pipeline/topics"
)

// Connect returns the bench's Kafka (skipping or failing as testbench.Kafka
// does when there is none).
func Connect(t *testing.T) topics.Connection {
	t.Helper()
	return topics.Connection{Brokers: testbench.Kafka(t)}
}

// NewProducer returns a Producer closed, and checked, at the end of t.
func NewProducer(t *testing.T, conn topics.Connection) *topics.Producer {
	t.Helper()
	p := topics.NewProducer(conn, nil)
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Producer.Close: %v", err)
		}
	})
	return p
}

// Publish writes key=value to topic, failing t on error.
func Publish(t *testing.T, p *topics.Producer, topic, key string, value []byte) {
	t.Helper()
	if err := p.Publish(t.Context(), topic, []byte(key), value); err != nil {
		t.Fatalf("Publish %s: %v", key, err)
	}
}
