package release_test

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/midata/midata/schemas"
	"github.com/midata/midata/schemas/release"
)

// FuzzCSVWriters holds the two CSV formats, midata-csv and csv, to what
// schemas/release/csv.go and midata.go (and schemas/README.md) say of them, over
// records made from the fuzz input: text of any kind in every text
// column (quotes, commas, CR and LF, leading = + - @ tab CR, Unicode),
// any amount and balance in currencies of 0 to 4 places, any booking time,
// any grant:
//
//   - without the transactions category nothing at all is written;
//   - the bytes are RFC 4180 as documented: CRLF after every row, the last
//     too, a cell quoted exactly when it holds a comma, a double quote, CR
//     or LF, a double quote inside doubled, no byte-order mark;
//   - encoding/csv reads the same cells (but for CRLF inside a cell, which
//     it reads as LF), one header row of the documented columns for the
//     grant, then one row per record in the order given;
//   - every text cell is its value exactly, with a leading apostrophe when
//     the value begins with = + - @ tab or CR, so no text cell begins with
//     one of them; the money cells are the exact value with the currency's
//     places (more when the amount has more, never rounded), signed as
//     documented ("-12.34" / "12.34"; midata "-£12.34" / "+EUR0.50"); dates
//     and times are the booking time (UTC; midata: the date in UK time).
//
// The seed corpus is in testdata/fuzz/FuzzCSVWriters.
func FuzzCSVWriters(f *testing.F) {
	f.Add("TESCO STORES 1234", "Tesco", "POS", "T000123-00042", "-12.34", "1234.56", "GBP", int64(1772619300e9), uint8(7))
	f.Add(`=HYPERLINK("http://x","y")`, "+44 shop, \"quoted\"", "-DD", "@T1", "0", "-0.00", "JPY", int64(1782856800e9), uint8(3))
	f.Add("two\r\nlines\nand\ra CR", "\tTAB", "\rCR", "caf\u00e9 \u2603 \U0001F355", "1.5", "x", "CLF", int64(-1), uint8(1))
	f.Add("", "", "", "", "-9999999999999999.99", "0.001", "BHD", int64(1711846800e9), uint8(5))
	f.Add("\"", ",", "\"\"", "a\"b", "+5", "7", "EUR", int64(1729990800123456789), uint8(6))
	f.Fuzz(func(t *testing.T, desc, merchant, typ, id, amount, balance, currency string, booked int64, granted uint8) {
		recs := fuzzRecords(desc, merchant, typ, id, amount, balance, currency, booked, granted)
		cats := schemas.Category(granted) & schemas.AllCategories
		for _, format := range []release.Format{release.CSV, release.MidataCSV} {
			var buf bytes.Buffer
			enc := format.New(&buf, release.Options{Granted: cats})
			for i := range recs {
				if err := enc.Encode(&recs[i]); err != nil {
					t.Fatalf("%s: encode: %v", format.Name, err)
				}
			}
			if err := enc.Close(); err != nil {
				t.Fatalf("%s: close: %v", format.Name, err)
			}
			out := buf.Bytes()
			if !cats.Has(schemas.Transactions) {
				if len(out) != 0 {
					t.Fatalf("%s without the transactions category wrote %q", format.Name, out)
				}
				continue
			}
			rows, err := parseRFC4180(out)
			if err != nil {
				t.Fatalf("%s: %v in\n%q", format.Name, err, out)
			}
			checkEncodingCSV(t, format.Name, out, rows)
			header, want := expectedCSV(format, cats, recs)
			if got := cellValues(rows[0]); strings.Join(got, ",") != strings.Join(header, ",") {
				t.Fatalf("%s header %q, want %q", format.Name, got, header)
			}
			if len(rows) != len(recs)+1 {
				t.Fatalf("%s: %d rows, want a header and %d", format.Name, len(rows), len(recs))
			}
			for i, row := range rows[1:] {
				for j, c := range row {
					w := want[i][j]
					if err := w.check(c.value); err != nil {
						t.Fatalf("%s row %d %s = %q: %v", format.Name, i, header[j], c.value, err)
					}
					if w.text && c.value != "" && strings.IndexByte("=+-@\t\r", c.value[0]) >= 0 {
						t.Fatalf("%s row %d %s = %q begins with a formula character", format.Name, i, header[j], c.value)
					}
				}
			}
		}
	})
}

// fuzzRecords makes three records from the fuzz input: the strings in
// their own columns, the same strings in the other text columns, and a
// plain record between them and the end.
func fuzzRecords(desc, merchant, typ, id, amount, balance, currency string, booked int64, granted uint8) []schemas.Transaction {
	valid := func(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
	desc, merchant, typ, id = valid(desc), valid(merchant), valid(typ), valid(id)
	if _, ok := schemas.CurrencyMinorUnits(currency); !ok {
		codes := []string{"GBP", "JPY", "BHD", "CLF", "EUR", "USD"}
		currency = codes[len(currency)%len(codes)]
	}
	amt, err := schemas.ParseDecimal(amount)
	if err != nil { // a Decimal built without text, of any sign and up to four places
		amt = schemas.Decimal{Units: booked % 1e15, Scale: int32(granted % 5)}
	}
	bal, balErr := schemas.ParseDecimal(balance)
	at := time.Unix(0, booked).UTC()
	status := schemas.StatusBooked
	if granted&0x80 != 0 {
		status = "" // a record without status is booked
	}
	return []schemas.Transaction{
		{TransactionID: id, CustomerID: "C000123", AccountID: "A000123-1", BookedAt: at, Amount: amt, Currency: currency,
			Status: status, Type: typ, Description: desc, MerchantName: merchant, MerchantCode: "5411", BalanceAfter: bal, HasBalance: balErr == nil},
		{TransactionID: desc, CustomerID: merchant, AccountID: typ, BookedAt: at.Add(time.Hour), Amount: bal, Currency: currency,
			Status: schemas.StatusBooked, Type: id, Description: merchant, MerchantName: typ, MerchantCode: desc, BalanceAfter: amt, HasBalance: true},
		{TransactionID: "T3", CustomerID: "C000123", AccountID: "A000123-1", BookedAt: at.Add(-time.Hour), Amount: schemas.Decimal{Units: -1234, Scale: 2},
			Currency: "GBP", Status: schemas.StatusBooked, Type: "DD", Description: "PLAIN"},
	}
}

// rfcCell is one cell as written, unquoted, and whether it was quoted.
type rfcCell struct {
	value  string
	quoted bool
}

func cellValues(row []rfcCell) []string {
	out := make([]string, len(row))
	for i, c := range row {
		out[i] = c.value
	}
	return out
}

// parseRFC4180 reads b as the writers promise to write it, and nothing
// else: cells quoted exactly when they need it, CRLF after every row, no
// byte-order mark, every row as long as the first.
func parseRFC4180(b []byte) ([][]rfcCell, error) {
	if bytes.HasPrefix(b, []byte("\xef\xbb\xbf")) {
		return nil, errors.New("a byte-order mark")
	}
	var rows [][]rfcCell
	var row []rfcCell
	i := 0
	for i < len(b) {
		var c rfcCell
		if b[i] == '"' {
			c.quoted = true
			var v strings.Builder
			for i++; ; i++ {
				if i == len(b) {
					return nil, errors.New("a quoted cell never ends")
				}
				if b[i] == '"' {
					if i+1 < len(b) && b[i+1] == '"' {
						v.WriteByte('"')
						i++
						continue
					}
					i++
					break
				}
				v.WriteByte(b[i])
			}
			c.value = v.String()
		} else {
			j := i
			for j < len(b) && b[j] != ',' && b[j] != '\r' && b[j] != '\n' && b[j] != '"' {
				j++
			}
			c.value = string(b[i:j])
			i = j
		}
		if needs := strings.ContainsAny(c.value, ",\"\r\n"); needs != c.quoted {
			return nil, fmt.Errorf("cell %q quoted %v", c.value, c.quoted)
		}
		row = append(row, c)
		switch {
		case i < len(b) && b[i] == ',':
			i++
			if i == len(b) {
				return nil, errors.New("a comma at the end")
			}
		case i+1 < len(b) && b[i] == '\r' && b[i+1] == '\n':
			i += 2
			if len(rows) > 0 && len(row) != len(rows[0]) {
				return nil, fmt.Errorf("row %d has %d cells, the header %d", len(rows), len(row), len(rows[0]))
			}
			rows, row = append(rows, row), nil
		default:
			return nil, fmt.Errorf("byte %d: %q after a cell, want a comma or CRLF", i, b[i:min(i+8, len(b))])
		}
	}
	if row != nil || len(rows) == 0 {
		return nil, errors.New("the last row does not end with CRLF")
	}
	return rows, nil
}

// checkEncodingCSV wants encoding/csv to read the same rows and cells,
// but CRLF inside a cell, which it reads as LF.
func checkEncodingCSV(t *testing.T, name string, out []byte, rows [][]rfcCell) {
	t.Helper()
	r := csv.NewReader(bytes.NewReader(out))
	r.FieldsPerRecord = len(rows[0])
	all, err := r.ReadAll()
	if err != nil {
		t.Fatalf("%s: encoding/csv: %v", name, err)
	}
	if len(all) != len(rows) {
		t.Fatalf("%s: encoding/csv reads %d rows, want %d", name, len(all), len(rows))
	}
	for i := range all {
		for j, c := range rows[i] {
			if want := strings.ReplaceAll(c.value, "\r\n", "\n"); all[i][j] != want {
				t.Fatalf("%s: encoding/csv reads row %d cell %d as %q, want %q", name, i, j, all[i][j], want)
			}
		}
	}
}

// wantCell is what one cell must be.
type wantCell struct {
	text  bool // a text cell: neutralised against formulas
	check func(got string) error
}

func textCell(v string) wantCell {
	want := v
	if v != "" && strings.IndexByte("=+-@\t\r", v[0]) >= 0 {
		want = "'" + v
	}
	return wantCell{true, func(got string) error {
		if got != want {
			return fmt.Errorf("want %q", want)
		}
		return nil
	}}
}

func exactCell(want string) wantCell {
	return wantCell{false, func(got string) error {
		if got != want {
			return fmt.Errorf("want %q", want)
		}
		return nil
	}}
}

// moneyCell wants d with at least the currency's places (its own when it
// has more) after prefix: the midata sign and currency, or for csv "-"
// when signed and d is negative.
func moneyCell(d schemas.Decimal, currency string, signed, midata bool) wantCell {
	return wantCell{false, func(got string) error {
		prefix := ""
		switch {
		case midata && d.Units < 0:
			prefix = "-"
		case midata:
			prefix = "+"
		case signed && d.Units < 0:
			prefix = "-"
		}
		if midata {
			if currency == "GBP" {
				prefix += "£"
			} else {
				prefix += currency
			}
		}
		num, ok := strings.CutPrefix(got, prefix)
		if !ok || num == "" || num[0] < '0' || num[0] > '9' {
			return fmt.Errorf("want %q and then digits", prefix)
		}
		minor, _ := schemas.CurrencyMinorUnits(currency)
		if _, frac, _ := strings.Cut(num, "."); len(frac) != max(minor, int(d.Scale)) {
			return fmt.Errorf("%d places, want %d", len(frac), max(minor, int(d.Scale)))
		}
		if len(num) > 1 && num[0] == '0' && num[1] != '.' {
			return errors.New("a leading zero")
		}
		v, ok := new(big.Rat).SetString(num)
		if !ok || strings.ContainsAny(num, "eE/+-") {
			return errors.New("not a plain decimal")
		}
		abs := new(big.Rat).SetFrac(new(big.Int).Abs(big.NewInt(d.Units)), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(d.Scale)), nil))
		if v.Cmp(abs) != 0 {
			return fmt.Errorf("the value of %s (%d×10^-%d)", num, d.Units, d.Scale)
		}
		return nil
	}}
}

// expectedCSV returns the header and every row's cells that format must
// write for recs under the grant.
func expectedCSV(format release.Format, cats schemas.Category, recs []schemas.Transaction) ([]string, [][]wantCell) {
	uk, err := time.LoadLocation("Europe/London")
	if err != nil {
		panic(err)
	}
	var header []string
	var rows [][]wantCell
	if format.Name == release.MidataCSV.Name {
		header = []string{"Date", "Type", "Merchant/Description", "Debit/Credit", "Balance"}
		for _, r := range recs {
			balance := exactCell("")
			if cats.Has(schemas.Balances) && r.HasBalance {
				balance = moneyCell(r.BalanceAfter, r.Currency, true, true)
			}
			rows = append(rows, []wantCell{exactCell(r.BookedAt.In(uk).Format("02/01/2006")), textCell(r.Type), textCell(r.Description),
				moneyCell(r.Amount, r.Currency, true, true), balance})
		}
		return header, rows
	}
	header = []string{"transaction_id", "customer_id", "account_id", "booked_at", "amount", "credit_debit_indicator",
		"amount_unsigned", "currency", "status", "type", "description"}
	if cats.Has(schemas.Merchant) {
		header = append(header, "merchant_name", "merchant_category_code")
	}
	if cats.Has(schemas.Balances) {
		header = append(header, "balance_after")
	}
	for _, r := range recs {
		indicator := "Credit"
		if r.Amount.Units < 0 {
			indicator = "Debit"
		}
		status := string(r.Status)
		if status == "" {
			status = "booked"
		}
		booked := r.BookedAt
		row := []wantCell{textCell(r.TransactionID), textCell(r.CustomerID), textCell(r.AccountID),
			{false, func(got string) error {
				at, err := time.Parse(time.RFC3339Nano, got)
				if err != nil || !at.Equal(booked) || !strings.HasSuffix(got, "Z") || strings.HasSuffix(strings.TrimSuffix(got, "Z"), "0") && strings.Contains(got, ".") {
					return fmt.Errorf("want %s in UTC, RFC 3339, no trailing zeros (%v)", booked.Format(time.RFC3339Nano), err)
				}
				return nil
			}},
			moneyCell(r.Amount, r.Currency, true, false), exactCell(indicator), moneyCell(r.Amount, r.Currency, false, false),
			textCell(r.Currency), exactCell(status), textCell(r.Type), textCell(r.Description)}
		if cats.Has(schemas.Merchant) {
			row = append(row, textCell(r.MerchantName), textCell(r.MerchantCode))
		}
		if cats.Has(schemas.Balances) {
			if r.HasBalance {
				row = append(row, moneyCell(r.BalanceAfter, r.Currency, true, false))
			} else {
				row = append(row, exactCell(""))
			}
		}
		rows = append(rows, row)
	}
	return header, rows
}
