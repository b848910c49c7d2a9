package consumer_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/pipeline/topics/consumer"
	"github.com/midata/midata/pipeline/topics/topicstest"
)

func TestAConsumerCommitsOnlyBelowItsOldestRecordInFlight(t *testing.T) {
	conn := topicstest.Connect(t)
	topic := testbench.UniqueName(t, "queue")
	if err := topics.Ensure(t.Context(), conn, topics.Spec{Name: topic, Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	p := topicstest.NewProducer(t, conn)
	for i := range 3 {
		topicstest.Publish(t, p, topic, fmt.Sprintf("k%d", i), []byte("v"))
	}
	group := testbench.UniqueName(t, "group")
	lag := func() int64 {
		t.Helper()
		l, err := topics.Lag(t.Context(), conn, group, topic)
		if err != nil {
			t.Fatalf("Lag: %v", err)
		}
		return l[0]
	}
	if n := lag(); n != 3 {
		t.Fatalf("lag of a group that read nothing = %d, want 3", n)
	}

	c, err := consumer.New(conn, consumer.Config{Group: group, Topic: topic})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	var got []topics.Message
	for range 3 {
		m, err := c.Fetch(ctx)
		if err != nil {
			t.Fatalf("Fetch: %v", err)
		}
		got = append(got, m)
	}
	if string(got[0].Key) != "k0" || got[2].Offset != 2 {
		t.Fatalf("fetched %+v, want k0..k2 at offsets 0..2", got)
	}
	// Offset 1 is still in flight: nothing past 0 may be committed.
	c.Done(got[0], got[2])
	if err := c.CommitDone(ctx); err != nil {
		t.Fatalf("CommitDone: %v", err)
	}
	if n := lag(); n != 2 {
		t.Errorf("lag with offset 1 in flight = %d, want 2", n)
	}
	c.Done(got[1])
	if err := c.CommitDone(ctx); err != nil {
		t.Fatalf("CommitDone: %v", err)
	}
	if n := lag(); n != 0 {
		t.Errorf("lag with everything done = %d, want 0", n)
	}
}
