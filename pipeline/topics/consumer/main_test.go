package consumer_test

import (
	"testing"
	"time"

	"go.uber.org/goleak"
)

// Every consumer and producer is closed by its test.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testTimeout bounds every wait of a test.
const testTimeout = 60 * time.Second
