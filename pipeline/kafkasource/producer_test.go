package kafkasource_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/pipeline/kafkasource"
)

func newProducer(t *testing.T, brokers []string) *kafkasource.Producer {
	t.Helper()
	p := kafkasource.NewProducer(brokers, nil)
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Producer.Close: %v", err)
		}
	})
	return p
}

// readTopic returns every record of a topic.
func readTopic(t *testing.T, s *kafkasource.Source, topic string) []kafkasource.Message {
	t.Helper()
	var got []kafkasource.Message
	if err := s.ReadTopic(t.Context(), topic, func(m kafkasource.Message) error {
		got = append(got, m)
		return nil
	}); err != nil {
		t.Fatalf("ReadTopic(%s): %v", topic, err)
	}
	return got
}

func header(m kafkasource.Message, key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return "<none>"
}

func TestQuarantineKeepsTheOriginalBytesWithReasonAndSource(t *testing.T) {
	brokers := testbench.Kafka(t)
	q := topic(t, brokers, 1)
	p := newProducer(t, brokers)
	s := newSource(t, kafkasource.Config{Brokers: brokers})

	bad := []kafkasource.Message{
		{Partition: 3, Offset: 42, Key: []byte("C1"), Value: []byte("{not json\xff")},
		{Partition: 0, Offset: 7, Key: nil, Value: []byte(`{"customer_id":"C2"}`)},
		{Partition: 1, Offset: 9, Key: []byte("C3"), Value: nil},
	}
	reasons := []string{"decode: invalid character", "key: missing", "empty value"}
	for i, m := range bad {
		if err := p.Quarantine(t.Context(), q, m, "transactions", reasons[i]); err != nil {
			t.Fatalf("Quarantine: %v", err)
		}
	}
	if got := readTopic(t, s, q); len(got) != 0 {
		t.Fatalf("%d records written before Flush, want them batched", len(got))
	}
	if err := p.Flush(t.Context()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	got := readTopic(t, s, q)
	if len(got) != len(bad) {
		t.Fatalf("quarantine holds %d records, want %d", len(got), len(bad))
	}
	for i, m := range got {
		want := bad[i]
		if string(m.Key) != string(want.Key) || (m.Key == nil) != (want.Key == nil) ||
			string(m.Value) != string(want.Value) || (m.Value == nil) != (want.Value == nil) {
			t.Errorf("record %d = key %q value %q, want key %q value %q", i, m.Key, m.Value, want.Key, want.Value)
		}
		if r := header(m, "midata-reason"); r != reasons[i] {
			t.Errorf("record %d midata-reason = %q, want %q", i, r, reasons[i])
		}
		if src, wantSrc := header(m, "midata-source"), fmt.Sprintf("transactions/%d/%d", want.Partition, want.Offset); src != wantSrc {
			t.Errorf("record %d midata-source = %q, want %q", i, src, wantSrc)
		}
	}
}

func TestProducerCloseFlushesQuarantinedRecords(t *testing.T) {
	brokers := testbench.Kafka(t)
	q := topic(t, brokers, 1)
	p := kafkasource.NewProducer(brokers, nil)
	if err := p.Quarantine(t.Context(), q, kafkasource.Message{Key: []byte("C1"), Value: []byte("x")}, "transactions", "r"); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s := newSource(t, kafkasource.Config{Brokers: brokers})
	if got := readTopic(t, s, q); len(got) != 1 || string(got[0].Value) != "x" {
		t.Fatalf("quarantine = %d records, want the one queued before Close", len(got))
	}
}

func TestReadTopicReadsACompactedTopicWithTombstones(t *testing.T) {
	brokers := testbench.Kafka(t)
	name := testbench.UniqueName(t, "consent")
	if err := kafkasource.EnsureTopics(t.Context(), brokers, kafkasource.TopicSpec{Name: name, Partitions: 3, Compacted: true}); err != nil {
		t.Fatalf("EnsureTopics: %v", err)
	}
	assertCompacted(t, brokers, name)
	p := newProducer(t, brokers)
	events := []struct{ key, value string }{
		{"C1|self", `{"status":"granted"}`},
		{"C2|partner:a", `{"status":"granted"}`},
		{"C1|self", `{"status":"revoked"}`},
		{"C2|partner:a", ""}, // tombstone
	}
	for _, e := range events {
		var v []byte
		if e.value != "" {
			v = []byte(e.value)
		}
		if err := p.Publish(t.Context(), name, []byte(e.key), v); err != nil {
			t.Fatalf("Publish: %v", err)
		}
	}
	s := newSource(t, kafkasource.Config{Brokers: brokers})
	got := readTopic(t, s, name)
	latest := map[string][]byte{}
	for _, m := range got {
		latest[string(m.Key)] = m.Value
	}
	if len(got) < 2 || string(latest["C1|self"]) != `{"status":"revoked"}` {
		t.Fatalf("read %d events, latest C1|self = %q, want the revocation", len(got), latest["C1|self"])
	}
	if v, ok := latest["C2|partner:a"]; !ok || v != nil {
		t.Fatalf("latest C2|partner:a = %q (present %v), want a tombstone (nil value)", v, ok)
	}
	// Events of one key keep their order (one partition per key).
	var c1 []string
	for _, m := range got {
		if string(m.Key) == "C1|self" {
			c1 = append(c1, string(m.Value))
		}
	}
	if len(c1) == 2 && c1[0] != `{"status":"granted"}` {
		t.Fatalf("C1|self events out of order: %v", c1)
	}
}

// assertCompacted checks the topic's cleanup.policy on the broker.
func assertCompacted(t *testing.T, brokers []string, name string) {
	t.Helper()
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	c := &kafka.Client{Addr: kafka.TCP(brokers...), Transport: tr, Timeout: 10 * time.Second}
	res, err := c.DescribeConfigs(t.Context(), &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{{
		ResourceType: kafka.ResourceTypeTopic, ResourceName: name, ConfigNames: []string{"cleanup.policy"}}}})
	if err != nil {
		t.Fatalf("describe configs: %v", err)
	}
	for _, r := range res.Resources {
		for _, e := range r.ConfigEntries {
			if e.ConfigName == "cleanup.policy" && e.ConfigValue == "compact" {
				return
			}
		}
	}
	t.Fatalf("topic %s is not compacted: %+v", name, res.Resources)
}

func TestReadTopicOfAMissingTopicIsErrTopicNotFound(t *testing.T) {
	brokers := testbench.Kafka(t)
	name := testbench.UniqueName(t, "missing")
	s := newSource(t, kafkasource.Config{Brokers: brokers})
	for range 2 { // asking does not create it
		err := s.ReadTopic(t.Context(), name, func(kafkasource.Message) error { return nil })
		if !errors.Is(err, kafkasource.ErrTopicNotFound) || !strings.Contains(err.Error(), name) {
			t.Fatalf("ReadTopic = %v, want ErrTopicNotFound naming the topic", err)
		}
	}

	t.Run("a topic created after the first look is found", func(t *testing.T) {
		testbench.CreateTopic(t, brokers, name, 2)
		produce(t, brokers, name, to(1), kafka.Message{Value: []byte("v")})
		var got []kafkasource.Message
		if err := s.ReadTopic(t.Context(), name, func(m kafkasource.Message) error {
			got = append(got, m)
			return nil
		}); err != nil {
			t.Fatalf("ReadTopic: %v", err)
		}
		if len(got) != 1 || got[0].Partition != 1 {
			t.Fatalf("read %+v, want the one record on partition 1", got)
		}
	})
}

func TestEnsureTopicsCreatesMissingTopicsAndLeavesExistingOnes(t *testing.T) {
	brokers := testbench.Kafka(t)
	existing := topic(t, brokers, 2)
	fresh := testbench.UniqueName(t, "fresh")
	specs := []kafkasource.TopicSpec{{Name: existing, Partitions: 5}, {Name: fresh, Partitions: 3}}
	for range 2 {
		if err := kafkasource.EnsureTopics(t.Context(), brokers, specs...); err != nil {
			t.Fatalf("EnsureTopics: %v", err)
		}
	}
	for name, want := range map[string]int{existing: 2, fresh: 3} {
		s2 := newSource(t, kafkasource.Config{Brokers: brokers, Topic: name})
		snap, err := s2.Plan(t.Context(), "", time.Time{})
		if err != nil {
			t.Fatalf("Plan %s: %v", name, err)
		}
		if len(snap.Ranges) != want {
			t.Fatalf("topic %s has %d partitions, want %d", name, len(snap.Ranges), want)
		}
	}
	if err := kafkasource.EnsureTopics(t.Context(), brokers, kafkasource.TopicSpec{Name: ""}); err == nil {
		t.Fatal("EnsureTopics accepted a topic without a name")
	}
}
