package release

import (
	"fmt"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/midata/midata/schemas"
	"github.com/midata/midata/schemas/release/format/formattest"
)

func BenchmarkEncodeMidataCSV(b *testing.B) { benchmarkEncode(b, MidataCSV) }

func BenchmarkEncodeNDJSON(b *testing.B) { benchmarkEncode(b, NDJSON) }

// BenchmarkEncodeCSV is the baseline the other encoders are compared with.
func BenchmarkEncodeCSV(b *testing.B) { benchmarkEncode(b, CSV) }

func BenchmarkEncodeJSON(b *testing.B) { benchmarkEncode(b, JSON) }

// benchmarkEncode encodes the fixtures round and round with every category
// granted; one op is one row.
func benchmarkEncode(b *testing.B, f Format) {
	recs := formattest.InOrder(formattest.Fixtures(b), f.Order)
	perRound := len(formattest.EncodeAll(b, f, schemas.AllCategories, recs))
	b.SetBytes(int64(perRound / len(recs))) // mean row size, for MB/s
	b.ReportAllocs()
	enc := f.New(formattest.Discard{}, Options{Granted: schemas.AllCategories})
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
}

// BenchmarkEncodePeakHeap encodes 1 million varied records (each with its
// own id, time and amount, made as they are encoded) in every format, and 5
// million in Parquet, with every category granted, and reports the peak
// heap: no encoder may hold more as the release grows (Parquet holds one row
// group at most, the summary a few sums per month and category, the text
// formats a write buffer). rows/s includes making the records. Run it once:
//
//	go test ./schemas/release -run '^$' -bench EncodePeakHeap -benchtime 1x
func BenchmarkEncodePeakHeap(b *testing.B) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, name := range Names() {
		f, _ := Lookup(name)
		fx := formattest.InOrder(formattest.Fixtures(b), f.Order)
		sizes := []int{1_000_000}
		if f.Name == Parquet.Name {
			sizes = append(sizes, 5_000_000)
		}
		for _, rows := range sizes {
			b.Run(fmt.Sprintf("format=%s/rows=%d", name, rows), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					runtime.GC()
					peak := sampleHeapPeak()
					began := time.Now()
					var w formattest.CountingWriter
					enc := f.New(&w, Options{Granted: schemas.AllCategories})
					for i := range rows {
						r := formattest.VariedRecord(&fx[i%len(fx)], i, start)
						if f.Name == Summary.Name {
							// The fixtures' extreme amounts, a million times
							// over, overflow any int64 sum: use everyday ones.
							r.Amount = schemas.Decimal{Units: int64(i%20000 - 10000), Scale: 2}
							r.Currency = "GBP"
						}
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
					b.ReportMetric(float64(w.N)/float64(rows), "B/row")
				}
			})
		}
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
