package consent

import (
	"context"
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/pipeline/kafkasource"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/schemas"
)

// benchKeys is the size of the benchmarked consent state.
const benchKeys = 1_000_000

// events holds the benchmark's records in one buffer, so the collector
// has no pointers of theirs to scan while the state is built.
type events struct {
	buf  []byte
	recs []struct{ key, value, end int32 }
}

func (e *events) len() int { return len(e.recs) }

// at returns record i, sharing the buffer.
func (e *events) at(i int) topics.Message {
	r := e.recs[i]
	return topics.Message{Partition: i % 3, Offset: int64(i / 3), Key: e.buf[r.key:r.value:r.value], Value: e.buf[r.value:r.end:r.end]}
}

// benchEvents returns n consent events of realistic shape: keys like
// C000123|partner:pds-one over three recipients, categories, a window and
// an expiry.
func benchEvents(n int) *events {
	recipients := []string{"partner:pds-one", "partner:pds-two", "self"}
	cats := []string{`["transactions"]`, `["transactions","merchant"]`, `["transactions","balances","merchant"]`}
	out := &events{recs: make([]struct{ key, value, end int32 }, n), buf: make([]byte, 0, n*400)}
	for i := range n {
		customer, recipient := fmt.Sprintf("C%06d", i), recipients[i%len(recipients)]
		r := &out.recs[i]
		r.key = int32(len(out.buf))
		out.buf = append(out.buf, customer+"|"+recipient...)
		r.value = int32(len(out.buf))
		out.buf = fmt.Appendf(out.buf, `{"consent_id":"K-%06d","customer_id":%q,"recipient":%q,"status":"granted","categories":%s,"window_from":"2025-01-01T00:00:00Z","window_to":"2027-01-01T00:00:00Z","expires_at":"2026-12-31T23:59:59Z","event_time":"2026-01-15T12:%02d:%02dZ"}`,
			i, customer, recipient, cats[i%len(cats)], i/60%60, i%60)
		r.end = int32(len(out.buf))
	}
	return out
}

// heap returns the live heap after a collection.
func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// cpu returns the CPU time the process has used.
func cpu() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// report reports the build rate (by the clock, and per second of CPU, which
// a machine shared with other work does not skew) and the heap per key of
// one build.
func report(b *testing.B, keys int, took, cpuTook time.Duration, before, after uint64) {
	b.ReportMetric(float64(keys)/took.Seconds(), "keys/s")
	b.ReportMetric(float64(keys)/cpuTook.Seconds(), "keys/cpu-s")
	b.ReportMetric(float64(int64(after)-int64(before))/float64(keys), "B/key")
	b.ReportMetric(0, "ns/op") // one op is one build of every key: keys/s says it
}

// BenchmarkConsentView measures the consent view against the Table it
// replaced, in the same run: bytes per key (Go heap after GC, keys and
// everything they hold included) and keys applied per second, for the
// in-memory apply path (decode and store) and for a build from the real
// Kafka of the bench (1,000,000 events produced once).
//
//	go test ./pipeline/consent -run '^$' -bench ConsentView -benchtime 1x
func BenchmarkConsentView(b *testing.B) {
	events := benchEvents(benchKeys)
	b.Run("apply/table", func(b *testing.B) {
		for b.Loop() {
			before := heap()
			start, cpuStart := time.Now(), cpu()
			t := NewTable()
			for i := range events.len() {
				m := events.at(i)
				ev, tombstone, err := schemas.DecodeConsentEvent(m.Key, m.Value)
				if err != nil {
					b.Fatal(err)
				}
				ev.Partition, ev.Offset = m.Partition, m.Offset
				t.Apply(ev, tombstone)
			}
			took, cpuTook := time.Since(start), cpu()-cpuStart
			report(b, benchKeys, took, cpuTook, before, heap())
			runtime.KeepAlive(t)
		}
	})
	b.Run("apply/view", func(b *testing.B) {
		for b.Loop() {
			before := heap()
			start, cpuStart := time.Now(), cpu()
			s := newStore()
			for i := range events.len() {
				m := events.at(i)
				st, err := decodeState(m)
				if err != nil {
					b.Fatal(err)
				}
				s.Put(m, st)
			}
			took, cpuTook := time.Since(start), cpu()-cpuStart
			report(b, benchKeys, took, cpuTook, before, heap())
			if s.Len() != benchKeys {
				b.Fatalf("%d keys", s.Len())
			}
			runtime.KeepAlive(s)
		}
	})

	var topic string
	var conn topics.Connection
	produced := func(b *testing.B) {
		if topic != "" {
			return
		}
		conn = topics.Connection{Brokers: testbench.Kafka(b)}
		name := testbench.UniqueName(b, "bench-consent")
		testbench.CreateTopic(b, conn.Brokers, name, 3)
		w := &kafka.Writer{Addr: conn.Addr(), Topic: name, Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll,
			BatchSize: 2000, BatchBytes: 900_000, BatchTimeout: 10 * time.Millisecond, Transport: conn.Transport()}
		defer w.Close()
		msgs := make([]kafka.Message, 0, 50_000)
		for i := range events.len() {
			m := events.at(i)
			msgs = append(msgs, kafka.Message{Key: m.Key, Value: m.Value})
			if len(msgs) == cap(msgs) || i == events.len()-1 {
				if err := w.WriteMessages(context.Background(), msgs...); err != nil {
					b.Fatalf("produce consent events: %.300v", err)
				}
				msgs = msgs[:0]
			}
		}
		topic = name
	}
	b.Run("kafka/table", func(b *testing.B) {
		produced(b)
		src, err := kafkasource.New(kafkasource.Config{Kafka: conn, Topic: topic})
		if err != nil {
			b.Fatal(err)
		}
		defer src.Close()
		for b.Loop() {
			before := heap()
			start, cpuStart := time.Now(), cpu()
			t := NewTable()
			err := src.ReadTopic(b.Context(), topic, func(m topics.Message) error {
				ev, tombstone, err := schemas.DecodeConsentEvent(m.Key, m.Value)
				if err != nil {
					return err
				}
				ev.Partition, ev.Offset = m.Partition, m.Offset
				t.Apply(ev, tombstone)
				return nil
			})
			if err != nil || t.Len() != benchKeys {
				b.Fatalf("read %d keys: %v", t.Len(), err)
			}
			took, cpuTook := time.Since(start), cpu()-cpuStart
			report(b, benchKeys, took, cpuTook, before, heap())
			runtime.KeepAlive(t)
		}
	})
	b.Run("kafka/view", func(b *testing.B) {
		produced(b)
		for b.Loop() {
			before := heap()
			start, cpuStart := time.Now(), cpu()
			v, err := OpenView(b.Context(), ViewConfig{Kafka: conn, Topic: topic, Quarantine: nopQuarantine{}})
			if err != nil {
				b.Fatal(err)
			}
			if err := v.Sync(b.Context()); err != nil {
				b.Fatal(err)
			}
			took, cpuTook := time.Since(start), cpu()-cpuStart
			if err := v.Close(); err != nil { // the readers' buffers go: what stays is the state
				b.Fatal(err)
			}
			if v.Len() != benchKeys {
				b.Fatalf("%d keys", v.Len())
			}
			report(b, benchKeys, took, cpuTook, before, heap())
			runtime.KeepAlive(v)
		}
	})
}

// nopQuarantine quarantines nothing: the benchmark's events are valid.
type nopQuarantine struct{}

func (nopQuarantine) Quarantine(context.Context, string, topics.Message, string, string) error {
	return nil
}
func (nopQuarantine) Flush(context.Context) error { return nil }
