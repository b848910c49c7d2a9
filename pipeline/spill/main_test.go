package spill

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no goroutine outlives the tests and benchmarks (the
// heap-sampling benchmark starts one).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
