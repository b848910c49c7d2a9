// Package format defines what a release format is: the Format descriptor
// (name, file, media type, version, row order, constructor, Table Schema,
// fit check), the Encoder contract, the Options an encoder is given, the
// row Order a format promises (Less) and the Table Schema types.
//
// It holds no format and no list of formats: the text formats live in
// schemas/release, the others in schemas/release/parquet and
// schemas/release/summary, and schemas/release lists them all (Lookup,
// Names). The formats import this package, so none of them needs another.
package format

import (
	"io"
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
