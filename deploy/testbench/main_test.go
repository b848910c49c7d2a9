package testbench

import (
	"fmt"
	"runtime"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fatalRecorder is a testing.TB whose Fatal stops only the goroutine that
// calls it and records the message, so tests can check that a helper fails
// a test when it should. Everything else goes to the real test.
type fatalRecorder struct {
	testing.TB
	mu  sync.Mutex
	msg string
}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.mu.Lock()
	r.msg = fmt.Sprintf(format, args...)
	r.mu.Unlock()
	runtime.Goexit()
}

func (r *fatalRecorder) Fatal(args ...any) {
	r.mu.Lock()
	r.msg = fmt.Sprint(args...)
	r.mu.Unlock()
	runtime.Goexit()
}

// expectFatal runs fn with a fatalRecorder wrapping t and returns the fatal
// message, failing t when fn returns without calling Fatal.
func expectFatal(t *testing.T, fn func(tb testing.TB)) string {
	t.Helper()
	rec := &fatalRecorder{TB: t}
	done := make(chan bool)
	go func() {
		returned := false
		defer func() { done <- returned }()
		fn(rec)
		returned = true
	}()
	if <-done {
		t.Fatal("helper returned normally; want it to fail the test")
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.msg
}
