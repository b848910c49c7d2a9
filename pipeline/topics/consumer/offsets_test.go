package consumer

import (
	"github.com/midata/midata/pipeline/topics"

	"slices"
	"testing"
)

func TestOffsetTrackerCommitsOnlyBelowTheOldestUnfinishedMessage(t *testing.T) {
	msg := func(p int, off int64) topics.Message { return topics.Message{Partition: p, Offset: off} }
	type step struct {
		fetch []topics.Message
		done  []topics.Message
		want  []topics.Message // commitable after the step, then committed
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"one message done is committed", []step{
			{fetch: []topics.Message{msg(0, 5)}, want: nil},
			{done: []topics.Message{msg(0, 5)}, want: []topics.Message{msg(0, 5)}},
		}},
		{"a later message done waits for an earlier one in flight", []step{
			{fetch: []topics.Message{msg(0, 5), msg(0, 6), msg(0, 7)}},
			{done: []topics.Message{msg(0, 6), msg(0, 7)}, want: nil},
			{done: []topics.Message{msg(0, 5)}, want: []topics.Message{msg(0, 7)}},
		}},
		{"a message fetched first is where the group stands: nothing to commit", []step{
			{fetch: []topics.Message{msg(0, 7)}, want: nil},
		}},
		{"nothing is committed twice", []step{
			{fetch: []topics.Message{msg(0, 0)}, done: []topics.Message{msg(0, 0)}, want: []topics.Message{msg(0, 0)}},
			{want: nil},
		}},
		{"partitions are independent", []step{
			{fetch: []topics.Message{msg(0, 3), msg(1, 9)}, done: []topics.Message{msg(1, 9)}, want: []topics.Message{msg(1, 9)}},
		}},
		{"a message fetched again after a rebalance must be done twice", []step{
			{fetch: []topics.Message{msg(2, 4), msg(2, 4)}, done: []topics.Message{msg(2, 4)}, want: nil},
			{done: []topics.Message{msg(2, 4)}, want: []topics.Message{msg(2, 4)}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := newOffsetTracker()
			for i, s := range tt.steps {
				for _, m := range s.fetch {
					tr.fetched(m.Partition, m.Offset)
				}
				tr.done(s.done...)
				got := tr.commitable()
				slices.SortFunc(got, func(a, b topics.Message) int { return a.Partition - b.Partition })
				if !slices.EqualFunc(got, s.want, func(a, b topics.Message) bool {
					return a.Partition == b.Partition && a.Offset == b.Offset
				}) {
					t.Fatalf("step %d: commitable %v, want %v", i, got, s.want)
				}
				tr.committed(got)
			}
		})
	}
}
