package kafkasource_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/segmentio/kafka-go"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/pipeline/kafkasource"
	"github.com/midata/midata/pipeline/topics"
)

const partitions = 4

// seedCustomers writes perCustomer records for each of customers C0..C<n-1>
// with balancer b and returns how many records each customer has.
func seedCustomers(t *testing.T, brokers []string, name string, b kafka.Balancer, customers, perCustomer int) {
	t.Helper()
	var msgs []kafka.Message
	for i := range perCustomer {
		for c := range customers {
			msgs = append(msgs, kafka.Message{Key: fmt.Appendf(nil, "C%d", c), Value: fmt.Appendf(nil, `{"n":%d}`, i), Time: t0})
		}
	}
	produce(t, brokers, name, b, msgs...)
}

func count(t *testing.T, s *kafkasource.Source, snap kafkasource.Snapshot, customer string) (mine, all int) {
	t.Helper()
	for _, m := range readAll(t, s, snap) {
		all++
		if string(m.Key) == customer {
			mine++
		}
	}
	return mine, all
}

func TestPlanPrunesToTheCustomersPartitionWhenThePartitionerMatches(t *testing.T) {
	brokers := testbench.Kafka(t)
	for _, tt := range []struct {
		partitioner string
		balancer    kafka.Balancer
	}{
		{"murmur2", kafka.Murmur2Balancer{}},
		{"crc32", kafka.CRC32Balancer{}},
		{"fnv1a", &kafka.Hash{}},
	} {
		t.Run(tt.partitioner, func(t *testing.T) {
			name := topic(t, brokers, partitions)
			seedCustomers(t, brokers, name, tt.balancer, 40, 5)
			logs := &logBuffer{}
			s := newSource(t, kafkasource.Config{Kafka: topics.Connection{Brokers: brokers}, Topic: name, Partitioner: tt.partitioner, Logger: logs.logger()})

			snap, err := s.Plan(t.Context(), "C7", t0)
			if err != nil {
				t.Fatalf("Plan: %v", err)
			}
			b, _ := kafkasource.PartitionerByName(tt.partitioner)
			want := kafkasource.PartitionFor(b, "C7", partitions)
			if !snap.Pruned || len(snap.Ranges) != 1 || snap.Ranges[0].Partition != want || snap.Partitioner != tt.partitioner {
				t.Fatalf("snapshot = %+v, want pruned to partition %d with %s", snap, want, tt.partitioner)
			}
			mine, all := count(t, s, snap, "C7")
			if mine != 5 || all >= 200 {
				t.Fatalf("read %d of C7's records out of %d, want all 5 from one partition (of 200)", mine, all)
			}
			if l := logs.lines(`"level":"WARN"`); len(l) != 0 {
				t.Fatalf("warnings logged for a matching partitioner: %v", l)
			}
		})
	}
}

func TestPlanReadsEveryPartitionWhenThePartitionerDoesNotMatch(t *testing.T) {
	brokers := testbench.Kafka(t)
	for _, tt := range []struct {
		name       string
		configured string
		written    kafka.Balancer
	}{
		{"crc32 data read as murmur2", "murmur2", kafka.CRC32Balancer{}},
		{"fnv1a data read as murmur2", "murmur2", &kafka.Hash{}},
		{"murmur2 data read as crc32", "crc32", kafka.Murmur2Balancer{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			name := topic(t, brokers, partitions)
			seedCustomers(t, brokers, name, tt.written, 40, 5)
			logs := &logBuffer{}
			s := newSource(t, kafkasource.Config{Kafka: topics.Connection{Brokers: brokers}, Topic: name, Partitioner: tt.configured, Logger: logs.logger()})

			snap, err := s.Plan(t.Context(), "C7", t0)
			if err != nil {
				t.Fatalf("Plan: %v", err)
			}
			if snap.Pruned || len(snap.Ranges) != partitions {
				t.Fatalf("snapshot = %+v, want all %d partitions, not pruned", snap, partitions)
			}
			if mine, all := count(t, s, snap, "C7"); mine != 5 || all != 200 {
				t.Fatalf("read %d of C7's 5 records, %d of 200 in all", mine, all)
			}
			warns := logs.lines(`"level":"WARN"`, `"topic":"`+name+`"`, `"partitioner":"`+tt.configured+`"`, `"mismatched":`, `"partition":`)
			if len(warns) == 0 {
				t.Fatalf("no warning with topic, partition, partitioner and mismatch count; log:\n%s", logs)
			}
			for _, l := range warns {
				if strings.Contains(l, `{\"n\"`) || strings.Contains(l, `"C7"`) {
					t.Fatalf("warning carries record contents: %s", l)
				}
			}
		})
	}
}

func TestPlanSamplesTheTailOfAPartitionToo(t *testing.T) {
	// The partitioner changed on the producers' side: the head of every
	// partition matches murmur2, the newest records do not.
	brokers := testbench.Kafka(t)
	name := topic(t, brokers, partitions)
	seedCustomers(t, brokers, name, kafka.Murmur2Balancer{}, 40, 5)
	seedCustomers(t, brokers, name, kafka.CRC32Balancer{}, 40, 1)
	logs := &logBuffer{}
	s := newSource(t, kafkasource.Config{Kafka: topics.Connection{Brokers: brokers}, Topic: name, Logger: logs.logger(), SampleSize: 8})
	snap, err := s.Plan(t.Context(), "C7", t0)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Pruned {
		t.Fatalf("snapshot = %+v: pruned although the newest records are crc32-placed", snap)
	}
	if mine, _ := count(t, s, snap, "C7"); mine != 6 {
		t.Fatalf("read %d of C7's 6 records", mine)
	}
}
