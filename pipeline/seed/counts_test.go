package seed_test

import (
	"testing"

	"github.com/midata/midata/pipeline/seed"
)

func TestCountsListTopicsInNameOrder(t *testing.T) {
	c := seed.Counts{"transactions": 24012, "midata.consent": 253}
	if got, want := c.String(), "midata.consent=253 transactions=24012"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
