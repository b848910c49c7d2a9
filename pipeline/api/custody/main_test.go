package custody_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every Ledger, View, Producer and Sink is closed by its test, and with
// them their connections: nothing needs ignoring.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
