package pipeline_test

import (
	"fmt"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/midata/midata/pipeline/seed"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/schemas/release"
	"github.com/midata/midata/schemas/synth"
)

// BenchmarkReleaseOfOneCustomer makes releases of 250,000, 1,000,000 and
// 2,000,000 rows (one customer, midata CSV and NDJSON, end to end: Kafka,
// decode, filter, sort, encode, upload) and reports rows/s, the peak heap
// (live and not yet collected objects) and the peak live heap (as measured at
// each GC), to show memory does not grow with the size of a release.
//
//	go test ./pipeline -run '^$' -bench ReleaseOfOneCustomer -benchtime 1x
func BenchmarkReleaseOfOneCustomer(b *testing.B) {
	for _, rows := range []int{250_000, 1_000_000, 2_000_000} {
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			saved := spillRecords
			spillRecords = 0 // the default
			b.Cleanup(func() { spillRecords = saved })
			bn := newBench(b, 1)
			seedRows(b, bn, rows)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r := bn.runner(b, "murmur2", nil)
				stop := sampleHeap()
				start := time.Now()
				res, err := r.Release(b.Context(), request("C000001"))
				peak, live := stop()
				if err != nil {
					b.Fatal(err)
				}
				if res.Stats.Released < int64(rows)*9/10 || res.Status != release.StatusCommitted {
					b.Fatalf("%s: released %d of %d", res.Status, res.Stats.Released, rows)
				}
				b.ReportMetric(float64(rows)/time.Since(start).Seconds(), "rows/s")
				b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
				b.ReportMetric(float64(live)/(1<<20), "peak-live-MiB")
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
	if _, err := seed.Produce(b.Context(), topics.Connection{Brokers: bn.brokers}, cfg, nil); err != nil {
		b.Fatal(err)
	}
	produce(b, bn.brokers, bn.consent, &kafka.Hash{}, consentEvent("K-bench", "C000001", "self", "granted", "transactions,balances,merchant"))
}

// sampleHeap samples the heap every 10ms until the returned func is called,
// which returns the peaks in bytes of heap objects and of the live heap.
func sampleHeap() func() (uint64, uint64) {
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/heap/live:bytes"}}
	var peak, live uint64
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
			live = max(live, sample[1].Value.Uint64())
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() (uint64, uint64) { close(done); wg.Wait(); return peak, live }
}
