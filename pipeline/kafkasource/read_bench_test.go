package kafkasource_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/pipeline/kafkasource"
	"github.com/midata/midata/pipeline/topics"
)

// BenchmarkRead reads a 4-partition topic of 40,000 transaction events
// (about 13 MB) from the bench broker (kfake without MIDATA_TEST_KAFKA),
// with the default fetch size and a small one, and with a callback that
// checks each value is JSON (about the cost of decoding it), which the
// fetching goroutine overlaps.
func BenchmarkRead(b *testing.B) {
	const records, parts = 40_000, 4
	brokers := testbench.Kafka(b)
	name := topic(b, brokers, parts)
	msgs := make([]kafka.Message, 0, records)
	var size int64
	for i := range records {
		c := i % 500
		v := fmt.Appendf(nil, `{"transaction_id":"T%06d-%05d","customer_id":"C%06d","account_id":"A%06d-1",`+
			`"booked_at":"2026-03-04T10:15:00Z","amount":"-12.34","currency":"GBP","status":"booked","type":"POS",`+
			`"description":"TESCO STORES %04d","merchant":{"name":"Tesco","category_code":"5411"},"balance_after":"1234.56"}`, c, i, c, c, i%10000)
		msgs = append(msgs, kafka.Message{Key: fmt.Appendf(nil, "C%06d", c), Value: v, Time: t0.Add(time.Duration(i) * time.Second)})
		size += int64(len(v)) + 7
	}
	for i := 0; i < len(msgs); i += 5000 {
		produce(b, brokers, name, kafka.Murmur2Balancer{}, msgs[i:min(i+5000, len(msgs))]...)
	}

	for _, bc := range []struct {
		maxBytes int
		work     func([]byte) bool
	}{
		{0, nil}, {1 << 20, nil}, {0, json.Valid},
	} {
		label := "fetch=default"
		if bc.maxBytes != 0 {
			label = fmt.Sprintf("fetch=%dKiB", bc.maxBytes>>10)
		}
		if bc.work != nil {
			label += "/json.Valid"
		}
		b.Run(label, func(b *testing.B) {
			s := newSource(b, kafkasource.Config{Kafka: topics.Connection{Brokers: brokers}, Topic: name, FetchMaxBytes: bc.maxBytes})
			snap, err := s.Plan(b.Context(), "", time.Time{})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				n := 0
				if err := s.Read(b.Context(), snap, func(m topics.Message) error {
					if n++; bc.work != nil && !bc.work(m.Value) {
						return errors.New("invalid JSON")
					}
					return nil
				}); err != nil {
					b.Fatal(err)
				}
				if n != records {
					b.Fatalf("read %d records, want %d", n, records)
				}
			}
			b.ReportMetric(float64(records)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
