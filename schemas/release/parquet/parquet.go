// Package parquet owns the Parquet release format: its Format, its columns
// and their Table Schema, its money as DECIMAL(22,4) (wide enough for every
// valid amount; Fits) and the streaming encoder on top of
// github.com/xitongsys/parquet-go.
//
// It does not list formats, filter records or name files of a release:
// schemas/release does (Lookup, Names, the manifest); the contract it
// implements is schemas/release/format.
package parquet

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"strconv"
	"strings"
	"sync"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/xitongsys/parquet-go-source/writerfile"
	"github.com/xitongsys/parquet-go/common"
	"github.com/xitongsys/parquet-go/layout"
	pqthrift "github.com/xitongsys/parquet-go/parquet"
	"github.com/xitongsys/parquet-go/schema"
	"github.com/xitongsys/parquet-go/writer"

	"github.com/midata/midata/schemas"
	"github.com/midata/midata/schemas/release/format"
)

// Format is Apache Parquet (version 2): one row per transaction, oldest
// first, one typed column per granted field, written with
// github.com/xitongsys/parquet-go v1.6.2, for Spark, Athena, DuckDB,
// pandas and Arrow.
//
// The columns, always in this order (parquetSchema lists them):
//
//	transaction_id, customer_id, account_id   BYTE_ARRAY STRING, exact text
//	booked_at      INT64 TIMESTAMP(isAdjustedToUTC=true, MICROS), also
//	               the legacy TIMESTAMP_MICROS annotation; sub-microsecond
//	               digits are dropped (truncated towards the past): Parquet
//	               nanoseconds are unreadable to Spark and Athena
//	amount         FIXED_LEN_BYTE_ARRAY(10) DECIMAL(22,4), signed:
//	               negative is money out
//	currency       STRING, dictionary encoded
//	status         STRING, dictionary encoded ("booked" when the record
//	               has none)
//	type           optional STRING: null when the record has none
//	description    STRING, exact text
//
// then, only with the merchant category, merchant_name and
// merchant_category_code (optional STRING, null when the record has none),
// and only with the balances category, balance_after (optional
// FIXED_LEN_BYTE_ARRAY(10) DECIMAL(22,4), null when the record has none). Columns of categories that
// are not granted are absent from the file's schema. Every leaf has a field
// id, the column's place in the full list above (transaction_id 1 to
// balance_after 12), the same whatever is granted.
//
// Money is one fixed scale for every currency, DECIMAL(22,4), which holds
// every amount the input contract allows exactly: at most 18 significant
// digits (18 before the point at scale 0) and the currency's minor units
// (at most 4, CLF and UYW). Version 1's INT64 DECIMAL(18,5) left out
// amounts of 10^13 or more, valid ones among them. A decimal with more
// than four places (never a valid record) fails Encode with an error
// wrapping ErrNotDecimal; nothing is ever rounded.
//
// Layout: snappy compression; pages of about 64 KiB; a row group is
// written out once its compressed pages reach 8 MiB, so memory stays
// bounded whatever the size of the release. The required columns carry
// statistics (min, max, null count: zero) in the type-defined order, but
// for the money columns; the optional ones carry none, as parquet-go
// v1.6.2 miscounts nulls. (parquet-go orders FIXED_LEN_BYTE_ARRAY values as
// unsigned bytes, not as the signed decimals they are: its min and max of
// money would be wrong, so money has none.) No page index, no key-value metadata,
// a constant created_by: the same records give the same bytes. Without the
// transactions category nothing at all is written; with it and no records,
// a valid file of zero rows.
var Format = format.Format{
	Name:      "parquet",
	File:      "transactions.parquet",
	MediaType: "application/vnd.apache.parquet",
	Version:   2,
	Order:     format.OldestFirst,
	New:       newParquetEncoder,
	Schema:    parquetSchema,
	Fits:      Fits,
}

// ErrNotDecimal is wrapped by the Parquet encoder's error (and by Fits's)
// for money that DECIMAL(22,4) cannot hold exactly: never a valid record's.
var ErrNotDecimal = errors.New("not representable as Parquet DECIMAL(22,4)")

// Fits reports why the record's money does not fit DECIMAL(22,4), with an
// error wrapping ErrNotDecimal, or nil when it fits: every record of the
// input contract fits.
func Fits(t *schemas.Transaction, granted schemas.Category) error {
	if _, err := parquetMoney(t.Amount); err != nil {
		return fmt.Errorf("amount: %w", err)
	}
	if t.HasBalance && granted.Has(schemas.Balances) {
		if _, err := parquetMoney(t.BalanceAfter); err != nil {
			return fmt.Errorf("balance_after: %w", err)
		}
	}
	return nil
}

const (
	// parquetScale and parquetPrecision are the DECIMAL of every money
	// column, a FIXED_LEN_BYTE_ARRAY of parquetMoneyBytes: the fewest bytes
	// whose signed range holds 22 digits.
	parquetScale      = 4
	parquetPrecision  = 22
	parquetMoneyBytes = 10

	// parquetCreatedBy is the file's created_by: constant, so the bytes do
	// not depend on the build.
	parquetCreatedBy = "parquet-go version 1.6.2 (build midata parquet v1)"
)

// parquetLimits are the sizes that bound the encoder's memory.
type parquetLimits struct {
	batchRows     int   // rows marshalled into pages at a time
	pageBytes     int64 // a page is cut once its values reach this size
	rowGroupBytes int64 // a row group is written once its compressed pages reach this size
}

// defaultParquetLimits were chosen by measurement (BenchmarkEncodeParquet,
// and schemas/release's BenchmarkEncodePeakHeap): 64 KiB pages make the file a fifth smaller
// than parquet-go's default 8 KiB, at the same speed; 8 MiB row groups keep
// the peak heap near 30 MiB, the same at 1 and 5 million rows (32 MiB
// ones: 76 MiB).
var defaultParquetLimits = parquetLimits{batchRows: 8192, pageBytes: 64 << 10, rowGroupBytes: 8 << 20}

// parquetColumn is one column the format may write.
type parquetColumn struct {
	field    format.Field     // its Table Schema entry, with its name
	category schemas.Category // the category that grants it
	tag      string           // its parquet-go schema tag, without name and field id
}

const (
	parquetString   = "type=BYTE_ARRAY, convertedtype=UTF8, logicaltype=STRING"
	parquetDecimal  = "type=FIXED_LEN_BYTE_ARRAY, length=10, convertedtype=DECIMAL, scale=4, precision=22, logicaltype=DECIMAL, logicaltype.precision=22, logicaltype.scale=4, omitstats=true"
	parquetRequired = ", repetitiontype=REQUIRED"
	// Optional columns are written without statistics: parquet-go v1.6.2
	// miscounts nulls (a page's first row is not counted; in a dictionary
	// page all or none are), and a wrong null count would let a reader
	// skip data it must read. Nor are they dictionary encoded: parquet-go
	// panics on a dictionary column without statistics.
	parquetOptional = ", repetitiontype=OPTIONAL, omitstats=true"
	parquetDict     = ", encoding=PLAIN_DICTIONARY"
)

// parquetColumns are every column in file order; a column's field id is its
// index plus one.
var parquetColumns = []parquetColumn{
	{format.Field{Name: "transaction_id", Type: "string", Category: "transactions", Description: "Unique id of the transaction (input transaction_id)."}, schemas.Transactions, parquetString + parquetRequired},
	{format.Field{Name: "customer_id", Type: "string", Category: "transactions", Description: "The customer the transaction belongs to."}, schemas.Transactions, parquetString + parquetRequired},
	{format.Field{Name: "account_id", Type: "string", Category: "transactions", Description: "The customer's account."}, schemas.Transactions, parquetString + parquetRequired},
	{format.Field{Name: "booked_at", Type: "datetime", Category: "transactions", Description: "Booking time: INT64 TIMESTAMP(isAdjustedToUTC=true, MICROS)."}, schemas.Transactions,
		"type=INT64, convertedtype=TIMESTAMP_MICROS, logicaltype=TIMESTAMP, logicaltype.isadjustedtoutc=true, logicaltype.unit=MICROS, isadjustedtoutc=true" + parquetRequired},
	{format.Field{Name: "amount", Type: "number", Category: "transactions", Description: "Signed amount, DECIMAL(22,4): negative is money out."}, schemas.Transactions, parquetDecimal + parquetRequired},
	{format.Field{Name: "currency", Type: "string", Category: "transactions", Description: "ISO 4217 alphabetic currency code."}, schemas.Transactions, parquetString + parquetRequired + parquetDict},
	{format.Field{Name: "status", Type: "string", Category: "transactions", Description: "Booking status: booked."}, schemas.Transactions, parquetString + parquetRequired + parquetDict},
	{format.Field{Name: "type", Type: "string", Category: "transactions", Description: "Transaction type code such as POS, DD, BGC; null when unknown."}, schemas.Transactions, parquetString + parquetOptional},
	{format.Field{Name: "description", Type: "string", Category: "transactions", Description: "The transaction's description, exact text."}, schemas.Transactions, parquetString + parquetRequired},
	{format.Field{Name: "merchant_name", Type: "string", Category: "merchant", Description: "Merchant name; null when unknown."}, schemas.Merchant, parquetString + parquetOptional},
	{format.Field{Name: "merchant_category_code", Type: "string", Category: "merchant", Description: "Merchant category code (ISO 18245, four digits); null when unknown."}, schemas.Merchant, parquetString + parquetOptional},
	{format.Field{Name: "balance_after", Type: "number", Category: "balances", Description: "Account balance after the transaction, DECIMAL(22,4); null when unknown."}, schemas.Balances, parquetDecimal + parquetOptional},
}

// parquetGranted returns the indexes in parquetColumns of the columns the
// granted categories allow, in file order; nil without transactions.
func parquetGranted(granted schemas.Category) []int {
	if !granted.Has(schemas.Transactions) {
		return nil
	}
	var idx []int
	for i, c := range parquetColumns {
		if granted.Has(c.category) {
			idx = append(idx, i)
		}
	}
	return idx
}

// parquetSchema returns the columns the Parquet file has for the granted
// categories, in order; nil without the transactions category (nothing is
// written).
func parquetSchema(granted schemas.Category) *format.Schema {
	idx := parquetGranted(granted)
	if idx == nil {
		return nil
	}
	s := &format.Schema{PrimaryKey: []string{"transaction_id"}}
	for _, i := range idx {
		s.Fields = append(s.Fields, parquetColumns[i].field)
	}
	return s
}

// parquetJSONSchema returns the parquet-go JSON schema of the columns idx.
// schemaCache holds the schema handler of each column set, parsed once
// from parquetJSONSchema: parsing it for every file was 22 % of serve's CPU
// in a bulk run of 8,000 small parquet releases.
var schemaCache sync.Map // fmt.Sprint(cols) → *schema.SchemaHandler

// schemaHandler returns the schema handler of the columns idx for one
// writer: the cached handler's maps and tags, which writers only read, and
// a copy of its elements, which a writer renames in place (RenameSchema).
func schemaHandler(idx []int) (*schema.SchemaHandler, error) {
	key := fmt.Sprint(idx)
	v, ok := schemaCache.Load(key)
	if !ok {
		h, err := schema.NewSchemaHandlerFromJSON(parquetJSONSchema(idx))
		if err != nil {
			return nil, err
		}
		v, _ = schemaCache.LoadOrStore(key, h)
	}
	h := *v.(*schema.SchemaHandler)
	elements := make([]*pqthrift.SchemaElement, len(h.SchemaElements))
	for i, el := range h.SchemaElements {
		c := *el
		elements[i] = &c
	}
	h.SchemaElements = elements
	return &h, nil
}

func parquetJSONSchema(idx []int) string {
	var b strings.Builder
	b.WriteString(`{"Tag":"name=schema, repetitiontype=REQUIRED","Fields":[`)
	for n, i := range idx {
		if n > 0 {
			b.WriteByte(',')
		}
		tag := "name=" + parquetColumns[i].field.Name + ", fieldid=" + strconv.Itoa(i+1) + ", " + parquetColumns[i].tag
		b.WriteString(`{"Tag":`)
		b.WriteString(strconv.Quote(tag))
		b.WriteByte('}')
	}
	b.WriteString(`]}`)
	return b.String()
}

// parquetEncoder writes Parquet. It gathers batchRows rows column by column
// and hands them to parquet-go's ParquetWriter through its MarshalFunc
// hook. Measured against that, ParquetWriter.Write of tagged structs (it
// reflects over every row) was 3 times slower, CSVWriter 1.4 times and
// JSONWriter 18 times. NP (parallel marshalling) stays 1: with more,
// dictionary codes depend on goroutine scheduling and the bytes vary, for
// no clear gain on two cores.
type parquetEncoder struct {
	w      *bufio.Writer
	pw     *writer.ParquetWriter
	limits parquetLimits
	cols   []int // indexes in parquetColumns of the columns written
	// Where the merchant and balance columns are in cols; -1 when not granted.
	merchantAt, balanceAt int

	// One batch, column by column, in the order of cols: values as
	// parquet-go takes them (string, int64, nil for null) and definition
	// levels (optional columns only; required ones share zeros).
	vals     [][]any
	defs     [][]int32
	optional []bool
	zeros    []int32
	paths    [][]string
	rows     int // rows in the batch
	// objs[i] points at rowIndex[i]: parquet-go counts the rows of a batch
	// by the objects it is handed, and hands them back to marshal.
	objs     []any
	rowIndex []int

	err    error // sticky
	closed bool
}

func newParquetEncoder(w io.Writer, o format.Options) format.Encoder {
	return newParquetEncoderLimits(w, o.Granted, defaultParquetLimits)
}

func newParquetEncoderLimits(w io.Writer, granted schemas.Category, limits parquetLimits) *parquetEncoder {
	e := &parquetEncoder{limits: limits, cols: parquetGranted(granted), merchantAt: -1, balanceAt: -1}
	if e.cols == nil {
		return e // writes nothing
	}
	for k, i := range e.cols {
		switch parquetColumns[i].field.Name {
		case "merchant_name":
			e.merchantAt = k
		case "balance_after":
			e.balanceAt = k
		}
	}
	e.w = bufio.NewWriterSize(w, 64<<10)
	handler, err := schemaHandler(e.cols)
	if err != nil {
		e.err = fmt.Errorf("make parquet schema: %w", err)
		return e
	}
	pw, err := writer.NewParquetWriter(writerfile.NewWriterFile(e.w), nil, 1)
	if err == nil {
		pw.SchemaHandler = handler
		pw.Footer.Schema = append(pw.Footer.Schema[:0], handler.SchemaElements...)
	}
	if err != nil {
		e.err = fmt.Errorf("make parquet schema: %w", err)
		return e
	}
	// Snappy rather than zstd: measured on parquetStream's varied records, zstd
	// made the file 3 times smaller but encoded a fifth slower, is not read
	// by every older Hadoop reader, and its bytes follow the version of
	// klauspost/compress (which the Kafka clients move), not parquet-go's.
	pw.CompressionType = pqthrift.CompressionCodec_SNAPPY
	pw.PageSize = limits.pageBytes
	pw.RowGroupSize = limits.rowGroupBytes
	pw.MarshalFunc = e.marshal
	createdBy := parquetCreatedBy
	pw.Footer.CreatedBy = &createdBy
	e.pw = pw

	n := len(e.cols)
	e.vals = make([][]any, n)
	e.defs = make([][]int32, n)
	e.optional = make([]bool, n)
	e.paths = make([][]string, n)
	for k := range n {
		el := pw.SchemaHandler.SchemaElements[k+1]
		e.optional[k] = el.GetRepetitionType() == pqthrift.FieldRepetitionType_OPTIONAL
		e.paths[k] = common.StrToPath(pw.SchemaHandler.IndexMap[int32(k+1)])
	}
	// The batch's columns grow with its rows (append), and the row
	// indexes at flush: sized to batchRows up front, every file took about
	// 2 MB, which for 8,000 small parquet releases of a bulk run was 16 GB
	// of allocation.
	return e
}

// rowSlots makes zeros, rowIndex and objs hold at least n rows.
func (e *parquetEncoder) rowSlots(n int) {
	if len(e.rowIndex) >= n {
		return
	}
	size := max(n, min(2*len(e.rowIndex), e.limits.batchRows))
	e.zeros = make([]int32, size)
	e.rowIndex = make([]int, size)
	e.objs = make([]any, size)
	for i := range e.rowIndex {
		e.rowIndex[i] = i
		e.objs[i] = &e.rowIndex[i]
	}
}

// Encode adds one row; a full batch is turned into pages, and a full row
// group is written out.
func (e *parquetEncoder) Encode(t *schemas.Transaction) error {
	if e.err != nil {
		return e.err
	}
	if e.closed {
		return errors.New("encode parquet row after close")
	}
	if e.cols == nil {
		return nil
	}
	// Everything that can fail comes first: a record is written whole or
	// not at all.
	amount, err := parquetMoney(t.Amount)
	if err != nil {
		e.err = fmt.Errorf("encode transaction %s as parquet: amount: %w", t.TransactionID, err)
		return e.err
	}
	var balance string
	if e.balanceAt >= 0 && t.HasBalance {
		if balance, err = parquetMoney(t.BalanceAfter); err != nil {
			e.err = fmt.Errorf("encode transaction %s as parquet: balance_after: %w", t.TransactionID, err)
			return e.err
		}
	}
	status := string(t.Status)
	if status == "" {
		status = string(schemas.StatusBooked)
	}
	// The columns in file order: the transactions ones are always first.
	e.put(0, t.TransactionID)
	e.put(1, t.CustomerID)
	e.put(2, t.AccountID)
	e.put(3, t.BookedAt.UnixMicro())
	e.put(4, amount)
	e.put(5, t.Currency)
	e.put(6, status)
	e.putString(7, t.Type)
	e.put(8, t.Description)
	if k := e.merchantAt; k >= 0 {
		e.putString(k, t.MerchantName)
		e.putString(k+1, t.MerchantCode)
	}
	if k := e.balanceAt; k >= 0 {
		if t.HasBalance {
			e.put(k, balance)
		} else {
			e.put(k, nil)
		}
	}
	e.rows++
	if e.rows == e.limits.batchRows {
		return e.flush(false)
	}
	return nil
}

// put appends v (nil for null) to column k of the batch.
func (e *parquetEncoder) put(k int, v any) {
	e.vals[k] = append(e.vals[k], v)
	if e.optional[k] {
		var d int32
		if v != nil {
			d = 1
		}
		e.defs[k] = append(e.defs[k], d)
	}
}

// putString appends s to column k, or null when s is empty.
func (e *parquetEncoder) putString(k int, s string) {
	if s == "" {
		e.put(k, nil)
		return
	}
	e.put(k, s)
}

// parquetMoney returns d at scale 4 as DECIMAL(22,4)'s bytes: 80-bit
// two's complement, big-endian. An error wraps ErrNotDecimal when d has
// more than four places or 22 digits at scale 4.
func parquetMoney(d schemas.Decimal) (string, error) {
	for d.Scale > parquetScale && d.Units%10 == 0 { // trailing zeros
		d.Units, d.Scale = d.Units/10, d.Scale-1
	}
	if d.Scale < 0 || d.Scale > parquetScale {
		return "", fmt.Errorf("%w: %s has more than %d decimal places", ErrNotDecimal, d, parquetScale)
	}
	mag := uint64(d.Units)
	neg := d.Units < 0
	if neg {
		mag = -mag // also right for math.MinInt64
	}
	hi, lo := bits.Mul64(mag, pow10[parquetScale-d.Scale])
	// 10^22 = 542·2^64 + 1864712049423024128
	if hi > 542 || hi == 542 && lo >= 1864712049423024128 {
		return "", fmt.Errorf("%w: %s has more than %d digits", ErrNotDecimal, d, parquetPrecision)
	}
	if neg {
		var borrow uint64
		lo, borrow = bits.Sub64(0, lo, 0)
		hi, _ = bits.Sub64(0, hi, borrow)
	}
	var b [parquetMoneyBytes]byte
	binary.BigEndian.PutUint16(b[0:2], uint16(hi))
	binary.BigEndian.PutUint64(b[2:], lo)
	return string(b[:]), nil
}

// pow10 are the powers of ten up to the scale.
var pow10 = [parquetScale + 1]uint64{1, 10, 100, 1000, 10000}

// marshal is the ParquetWriter's MarshalFunc: it hands over the rows src
// of the batch (pointers into rowIndex) as parquet-go tables, one per
// column.
func (e *parquetEncoder) marshal(src []any, sh *schema.SchemaHandler) (*map[string]*layout.Table, error) {
	tables := make(map[string]*layout.Table, len(e.cols))
	if len(src) == 0 {
		return &tables, nil
	}
	from := *src[0].(*int)
	to := from + len(src)
	for k := range e.cols {
		t := &layout.Table{
			RepetitionType:   sh.SchemaElements[k+1].GetRepetitionType(),
			Schema:           sh.SchemaElements[k+1],
			Path:             e.paths[k],
			Values:           e.vals[k][from:to],
			DefinitionLevels: e.zeros[from:to],
			RepetitionLevels: e.zeros[from:to],
			Info:             sh.Infos[k+1],
		}
		if e.optional[k] {
			t.MaxDefinitionLevel = 1
			t.DefinitionLevels = e.defs[k][from:to]
		}
		tables[sh.IndexMap[int32(k+1)]] = t
	}
	return &tables, nil
}

// flush turns the batch into pages, writes a row group when the pages
// reach rowGroupBytes (or always, with last), and empties the batch.
func (e *parquetEncoder) flush(last bool) (err error) {
	defer func() {
		if r := recover(); r != nil { // parquet-go panics on some bugs; fail the release, not the process
			err = fmt.Errorf("write parquet row group: parquet-go panicked: %v", r)
		}
		if err != nil {
			e.err = err
		}
	}()
	e.rowSlots(e.rows)
	e.pw.Objs = e.objs[:e.rows]
	if err := e.pw.Flush(last); err != nil {
		return fmt.Errorf("write parquet row group: %w", err)
	}
	for k := range e.cols {
		clear(e.vals[k]) // drop the strings for the garbage collector
		e.vals[k] = e.vals[k][:0]
		if e.optional[k] {
			e.defs[k] = e.defs[k][:0]
		}
	}
	e.rows = 0
	// The page indexes parquet-go keeps for every page are not written
	// (see Close): drop them so memory does not grow with the file.
	e.pw.ColumnIndexes = e.pw.ColumnIndexes[:0]
	e.pw.OffsetIndexes = e.pw.OffsetIndexes[:0]
	return nil
}

// Close writes the last row group and the footer, and flushes. It writes
// the footer itself rather than calling ParquetWriter.WriteStop, which
// would add a column index holding no bounds for the columns without
// statistics.
func (e *parquetEncoder) Close() error {
	if e.err != nil {
		return e.err
	}
	if e.closed || e.cols == nil {
		e.closed = true
		return nil
	}
	e.closed = true
	if err := e.flush(true); err != nil {
		return err
	}
	e.pw.RenameSchema()
	for _, rg := range e.pw.Footer.RowGroups {
		for k, cc := range rg.Columns {
			if e.optional[k] || e.pw.Footer.Schema[k+1].GetType() == pqthrift.Type_FIXED_LEN_BYTE_ARRAY {
				cc.MetaData.Statistics = nil // omitted: parquet-go sets it, without values
			}
		}
	}
	// Without column orders, readers (parquet-mr, Arrow C++) ignore the
	// string columns' min and max: parquet-go computes them in the type's
	// defined order (signed for INT64, byte-wise for strings), so say so.
	e.pw.Footer.ColumnOrders = make([]*pqthrift.ColumnOrder, len(e.cols))
	for k := range e.cols {
		e.pw.Footer.ColumnOrders[k] = &pqthrift.ColumnOrder{TYPE_ORDER: pqthrift.NewTypeDefinedOrder()}
	}
	for _, el := range e.pw.Footer.Schema[1:] {
		// parquet-go sets these on every column; only decimals have them,
		// and the type length only fixed-length ones.
		if el.GetType() != pqthrift.Type_FIXED_LEN_BYTE_ARRAY {
			el.TypeLength = nil
		}
		if el.GetConvertedType() != pqthrift.ConvertedType_DECIMAL {
			el.Scale, el.Precision = nil, nil
		}
	}
	ts := thrift.NewTSerializer()
	ts.Protocol = thrift.NewTCompactProtocolFactoryConf(nil).GetProtocol(ts.Transport)
	footer, err := ts.Write(context.Background(), e.pw.Footer)
	if err != nil {
		e.err = fmt.Errorf("encode parquet footer: %w", err)
		return e.err
	}
	footer = binary.LittleEndian.AppendUint32(footer, uint32(len(footer)))
	footer = append(footer, "PAR1"...)
	if _, err := e.w.Write(footer); err != nil {
		e.err = fmt.Errorf("write parquet footer: %w", err)
		return e.err
	}
	if err := e.w.Flush(); err != nil {
		e.err = fmt.Errorf("flush parquet: %w", err)
		return e.err
	}
	return nil
}
