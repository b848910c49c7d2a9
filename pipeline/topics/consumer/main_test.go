package consumer_test

import (
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/pipeline/topics"
)

// Every consumer and producer is closed by its test.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testTimeout bounds every wait of a test.
const testTimeout = 60 * time.Second

// connect returns the bench's Kafka.
func connect(t *testing.T) topics.Connection {
	t.Helper()
	return topics.Connection{Brokers: testbench.Kafka(t)}
}

// newProducer returns a Producer closed at the end of the test.
func newProducer(t *testing.T, conn topics.Connection) *topics.Producer {
	t.Helper()
	p := topics.NewProducer(conn, nil)
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Producer.Close: %v", err)
		}
	})
	return p
}

func publish(t *testing.T, p *topics.Producer, topic, key string, value []byte) {
	t.Helper()
	if err := p.Publish(t.Context(), topic, []byte(key), value); err != nil {
		t.Fatalf("Publish %s: %v", key, err)
	}
}
