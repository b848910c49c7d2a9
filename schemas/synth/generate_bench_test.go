package synth_test

import (
	"runtime"
	"testing"

	"github.com/midata/midata/schemas/synth"
)

// BenchmarkGenerate streams a data set of 1,000,000 transactions per
// iteration and reports rows/s, bytes/s and the peak heap seen, which stays
// flat however many rows are generated.
func BenchmarkGenerate(b *testing.B) {
	cfg := synth.DefaultConfig()
	cfg.Transactions = 1_000_000
	b.ReportAllocs()
	var rows, bytes int
	var peak uint64
	var ms runtime.MemStats
	for b.Loop() {
		if err := synth.Generate(cfg, func(m synth.Message) error {
			rows++
			bytes += len(m.Value)
			if rows%100_000 == 0 {
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapAlloc)
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	secs := b.Elapsed().Seconds()
	b.ReportMetric(float64(rows)/secs, "rows/s")
	b.ReportMetric(float64(bytes)/secs/1e6, "MB/s")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
}
