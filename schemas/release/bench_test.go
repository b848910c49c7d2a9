package release

import (
	"testing"

	"github.com/midata/midata/schemas"
)

func BenchmarkEncodeMidataCSV(b *testing.B) { benchmarkEncode(b, MidataCSV) }

func BenchmarkEncodeNDJSON(b *testing.B) { benchmarkEncode(b, NDJSON) }

// BenchmarkEncodeCSV is the baseline the other encoders are compared with.
func BenchmarkEncodeCSV(b *testing.B) { benchmarkEncode(b, CSV) }

func BenchmarkEncodeJSON(b *testing.B) { benchmarkEncode(b, JSON) }

// benchmarkEncode encodes the fixtures round and round with every category
// granted; one op is one row.
func benchmarkEncode(b *testing.B, f Format) {
	recs := inOrder(fixtures(b), f.Order)
	perRound := len(encodeAll(b, f, schemas.AllCategories, recs))
	b.SetBytes(int64(perRound / len(recs))) // mean row size, for MB/s
	b.ReportAllocs()
	enc := f.New(discard{}, Options{Granted: schemas.AllCategories})
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
