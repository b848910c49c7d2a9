package spill

import (
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/midata/midata/schemas"
)

// BenchmarkSort sorts a release's worth of records through the spill files
// and reports records/s and the peak live heap. The sizes share the
// in-memory limits (DefaultMaxBytes): memory must follow the limit, not
// the total, so their peaks should be close while the totals differ
// tenfold and more.
func BenchmarkSort(b *testing.B) {
	for _, bc := range []struct {
		name        string
		n, maxInMem int
	}{
		{"20k records all in memory", 20_000, 0},
		{"400k records", 400_000, 0},
		{"4M records", 4_000_000, 0},
	} {
		b.Run(bc.name, func(b *testing.B) {
			dir := b.TempDir()
			b.ReportAllocs()
			runtime.GC()
			peak := sampleHeap(b)
			for b.Loop() {
				s := New(dir, byTimeAndID, bc.maxInMem)
				gen := newGenerator(int64(bc.n))
				var rec schemas.Transaction
				for range bc.n {
					gen.next(&rec)
					if err := s.Add(&rec); err != nil {
						b.Fatal(err)
					}
				}
				it, err := s.Sort()
				if err != nil {
					b.Fatal(err)
				}
				n := 0
				for it.Next() {
					n++
				}
				if err := it.Err(); err != nil {
					b.Fatal(err)
				}
				if err := it.Close(); err != nil {
					b.Fatal(err)
				}
				if n != bc.n {
					b.Fatalf("sorted %d records, want %d", n, bc.n)
				}
			}
			b.ReportMetric(float64(b.N*bc.n)/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(peak())/(1<<20), "peak-heap-MiB")
		})
	}
}

// sampleHeap samples the bytes of live heap objects every millisecond until
// the returned function is called, which returns the highest value seen.
func sampleHeap(b *testing.B) func() uint64 {
	const name = "/memory/classes/heap/objects:bytes"
	var (
		wg   sync.WaitGroup
		stop = make(chan struct{})
		max  uint64
	)
	wg.Go(func() {
		sample := []metrics.Sample{{Name: name}}
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(sample)
			max = maxOf(max, sample[0].Value.Uint64())
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	})
	var once sync.Once
	result := func() uint64 {
		once.Do(func() { close(stop); wg.Wait() })
		return max
	}
	b.Cleanup(func() { result() })
	return result
}

func maxOf(a, b uint64) uint64 { return max(a, b) }

// generator makes realistic records in a shuffled booking order: about a
// customer's year of card payments, published late.
type generator struct {
	r     *rand.Rand
	i     int64
	base  time.Time
	descs []string
}

func newGenerator(n int64) *generator {
	return &generator{
		r:    rand.New(rand.NewPCG(1, uint64(n))),
		base: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		descs: []string{"TESCO STORES 1234", "SAINSBURYS S/MKT", "TFL TRAVEL CH", "AMAZON.CO.UK*AB12CD",
			"Café Müller, Köln", "SALARY ACME LTD", "NETFLIX.COM", "BROADBAND LTD"},
	}
}

// next fills t with the next record; its strings are fresh, like decoded ones.
func (g *generator) next(t *schemas.Transaction) {
	g.i++
	cust := g.r.IntN(1000)
	*t = schemas.Transaction{
		TransactionID: "T" + strconv.FormatInt(g.i, 10),
		CustomerID:    "C" + strconv.Itoa(cust),
		AccountID:     "A" + strconv.Itoa(cust) + "-1",
		BookedAt:      g.base.Add(time.Duration(g.r.Int64N(int64(365 * 24 * time.Hour)))),
		Amount:        schemas.Decimal{Units: g.r.Int64N(20000) - 15000, Scale: 2, Text: "-12.34"},
		Currency:      "GBP",
		Status:        schemas.StatusBooked,
		Type:          "POS",
		Description:   g.descs[g.r.IntN(len(g.descs))],
		MerchantName:  "Tesco",
		MerchantCode:  "5411",
		BalanceAfter:  schemas.Decimal{Units: 123456, Scale: 2, Text: "1234.56"},
		HasBalance:    true,
		Partition:     int(g.i % 12),
		Offset:        g.i,
	}
}
