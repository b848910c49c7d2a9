package release

import (
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/midata/midata/schemas"
)

// BenchmarkEncodeParquet encodes the fixtures round and round, like
// BenchmarkEncodeCSV, with every category granted; one op is one row. MB/s
// is the Parquet written (the fixtures repeat, so it compresses far better
// than real data: see BenchmarkEncodePeakHeap for that).
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
