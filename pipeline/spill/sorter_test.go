package spill

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/midata/midata/schemas"
)

// byBookedAt orders by booking time only, so records with equal times are
// ties that only a stable sort keeps in input order.
func byBookedAt(a, b *schemas.Transaction) bool { return a.BookedAt.Before(b.BookedAt) }

// byTimeAndID is a total order like the release formats' OldestFirst.
func byTimeAndID(a, b *schemas.Transaction) bool {
	if !a.BookedAt.Equal(b.BookedAt) {
		return a.BookedAt.Before(b.BookedAt)
	}
	if a.TransactionID != b.TransactionID {
		return a.TransactionID < b.TransactionID
	}
	return a.Offset < b.Offset
}

// reversed is the descending order of less (the midata CSV's NewestFirst).
func reversed(less func(a, b *schemas.Transaction) bool) func(a, b *schemas.Transaction) bool {
	return func(a, b *schemas.Transaction) bool { return less(b, a) }
}

// randomRecords returns n records with every field set from r. Booking
// times take few values, so many records tie.
func randomRecords(r *rand.Rand, n int) []schemas.Transaction {
	descs := []string{"TESCO STORES 1234", "Café Müller, Köln", "東京 🍜", "", "=HYPERLINK(\"x\")", "line\nbreak"}
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	out := make([]schemas.Transaction, n)
	for i := range out {
		t := &out[i]
		t.TransactionID = "T" + strconv.Itoa(r.IntN(n*2))
		t.CustomerID = "C" + strconv.Itoa(r.IntN(50))
		t.AccountID = t.CustomerID + "-" + strconv.Itoa(r.IntN(3))
		t.BookedAt = base.Add(time.Duration(r.IntN(40))*time.Hour + time.Duration(r.IntN(3))*time.Nanosecond)
		t.Amount = schemas.Decimal{Units: r.Int64N(2_000_000) - 1_000_000, Scale: int32(r.IntN(3)), Text: strconv.Itoa(i)}
		t.Currency = []string{"GBP", "EUR", "JPY"}[r.IntN(3)]
		t.Status = []schemas.Status{schemas.StatusBooked, schemas.StatusPending, ""}[r.IntN(3)]
		t.Type = []string{"POS", "DD", ""}[r.IntN(3)]
		t.Description = descs[r.IntN(len(descs))]
		if r.IntN(2) == 0 {
			t.MerchantName, t.MerchantCode = "Merchant "+strconv.Itoa(r.IntN(10)), "5411"
		}
		if r.IntN(2) == 0 {
			t.BalanceAfter = schemas.Decimal{Units: r.Int64() - math.MaxInt64/2, Scale: 2, Text: "b" + strconv.Itoa(i)}
			t.HasBalance = true
		}
		t.Partition = r.IntN(12)
		t.Offset = int64(i)
	}
	return out
}

// sortAll adds recs to s, sorts, and returns what the iterator yields.
func sortAll(t *testing.T, s *Sorter, recs []schemas.Transaction) []schemas.Transaction {
	t.Helper()
	for i := range recs {
		if err := s.Add(&recs[i]); err != nil {
			t.Fatalf("add record %d: %v", i, err)
		}
	}
	return sorted(t, s)
}

// sorted sorts what was added to s and returns what the iterator yields.
func sorted(t *testing.T, s *Sorter) []schemas.Transaction {
	t.Helper()
	it, err := s.Sort()
	if err != nil {
		t.Fatalf("sort: %v", err)
	}
	defer it.Close()
	var out []schemas.Transaction
	for it.Next() {
		out = append(out, *it.Transaction())
	}
	if err := it.Err(); err != nil {
		t.Fatalf("iterate: %v", err)
	}
	if err := it.Close(); err != nil {
		t.Fatalf("close iterator: %v", err)
	}
	return out
}

// stableSorted is the reference: the standard library's stable sort.
func stableSorted(recs []schemas.Transaction, less func(a, b *schemas.Transaction) bool) []schemas.Transaction {
	want := slices.Clone(recs)
	slices.SortStableFunc(want, func(a, b schemas.Transaction) int {
		switch {
		case less(&a, &b):
			return -1
		case less(&b, &a):
			return 1
		}
		return 0
	})
	return want
}

// firstDifference returns the first index where got and want differ, or -1.
func firstDifference(got, want []schemas.Transaction) int {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return i
		}
	}
	if len(got) != len(want) {
		return min(len(got), len(want))
	}
	return -1
}

func TestSortedOutputEqualsAStableSortOfTheInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		n, maxInMem int
		fanIn       int
		less        func(a, b *schemas.Transaction) bool
	}{
		{"no records give an empty iterator", 0, 10, defaultFanIn, byBookedAt},
		{"everything fits in memory", 500, 1000, defaultFanIn, byBookedAt},
		{"exactly one full buffer spills one run", 100, 100, defaultFanIn, byBookedAt},
		{"many runs keep ties in input order", 5000, 97, defaultFanIn, byBookedAt},
		{"a run per record", 40, 1, defaultFanIn, byBookedAt},
		{"merge passes with a fan-in of two keep ties in order", 3000, 50, 2, byBookedAt},
		{"merge passes with a fan-in of three keep ties in order", 3001, 64, 3, byBookedAt},
		{"a total order", 4000, 333, defaultFanIn, byTimeAndID},
		{"descending by a reversed less", 4000, 333, defaultFanIn, reversed(byTimeAndID)},
		{"descending with ties", 2500, 100, 4, reversed(byBookedAt)},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			recs := randomRecords(rand.New(rand.NewPCG(42, uint64(i))), tt.n)
			s := New(t.TempDir(), tt.less, tt.maxInMem)
			s.fanIn = tt.fanIn
			got := sortAll(t, s, recs)
			want := stableSorted(recs, tt.less)
			if d := firstDifference(got, want); d >= 0 {
				t.Fatalf("got %d records, want %d; first difference at %d", len(got), len(want), d)
			}
			if s.Count() != int64(tt.n) {
				t.Errorf("Count() = %d, want %d", s.Count(), tt.n)
			}
		})
	}
}

func TestEveryFieldSurvivesARunFile(t *testing.T) {
	t.Parallel()
	in := []schemas.Transaction{
		{
			TransactionID: "T000123-00042", CustomerID: "C000123", AccountID: "A000123-1",
			BookedAt: time.Date(2026, 3, 4, 10, 15, 0, 123456789, time.UTC),
			Amount:   schemas.Decimal{Units: -1234, Scale: 2, Text: "-12.34"},
			Currency: "GBP", Status: schemas.StatusBooked, Type: "POS",
			Description:  "Café \u2028 東京 🍜 \x00 \xff not UTF-8, \"quoted\"\r\n",
			MerchantName: "Tesco", MerchantCode: "5411",
			BalanceAfter: schemas.Decimal{Units: 123456, Scale: 2, Text: "1234.56"}, HasBalance: true,
			Partition: 11, Offset: 1<<62 + 7,
		},
		{}, // every field zero, including the zero time
		{
			TransactionID: "x", BookedAt: time.Date(1969, 12, 31, 23, 59, 59, 1, time.UTC),
			Amount:       schemas.Decimal{Units: math.MinInt64, Scale: math.MaxInt32},
			BalanceAfter: schemas.Decimal{Units: math.MaxInt64, Scale: math.MinInt32, Text: "balance text without a balance"},
			Status:       schemas.StatusPending, Partition: -1, Offset: -1,
		},
		{
			TransactionID: "far future", BookedAt: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
			Description: string(bytes.Repeat([]byte("é"), 500)), HasBalance: true,
		},
	}
	for _, maxInMem := range []int{1, 2, 100} { // spilled alone, with others, never
		s := New(t.TempDir(), func(a, b *schemas.Transaction) bool { return false }, maxInMem)
		got := sortAll(t, s, in)
		if d := firstDifference(got, in); d >= 0 {
			t.Errorf("maxInMemory %d: record %d came back as\n%#v\nwant\n%#v", maxInMem, d, got[d], in[d])
		}
	}
}

func TestTimesComeBackInUTC(t *testing.T) {
	t.Parallel()
	paris := time.FixedZone("CET", 3600)
	in := schemas.Transaction{BookedAt: time.Date(2026, 1, 1, 1, 0, 0, 5, paris)}
	s := New(t.TempDir(), byBookedAt, 1)
	got := sortAll(t, s, []schemas.Transaction{in, in})
	for _, g := range got {
		if !g.BookedAt.Equal(in.BookedAt) || g.BookedAt.Location() != time.UTC {
			t.Errorf("booked at %v, want %v in UTC", g.BookedAt, in.BookedAt.UTC())
		}
	}
}

func TestAddCopiesTheRecord(t *testing.T) {
	t.Parallel()
	s := New(t.TempDir(), byTimeAndID, 10)
	rec := schemas.Transaction{TransactionID: "first"}
	if err := s.Add(&rec); err != nil {
		t.Fatal(err)
	}
	rec.TransactionID = "changed after Add"
	got := sortAll(t, s, nil)
	if len(got) != 1 || got[0].TransactionID != "first" {
		t.Errorf("got %+v, want the record as it was when added", got)
	}
}

// filesIn lists the names in dir.
func filesIn(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestTemporaryFiles(t *testing.T) {
	t.Parallel()
	recs := randomRecords(rand.New(rand.NewPCG(7, 7)), 1000)

	t.Run("none are written when everything fits in memory", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		s := New(dir, byBookedAt, len(recs)+1)
		for i := range recs {
			if err := s.Add(&recs[i]); err != nil {
				t.Fatal(err)
			}
		}
		it, err := s.Sort()
		if err != nil {
			t.Fatal(err)
		}
		defer it.Close()
		if names := filesIn(t, dir); len(names) != 0 {
			t.Errorf("files written: %v", names)
		}
	})

	t.Run("runs are written and the iterator's Close removes them", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		s := New(dir, byBookedAt, 100)
		for i := range recs {
			if err := s.Add(&recs[i]); err != nil {
				t.Fatal(err)
			}
		}
		if got := len(filesIn(t, dir)); got != 10 {
			t.Errorf("%d run files before Sort, want 10", got)
		}
		it, err := s.Sort()
		if err != nil {
			t.Fatal(err)
		}
		it.Next() // a half-read iterator is closed too
		if err := it.Close(); err != nil {
			t.Fatal(err)
		}
		if names := filesIn(t, dir); len(names) != 0 {
			t.Errorf("files left after Close: %v", names)
		}
		if it.Next() {
			t.Error("Next after Close returned true")
		}
		if err := s.Close(); err != nil {
			t.Errorf("Sorter.Close after the iterator's Close: %v", err)
		}
	})

	t.Run("merge passes leave only the final runs and Close removes them", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		s := New(dir, byBookedAt, 10)
		s.fanIn = 4
		for i := range recs {
			if err := s.Add(&recs[i]); err != nil {
				t.Fatal(err)
			}
		}
		it, err := s.Sort()
		if err != nil {
			t.Fatal(err)
		}
		if got := len(filesIn(t, dir)); got > 3 {
			t.Errorf("%d run files after merge passes, want at most fan-in - 1 = 3", got)
		}
		if !it.Next() {
			t.Fatalf("no records after merge passes: %v", it.Err())
		}
		if err := s.Close(); err != nil { // the Sorter's Close closes its iterator
			t.Fatal(err)
		}
		if names := filesIn(t, dir); len(names) != 0 {
			t.Errorf("files left after Sorter.Close: %v", names)
		}
	})

	t.Run("the sorter's Close removes runs when Sort was never called", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		s := New(dir, byBookedAt, 100)
		for i := range recs {
			if err := s.Add(&recs[i]); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if names := filesIn(t, dir); len(names) != 0 {
			t.Errorf("files left after Close: %v", names)
		}
		if err := s.Add(&recs[0]); err == nil {
			t.Error("Add after Close succeeded, want an error")
		}
	})
}

func TestMisuseIsAnError(t *testing.T) {
	t.Parallel()
	s := New(t.TempDir(), byBookedAt, 0)
	if s.max != DefaultMaxInMemory {
		t.Errorf("maxInMemory 0 gave %d, want %d", s.max, DefaultMaxInMemory)
	}
	it, err := s.Sort()
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	if it.Next() {
		t.Error("an empty sorter yielded a record")
	}
	if err := s.Add(&schemas.Transaction{}); err == nil {
		t.Error("Add after Sort succeeded, want an error")
	}
	if _, err := s.Sort(); err == nil {
		t.Error("a second Sort succeeded, want an error")
	}
}

func TestSpillErrorsAreReported(t *testing.T) {
	t.Parallel()
	s := New(filepath.Join(t.TempDir(), "missing"), byBookedAt, 2)
	defer s.Close()
	rec := schemas.Transaction{}
	var err error
	for range 3 {
		if err = s.Add(&rec); err != nil {
			break
		}
	}
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Add into a missing directory: %v, want an error wrapping os.ErrNotExist", err)
	}
}

func TestATruncatedRunFileIsAnError(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	recs := randomRecords(rand.New(rand.NewPCG(1, 2)), 300)
	s := New(dir, byBookedAt, 100)
	defer s.Close()
	for i := range recs {
		if err := s.Add(&recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	names := filesIn(t, dir)
	if len(names) == 0 {
		t.Fatal("no run files")
	}
	path := filepath.Join(dir, names[0])
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, fi.Size()/2); err != nil {
		t.Fatal(err)
	}
	it, err := s.Sort()
	if err == nil {
		for it.Next() {
		}
		err = it.Err()
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("reading a truncated run: %v, want io.ErrUnexpectedEOF", err)
	}
}

func TestRecordCodecRejectsCorruptInput(t *testing.T) {
	t.Parallel()
	rec := randomRecords(rand.New(rand.NewPCG(3, 4)), 1)[0]
	enc := AppendRecord(nil, &rec)
	for cut := range len(enc) {
		var got schemas.Transaction
		if _, err := DecodeRecord(enc[:cut], &got); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("record cut at %d of %d bytes: %v, want io.ErrUnexpectedEOF", cut, len(enc), err)
		}
	}
	tests := []struct {
		name string
		enc  []byte
	}{
		{"a first string of 256 MiB", []byte{20, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
		{"a record longer than any", []byte{0xff, 0xff, 0xff, 0xff, 0x7f}},
		{"bytes after the fields", longer(enc)},
	}
	for _, tt := range tests {
		var got schemas.Transaction
		if _, err := DecodeRecord(tt.enc, &got); !errors.Is(err, errCorrupt) {
			t.Errorf("%s: %v, want errCorrupt", tt.name, err)
		}
	}
}

// longer returns the record enc with a byte added after its fields (and
// its length grown to hold it).
func longer(enc []byte) []byte {
	n, h := binary.Uvarint(enc)
	return append(binary.AppendUvarint(nil, n+1), append(enc[h:h+int(n):h+int(n)], 0)...)
}

func TestRecordsDecodeOneAfterAnother(t *testing.T) {
	t.Parallel()
	recs := randomRecords(rand.New(rand.NewPCG(8, 8)), 50)
	recs[0].Description = strings.Repeat("é", 500)
	var enc []byte
	for i := range recs {
		enc = AppendRecord(enc, &recs[i])
	}
	rest := enc
	for i := range recs {
		var got schemas.Transaction
		var err error
		if rest, err = DecodeRecord(rest, &got); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if got != recs[i] {
			t.Fatalf("record %d: got %+v, want %+v", i, got, recs[i])
		}
	}
	if len(rest) != 0 {
		t.Errorf("%d bytes left after the last record", len(rest))
	}
}
