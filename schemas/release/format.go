// Package release owns the release formats of midata and the files around
// them: the one list of formats (Lookup, Names), the text formats (midata
// CSV, CSV, NDJSON and Open Banking JSON), the manifest and the README of a
// release. Every encoder streams and is deterministic: the same records in
// the same order give the same bytes. schemas/README.md documents the
// formats.
//
// The Format contract (Format, Encoder, Options, Order, Schema) is defined
// in schemas/release/format and named here too; the Parquet encoder is in
// schemas/release/parquet and the HTML summary in schemas/release/summary.
//
// It does not filter: the pipeline passes only records the consent covers,
// in the format's order, and the categories the consent grants (fields of a
// category that is not granted are not written at all).
package release

import (
	"fmt"
	"sort"
	"strings"

	"github.com/midata/midata/schemas"
	"github.com/midata/midata/schemas/release/format"
	"github.com/midata/midata/schemas/release/parquet"
	"github.com/midata/midata/schemas/release/summary"
)

// Encoder writes one release file (see format.Encoder).
type Encoder = format.Encoder

// Order is the row order a format promises (see format.Order).
type Order = format.Order

const (
	// OldestFirst is booked_at ascending, then transaction_id (then source
	// partition and offset, so ties are deterministic).
	OldestFirst = format.OldestFirst
	// NewestFirst is the exact reverse of OldestFirst (the midata CSV).
	NewestFirst = format.NewestFirst
)

// Format describes one release format (see format.Format).
type Format = format.Format

// Options is what an encoder knows of the release it writes (see
// format.Options).
type Options = format.Options

// Schema is a Frictionless Table Schema: the columns of a tabular file.
type Schema = format.Schema

// Field is one column of a Table Schema.
type Field = format.Field

// Less reports whether a sorts before b in OldestFirst order.
func Less(a, b *schemas.Transaction) bool { return format.Less(a, b) }

// Parquet is Apache Parquet (see package parquet).
var Parquet = parquet.Format

// Summary is the html summary (see package summary): a page for the
// customer, made only for recipient self.
var Summary = summary.Format

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
