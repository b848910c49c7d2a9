package spill

import (
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/midata/midata/schemas"
)

// withDescription returns recs with every description n bytes long.
func withDescription(recs []schemas.Transaction, n int) []schemas.Transaction {
	desc := strings.Repeat("d", n)
	for i := range recs {
		recs[i].Description = desc
	}
	return recs
}

// minSize is the least memory a buffered record can take: its struct and
// the bytes of its strings, which the caller's records must not share.
func minSize(t *schemas.Transaction) int64 {
	n := int64(reflect.TypeFor[schemas.Transaction]().Size())
	for _, s := range []string{t.TransactionID, t.CustomerID, t.AccountID, t.Currency, string(t.Status), t.Type,
		t.Description, t.MerchantName, t.MerchantCode, t.Amount.Text, t.BalanceAfter.Text} {
		n += int64(len(s))
	}
	return n
}

func TestRunsAreSizedByBytesNotRecordCount(t *testing.T) {
	t.Parallel()
	const limit = 256 << 10
	tests := []struct {
		name string
		desc int // bytes of each record's description
	}{
		{"short records", 10},
		{"records with the longest descriptions", 500},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			recs := withDescription(randomRecords(rand.New(rand.NewPCG(9, uint64(i))), 5000), tt.desc)
			s := New(t.TempDir(), byTimeAndID, 0) // the record limit (100,000) is never reached
			s.maxBytes = limit
			for j := range recs {
				if err := s.Add(&recs[j]); err != nil {
					t.Fatal(err)
				}
				if held := int64(cap(s.buf)) * int64(reflect.TypeFor[schemas.Transaction]().Size()); held > limit {
					t.Fatalf("after %d records the buffer's capacity takes %d bytes, over the limit of %d", j+1, held, limit)
				}
			}
			var total int64
			for j := range recs {
				total += minSize(&recs[j])
			}
			if len(s.runs) < int(total/limit) {
				t.Errorf("%d records of %d bytes in all made %d runs, want at least %d of at most %d bytes",
					len(recs), total, len(s.runs), total/limit, limit)
			}
			for j, r := range s.runs {
				if most := limit / minSize(&recs[0]); r.n > most {
					t.Errorf("run %d holds %d records, more than the %d of %d bytes that fit in %d", j, r.n, most, minSize(&recs[0]), limit)
				}
			}
			got := sorted(t, s)
			if d := firstDifference(got, stableSorted(recs, byTimeAndID)); d >= 0 {
				t.Fatalf("first difference at %d", d)
			}
		})
	}
}

func TestMergeOpensAtMostFanInRunFiles(t *testing.T) {
	t.Parallel()
	for _, fanIn := range []int{2, 4, 7} {
		recs := randomRecords(rand.New(rand.NewPCG(5, uint64(fanIn))), 2000)
		s := New(t.TempDir(), byBookedAt, 10) // 200 runs
		s.fanIn = fanIn
		got := sortAll(t, s, recs)
		if d := firstDifference(got, stableSorted(recs, byBookedAt)); d >= 0 {
			t.Fatalf("fan-in %d: first difference at %d", fanIn, d)
		}
		if s.files.peak > fanIn {
			t.Errorf("fan-in %d: %d run files were open at once", fanIn, s.files.peak)
		}
		if s.files.now != 0 {
			t.Errorf("fan-in %d: %d run files still open after Close", fanIn, s.files.now)
		}
	}
}

func TestMergePassesRewriteEachRecordAboutLogRunsTimes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		records, perRun, fanIn int
	}{
		{2000, 10, 4},   // 200 runs
		{3000, 10, 32},  // 300 runs
		{320, 10, 32},   // 32 runs and the in-memory one: one merge of two runs
		{50_000, 7, 16}, // 7,143 runs
	}
	for _, tt := range tests {
		recs := randomRecords(rand.New(rand.NewPCG(6, uint64(tt.records))), tt.records)
		s := New(t.TempDir(), byBookedAt, tt.perRun)
		s.fanIn = tt.fanIn
		got := sortAll(t, s, recs)
		if d := firstDifference(got, stableSorted(recs, byBookedAt)); d >= 0 {
			t.Fatalf("%+v: first difference at %d", tt, d)
		}
		runs := float64(tt.records / tt.perRun)
		levels := int64(math.Ceil(math.Log(runs+1) / math.Log(float64(tt.fanIn))))
		if most := int64(tt.records) * levels; s.rewritten > most {
			t.Errorf("%+v: merges wrote %d records again, want at most %d (%d times each)", tt, s.rewritten, most, levels)
		}
		t.Logf("%+v: merges wrote %d records again (%.2f each)", tt, s.rewritten, float64(s.rewritten)/float64(tt.records))
	}
}

// TestMergeReadBuffersShareABudget: the read buffers of a merge take about
// the same memory however many runs it merges, so a bigger partition does
// not make a bigger merge (each used 32 KiB: 4 MiB at the fan-in).
func TestMergeReadBuffersShareABudget(t *testing.T) {
	for n := 1; n <= defaultFanIn+1; n++ {
		size := readBufFor(n)
		if size < minReadBuf || size > maxReadBuf {
			t.Fatalf("%d runs: %d B each, outside [%d, %d]", n, size, minReadBuf, maxReadBuf)
		}
		if total := n * size; total > mergeReadBudget && size > minReadBuf {
			t.Fatalf("%d runs: %d B of read buffers, over the budget of %d", n, total, mergeReadBudget)
		}
	}
	if got := defaultFanIn * readBufFor(defaultFanIn); got > mergeReadBudget {
		t.Errorf("a merge at the fan-in reads with %d B, want at most %d", got, mergeReadBudget)
	}
}
