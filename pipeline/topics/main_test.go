package topics_test

import (
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"go.uber.org/goleak"

	"github.com/midata/midata/pipeline/topics"
)

// Every producer, view, consumer and kfake cluster is closed by its test,
// and with them kafka-go's connections: nothing needs ignoring.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testTimeout bounds every wait of a test.
const testTimeout = 60 * time.Second

// topicConfig returns the value of one config of a topic on the broker.
func topicConfig(t *testing.T, conn topics.Connection, topic, name string) string {
	t.Helper()
	tr := conn.Transport()
	defer tr.CloseIdleConnections()
	c := &kafka.Client{Addr: conn.Addr(), Transport: tr, Timeout: 10 * time.Second}
	res, err := c.DescribeConfigs(t.Context(), &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{{
		ResourceType: kafka.ResourceTypeTopic, ResourceName: topic, ConfigNames: []string{name}}}})
	if err != nil {
		t.Fatalf("describe configs of %s: %v", topic, err)
	}
	for _, r := range res.Resources {
		for _, e := range r.ConfigEntries {
			if e.ConfigName == name {
				return e.ConfigValue
			}
		}
	}
	t.Fatalf("topic %s has no config %s: %+v", topic, name, res.Resources)
	return ""
}

// partitionCount returns how many partitions topic has.
func partitionCount(t *testing.T, conn topics.Connection, topic string) int {
	t.Helper()
	ends, err := topics.Ends(t.Context(), conn, topic)
	if err != nil {
		t.Fatalf("Ends(%s): %v", topic, err)
	}
	return len(ends)
}

// eventually polls cond until it holds, failing the test after testTimeout.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %v", what, testTimeout)
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("%s: %v", what, t.Context().Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
