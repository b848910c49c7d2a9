package release

import (
	"fmt"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/midata/midata/schemas"
)

// BenchmarkEncodeParquet encodes the fixtures round and round, like
// BenchmarkEncodeCSV, with every category granted; one op is one row. MB/s
// is the Parquet written (the fixtures repeat, so it compresses far better
// than real data: see BenchmarkParquetPeakHeap for that).
//
//	go test ./schemas/release -run '^$' -bench 'Encode(CSV|Parquet)$'
func BenchmarkEncodeParquet(b *testing.B) {
	recs := inOrder(fixtures(b), Parquet.Order)
	b.ReportAllocs()
	var w countingWriter
	enc := Parquet.New(&w, Options{Granted: schemas.AllCategories})
	i := 0
	for b.Loop() {
		if err := enc.Encode(&recs[i]); err != nil {
			b.Fatal(err)
		}
		if i++; i == len(recs) {
			i = 0
		}
	}
	if err := enc.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(w.n)/1e6/b.Elapsed().Seconds(), "MB/s")
}

// BenchmarkParquetPeakHeap encodes 1 and 5 million varied records (each
// with its own id, time and amount, made as they are encoded) with every
// category granted, and reports the peak live heap: it must stay under
// 128 MiB and be the same for both sizes, as a row group is the most the
// encoder holds. rows/s includes making the records. Run it once:
//
//	go test ./schemas/release -run '^$' -bench ParquetPeakHeap -benchtime 1x
func BenchmarkParquetPeakHeap(b *testing.B) {
	fx := inOrder(fixtures(b), Parquet.Order)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, rows := range []int{1_000_000, 5_000_000} {
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				runtime.GC()
				peak := sampleHeapPeak()
				began := time.Now()
				var w countingWriter
				enc := Parquet.New(&w, Options{Granted: schemas.AllCategories})
				for i := range rows {
					r := variedRecord(&fx[i%len(fx)], i, start)
					if err := enc.Encode(&r); err != nil {
						b.Fatal(err)
					}
				}
				if err := enc.Close(); err != nil {
					b.Fatal(err)
				}
				took := time.Since(began)
				b.ReportMetric(float64(peak())/(1<<20), "peak-heap-MiB")
				b.ReportMetric(float64(rows)/took.Seconds(), "rows/s")
				b.ReportMetric(float64(w.n)/float64(rows), "B/row")
			}
		})
	}
}

// sampleHeapPeak samples the bytes of live heap objects every 5 ms until
// the returned function is called, which returns the highest value seen.
func sampleHeapPeak() func() uint64 {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var (
		peak uint64
		wg   sync.WaitGroup
		done = make(chan struct{})
	)
	wg.Go(func() {
		tick := time.NewTicker(5 * time.Millisecond)
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
	})
	return func() uint64 { close(done); wg.Wait(); return peak }
}
