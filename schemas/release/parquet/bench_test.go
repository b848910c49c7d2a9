package parquet

import (
	"testing"

	"github.com/midata/midata/schemas"
	"github.com/midata/midata/schemas/release/format"
	"github.com/midata/midata/schemas/release/format/formattest"
)

// BenchmarkEncodeParquet encodes the fixtures round and round, like
// schemas/release's BenchmarkEncodeCSV (the baseline), with every category
// granted; one op is one row. MB/s is the Parquet written (the fixtures
// repeat, so it compresses far better than real data: see
// schemas/release's BenchmarkEncodePeakHeap for that).
//
//	go test ./schemas/release/... -run '^$' -bench 'Encode(CSV|Parquet)$'
func BenchmarkEncodeParquet(b *testing.B) {
	recs := formattest.InOrder(formattest.Fixtures(b), Format.Order)
	b.ReportAllocs()
	var w formattest.CountingWriter
	enc := Format.New(&w, format.Options{Granted: schemas.AllCategories})
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
	b.ReportMetric(float64(w.N)/1e6/b.Elapsed().Seconds(), "MB/s")
}
