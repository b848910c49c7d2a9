package release

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/midata/midata/schemas"
)

// JSON is the Open Banking-shaped JSON document (version 1): the body of a
// UK Open Banking Read/Write API v3.1 transactions response
// (OBReadTransaction6), oldest first, streamed:
//
//	{"Data":{"Transaction":[
//	{"AccountId":"A000123-1","TransactionId":"T000123-00042",...},
//	{...}
//	]},"Meta":{"TotalPages":1,"FirstAvailableDateTime":"...","LastAvailableDateTime":"..."}}
//
// One transaction object per line, LF line ends, a final LF, UTF-8; strings
// escaped as by appendJSONString. Each object is an OBTransaction6 with its
// keys in the specification's order:
//
//	AccountId               account_id
//	TransactionId           transaction_id
//	CreditDebitIndicator    "Debit" when the amount is negative, else
//	                        "Credit" (zero is Credit)
//	Status                  "Booked" ("Pending" for a pending record, which
//	                        the pipeline never releases)
//	BookingDateTime         booked_at in UTC with an explicit "+00:00"
//	                        offset, as the specification's examples write
//	                        it; fractional seconds kept, trailing zeros dropped
//	TransactionInformation  description, exact text
//	Amount                  {"Amount": the unsigned amount with the
//	                        currency's minor units ("12.34", "1500"),
//	                        "Currency": ISO 4217}; an amount of 14 to 18
//	                        integer digits (valid input) is written
//	                        exactly, beyond Open Banking's pattern
//	                        ^\d{1,13}(\.\d{1,5})?$, not left out
//	ProprietaryBankTransactionCode  {"Code": type, "Issuer": "midata"}:
//	                        the type code from the midata code list (POS,
//	                        DD, BGC, ...); omitted when the record has none
//	Balance                 balances category only, when the record has a
//	                        balance: {"Amount": {"Amount", "Currency"},
//	                        "CreditDebitIndicator": "Debit" when negative,
//	                        "Type": "InterimBooked"}
//	MerchantDetails         merchant category only, when the record has a
//	                        merchant: {"MerchantName", "MerchantCategoryCode"},
//	                        an empty sub-field omitted
//	SupplementaryData       {"CustomerId": customer_id}: Open Banking has no
//	                        customer field, and a bulk release holds many
//	                        customers
//
// Not written, because the input has no such data: TransactionReference,
// ValueDateTime, BankTransactionCode, and the other optional blocks. No
// Links block either: a release file is not an API response and has no
// stable URL of its own (its download link is signed and expires, and
// writing it would make the bytes depend on the moment of download).
//
// Meta.TotalPages is 1; FirstAvailableDateTime and LastAvailableDateTime are
// the earliest and latest BookingDateTime in the file, written at Close
// (omitted when the file has no transaction). The encoder keeps O(1) state.
//
// Every object validates against the Open Banking field rules: an amount
// matches ^\d{1,13}(\.\d{1,5})?$ and a currency ^[A-Z]{3}$. A record that
// cannot be written so (an amount of 10^13 or more) fails Encode with an
// error wrapping ErrNotOpenBanking and nothing of it is written. One known
// difference: the input allows account ids of up to 64 characters, Open
// Banking's AccountId up to 40; longer ids are written as they are. Without
// the transactions category nothing at all is written.
var JSON = Format{
	Name:      "json",
	File:      "transactions.json",
	MediaType: "application/json",
	Version:   2,
	Order:     OldestFirst,
	New:       newJSONEncoder,
	Schema:    jsonSchema,
}

// ErrNotOpenBanking is wrapped by the JSON encoder's error for a record that
// the Open Banking field rules cannot carry.
var ErrNotOpenBanking = errors.New("not representable in Open Banking JSON")

// jsonSchema returns the keys of a transaction object of the JSON format
// (the elements of Data.Transaction) for the granted categories; nil
// without the transactions category (nothing is written). Optional keys are
// listed when the format may write them.
func jsonSchema(granted schemas.Category) *Schema {
	if !granted.Has(schemas.Transactions) {
		return nil
	}
	const tx, merchant, balances = "transactions", "merchant", "balances"
	s := &Schema{Fields: []Field{
		{Name: "AccountId", Type: "string", Category: tx, Description: "The customer's account (input account_id)."},
		{Name: "TransactionId", Type: "string", Category: tx, Description: "Unique id of the transaction (input transaction_id)."},
		{Name: "CreditDebitIndicator", Type: "string", Category: tx, Description: "Debit when the amount is negative, else Credit."},
		{Name: "Status", Type: "string", Category: tx, Description: "Booked."},
		{Name: "BookingDateTime", Type: "datetime", Category: tx, Description: "Booking time in UTC with a +00:00 offset."},
		{Name: "TransactionInformation", Type: "string", Category: tx, Description: "The transaction's description, exact text."},
		{Name: "Amount", Type: "object", Category: tx, Description: "{Amount: unsigned decimal string with the currency's minor units, Currency: ISO 4217}."},
		{Name: "ProprietaryBankTransactionCode", Type: "object", Category: tx, Description: "{Code: the type code, Issuer: midata}; absent when unknown."},
	}}
	if granted.Has(schemas.Balances) {
		s.Fields = append(s.Fields, Field{Name: "Balance", Type: "object", Category: balances,
			Description: "{Amount: {Amount, Currency}, CreditDebitIndicator, Type: InterimBooked}: the balance after the transaction; absent when unknown."})
	}
	if granted.Has(schemas.Merchant) {
		s.Fields = append(s.Fields, Field{Name: "MerchantDetails", Type: "object", Category: merchant,
			Description: "{MerchantName, MerchantCategoryCode}; absent when unknown."})
	}
	s.Fields = append(s.Fields, Field{Name: "SupplementaryData", Type: "object", Category: tx,
		Description: "{CustomerId: the customer the transaction belongs to}."})
	return s
}

// appendOBDateTime appends tm in UTC as RFC 3339 with fractional seconds
// (trailing zeros dropped) and the numeric offset "+00:00", never "Z": the
// layout "2006-01-02T15:04:05.999999999-07:00". It goes through
// time.RFC3339Nano, which the time package formats on a fast path, and
// swaps the final "Z".
func appendOBDateTime(dst []byte, tm time.Time) []byte {
	dst = tm.UTC().AppendFormat(dst, time.RFC3339Nano)
	return append(dst[:len(dst)-1], "+00:00"...)
}

// The document around the transaction objects.
const (
	jsonOpening   = `{"Data":{"Transaction":[`
	jsonMetaStart = "\n]},\"Meta\":{\"TotalPages\":1"
)

// jsonEncoder writes the Open Banking-shaped JSON.
type jsonEncoder struct {
	w       *bufio.Writer
	granted schemas.Category
	err     error // sticky: a write failed or a record broke the rules
	count   int64 // transactions written
	first   time.Time
	last    time.Time
	obj     []byte // scratch for one object, reused
	closed  bool   // the trailer is written: Close again is a no-op
}

func newJSONEncoder(w io.Writer, o Options) Encoder {
	granted := o.Granted
	return &jsonEncoder{w: bufio.NewWriterSize(w, 64<<10), granted: granted}
}

// Encode writes one transaction object (and the document's opening before
// the first one).
func (e *jsonEncoder) Encode(t *schemas.Transaction) error {
	if e.err != nil {
		return e.err
	}
	if e.closed {
		return fmt.Errorf("encode transaction %s as json: encoder is closed", t.TransactionID)
	}
	if !e.granted.Has(schemas.Transactions) {
		return nil
	}
	b := e.obj[:0]
	if e.count == 0 {
		b = append(b, jsonOpening...)
		b = append(b, '\n')
	} else {
		b = append(b, ',', '\n')
	}
	b = append(b, `{"AccountId":`...)
	b = appendJSONString(b, t.AccountID)
	b = append(b, `,"TransactionId":`...)
	b = appendJSONString(b, t.TransactionID)
	b = append(b, `,"CreditDebitIndicator":"`...)
	b = append(b, creditDebit(t.Amount)...)
	b = append(b, `","Status":`...)
	switch t.Status {
	case "", schemas.StatusBooked:
		b = append(b, `"Booked"`...)
	case schemas.StatusPending:
		b = append(b, `"Pending"`...)
	default:
		return e.fail(t, "status %q is neither booked nor pending", t.Status)
	}
	b = append(b, `,"BookingDateTime":"`...)
	b = appendOBDateTime(b, t.BookedAt)
	b = append(b, '"')
	if t.Description != "" {
		b = append(b, `,"TransactionInformation":`...)
		b = appendJSONString(b, t.Description)
	}
	b = append(b, `,"Amount":`...)
	var ok bool
	if b, ok = appendOBAmount(b, t.Amount, t.Currency); !ok {
		return e.fail(t, "amount %s %s does not match %s and %s", t.Amount, t.Currency, obAmountPattern, obCurrencyPattern)
	}
	if t.Type != "" {
		b = append(b, `,"ProprietaryBankTransactionCode":{"Code":`...)
		b = appendJSONString(b, t.Type)
		b = append(b, `,"Issuer":"midata"}`...)
	}
	if e.granted.Has(schemas.Balances) && t.HasBalance {
		b = append(b, `,"Balance":{"Amount":`...)
		if b, ok = appendOBAmount(b, t.BalanceAfter, t.Currency); !ok {
			return e.fail(t, "balance %s %s does not match %s and %s", t.BalanceAfter, t.Currency, obAmountPattern, obCurrencyPattern)
		}
		b = append(b, `,"CreditDebitIndicator":"`...)
		b = append(b, creditDebit(t.BalanceAfter)...)
		b = append(b, `","Type":"InterimBooked"}`...)
	}
	if e.granted.Has(schemas.Merchant) && (t.MerchantName != "" || t.MerchantCode != "") {
		b = append(b, `,"MerchantDetails":{`...)
		if t.MerchantName != "" {
			b = append(b, `"MerchantName":`...)
			b = appendJSONString(b, t.MerchantName)
		}
		if t.MerchantCode != "" {
			if t.MerchantName != "" {
				b = append(b, ',')
			}
			b = append(b, `"MerchantCategoryCode":`...)
			b = appendJSONString(b, t.MerchantCode)
		}
		b = append(b, '}')
	}
	b = append(b, `,"SupplementaryData":{"CustomerId":`...)
	b = appendJSONString(b, t.CustomerID)
	b = append(b, '}', '}')
	e.obj = b
	if _, err := e.w.Write(b); err != nil {
		e.err = fmt.Errorf("write json transaction: %w", err)
		return e.err
	}
	if e.count == 0 || t.BookedAt.Before(e.first) {
		e.first = t.BookedAt
	}
	if e.count == 0 || t.BookedAt.After(e.last) {
		e.last = t.BookedAt
	}
	e.count++
	return nil
}

// fail makes a record that the rules cannot carry the encoder's sticky
// error: the release would not validate, so it must not be committed.
func (e *jsonEncoder) fail(t *schemas.Transaction, format string, args ...any) error {
	e.err = fmt.Errorf("encode transaction %s as json: %s: %w", t.TransactionID, fmt.Sprintf(format, args...), ErrNotOpenBanking)
	return e.err
}

// Close writes the opening if no transaction was written, then the end of
// the array and Meta, and flushes. Closing again does nothing.
func (e *jsonEncoder) Close() error {
	if e.err != nil || e.closed {
		return e.err
	}
	if !e.granted.Has(schemas.Transactions) {
		return nil
	}
	b := e.obj[:0]
	if e.count == 0 {
		b = append(b, jsonOpening...)
	}
	b = append(b, jsonMetaStart...)
	if e.count > 0 {
		b = append(b, `,"FirstAvailableDateTime":"`...)
		b = appendOBDateTime(b, e.first)
		b = append(b, `","LastAvailableDateTime":"`...)
		b = appendOBDateTime(b, e.last)
		b = append(b, '"')
	}
	b = append(b, '}', '}', '\n')
	e.obj = b
	if _, err := e.w.Write(b); err != nil {
		e.err = fmt.Errorf("write json meta: %w", err)
		return e.err
	}
	if err := e.w.Flush(); err != nil {
		e.err = fmt.Errorf("flush json: %w", err)
		return e.err
	}
	e.closed = true
	return nil
}

// The Open Banking v3.1 patterns of OBActiveOrHistoricCurrencyAndAmount,
// but for the amount's integer digits: OB allows 13, the input contract
// 18 significant digits, and a valid amount is never left out (version 1
// left out every record of a release beyond 13, in every file).
const (
	obAmountPattern   = `^\d{1,18}(\.\d{1,5})?$`
	obCurrencyPattern = `^[A-Z]{3}$`
)

// appendOBAmount appends {"Amount":"<unsigned>","Currency":"<code>"} and
// reports whether both match the Open Banking patterns. It checks the bytes
// it wrote, so the check cannot drift from the rendering.
func appendOBAmount(dst []byte, d schemas.Decimal, currency string) ([]byte, bool) {
	dst = append(dst, `{"Amount":"`...)
	start := len(dst)
	dst = appendMoney(dst, d, currency, false)
	ok := isOBAmount(dst[start:]) && isOBCurrency(currency)
	dst = append(dst, `","Currency":`...)
	dst = appendJSONString(dst, currency)
	return append(dst, '}'), ok
}

// isOBAmount reports whether s matches ^\d{1,18}(\.\d{1,5})?$.
func isOBAmount(s []byte) bool {
	intLen, fracLen, dot := 0, 0, false
	for _, c := range s {
		switch {
		case c == '.' && !dot:
			dot = true
		case c >= '0' && c <= '9' && !dot:
			intLen++
		case c >= '0' && c <= '9':
			fracLen++
		default:
			return false
		}
	}
	return intLen >= 1 && intLen <= 18 && (!dot || (fracLen >= 1 && fracLen <= 5))
}

// isOBCurrency reports whether s matches ^[A-Z]{3}$.
func isOBCurrency(s string) bool {
	return len(s) == 3 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z' && s[2] >= 'A' && s[2] <= 'Z'
}
