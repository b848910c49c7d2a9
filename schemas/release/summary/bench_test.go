package summary

import (
	"fmt"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/midata/midata/schemas"
	"github.com/midata/midata/schemas/release/format"
	"github.com/midata/midata/schemas/release/format/formattest"
)

// summaryRows returns a pool of records that a benchmark cycles through,
// as a stream of rows would look: a year of bookings spread over every UK
// month of 2026, three currencies, every spending group, money in and out.
// Cycling a fixed pool keeps the row generator out of the measurement.
func summaryRows(t testing.TB) ([]schemas.Transaction, format.Options) {
	t.Helper()
	o := format.Options{
		Granted:    schemas.AllCategories,
		CustomerID: "C000123",
		Recipient:  schemas.RecipientSelf,
		From:       time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		To:         time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	amounts := []string{"-12.34", "1000.00", "-0.01", "-7.50", "250", "-99.99", "0", "-1234.56"}
	currencies := []string{"GBP", "GBP", "GBP", "GBP", "GBP", "EUR", "EUR", "JPY"}
	codes := []string{"5411", "5812", "4111", "3001", "5651", "4900", "7832", "8011", "6011", "1234", ""}
	const n = 4096
	recs := make([]schemas.Transaction, n)
	span := o.To.Sub(o.From)
	for i := range recs {
		cur := currencies[i%len(currencies)]
		amt := amounts[i%len(amounts)]
		if cur == "JPY" {
			amt = "-1500"
		}
		recs[i] = schemas.Transaction{
			TransactionID: fmt.Sprintf("T%06d", i), CustomerID: o.CustomerID, AccountID: "A1",
			BookedAt: o.From.Add(span / n * time.Duration(i)), Amount: formattest.MustDecimal(t, amt), Currency: cur,
			Status: schemas.StatusBooked, Type: "POS", Description: "SHOP",
			MerchantName: "Shop", MerchantCode: codes[i%len(codes)],
		}
	}
	return recs, o
}

// heapObjects reads the bytes of live and not yet swept heap objects.
func heapObjects(s []metrics.Sample) uint64 {
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// BenchmarkSummary makes the html summary of 100,000 and of 1,000,000 rows
// in one pass each; one op is one whole release. It reports rows/s and the
// peak heap above the start (sampled every 4,096 rows with runtime/metrics):
// the two peaks are about the same, because memory does not grow with rows.
func BenchmarkSummary(b *testing.B) {
	for _, rows := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			recs, o := summaryRows(b)
			sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
			b.ReportAllocs()
			var peak uint64
			for b.Loop() {
				runtime.GC()
				base := heapObjects(sample)
				enc := New(formattest.Discard{}, o)
				for i := range rows {
					if err := enc.Encode(&recs[i%len(recs)]); err != nil {
						b.Fatal(err)
					}
					if i%4096 == 0 {
						if h := heapObjects(sample); h > base && h-base > peak {
							peak = h - base
						}
					}
				}
				if err := enc.Close(); err != nil {
					b.Fatal(err)
				}
				if h := heapObjects(sample); h > base && h-base > peak {
					peak = h - base
				}
			}
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(peak), "peak-heap-B")
		})
	}
}

// TestSummaryMemoryDoesNotGrowWithRows feeds one encoder 10,000 rows, then
// 490,000 more, and checks the live heap after a GC grew by less than 64
// KiB: a leak of even 8 bytes a row would be 3.9 MB. Not parallel, so other
// tests' allocations do not blur the reading.
func TestSummaryMemoryDoesNotGrowWithRows(t *testing.T) {
	recs, o := summaryRows(t)
	enc := New(formattest.Discard{}, o)
	feed := func(n int) {
		for i := range n {
			if err := enc.Encode(&recs[i%len(recs)]); err != nil {
				t.Fatal(err)
			}
		}
	}
	live := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	feed(10_000)
	before := live()
	feed(490_000)
	after := live()
	if after > before && after-before > 64<<10 {
		t.Errorf("live heap grew by %d bytes over 490,000 rows, want under 64 KiB", after-before)
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	runtime.KeepAlive(recs)
}
