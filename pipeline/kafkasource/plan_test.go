package kafkasource_test

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/pipeline/kafkasource"
	"github.com/midata/midata/pipeline/topics"
)

var t0 = time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)

// at returns a record on key C1 with Kafka timestamp t0+h hours.
func at(h int, value string) kafka.Message {
	return kafka.Message{Key: []byte("C1"), Value: []byte(value), Time: t0.Add(time.Duration(h) * time.Hour)}
}

func TestPlanStartsAtOffsetsForTimesAndFreezesTheEnd(t *testing.T) {
	brokers := testbench.Kafka(t)
	name := topic(t, brokers, 1)
	// Timestamps out of order, as when records are published late: the
	// record booked before `from` but published after it (h=-2 at offset 2)
	// sits after the first record at or after `from` (offset 1).
	produce(t, brokers, name, to(0), at(-3, "a"), at(1, "b"), at(-2, "c"), at(2, "d"), at(5, "late"))
	s := newSource(t, kafkasource.Config{Kafka: topics.Connection{Brokers: brokers}, Topic: name})

	snap, err := s.Plan(t.Context(), "", t0)
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	want := []kafkasource.Range{{Partition: 0, Start: 1, End: 5}}
	if fmt.Sprint(snap.Ranges) != fmt.Sprint(want) || snap.Topic != name || snap.Pruned || snap.Partitioner != "murmur2" {
		t.Fatalf("snapshot = %+v, want ranges %v on %s, not pruned, murmur2", snap, want, name)
	}
	if snap.Records() != 4 {
		t.Fatalf("Records() = %d, want 4", snap.Records())
	}

	// Records written after Plan are not part of the snapshot.
	produce(t, brokers, name, to(0), at(3, "after plan"))
	got := readAll(t, s, snap)
	var values []string
	for _, m := range got {
		values = append(values, string(m.Value))
		if m.Partition != 0 || string(m.Key) != "C1" {
			t.Fatalf("message %+v: want partition 0, key C1", m)
		}
	}
	if strings.Join(values, ",") != "b,c,d,late" {
		t.Fatalf("read %v, want b,c,d,late (every record from the first at or after from, none written after Plan)", values)
	}
	if !got[0].Time.Equal(t0.Add(time.Hour)) || got[0].Offset != 1 || got[0].Time.Location() != time.UTC {
		t.Fatalf("first message %+v: want offset 1 at %s UTC", got[0], t0.Add(time.Hour))
	}

	t.Run("every record at or after from is in the range", func(t *testing.T) {
		for _, from := range []time.Time{t0.Add(-3 * time.Hour), t0.Add(-150 * time.Minute), t0.Add(2 * time.Hour), t0.Add(4 * time.Hour)} {
			snap, err := s.Plan(t.Context(), "", from)
			if err != nil {
				t.Fatal(err)
			}
			all := readAll(t, s, kafkasource.Snapshot{Topic: name, Ranges: []kafkasource.Range{{Partition: 0, Start: 0, End: 6}}})
			for _, m := range all {
				if !m.Time.Before(from) && m.Offset < snap.Ranges[0].Start {
					t.Errorf("from %s: record at offset %d (%s) is before Start %d", from, m.Offset, m.Time, snap.Ranges[0].Start)
				}
			}
		}
	})

	t.Run("a zero from starts at the log start", func(t *testing.T) {
		snap, err := s.Plan(t.Context(), "", time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if r := snap.Ranges[0]; r.Start != 0 || r.End != 6 {
			t.Fatalf("range = %+v, want [0, 6)", r)
		}
	})

	t.Run("from after every record gives an empty range", func(t *testing.T) {
		snap, err := s.Plan(t.Context(), "", t0.Add(24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if r := snap.Ranges[0]; r.Start != 6 || r.End != 6 || snap.Records() != 0 {
			t.Fatalf("range = %+v, want [6, 6)", r)
		}
		if got := readAll(t, s, snap); len(got) != 0 {
			t.Fatalf("read %d records from an empty range", len(got))
		}
	})
}

func TestPlanOfAnEmptyTopicReadsNothing(t *testing.T) {
	brokers := testbench.Kafka(t)
	name := topic(t, brokers, 3)
	s := newSource(t, kafkasource.Config{Kafka: topics.Connection{Brokers: brokers}, Topic: name})
	for _, customer := range []string{"", "C1"} {
		snap, err := s.Plan(t.Context(), customer, t0)
		if err != nil {
			t.Fatalf("Plan(%q): %v", customer, err)
		}
		if snap.Records() != 0 || len(readAll(t, s, snap)) != 0 {
			t.Fatalf("Plan(%q) = %+v, want nothing to read", customer, snap)
		}
		if customer != "" && (!snap.Pruned || len(snap.Ranges) != 1) {
			t.Fatalf("Plan(%q) = %+v, want pruned to one partition", customer, snap)
		}
	}
}

func TestPlanOfAMissingTopicSaysSo(t *testing.T) {
	brokers := testbench.Kafka(t)
	name := testbench.UniqueName(t, "missing")
	s := newSource(t, kafkasource.Config{Kafka: topics.Connection{Brokers: brokers}, Topic: name})
	_, err := s.Plan(t.Context(), "", t0)
	if !errors.Is(err, kafkasource.ErrTopicNotFound) {
		t.Fatalf("Plan = %v, want ErrTopicNotFound", err)
	}
	t.Logf("Plan: %v", err)
	if want := fmt.Sprintf("topic %q not found on brokers", name); !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not say %q", err, want)
	}
}

func TestPlanFailsInBoundedTimeWhenBrokersDoNotAnswer(t *testing.T) {
	// A listener that accepts connections and never answers, and a port
	// that refuses them.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var conns []net.Conn
	go func() {
		defer close(done)
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		silent.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	refused, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusedAddr := refused.Addr().String()
	refused.Close()

	for _, tt := range []struct{ name, addr, want string }{
		{"a silent broker times out", silent.Addr().String(), "no answer from kafka brokers"},
		{"a refused connection fails", refusedAddr, refusedAddr},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newSource(t, kafkasource.Config{Kafka: topics.Connection{Brokers: []string{tt.addr}, RequestTimeout: 1500 * time.Millisecond}, Topic: "transactions"})
			start := time.Now()
			_, err := s.Plan(t.Context(), "C1", t0)
			took := time.Since(start)
			t.Logf("Plan: %v", err)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Plan = %v, want an error containing %q", err, tt.want)
			}
			if took > 5*time.Second {
				t.Fatalf("Plan took %s to fail, want about the 1.5s timeout", took)
			}
		})
	}
}
