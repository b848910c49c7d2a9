package release

import (
	"bufio"
	"fmt"
	"io"
	"time"

	"github.com/midata/midata/schemas"
)

// NDJSON is newline-delimited JSON (version 1): one object per line (LF, no
// trailing blank line, UTF-8), oldest first, with the granted fields of the
// input contract under the input's field names, in this fixed key order:
//
//	transaction_id, customer_id, account_id,
//	booked_at      RFC 3339 in UTC, normalised ("2026-03-04T10:15:00Z";
//	               fractional seconds kept, trailing zeros dropped)
//	amount         the input's exact text, as a JSON string ("-12.30")
//	currency, status ("booked" when the record has none),
//	type           omitted when empty
//	description    exact text
//	merchant       {"name", "category_code"}: only with the merchant
//	               category and when the record has either; an empty
//	               sub-field is omitted
//	balance_after  exact text, as a JSON string: only with the balances
//	               category and when the record has a balance
//
// Strings are escaped as encoding/json does with SetEscapeHTML(false) (see
// appendJSONString): '<', '>' and '&' stay as they are; U+2028 and U+2029
// are escaped. Without the transactions category nothing at all is written.
var NDJSON = Format{
	Name:      "ndjson",
	File:      "transactions.ndjson",
	MediaType: "application/x-ndjson",
	Version:   1,
	Order:     OldestFirst,
	New:       newNDJSONEncoder,
	Schema:    ndjsonSchema,
}

// ndjsonSchema returns the keys an NDJSON line may have for the granted
// categories, in order; optional keys (type, merchant, balance_after) are
// listed when the format may write them. Nil without the transactions
// category (nothing is written).
func ndjsonSchema(granted schemas.Category) *Schema {
	if !granted.Has(schemas.Transactions) {
		return nil
	}
	const tx = "transactions"
	s := &Schema{
		Fields: []Field{
			{Name: "transaction_id", Type: "string", Category: tx, Description: "Unique id of the transaction."},
			{Name: "customer_id", Type: "string", Category: tx, Description: "The customer the transaction belongs to."},
			{Name: "account_id", Type: "string", Category: tx, Description: "The customer's account."},
			{Name: "booked_at", Type: "datetime", Category: tx, Description: "Booking time, RFC 3339 in UTC."},
			{Name: "amount", Type: "number", Category: tx, Description: "Signed amount, the input's exact decimal text as a JSON string: negative is money out."},
			{Name: "currency", Type: "string", Category: tx, Description: "ISO 4217 alphabetic currency code."},
			{Name: "status", Type: "string", Category: tx, Description: "Booking status: booked."},
			{Name: "type", Type: "string", Category: tx, Description: "Transaction type code such as POS, DD, BGC; absent when unknown."},
			{Name: "description", Type: "string", Category: tx, Description: "The transaction's description, exact text."},
		},
		PrimaryKey: []string{"transaction_id"},
	}
	if granted.Has(schemas.Merchant) {
		s.Fields = append(s.Fields, Field{Name: "merchant", Type: "object", Category: "merchant",
			Description: "{name, category_code}; absent when unknown, an unknown sub-field omitted."})
	}
	if granted.Has(schemas.Balances) {
		s.Fields = append(s.Fields, Field{Name: "balance_after", Type: "number", Category: "balances",
			Description: "Balance after the transaction, exact decimal text as a JSON string; absent when unknown."})
	}
	return s
}

// ndjsonEncoder writes NDJSON.
type ndjsonEncoder struct {
	w       *bufio.Writer
	granted schemas.Category
	err     error  // sticky: a write failed
	line    []byte // scratch for one line, reused
}

func newNDJSONEncoder(w io.Writer, o Options) Encoder {
	granted := o.Granted
	return &ndjsonEncoder{w: bufio.NewWriterSize(w, 64<<10), granted: granted}
}

// Encode writes one line.
func (e *ndjsonEncoder) Encode(t *schemas.Transaction) error {
	if e.err != nil {
		return e.err
	}
	if !e.granted.Has(schemas.Transactions) {
		return nil
	}
	b := e.line[:0]
	b = append(b, `{"transaction_id":`...)
	b = appendJSONString(b, t.TransactionID)
	b = append(b, `,"customer_id":`...)
	b = appendJSONString(b, t.CustomerID)
	b = append(b, `,"account_id":`...)
	b = appendJSONString(b, t.AccountID)
	b = append(b, `,"booked_at":"`...)
	b = t.BookedAt.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","amount":`...)
	b = appendJSONDecimal(b, t.Amount)
	b = append(b, `,"currency":`...)
	b = appendJSONString(b, t.Currency)
	b = append(b, `,"status":`...)
	if t.Status == "" {
		b = appendJSONString(b, string(schemas.StatusBooked))
	} else {
		b = appendJSONString(b, string(t.Status))
	}
	if t.Type != "" {
		b = append(b, `,"type":`...)
		b = appendJSONString(b, t.Type)
	}
	b = append(b, `,"description":`...)
	b = appendJSONString(b, t.Description)
	if e.granted.Has(schemas.Merchant) && (t.MerchantName != "" || t.MerchantCode != "") {
		b = append(b, `,"merchant":{`...)
		if t.MerchantName != "" {
			b = append(b, `"name":`...)
			b = appendJSONString(b, t.MerchantName)
		}
		if t.MerchantCode != "" {
			if t.MerchantName != "" {
				b = append(b, ',')
			}
			b = append(b, `"category_code":`...)
			b = appendJSONString(b, t.MerchantCode)
		}
		b = append(b, '}')
	}
	if e.granted.Has(schemas.Balances) && t.HasBalance {
		b = append(b, `,"balance_after":`...)
		b = appendJSONDecimal(b, t.BalanceAfter)
	}
	b = append(b, '}', '\n')
	e.line = b
	if _, err := e.w.Write(b); err != nil {
		e.err = fmt.Errorf("write ndjson line: %w", err)
		return e.err
	}
	return nil
}

// Close flushes. NDJSON has no trailer.
func (e *ndjsonEncoder) Close() error {
	if e.err != nil {
		return e.err
	}
	if err := e.w.Flush(); err != nil {
		e.err = fmt.Errorf("flush ndjson: %w", err)
		return e.err
	}
	return nil
}

// appendJSONDecimal appends d's exact input text as a JSON string, or its
// canonical rendering when it was built without text.
func appendJSONDecimal(dst []byte, d schemas.Decimal) []byte {
	if d.Text != "" {
		return appendJSONString(dst, d.Text)
	}
	dst = append(dst, '"')
	dst = appendDecimal(dst, d, int(d.Scale))
	return append(dst, '"')
}
