package release

import (
	"bufio"
	"fmt"
	"io"
	"time"
	_ "time/tzdata" // Europe/London must load on machines without zoneinfo

	"github.com/midata/midata/schemas"
)

// MidataCSV is the classic midata current-account CSV (version 1), as the UK
// banks shipped it from 2013 to 2016, newest transaction first:
//
//	Date,Type,Merchant/Description,Debit/Credit,Balance
//	15/07/2026,POS,TESCO STORES 1234,-£12.34,+£1234.56
//
// The columns:
//
//   - Date: DD/MM/YYYY, the booking date in UK time (Europe/London, so a
//     booking at 23:30 UTC in British Summer Time is dated the next day).
//   - Type: the transaction type code (may be empty).
//   - Merchant/Description: the description, exact text.
//   - Debit/Credit: the signed amount: '-' for money out, '+' otherwise
//     (zero is "+£0.00"), then '£' for GBP or else the ISO 4217 code with no
//     space ("-EUR12.50", "+JPY1500"), then the amount with exactly the
//     currency's minor units (schemas.CurrencyMinorUnits: GBP 2, JPY 0) and
//     no thousands separator. Amounts are never rounded: an amount with more
//     places than its currency allows (which input validation rejects), or
//     in a currency without known minor units, keeps its own places.
//   - Balance: balance_after signed the same way, in the transaction's
//     currency; empty when the balances category is not granted or the
//     record has no balance.
//
// CRLF line ends, UTF-8 without a byte-order mark, RFC 4180 quoting. Text
// cells (Type, Merchant/Description) that begin with '=', '+', '-', '@', tab
// or CR get a leading apostrophe against formula injection; the two money
// columns are written as signed values and never get one.
//
// Differences from the banks' files, on purpose: no footer (the banks closed
// with a blank line and "Arranged overdraft limit,<date>,£0.00"; the input
// has no overdraft data, and every parser special-cases the footer anyway),
// and currencies other than GBP. Without the transactions category nothing
// at all is written, not even the header.
var MidataCSV = Format{
	Name:      "midata-csv",
	File:      "transactions.midata.csv",
	MediaType: "text/csv",
	Version:   1,
	Order:     NewestFirst,
	New:       newMidataEncoder,
	Schema:    midataSchema,
}

// midataSchema returns the five columns of the midata CSV; the Balance
// column is there whatever is granted (empty without balances). Nil without
// the transactions category (nothing is written).
func midataSchema(granted schemas.Category) *Schema {
	if !granted.Has(schemas.Transactions) {
		return nil
	}
	const tx = "transactions"
	return &Schema{Fields: []Field{
		{Name: "Date", Type: "date", Format: "%d/%m/%Y", Category: tx, Description: "Booking date in UK time (Europe/London)."},
		{Name: "Type", Type: "string", Category: tx, Description: "Transaction type code such as POS, DD, BGC; empty when unknown."},
		{Name: "Merchant/Description", Type: "string", Category: tx, Description: "The transaction's description, exact text."},
		{Name: "Debit/Credit", Type: "string", Category: tx, Description: "Signed amount with the currency: -£12.34, +EUR12.50, +JPY1500."},
		{Name: "Balance", Type: "string", Category: "balances", Description: "Balance after the transaction, signed like Debit/Credit; empty when not granted or unknown."},
	}}
}

// midataHeader is the header row of the midata CSV.
const midataHeader = "Date,Type,Merchant/Description,Debit/Credit,Balance\r\n"

// ukZone is the time zone midata dates are written in.
const ukZone = "Europe/London"

// midataEncoder writes the midata CSV.
type midataEncoder struct {
	w        *bufio.Writer
	granted  schemas.Category
	uk       *time.Location
	err      error // sticky: the zone did not load, or a write failed
	wroteHdr bool
	row      []byte // scratch for one row, reused
	money    []byte // scratch for one money cell, reused
}

func newMidataEncoder(w io.Writer, o Options) Encoder {
	granted := o.Granted
	e := &midataEncoder{w: bufio.NewWriterSize(w, 64<<10), granted: granted}
	uk, err := time.LoadLocation(ukZone)
	if err != nil {
		e.err = fmt.Errorf("load time zone %s: %w", ukZone, err)
	}
	e.uk = uk
	return e
}

// Encode writes one row (and the header before the first one).
func (e *midataEncoder) Encode(t *schemas.Transaction) error {
	if e.err != nil {
		return e.err
	}
	if !e.granted.Has(schemas.Transactions) {
		return nil
	}
	b := e.row[:0]
	if !e.wroteHdr {
		b = append(b, midataHeader...)
		e.wroteHdr = true
	}
	b = t.BookedAt.In(e.uk).AppendFormat(b, "02/01/2006")
	b = append(b, ',')
	b = appendTextCell(b, t.Type)
	b = append(b, ',')
	b = appendTextCell(b, t.Description)
	b = append(b, ',')
	e.money = appendMidataMoney(e.money[:0], t.Amount, t.Currency)
	b = appendPlainCell(b, e.money)
	b = append(b, ',')
	if e.granted.Has(schemas.Balances) && t.HasBalance {
		e.money = appendMidataMoney(e.money[:0], t.BalanceAfter, t.Currency)
		b = appendPlainCell(b, e.money)
	}
	b = append(b, '\r', '\n')
	e.row = b
	if _, err := e.w.Write(b); err != nil {
		e.err = fmt.Errorf("write midata csv row: %w", err)
		return e.err
	}
	return nil
}

// Close writes the header if no row was written, and flushes.
func (e *midataEncoder) Close() error {
	if e.err != nil {
		return e.err
	}
	if !e.granted.Has(schemas.Transactions) {
		return nil
	}
	if !e.wroteHdr {
		e.wroteHdr = true
		if _, err := e.w.WriteString(midataHeader); err != nil {
			e.err = fmt.Errorf("write midata csv header: %w", err)
			return e.err
		}
	}
	if err := e.w.Flush(); err != nil {
		e.err = fmt.Errorf("flush midata csv: %w", err)
		return e.err
	}
	return nil
}

// appendMidataMoney appends a signed midata amount: "-£12.34", "+EUR0.50".
func appendMidataMoney(dst []byte, d schemas.Decimal, currency string) []byte {
	if d.Units < 0 {
		dst = append(dst, '-')
	} else {
		dst = append(dst, '+')
	}
	if currency == "GBP" {
		dst = append(dst, "£"...)
	} else {
		dst = append(dst, currency...)
	}
	scale, _ := schemas.CurrencyMinorUnits(currency) // unknown: 0, the amount keeps its own places
	return appendAbsDecimal(dst, d, scale)
}
