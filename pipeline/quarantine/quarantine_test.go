package quarantine_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/pipeline/quarantine"
	"github.com/midata/midata/pipeline/topics"
)

func TestTheViewCountsEachKindOfReasonAndShowsNoContents(t *testing.T) {
	brokers := testbench.Kafka(t)
	topic := testbench.UniqueName(t, "quarantine")
	testbench.CreateTopic(t, brokers, topic, 2)
	conn := topics.Connection{Brokers: brokers}
	p := topics.NewProducer(conn, nil)
	defer p.Close()
	ctx := t.Context()
	put := func(n int, reason string) {
		for i := range n {
			m := topics.Message{Partition: i % 3, Offset: int64(100 + i), Key: []byte("C-SECRET-KEY"), Value: []byte(`{"amount":"SECRET-VALUE"}`)}
			if err := p.Quarantine(ctx, topic, m, "transactions", reason); err != nil {
				t.Fatal(err)
			}
		}
	}
	put(7, `amount: "SECRET-VALUE" is not a decimal`)
	put(2, "customer_id: want 1-64 of A-Z a-z 0-9 . _ -")
	put(1, "not JSON")
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	v, err := quarantine.Open(ctx, conn, topic, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	deadline := time.Now().Add(30 * time.Second)
	for !v.Ready() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	// Later records arrive too.
	put(1, "customer_id: empty")
	p.Flush(ctx)
	if err := v.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	s := v.Summary()
	if s.Total != 11 || len(s.Kinds) != 3 {
		t.Fatalf("summary = %+v, want 11 records of 3 kinds", s)
	}
	want := []struct {
		kind  string
		count int64
	}{{"amount", 7}, {"customer_id", 3}, {"not JSON", 1}}
	for i, w := range want {
		if s.Kinds[i].Kind != w.kind || s.Kinds[i].Count != w.count {
			t.Errorf("kind %d = %s ×%d, want %s ×%d", i, s.Kinds[i].Kind, s.Kinds[i].Count, w.kind, w.count)
		}
	}
	if r := s.Kinds[0].Recent; len(r) != quarantine.Recent || r[0].Source != "transactions/0/106" || r[0].Bytes == 0 {
		t.Errorf("recent amount records = %+v, want the last %d, newest first (transactions/0/106)", r, quarantine.Recent)
	}
	b, _ := json.Marshal(s)
	if strings.Contains(string(b), "SECRET") {
		t.Errorf("the summary shows a record's contents: %s", b)
	}
}
