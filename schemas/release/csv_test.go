package release

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/midata/midata/schemas"
	"github.com/midata/midata/schemas/release/format/formattest"
)

// parseCSV parses a canonical CSV strictly: every line end is CRLF, the
// file ends with CRLF, and every row has as many cells as the header. It
// returns the rows as maps from header name to cell, and the header.
func parseCSV(t *testing.T, b []byte) (header []string, rows []map[string]string) {
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
	if !bytes.HasSuffix(b, []byte("\r\n")) {
		t.Fatalf("file does not end with CRLF")
	}
	if bytes.HasPrefix(b, []byte("\xef\xbb\xbf")) {
		t.Fatalf("file starts with a byte-order mark")
	}
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = 0 // every row as long as the header
	all, err := r.ReadAll()
	if err != nil {
		t.Fatalf("parse csv: %v\n%s", err, b)
	}
	header = all[0]
	for _, row := range all[1:] {
		m := make(map[string]string, len(header))
		for i, name := range header {
			m[name] = row[i]
		}
		rows = append(rows, m)
	}
	return header, rows
}

// neutralised is what a text cell holds for s.
func neutralised(s string) string {
	if needsNeutralising(s) {
		return "'" + s
	}
	return s
}

// sameValue reports whether the decimal text got has the value of want and
// exactly places decimal places.
func sameValue(t *testing.T, got string, want schemas.Decimal, places int) bool {
	t.Helper()
	d, err := schemas.ParseDecimal(got)
	if err != nil {
		return false
	}
	common := max(d.Scale, want.Scale)
	a, err1 := d.Rescale(common)
	b, err2 := want.Rescale(common)
	_, frac, _ := strings.Cut(got, ".")
	return err1 == nil && err2 == nil && a == b && len(frac) == places
}

func TestCSVParsesBackToTheRecordsForEveryGrant(t *testing.T) {
	t.Parallel()
	recs := formattest.InOrder(formattest.Fixtures(t), OldestFirst)
	for g := range schemas.AllCategories + 1 {
		granted := schemas.Category(g)
		if !granted.Has(schemas.Transactions) {
			continue
		}
		t.Run("granted "+granted.String(), func(t *testing.T) {
			t.Parallel()
			header, rows := parseCSV(t, formattest.EncodeAll(t, CSV, granted, recs))
			want := []string{"transaction_id", "customer_id", "account_id", "booked_at", "amount", "credit_debit_indicator", "amount_unsigned", "currency", "status", "type", "description"}
			if granted.Has(schemas.Merchant) {
				want = append(want, "merchant_name", "merchant_category_code")
			}
			if granted.Has(schemas.Balances) {
				want = append(want, "balance_after")
			}
			if strings.Join(header, ",") != strings.Join(want, ",") {
				t.Fatalf("header = %v, want %v", header, want)
			}
			if len(rows) != len(recs) {
				t.Fatalf("got %d rows, want %d", len(rows), len(recs))
			}
			for i, r := range recs {
				row := rows[i]
				places, _ := schemas.CurrencyMinorUnits(r.Currency)
				texts := []struct{ col, want string }{
					{"transaction_id", neutralised(r.TransactionID)},
					{"customer_id", neutralised(r.CustomerID)},
					{"account_id", neutralised(r.AccountID)},
					{"currency", neutralised(r.Currency)},
					{"status", "booked"},
					{"type", neutralised(r.Type)},
					{"description", neutralised(r.Description)},
					{"credit_debit_indicator", map[bool]string{true: "Debit", false: "Credit"}[r.Amount.Sign() < 0]},
				}
				if granted.Has(schemas.Merchant) {
					texts = append(texts,
						struct{ col, want string }{"merchant_name", neutralised(r.MerchantName)},
						struct{ col, want string }{"merchant_category_code", neutralised(r.MerchantCode)})
				}
				for _, c := range texts {
					if row[c.col] != c.want {
						t.Errorf("row %d %s = %q, want %q", i, c.col, row[c.col], c.want)
					}
				}
				booked, err := time.Parse(time.RFC3339Nano, row["booked_at"])
				if err != nil || !booked.Equal(r.BookedAt) || !strings.HasSuffix(row["booked_at"], "Z") {
					t.Errorf("row %d booked_at = %q, want %v in UTC (%v)", i, row["booked_at"], r.BookedAt, err)
				}
				if !sameValue(t, row["amount"], r.Amount, places) {
					t.Errorf("row %d amount = %q, want the value %s with %d places", i, row["amount"], r.Amount, places)
				}
				abs := r.Amount
				if abs.Units < 0 {
					abs.Units = -abs.Units
				}
				if !sameValue(t, row["amount_unsigned"], abs, places) || strings.HasPrefix(row["amount_unsigned"], "-") {
					t.Errorf("row %d amount_unsigned = %q, want the value of |%s| with %d places", i, row["amount_unsigned"], r.Amount, places)
				}
				if granted.Has(schemas.Balances) {
					if r.HasBalance != (row["balance_after"] != "") || (r.HasBalance && !sameValue(t, row["balance_after"], r.BalanceAfter, places)) {
						t.Errorf("row %d balance_after = %q, want %s (present: %v)", i, row["balance_after"], r.BalanceAfter, r.HasBalance)
					}
				}
			}
		})
	}
}

func TestCSVMoneyIsAPlainSignedDecimalWithTheCurrencysPlaces(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                                    string
		amount                                  schemas.Decimal
		cur                                     string
		wantAmount, wantIndicator, wantUnsigned string
	}{
		{"money out is negative and a Debit", formattest.MustDecimal(t, "-12.34"), "GBP", "-12.34", "Debit", "12.34"},
		{"money in has no sign and is a Credit", formattest.MustDecimal(t, "12.5"), "GBP", "12.50", "Credit", "12.50"},
		{"a plus sign in the input is dropped", formattest.MustDecimal(t, "+5"), "GBP", "5.00", "Credit", "5.00"},
		{"zero is a Credit", formattest.MustDecimal(t, "0"), "GBP", "0.00", "Credit", "0.00"},
		{"negative zero is plain zero and a Credit", formattest.MustDecimal(t, "-0.00"), "GBP", "0.00", "Credit", "0.00"},
		{"leading zeros are dropped", formattest.MustDecimal(t, "-007.10"), "GBP", "-7.10", "Debit", "7.10"},
		{"a penny out", formattest.MustDecimal(t, "-0.01"), "GBP", "-0.01", "Debit", "0.01"},
		{"JPY has no places", formattest.MustDecimal(t, "-1500"), "JPY", "-1500", "Debit", "1500"},
		{"KWD has three places", formattest.MustDecimal(t, "1.5"), "KWD", "1.500", "Credit", "1.500"},
		{"CLF has four places", formattest.MustDecimal(t, "-0.1"), "CLF", "-0.1000", "Debit", "0.1000"},
		{"an amount is never rounded", formattest.MustDecimal(t, "12.345"), "GBP", "12.345", "Credit", "12.345"},
		{"no thousands separator", formattest.MustDecimal(t, "-1234567.89"), "GBP", "-1234567.89", "Debit", "1234567.89"},
		{"eighteen digits", formattest.MustDecimal(t, "-9999999999999999.99"), "GBP", "-9999999999999999.99", "Debit", "9999999999999999.99"},
		{"a decimal built without text", schemas.Decimal{Units: -5}, "GBP", "-5.00", "Debit", "5.00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tr := schemas.Transaction{TransactionID: "T1", CustomerID: "C1", AccountID: "A1", BookedAt: time.Date(2026, 3, 4, 10, 15, 0, 0, time.UTC),
				Amount: tt.amount, Currency: tt.cur, Description: "X", BalanceAfter: tt.amount, HasBalance: true}
			_, rows := parseCSV(t, formattest.EncodeAll(t, CSV, schemas.AllCategories, []schemas.Transaction{tr}))
			row := rows[0]
			if row["amount"] != tt.wantAmount || row["credit_debit_indicator"] != tt.wantIndicator || row["amount_unsigned"] != tt.wantUnsigned || row["balance_after"] != tt.wantAmount {
				t.Errorf("amount, indicator, unsigned, balance = %q %q %q %q, want %q %q %q %q",
					row["amount"], row["credit_debit_indicator"], row["amount_unsigned"], row["balance_after"], tt.wantAmount, tt.wantIndicator, tt.wantUnsigned, tt.wantAmount)
			}
		})
	}
}

func TestCSVNeutralisesEveryTextColumnButNoNumber(t *testing.T) {
	t.Parallel()
	tr := schemas.Transaction{
		TransactionID: "=T1", CustomerID: "+C1", AccountID: "-A1", BookedAt: time.Date(2026, 3, 4, 10, 15, 0, 0, time.UTC),
		Amount: formattest.MustDecimal(t, "-1.00"), Currency: "@BP", Type: "\tX", Description: "\rD",
		MerchantName: "=M", MerchantCode: "-1", BalanceAfter: formattest.MustDecimal(t, "-2.00"), HasBalance: true,
	}
	_, rows := parseCSV(t, formattest.EncodeAll(t, CSV, schemas.AllCategories, []schemas.Transaction{tr}))
	row := rows[0]
	for col, want := range map[string]string{
		"transaction_id": "'=T1", "customer_id": "'+C1", "account_id": "'-A1", "currency": "'@BP",
		"type": "'\tX", "description": "'\rD", "merchant_name": "'=M", "merchant_category_code": "'-1",
		"amount": "-1.00", "amount_unsigned": "1.00", "balance_after": "-2.00",
	} {
		if row[col] != want {
			t.Errorf("%s = %q, want %q", col, row[col], want)
		}
	}
}

func TestCSVOfNoRecordsIsTheHeaderAlone(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		granted schemas.Category
		want    string
	}{
		{"transactions only", schemas.Transactions, "transaction_id,customer_id,account_id,booked_at,amount,credit_debit_indicator,amount_unsigned,currency,status,type,description\r\n"},
		{"every category", schemas.AllCategories, "transaction_id,customer_id,account_id,booked_at,amount,credit_debit_indicator,amount_unsigned,currency,status,type,description,merchant_name,merchant_category_code,balance_after\r\n"},
		{"no transactions category", schemas.Balances | schemas.Merchant, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := formattest.EncodeAll(t, CSV, tt.granted, nil); string(got) != tt.want {
				t.Errorf("empty release = %q, want %q", got, tt.want)
			}
		})
	}
}
