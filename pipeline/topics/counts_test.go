package topics_test

import (
	"testing"

	"github.com/midata/midata/pipeline/topics"
)

func TestCountsListTopicsInNameOrder(t *testing.T) {
	c := topics.Counts{"transactions": 24012, "midata.consent": 253}
	if got, want := c.String(), "midata.consent=253 transactions=24012"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
