package pipeline_test

import (
	"fmt"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/midata/midata/pipeline"
)

// BenchmarkReleaseOfOneCustomer makes a release of 100,000 and of 1,000,000
// rows (one customer, midata CSV and NDJSON) and reports rows/s and the peak
// live heap, to show memory does not grow with the size of a release.
//
//	go test ./pipeline -run '^$' -bench ReleaseOfOneCustomer -benchtime 1x
func BenchmarkReleaseOfOneCustomer(b *testing.B) {
	for _, rows := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			spillRecords = 0 // the default
			bn := newBench(b, 1)
			seedRows(b, bn, rows)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r := bn.runner(b, "murmur2", nil)
				stop := sampleHeap()
				start := time.Now()
				res, err := r.Run(b.Context(), request("C1"))
				peak := stop()
				if err != nil {
					b.Fatal(err)
				}
				if res.Stats.Released != int64(rows) && res.Status != pipeline.StatusAlreadyCommitted {
					b.Fatalf("released %d of %d", res.Stats.Released, rows)
				}
				b.ReportMetric(float64(rows)/time.Since(start).Seconds(), "rows/s")
				b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
			}
		})
	}
}

// seedRows writes rows booked transactions of C1 in the period, and C1's consent.
func seedRows(b *testing.B, bn *bench, rows int) {
	w := &kafka.Writer{Addr: kafka.TCP(bn.brokers...), Topic: bn.topic, Balancer: kafka.Murmur2Balancer{},
		BatchSize: 5000, BatchBytes: 8 << 20, BatchTimeout: 5 * time.Millisecond, RequiredAcks: kafka.RequireAll, Transport: &kafka.Transport{}}
	defer w.Close()
	span := to.Sub(from)
	batch := make([]kafka.Message, 0, 5000)
	for i := 0; i < rows; i++ {
		booked := from.Add(time.Duration(int64(span) / int64(rows) * int64(i)))
		x := tx{id: fmt.Sprintf("T%09d", i), customer: "C1", booked: booked.Format(time.RFC3339), amount: fmt.Sprintf("-%d.%02d", i%500, i%100)}
		batch = append(batch, x.message())
		if len(batch) == cap(batch) || i == rows-1 {
			if err := w.WriteMessages(b.Context(), batch...); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	w2 := &kafka.Writer{Addr: kafka.TCP(bn.brokers...), Topic: bn.consent, Balancer: &kafka.Hash{}, BatchTimeout: time.Millisecond, Transport: &kafka.Transport{}}
	defer w2.Close()
	if err := w2.WriteMessages(b.Context(), consentEvent("K-1", "C1", "self", "granted", "transactions,balances,merchant")); err != nil {
		b.Fatal(err)
	}
}

// sampleHeap samples the live heap every 10ms until the returned func is
// called, which returns the peak in bytes.
func sampleHeap() func() uint64 {
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak uint64
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(sample)
			peak = max(peak, sample[0].Value.Uint64())
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 { close(done); wg.Wait(); return peak }
}
