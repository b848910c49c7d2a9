package synth_test

import (
	"testing"

	"github.com/midata/midata/schemas/synth"
)

func TestCountsListTopicsInNameOrder(t *testing.T) {
	c := synth.Counts{"transactions": 24012, "midata.consent": 253}
	if got, want := c.String(), "midata.consent=253 transactions=24012"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
