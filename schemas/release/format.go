// Package release owns the release formats of midata: how validated
// transactions are written for a recipient (midata CSV, NDJSON, and later
// CSV, Open Banking JSON, Parquet and the HTML summary), their names, files, media types and versions, and the
// row order each format promises. Every encoder streams and is deterministic:
// the same records in the same order give the same bytes.
//
// It does not filter: the pipeline passes only records the consent covers,
// in the format's order, and the categories the consent grants (fields of a
// category that is not granted are not written at all).
package release

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/midata/midata/schemas"
)

// Encoder writes one release file. Encode is called once per record in the
// format's Order; Close writes any trailer and flushes, but does not close
// the underlying writer.
type Encoder interface {
	Encode(t *schemas.Transaction) error
	Close() error
}

// Order is the row order a format promises.
type Order int

const (
	// OldestFirst is booked_at ascending, then transaction_id (then source
	// partition and offset, so ties are deterministic).
	OldestFirst Order = iota
	// NewestFirst is the exact reverse of OldestFirst (the midata CSV).
	NewestFirst
)

// Format describes one release format.
type Format struct {
	Name      string // the name users pass: "midata-csv", "ndjson", ...
	File      string // object name inside the release: "transactions.midata.csv"
	MediaType string // e.g. "text/csv"
	Version   int    // bumped on any change of the bytes written
	Order     Order
	// New returns an encoder writing to w with the fields o.Granted allows.
	New func(w io.Writer, o Options) Encoder
	// Schema describes the columns written for the granted categories (a
	// Frictionless Table Schema); nil for formats that are not tables.
	Schema func(granted schemas.Category) *Schema
	// Fits, when set, reports why the format cannot hold a valid record
	// (an amount beyond its numeric type): the pipeline leaves such a
	// record out of every file of the release, counted, so all formats of a
	// release hold the same rows. Nil: every valid record fits.
	Fits func(t *schemas.Transaction, granted schemas.Category) error
}

// fitsDecimal18_5 reports whether the record's money fits DECIMAL(18,5),
// the bound of Parquet's columns and of Open Banking's amount pattern
// ^\d{1,13}(\.\d{1,5})?$.
func fitsDecimal18_5(t *schemas.Transaction, granted schemas.Category) error {
	if _, err := parquetUnits(t.Amount); err != nil {
		return fmt.Errorf("amount: %w", err)
	}
	if t.HasBalance && granted.Has(schemas.Balances) {
		if _, err := parquetUnits(t.BalanceAfter); err != nil {
			return fmt.Errorf("balance_after: %w", err)
		}
	}
	return nil
}

// Options is what an encoder knows of the release it writes.
type Options struct {
	Granted    schemas.Category  // the consent's categories: fields outside them are not written
	CustomerID string            // the customer of a one-customer release; empty for bulk
	Recipient  schemas.Recipient // "self" or "partner:<id>"
	From, To   time.Time         // the period [From, To) on booked_at
}

// Schema is a Frictionless Table Schema: the columns of a tabular file.
type Schema struct {
	Fields     []Field  `json:"fields"`
	PrimaryKey []string `json:"primaryKey,omitempty"`
}

// Field is one column of a Table Schema.
type Field struct {
	Name        string `json:"name"`
	Type        string `json:"type"`             // string, number, integer, date, datetime, object
	Format      string `json:"format,omitempty"` // e.g. "%d/%m/%Y" for a date pattern
	Description string `json:"description,omitempty"`
	Category    string `json:"midata:category,omitempty"` // the consent category the field belongs to
}

// Encoding is the character encoding of the format's files: "utf-8" for
// text, empty for binary formats.
func (f Format) Encoding() string {
	if strings.HasPrefix(f.MediaType, "text/") || strings.Contains(f.MediaType, "json") {
		return "utf-8"
	}
	return ""
}

// Less reports whether a sorts before b in OldestFirst order.
func Less(a, b *schemas.Transaction) bool {
	if !a.BookedAt.Equal(b.BookedAt) {
		return a.BookedAt.Before(b.BookedAt)
	}
	if a.TransactionID != b.TransactionID {
		return a.TransactionID < b.TransactionID
	}
	if a.Partition != b.Partition {
		return a.Partition < b.Partition
	}
	return a.Offset < b.Offset
}

// formats is the one place formats are listed.
var formats = registry()

// Lookup returns the format with the given name.
func Lookup(name string) (Format, error) {
	f, ok := formats[name]
	if !ok {
		return Format{}, fmt.Errorf("unknown format %q (known: %s)", name, strings.Join(Names(), ", "))
	}
	return f, nil
}

// Names returns the known format names, sorted.
func Names() []string {
	names := make([]string, 0, len(formats))
	for n := range formats {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
