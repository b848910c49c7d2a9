package topics_test

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/segmentio/kafka-go"

	"github.com/midata/midata/pipeline/topics"
)

func TestPermanentTellsRefusedRecordsFromPassingTrouble(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"a message too large is permanent", kafka.MessageSizeTooLarge, true},
		{"so it is wrapped", fmt.Errorf("publish to runs: %w", kafka.MessageSizeTooLarge), true},
		{"a record list too large is permanent", kafka.RecordListTooLarge, true},
		{"a record the producer refuses for its size is permanent", kafka.MessageTooLargeError{}, true},
		{"one refusal in a batch is permanent", fmt.Errorf("publish 2 records: %w", kafka.WriteErrors{nil, kafka.MessageSizeTooLarge}), true},
		{"a topic not ours to write is permanent", kafka.TopicAuthorizationFailed, true},
		{"no leader passes", kafka.LeaderNotAvailable, false},
		{"not enough replicas passes", kafka.NotEnoughReplicas, false},
		{"a batch of passing errors passes", kafka.WriteErrors{kafka.RequestTimedOut, nil}, false},
		{"a broken connection passes", io.ErrUnexpectedEOF, false},
		{"anything else passes", errors.New("dial tcp: connection refused"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := topics.Permanent(tt.err); got != tt.want {
				t.Errorf("Permanent(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}
