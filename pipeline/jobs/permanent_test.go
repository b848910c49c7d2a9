package jobs_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/midata/midata/pipeline/jobs"
)

func TestPermanent(t *testing.T) {
	cause := errors.New("task b/p1 failed: disk full")
	tests := []struct {
		name      string
		err       error
		permanent bool
	}{
		{"nil is not permanent", nil, false},
		{"a plain error is not permanent", cause, false},
		{"a transient error is not permanent", fmt.Errorf("read: %w", jobs.ErrTransient), false},
		{"a permanent error is permanent", jobs.Permanent(cause), true},
		{"a wrapped permanent error is permanent", fmt.Errorf("bulk b: %w", jobs.Permanent(cause)), true},
		{"a permanent error joined with a transient one is permanent", errors.Join(jobs.Permanent(cause), jobs.ErrTransient), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := jobs.IsPermanent(tt.err); got != tt.permanent {
				t.Errorf("IsPermanent(%v) = %v, want %v", tt.err, got, tt.permanent)
			}
		})
	}
	if jobs.Permanent(nil) != nil {
		t.Error("Permanent(nil) is not nil")
	}
	p := jobs.Permanent(cause)
	var pe *jobs.PermanentError
	if !errors.As(p, &pe) || !errors.Is(p, cause) || p.Error() != cause.Error() {
		t.Errorf("Permanent(%v) = %v: want the cause's message, found by errors.As and errors.Is", cause, p)
	}
}
