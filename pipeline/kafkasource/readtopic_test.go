package kafkasource_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/pipeline/kafkasource"
	"github.com/midata/midata/pipeline/topics"
)

func newProducer(t *testing.T, brokers []string) *topics.Producer {
	t.Helper()
	p := topics.NewProducer(topics.Connection{Brokers: brokers}, nil)
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Producer.Close: %v", err)
		}
	})
	return p
}

// readTopic returns every record of a topic.
func readTopic(t *testing.T, s *kafkasource.Source, topic string) []topics.Message {
	t.Helper()
	var got []topics.Message
	if err := s.ReadTopic(t.Context(), topic, func(m topics.Message) error {
		got = append(got, m)
		return nil
	}); err != nil {
		t.Fatalf("ReadTopic(%s): %v", topic, err)
	}
	return got
}

func TestReadTopicReadsACompactedTopicWithTombstones(t *testing.T) {
	brokers := testbench.Kafka(t)
	name := testbench.UniqueName(t, "consent")
	if err := topics.Ensure(t.Context(), topics.Connection{Brokers: brokers}, topics.ConsentSpec(name)); err != nil {
		t.Fatalf("Ensure: %v", err)
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
	s := newSource(t, kafkasource.Config{Kafka: topics.Connection{Brokers: brokers}})
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
	s := newSource(t, kafkasource.Config{Kafka: topics.Connection{Brokers: brokers}})
	for range 2 { // asking does not create it
		err := s.ReadTopic(t.Context(), name, func(topics.Message) error { return nil })
		if !errors.Is(err, kafkasource.ErrTopicNotFound) || !strings.Contains(err.Error(), name) {
			t.Fatalf("ReadTopic = %v, want ErrTopicNotFound naming the topic", err)
		}
	}

	t.Run("a topic created after the first look is found", func(t *testing.T) {
		testbench.CreateTopic(t, brokers, name, 2)
		produce(t, brokers, name, to(1), kafka.Message{Value: []byte("v")})
		var got []topics.Message
		if err := s.ReadTopic(t.Context(), name, func(m topics.Message) error {
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
