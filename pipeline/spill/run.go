package spill

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"math"
	"os"
	"time"

	"github.com/midata/midata/schemas"
)

// bufSize is the buffer of every run file, written or read.
const bufSize = 256 << 10

// maxString bounds one decoded string, so a corrupt length cannot make a
// huge allocation (the input contract's longest field is 500 characters).
const maxString = 1 << 20

// run is one sorted run file.
type run struct {
	path string
	n    int64 // records in the file
}

// writeRun writes recs, already sorted, to a new temporary file in dir.
func writeRun(dir string, c *codec, recs iter.Seq[*schemas.Transaction]) (_ *run, err error) {
	f, err := os.CreateTemp(dir, "midata-spill-*.run")
	if err != nil {
		return nil, fmt.Errorf("create run file: %w", err)
	}
	r := &run{path: f.Name()}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(r.path)
		}
	}()
	w := bufio.NewWriterSize(f, bufSize)
	for t := range recs {
		c.buf = appendRecord(c.buf[:0], t)
		if _, err := w.Write(c.buf); err != nil {
			return nil, fmt.Errorf("write run file %s: %w", r.path, err)
		}
		r.n++
	}
	if err := w.Flush(); err != nil {
		return nil, fmt.Errorf("write run file %s: %w", r.path, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("close run file %s: %w", r.path, err)
	}
	return r, nil
}

// open returns a reader of the run's records.
func (r *run) open() (*runReader, error) {
	f, err := os.Open(r.path)
	if err != nil {
		return nil, fmt.Errorf("open run file: %w", err)
	}
	return &runReader{f: f, r: bufio.NewReaderSize(f, bufSize), path: r.path, left: r.n}, nil
}

// remove removes the run's file; a file already gone is not an error.
func (r *run) remove() error {
	if err := os.Remove(r.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// runReader reads one run file. It decodes into one reused record.
type runReader struct {
	f       *os.File
	r       *bufio.Reader
	path    string
	left    int64
	read    int64
	rec     schemas.Transaction
	scratch []byte
}

func (rr *runReader) next() (*schemas.Transaction, error) {
	if rr.left == 0 {
		return nil, nil
	}
	if err := readRecord(rr.r, &rr.rec, &rr.scratch); err != nil {
		return nil, fmt.Errorf("read run file %s record %d: %w", rr.path, rr.read, err)
	}
	rr.left--
	rr.read++
	return &rr.rec, nil
}

func (rr *runReader) close() error { return rr.f.Close() }

// memSource is the records that never left memory, already sorted.
type memSource struct {
	recs []*schemas.Transaction
}

func (m *memSource) next() (*schemas.Transaction, error) {
	if len(m.recs) == 0 {
		return nil, nil
	}
	t := m.recs[0]
	m.recs = m.recs[1:]
	return t, nil
}

func (m *memSource) close() error { m.recs = nil; return nil }

// codec holds the scratch buffer records are encoded into.
type codec struct {
	buf []byte
}

// The record encoding of a run file, field by field:
//
//	11 × uvarint  string lengths, in stringFields order
//	bytes         the strings, concatenated
//	varint        BookedAt: Unix seconds;  uvarint: nanoseconds
//	varint        Amount.Units;            varint: Amount.Scale
//	varint        BalanceAfter.Units;      varint: BalanceAfter.Scale
//	byte          flags: 1 = HasBalance
//	varint        Partition;               varint: Offset
//
// Strings come first as one block, so decoding allocates one string per
// record and slices it. Times come back in UTC.
const nStrings = 11

// stringFields returns pointers to t's string fields, in encoding order.
func stringFields(t *schemas.Transaction) [nStrings]*string {
	return [nStrings]*string{
		&t.TransactionID, &t.CustomerID, &t.AccountID, &t.Currency,
		(*string)(&t.Status), &t.Type, &t.Description, &t.MerchantName,
		&t.MerchantCode, &t.Amount.Text, &t.BalanceAfter.Text,
	}
}

// appendRecord appends the encoding of t.
func appendRecord(dst []byte, t *schemas.Transaction) []byte {
	fields := stringFields(t)
	for _, p := range fields {
		dst = binary.AppendUvarint(dst, uint64(len(*p)))
	}
	for _, p := range fields {
		dst = append(dst, *p...)
	}
	dst = binary.AppendVarint(dst, t.BookedAt.Unix())
	dst = binary.AppendUvarint(dst, uint64(t.BookedAt.Nanosecond()))
	dst = binary.AppendVarint(dst, t.Amount.Units)
	dst = binary.AppendVarint(dst, int64(t.Amount.Scale))
	dst = binary.AppendVarint(dst, t.BalanceAfter.Units)
	dst = binary.AppendVarint(dst, int64(t.BalanceAfter.Scale))
	var flags byte
	if t.HasBalance {
		flags |= 1
	}
	dst = append(dst, flags)
	dst = binary.AppendVarint(dst, int64(t.Partition))
	return binary.AppendVarint(dst, t.Offset)
}

var errCorrupt = errors.New("corrupt run file")

// readRecord decodes one record into t, overwriting every field.
func readRecord(r *bufio.Reader, t *schemas.Transaction, scratch *[]byte) error {
	var lens [nStrings]int
	total := 0
	for i := range lens {
		n, err := binary.ReadUvarint(r)
		if err != nil {
			return noEOF(err)
		}
		if n > maxString {
			return fmt.Errorf("%w: string of %d bytes", errCorrupt, n)
		}
		lens[i] = int(n)
		total += int(n)
	}
	if cap(*scratch) < total {
		*scratch = make([]byte, total)
	}
	b := (*scratch)[:total]
	if _, err := io.ReadFull(r, b); err != nil {
		return noEOF(err)
	}
	all := string(b)
	off := 0
	for i, p := range stringFields(t) {
		*p = all[off : off+lens[i]]
		off += lens[i]
	}
	d := decoder{r: r}
	sec, nsec := d.varint(), d.uvarint()
	amountUnits, amountScale := d.varint(), d.varint()
	balanceUnits, balanceScale := d.varint(), d.varint()
	flags := d.byte()
	partition, offset := d.varint(), d.varint()
	switch {
	case d.err != nil:
		return noEOF(d.err)
	case nsec >= 1e9:
		return fmt.Errorf("%w: %d nanoseconds", errCorrupt, nsec)
	case amountScale < math.MinInt32 || amountScale > math.MaxInt32 ||
		balanceScale < math.MinInt32 || balanceScale > math.MaxInt32:
		return fmt.Errorf("%w: scale out of range", errCorrupt)
	case partition < math.MinInt || partition > math.MaxInt:
		return fmt.Errorf("%w: partition %d", errCorrupt, partition)
	}
	t.BookedAt = time.Unix(sec, int64(nsec)).UTC()
	t.Amount.Units, t.Amount.Scale = amountUnits, int32(amountScale)
	t.BalanceAfter.Units, t.BalanceAfter.Scale = balanceUnits, int32(balanceScale)
	t.HasBalance = flags&1 != 0
	t.Partition, t.Offset = int(partition), offset
	return nil
}

// decoder reads varints until the first error, which it keeps.
type decoder struct {
	r   *bufio.Reader
	err error
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, err := binary.ReadVarint(d.r)
	d.err = err
	return v
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, err := binary.ReadUvarint(d.r)
	d.err = err
	return v
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	b, err := d.r.ReadByte()
	d.err = err
	return b
}

// noEOF turns an end of file inside a record into io.ErrUnexpectedEOF: the
// run knows how many records it holds, so any EOF is a truncation.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
