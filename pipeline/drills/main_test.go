package drills

import (
	"testing"

	"go.uber.org/goleak"
)

// The proxy, the sinks' transports, Sources, Producers and consent views
// close at each test's cleanup. kafka-go keeps idle connections of its
// shared default transport until they time out: those are ignored, as in
// package pipeline.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/segmentio/kafka-go.(*connPool).discover"),
		goleak.IgnoreAnyFunction("github.com/segmentio/kafka-go.(*conn).run"),
		goleak.IgnoreAnyFunction("github.com/segmentio/kafka-go.(*Transport).RoundTrip"),
	)
}
