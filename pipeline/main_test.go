package pipeline_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The runner's goroutines (reads, partitioner checks, uploads) end with the
// release; Sources, Producers and kfake clusters close at each test's
// cleanup. kafka-go keeps idle connections of its shared default transport
// (used by the tests' own readers) until they time out: those are ignored.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/segmentio/kafka-go.(*connPool).discover"),
		goleak.IgnoreAnyFunction("github.com/segmentio/kafka-go.(*conn).run"),
		goleak.IgnoreAnyFunction("github.com/segmentio/kafka-go.(*Transport).RoundTrip"),
	)
}
