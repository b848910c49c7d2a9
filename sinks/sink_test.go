package sinks_test

import (
	"testing"
	"time"

	"github.com/midata/midata/sinks"
)

func TestTheLinkTTLRuleIsMoreThanZeroAndAtMostTheSigV4Limit(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		d  time.Duration
		ok bool
	}{{time.Minute, true}, {sinks.MaxLinkTTL, true}, {0, false}, {-time.Second, false}, {sinks.MaxLinkTTL + time.Second, false}} {
		if err := sinks.CheckLinkTTL(tt.d); (err == nil) != tt.ok {
			t.Errorf("CheckLinkTTL(%s) = %v, want ok %v", tt.d, err, tt.ok)
		}
	}
	if sinks.MaxLinkTTL != 7*24*time.Hour {
		t.Errorf("MaxLinkTTL = %s, want 168h", sinks.MaxLinkTTL)
	}
}
