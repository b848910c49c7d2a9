package release

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/midata/midata/schemas"
)

// CSV is the canonical CSV (version 1): one header row, then one row per
// transaction, oldest first, one column per granted field, no footer.
// RFC 4180: CRLF line ends (the header too, and after the last row),
// fields quoted only when they hold a comma, a double quote, CR or LF, a
// double quote inside a quoted field doubled. UTF-8 without a byte-order
// mark.
//
// The columns, always in this order (csvSchema lists them):
//
//	transaction_id, customer_id, account_id   text, exact
//	booked_at      RFC 3339 in UTC ("2026-03-04T10:15:00Z"; fractional
//	               seconds kept, trailing zeros dropped)
//	amount         the signed amount as a plain decimal with the currency's
//	               minor units: "-12.34", "12.50", "1500" (JPY); '-' for
//	               money out, no sign otherwise; never rounded
//	credit_debit_indicator  "Debit" when the amount is negative, else
//	               "Credit" (zero is Credit), as Open Banking names them
//	amount_unsigned  the absolute value of amount, same rendering
//	currency       ISO 4217 alpha-3
//	status         "booked" (a record without status is booked)
//	type           the type code; empty when the record has none
//	description    exact text
//
// then, only with the merchant category, merchant_name and
// merchant_category_code (empty when the record has none), and only with
// the balances category, balance_after (signed like amount; empty when the
// record has no balance). Columns of categories that are not granted are
// absent, not empty.
//
// Text cells (ids, currency, type, description, merchant fields) that begin
// with '=', '+', '-', '@', tab or CR get a leading apostrophe against
// formula injection; the number columns (amount, amount_unsigned,
// balance_after) and the values midata writes itself (booked_at, the
// indicator, status) never do. Without the transactions category nothing
// at all is written, not even the header; with it and no records, the
// header alone.
var CSV = Format{
	Name:      "csv",
	File:      "transactions.csv",
	MediaType: "text/csv",
	Version:   1,
	Order:     OldestFirst,
	New:       newCSVEncoder,
	Schema:    csvSchema,
}

// csvSchema returns the columns the CSV has for the granted categories, in
// order; nil without the transactions category (nothing is written).
func csvSchema(granted schemas.Category) *Schema {
	if !granted.Has(schemas.Transactions) {
		return nil
	}
	const tx, merchant, balances = "transactions", "merchant", "balances"
	s := &Schema{
		Fields: []Field{
			{Name: "transaction_id", Type: "string", Category: tx, Description: "Unique id of the transaction (input transaction_id)."},
			{Name: "customer_id", Type: "string", Category: tx, Description: "The customer the transaction belongs to."},
			{Name: "account_id", Type: "string", Category: tx, Description: "The customer's account."},
			{Name: "booked_at", Type: "datetime", Category: tx, Description: "Booking time, RFC 3339 in UTC."},
			{Name: "amount", Type: "number", Category: tx, Description: "Signed decimal amount, written with the currency's minor-unit places: negative is money out."},
			{Name: "credit_debit_indicator", Type: "string", Category: tx, Description: "Debit when amount is negative, else Credit (Open Banking)."},
			{Name: "amount_unsigned", Type: "number", Category: tx, Description: "Absolute value of amount (Open Banking Amount)."},
			{Name: "currency", Type: "string", Category: tx, Description: "ISO 4217 alphabetic currency code."},
			{Name: "status", Type: "string", Category: tx, Description: "Booking status: booked."},
			{Name: "type", Type: "string", Category: tx, Description: "Transaction type code such as POS, DD, BGC; empty when unknown."},
			{Name: "description", Type: "string", Category: tx, Description: "The transaction's description, exact text."},
		},
		PrimaryKey: []string{"transaction_id"},
	}
	if granted.Has(schemas.Merchant) {
		s.Fields = append(s.Fields,
			Field{Name: "merchant_name", Type: "string", Category: merchant, Description: "Merchant name; empty when unknown."},
			Field{Name: "merchant_category_code", Type: "string", Category: merchant, Description: "Merchant category code (ISO 18245, four digits); empty when unknown."},
		)
	}
	if granted.Has(schemas.Balances) {
		s.Fields = append(s.Fields,
			Field{Name: "balance_after", Type: "number", Category: balances, Description: "Account balance after the transaction, signed; empty when unknown."},
		)
	}
	return s
}

// csvEncoder writes the canonical CSV.
type csvEncoder struct {
	w        *bufio.Writer
	granted  schemas.Category
	header   string // the header row with its CRLF; "" without transactions
	err      error  // sticky: a write failed
	wroteHdr bool
	row      []byte // scratch for one row, reused
}

func newCSVEncoder(w io.Writer, o Options) Encoder {
	granted := o.Granted
	e := &csvEncoder{w: bufio.NewWriterSize(w, 64<<10), granted: granted}
	if s := csvSchema(granted); s != nil {
		names := make([]string, len(s.Fields))
		for i, f := range s.Fields {
			names[i] = f.Name
		}
		e.header = strings.Join(names, ",") + "\r\n"
	}
	return e
}

// Encode writes one row (and the header before the first one).
func (e *csvEncoder) Encode(t *schemas.Transaction) error {
	if e.err != nil {
		return e.err
	}
	if !e.granted.Has(schemas.Transactions) {
		return nil
	}
	b := e.row[:0]
	if !e.wroteHdr {
		b = append(b, e.header...)
		e.wroteHdr = true
	}
	b = appendTextCell(b, t.TransactionID)
	b = append(b, ',')
	b = appendTextCell(b, t.CustomerID)
	b = append(b, ',')
	b = appendTextCell(b, t.AccountID)
	b = append(b, ',')
	b = t.BookedAt.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, ',')
	b = appendMoney(b, t.Amount, t.Currency, true)
	b = append(b, ',')
	b = append(b, creditDebit(t.Amount)...)
	b = append(b, ',')
	b = appendMoney(b, t.Amount, t.Currency, false)
	b = append(b, ',')
	b = appendTextCell(b, t.Currency)
	b = append(b, ',')
	if t.Status == "" {
		b = append(b, schemas.StatusBooked...)
	} else {
		b = appendTextCell(b, string(t.Status))
	}
	b = append(b, ',')
	b = appendTextCell(b, t.Type)
	b = append(b, ',')
	b = appendTextCell(b, t.Description)
	if e.granted.Has(schemas.Merchant) {
		b = append(b, ',')
		b = appendTextCell(b, t.MerchantName)
		b = append(b, ',')
		b = appendTextCell(b, t.MerchantCode)
	}
	if e.granted.Has(schemas.Balances) {
		b = append(b, ',')
		if t.HasBalance {
			b = appendMoney(b, t.BalanceAfter, t.Currency, true)
		}
	}
	b = append(b, '\r', '\n')
	e.row = b
	if _, err := e.w.Write(b); err != nil {
		e.err = fmt.Errorf("write csv row: %w", err)
		return e.err
	}
	return nil
}

// Close writes the header if no row was written, and flushes.
func (e *csvEncoder) Close() error {
	if e.err != nil {
		return e.err
	}
	if !e.granted.Has(schemas.Transactions) {
		return nil
	}
	if !e.wroteHdr {
		e.wroteHdr = true
		if _, err := e.w.WriteString(e.header); err != nil {
			e.err = fmt.Errorf("write csv header: %w", err)
			return e.err
		}
	}
	if err := e.w.Flush(); err != nil {
		e.err = fmt.Errorf("flush csv: %w", err)
		return e.err
	}
	return nil
}
