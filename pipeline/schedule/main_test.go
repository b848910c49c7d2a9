package schedule

import (
	"testing"
	_ "time/tzdata" // the zones the tests name, whatever the machine has

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
