// Package formattest holds what the tests of every release format share:
// the hand-built fixture records the golden files are made of, the varied
// records of the streaming and memory tests, and small writers and helpers.
// It is imported by tests only; it holds no format and checks nothing itself.
package formattest

import (
	"bytes"
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/midata/midata/schemas"
	"github.com/midata/midata/schemas/release/format"
)

// Fixtures returns the hand-built records the golden files are made of, in
// no particular order. Each one is there for a reason, written beside it.
func Fixtures(t testing.TB) []schemas.Transaction {
	t.Helper()
	dec := func(s string) schemas.Decimal {
		d, err := schemas.ParseDecimal(s)
		if err != nil {
			t.Fatalf("fixture decimal %q: %v", s, err)
		}
		return d
	}
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatalf("fixture time %q: %v", s, err)
		}
		return tm.UTC()
	}
	base := func(id, booked, amount, cur, typ, desc string) schemas.Transaction {
		return schemas.Transaction{
			TransactionID: id, CustomerID: "C000123", AccountID: "A000123-1",
			BookedAt: at(booked), Amount: dec(amount), Currency: cur,
			Status: schemas.StatusBooked, Type: typ, Description: desc,
		}
	}
	withBalance := func(tr schemas.Transaction, bal string) schemas.Transaction {
		tr.BalanceAfter, tr.HasBalance = dec(bal), true
		return tr
	}
	withMerchant := func(tr schemas.Transaction, name, code string) schemas.Transaction {
		tr.MerchantName, tr.MerchantCode = name, code
		return tr
	}
	recs := []schemas.Transaction{
		// GBP money out, with merchant and balance: the contract's example.
		withMerchant(withBalance(base("T000123-00042", "2026-03-04T10:15:00Z", "-12.34", "GBP", "POS", "TESCO STORES 1234"), "1234.56"), "Tesco", "5411"),
		// GBP money in; amount text with trailing zeros kept in NDJSON.
		withBalance(base("T000123-00043", "2026-03-05T09:00:00Z", "1000.00", "GBP", "BGC", "SALARY ACME LTD"), "2234.56"),
		// Zero amount is "+£0.00"; a one-decimal amount is padded to two.
		base("T000123-00044", "2026-03-05T09:00:00Z", "0", "GBP", "CHG", "FEE WAIVED"),
		withBalance(base("T000123-00045", "2026-03-06T12:00:00+01:00", "12.5", "GBP", "FPI", "REFUND"), "2247.06"),
		// EUR with the ISO code; Unicode and a comma (quoted); merchant name only.
		withMerchant(withBalance(base("T000123-00046", "2026-04-01T08:30:00Z", "-12.5", "EUR", "POS", "Café Müller, Köln"), "-50.00"), "Café Müller", ""),
		// JPY has no minor units; CJK and an emoji; merchant code only.
		withMerchant(withBalance(base("T000123-00047", "2026-04-02T03:04:05.123456789Z", "1500", "JPY", "ATM", "東京 ラーメン 🍜"), "250000"), "", "5812"),
		// CSV injection with quotes and a comma inside.
		base("T000123-00048", "2026-04-03T10:00:00Z", "-1.00", "GBP", "POS", `=HYPERLINK("http://evil.example/","click")`),
		// A leading minus in text is neutralised; in the amount it is not.
		base("T000123-00049", "2026-04-03T10:00:00Z", "5.00", "GBP", "TFR", "-5 refund"),
		// '@' and tab lead, and a type code that could be a formula.
		withBalance(base("T000123-00050", "2026-04-04T10:00:00Z", "-2.00", "GBP", "@T", "@SUM(1+1)"), "10.00"),
		base("T000123-00051", "2026-04-04T11:00:00Z", "-3.00", "GBP", "", "\tTABBED"),
		// Newlines and quotes inside a description.
		base("T000123-00052", "2026-05-01T10:00:00Z", "-4.00", "GBP", "SO", "LINE ONE\nLINE TWO \"quoted\""),
		// Text that looks like escapes or markup, control characters, U+2028.
		withMerchant(base("T000123-00053", "2026-05-02T10:00:00Z", "-0.01", "GBP", "DD", "back\\slash \\u00e9 <b>&amp; \x01\x1f\u007f line\u2028sep\u2029 \"q\""), "A&B <Ltd>", "5999"),
		// 23:30 UTC in British Summer Time: the UK date is the next day.
		withBalance(base("T000123-00054", "2026-07-14T23:30:00Z", "-7.50", "GBP", "POS", "LATE NIGHT BST"), "100.00"),
		// 23:30 UTC in winter: the UK date is the same day.
		withBalance(base("T000123-00055", "2026-01-14T23:30:00Z", "-7.50", "GBP", "POS", "LATE NIGHT GMT"), "107.50"),
		// Status left empty: written as booked. Large amount, no separator.
		func() schemas.Transaction {
			tr := base("T000123-00056", "2026-06-01T00:00:00Z", "-999999999999.99", "GBP", "FPO", "HOUSE")
			tr.Status = ""
			return tr
		}(),
	}
	for i := range recs {
		recs[i].Partition, recs[i].Offset = 3, int64(100+i)
	}
	return recs
}

// InOrder returns recs sorted in the order o promises.
func InOrder(recs []schemas.Transaction, o format.Order) []schemas.Transaction {
	out := slices.Clone(recs)
	slices.SortFunc(out, func(a, b schemas.Transaction) int {
		switch {
		case format.Less(&a, &b):
			return -1
		case format.Less(&b, &a):
			return 1
		}
		return 0
	})
	if o == format.NewestFirst {
		slices.Reverse(out)
	}
	return out
}

// EncodeAll runs recs through a fresh encoder of f and returns the bytes.
func EncodeAll(t testing.TB, f format.Format, granted schemas.Category, recs []schemas.Transaction) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := f.New(&buf, format.Options{Granted: granted})
	for i := range recs {
		if err := enc.Encode(&recs[i]); err != nil {
			t.Fatalf("encode %s record %d: %v", f.Name, i, err)
		}
	}
	if err := enc.Close(); err != nil {
		t.Fatalf("close %s encoder: %v", f.Name, err)
	}
	return buf.Bytes()
}

// VariedRecord makes row i from the fixture tr: its own id, a booking time
// i seconds and some microseconds after start, and an amount varied in
// its last digits.
func VariedRecord(tr *schemas.Transaction, i int, start time.Time) schemas.Transaction {
	r := *tr
	r.TransactionID = "T" + strconv.Itoa(100_000_000+i)
	r.BookedAt = start.Add(time.Duration(i)*time.Second + time.Duration(i%997)*time.Microsecond)
	r.Amount = schemas.Decimal{Units: tr.Amount.Units*7 + int64(i%1000)*sign(tr.Amount.Units), Scale: tr.Amount.Scale}
	r.Offset = int64(i)
	return r
}

func sign(u int64) int64 {
	if u < 0 {
		return -1
	}
	return 1
}

// MustDecimal parses s as a decimal, failing the test if it cannot.
func MustDecimal(t testing.TB, s string) schemas.Decimal {
	t.Helper()
	d, err := schemas.ParseDecimal(s)
	if err != nil {
		t.Fatalf("ParseDecimal(%q): %v", s, err)
	}
	return d
}

// CountingWriter counts the bytes written to it in N.
type CountingWriter struct{ N int }

// Write counts p and never fails.
func (w *CountingWriter) Write(p []byte) (int, error) { w.N += len(p); return len(p), nil }

// FailingWriter fails every write with ErrDiskFull.
type FailingWriter struct{}

// ErrDiskFull is the error of every FailingWriter write.
var ErrDiskFull = errors.New("disk full")

// Write fails with ErrDiskFull.
func (FailingWriter) Write([]byte) (int, error) { return 0, ErrDiskFull }

// Discard is io.Discard without the ReaderFrom fast path, like a real sink.
type Discard struct{}

// Write drops p and never fails.
func (Discard) Write(p []byte) (int, error) { return len(p), nil }
