package seed_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every writer and client of a test is closed by it: nothing needs ignoring.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
