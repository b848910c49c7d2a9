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
	"github.com/midata/midata/pipeline/synth"
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
				res, err := r.Run(b.Context(), request("C000001"))
				peak := stop()
				if err != nil {
					b.Fatal(err)
				}
				if res.Stats.Released < int64(rows)*9/10 || res.Status != pipeline.StatusCommitted {
					b.Fatalf("%s: released %d of %d", res.Status, res.Stats.Released, rows)
				}
				b.ReportMetric(float64(rows)/time.Since(start).Seconds(), "rows/s")
				b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
			}
		})
	}
}

// seedRows writes a synthetic data set of one customer (C000001) with rows
// transactions in the period, and a self grant of every category.
func seedRows(b *testing.B, bn *bench, rows int) {
	cfg := synth.DefaultConfig()
	cfg.Customers, cfg.Transactions, cfg.Malformed = 1, rows, 0
	cfg.Start, cfg.End = from, to
	cfg.TransactionsTopic, cfg.ConsentTopic = bn.topic, bn.consent
	if _, err := synth.Produce(b.Context(), bn.brokers, cfg, nil); err != nil {
		b.Fatal(err)
	}
	produce(b, bn.brokers, bn.consent, &kafka.Hash{}, consentEvent("K-bench", "C000001", "self", "granted", "transactions,balances,merchant"))
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
