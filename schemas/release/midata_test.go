package release

import (
	"bytes"
	"encoding/csv"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/midata/midata/schemas"
	"github.com/midata/midata/schemas/release/format/formattest"
)

func TestTextCellsAreNeutralisedAndQuoted(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"plain text is unchanged", "TESCO", "TESCO"},
		{"an empty cell stays empty", "", ""},
		{"a formula gets an apostrophe", "=1+2", "'=1+2"},
		{"a formula with quotes and a comma is neutralised inside the quotes", `=HYPERLINK("x","y")`, `"'=HYPERLINK(""x"",""y"")"`},
		{"a leading minus gets an apostrophe", "-5 refund", "'-5 refund"},
		{"a leading plus gets an apostrophe", "+44 call", "'+44 call"},
		{"a leading at sign gets an apostrophe", "@SUM(A1)", "'@SUM(A1)"},
		{"a leading tab gets an apostrophe", "\tx", "'\tx"},
		{"a leading carriage return gets an apostrophe and quotes", "\rx", "\"'\rx\""},
		{"a minus that is not first is left alone", "A-B", "A-B"},
		{"a comma is quoted", "a,b", `"a,b"`},
		{"a quote is doubled inside quotes", `say "hi"`, `"say ""hi"""`},
		{"a line feed is quoted", "a\nb", "\"a\nb\""},
		{"a carriage return is quoted", "a\rb", "\"a\rb\""},
		{"Unicode passes through", "Café 🍜", "Café 🍜"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := string(appendTextCell([]byte("x,"), tt.in)); got != "x,"+tt.want {
				t.Errorf("appendTextCell(%q) = %q, want %q", tt.in, got, "x,"+tt.want)
			}
		})
	}
}

func TestPlainCellsAreQuotedButNeverNeutralised(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"-£12.34": "-£12.34", "+£0.00": "+£0.00", "=1": "=1", "a,b": `"a,b"`} {
		if got := string(appendPlainCell(nil, in)); got != want {
			t.Errorf("appendPlainCell(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMidataMoneyIsSignedWithTheCurrencysMinorUnits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		amount schemas.Decimal
		cur    string
		want   string
	}{
		{"GBP money out", formattest.MustDecimal(t, "-12.34"), "GBP", "-£12.34"},
		{"GBP money in is padded to two places", formattest.MustDecimal(t, "12.5"), "GBP", "+£12.50"},
		{"a whole GBP amount gets two places", formattest.MustDecimal(t, "1000"), "GBP", "+£1000.00"},
		{"zero is plus zero", formattest.MustDecimal(t, "0"), "GBP", "+£0.00"},
		{"negative zero is plus zero", formattest.MustDecimal(t, "-0.00"), "GBP", "+£0.00"},
		{"a penny", formattest.MustDecimal(t, "-0.01"), "GBP", "-£0.01"},
		{"no thousands separator", formattest.MustDecimal(t, "-1234567.89"), "GBP", "-£1234567.89"},
		{"EUR uses the ISO code with no space", formattest.MustDecimal(t, "-12.5"), "EUR", "-EUR12.50"},
		{"JPY has no decimals", formattest.MustDecimal(t, "1500"), "JPY", "+JPY1500"},
		{"KWD has three decimals", formattest.MustDecimal(t, "1.5"), "KWD", "+KWD1.500"},
		{"an amount is never rounded", formattest.MustDecimal(t, "12.345"), "GBP", "+£12.345"},
		{"eighteen digits", formattest.MustDecimal(t, "-9999999999999999.99"), "GBP", "-£9999999999999999.99"},
		{"the smallest int64 of units", schemas.Decimal{Units: -1 << 63, Scale: 2}, "GBP", "-£92233720368547758.08"},
		{"a decimal built without text", schemas.Decimal{Units: -5, Scale: 0}, "GBP", "-£5.00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := string(appendMidataMoney(nil, tt.amount, tt.cur)); got != tt.want {
				t.Errorf("appendMidataMoney(%v, %s) = %q, want %q", tt.amount, tt.cur, got, tt.want)
			}
		})
	}
}

func TestAppendDecimalMatchesDecimalFormat(t *testing.T) {
	t.Parallel()
	inputs := []string{"0", "-0", "1", "-1", "0.5", "-0.05", "0.001", "12.34", "-12.3", "100", "123456789012345678", "-0.000000000000000001", "99.990"}
	for _, in := range inputs {
		d := formattest.MustDecimal(t, in)
		for scale := 0; scale <= 4; scale++ {
			want := d.Format(scale, true)
			if got := string(appendDecimal(nil, d, scale)); got != want {
				t.Errorf("appendDecimal(%s, %d) = %q, want %q (Decimal.Format)", in, scale, got, want)
			}
		}
	}
}

func TestMidataDatesAreTheUKBookingDate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, booked, want string
	}{
		{"23:30 UTC in summer is the next day in BST", "2026-07-14T23:30:00Z", "15/07/2026"},
		{"23:30 UTC in winter is the same day in GMT", "2026-01-14T23:30:00Z", "14/01/2026"},
		{"an offset input is normalised first", "2026-07-15T01:30:00+02:00", "15/07/2026"},
		{"the last second before BST starts is GMT", "2026-03-29T00:59:59Z", "29/03/2026"},
		{"23:00 UTC the day BST starts is the next day", "2026-03-29T23:00:00Z", "30/03/2026"},
		{"23:30 UTC the night BST ends is the same day", "2026-10-25T23:30:00Z", "25/10/2026"},
		{"23:30 UTC the night before BST ends is the next day", "2026-10-24T23:30:00Z", "25/10/2026"},
		{"new year's eve in winter", "2026-12-31T23:59:59.999999999Z", "31/12/2026"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			booked, err := time.Parse(time.RFC3339Nano, tt.booked)
			if err != nil {
				t.Fatal(err)
			}
			tr := schemas.Transaction{BookedAt: booked.UTC(), Amount: formattest.MustDecimal(t, "1"), Currency: "GBP", Description: "X"}
			rows := parseMidata(t, formattest.EncodeAll(t, MidataCSV, schemas.Transactions, []schemas.Transaction{tr}))
			if got := rows[1][0]; got != tt.want {
				t.Errorf("date of %s = %s, want %s", tt.booked, got, tt.want)
			}
		})
	}
}

// parseMidata parses a midata CSV strictly and checks its line ends.
func parseMidata(t *testing.T, b []byte) [][]string {
	t.Helper()
	inQuotes := false
	for i, c := range b {
		switch {
		case c == '"':
			inQuotes = !inQuotes
		case c == '\n' && !inQuotes && (i == 0 || b[i-1] != '\r'):
			t.Fatalf("line end at byte %d is not CRLF", i)
		}
	}
	if len(b) > 0 && !bytes.HasSuffix(b, []byte("\r\n")) {
		t.Fatalf("file does not end with CRLF")
	}
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = 5
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatalf("parse midata csv: %v\n%s", err, b)
	}
	if len(rows) == 0 || strings.Join(rows[0], ",") != "Date,Type,Merchant/Description,Debit/Credit,Balance" {
		t.Fatalf("header = %q", rows)
	}
	return rows
}

func TestMidataCSVParsesBackToTheRecords(t *testing.T) {
	t.Parallel()
	recs := formattest.InOrder(formattest.Fixtures(t), NewestFirst)
	tests := []struct {
		name        string
		granted     schemas.Category
		wantBalance bool
	}{
		{"with balances granted the balance column is filled", schemas.Transactions | schemas.Balances, true},
		{"without balances the balance column is empty", schemas.Transactions | schemas.Merchant, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rows := parseMidata(t, formattest.EncodeAll(t, MidataCSV, tt.granted, recs))
			if len(rows) != len(recs)+1 {
				t.Fatalf("got %d rows, want header + %d", len(rows), len(recs))
			}
			for i, r := range recs {
				row := rows[i+1]
				wantDesc := r.Description
				if strings.ContainsAny(wantDesc[:1], "=+-@\t\r") {
					wantDesc = "'" + wantDesc
				}
				if row[2] != wantDesc {
					t.Errorf("row %d description = %q, want %q", i, row[2], wantDesc)
				}
				if want := string(appendMidataMoney(nil, r.Amount, r.Currency)); row[3] != want {
					t.Errorf("row %d amount = %q, want %q", i, row[3], want)
				}
				wantBal := ""
				if tt.wantBalance && r.HasBalance {
					wantBal = string(appendMidataMoney(nil, r.BalanceAfter, r.Currency))
				}
				if row[4] != wantBal {
					t.Errorf("row %d balance = %q, want %q", i, row[4], wantBal)
				}
			}
		})
	}
}

func TestMidataCSVOfNoRecordsIsTheHeaderAlone(t *testing.T) {
	t.Parallel()
	got := formattest.EncodeAll(t, MidataCSV, schemas.AllCategories, nil)
	if want := "Date,Type,Merchant/Description,Debit/Credit,Balance\r\n"; string(got) != want {
		t.Errorf("empty release = %q, want %q", got, want)
	}
}

func TestEncodersWriteNothingWithoutTheTransactionsCategory(t *testing.T) {
	t.Parallel()
	for _, f := range testedFormats {
		for _, g := range []schemas.Category{0, schemas.Balances | schemas.Merchant} {
			if got := formattest.EncodeAll(t, f, g, formattest.Fixtures(t)); len(got) != 0 {
				t.Errorf("%s with categories %q wrote %d bytes, want none", f.Name, g, len(got))
			}
		}
	}
}

func TestEncodersReportWriteErrors(t *testing.T) {
	t.Parallel()
	recs := formattest.Fixtures(t)
	for _, f := range testedFormats {
		enc := f.New(formattest.FailingWriter{}, Options{Granted: schemas.AllCategories})
		var err error
		for i := 0; i < 2000 && err == nil; i++ { // enough rows to fill the buffer
			err = enc.Encode(&recs[i%len(recs)])
		}
		if err == nil {
			err = enc.Close()
		}
		if !errors.Is(err, formattest.ErrDiskFull) {
			t.Errorf("%s: error = %v, want one wrapping %v", f.Name, err, formattest.ErrDiskFull)
		}
		if err2 := enc.Close(); !errors.Is(err2, formattest.ErrDiskFull) {
			t.Errorf("%s: Close after a failure = %v, want the same error again", f.Name, err2)
		}
	}
}

func TestLookupFindsEveryFormat(t *testing.T) {
	t.Parallel()
	if got, want := strings.Join(Names(), ","), "csv,html,json,midata-csv,ndjson,parquet"; got != want {
		t.Errorf("Names() = %s, want %s", got, want)
	}
	for _, want := range testedFormats {
		got, err := Lookup(want.Name)
		if err != nil || got.File != want.File || got.MediaType != want.MediaType || got.Version != want.Version || got.Order != want.Order {
			t.Errorf("Lookup(%s) = %+v, %v", want.Name, got, err)
		}
	}
	if _, err := Lookup("xml"); err == nil {
		t.Error("Lookup(xml) succeeded, want an error")
	}
}

func TestEncodingARowDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("skipped under -race: the race detector changes allocation counts")
	}
	recs := formattest.Fixtures(t)
	for _, f := range testedFormats {
		enc := f.New(formattest.Discard{}, Options{Granted: schemas.AllCategories})
		i := 0
		allocs := testing.AllocsPerRun(1000, func() {
			if err := enc.Encode(&recs[i%len(recs)]); err != nil {
				t.Fatal(err)
			}
			i++
		})
		if allocs != 0 {
			t.Errorf("%s: %.2f allocations per row, want 0", f.Name, allocs)
		}
	}
}
