package spill

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/midata/midata/schemas"
)

// maxString bounds one decoded string, so a corrupt length cannot make a
// huge allocation (the input contract's longest field is 500 characters).
const maxString = 1 << 20

// maxRecord bounds one encoded record: its strings and numbers.
const maxRecord = nStrings*(maxString+binary.MaxVarintLen64) + 10*binary.MaxVarintLen64

// codec holds what writing runs reuses from one run to the next: the
// scratch buffer records are encoded into, and the file's write buffer.
type codec struct {
	buf []byte
	w   *bufio.Writer
}

// The record encoding of a run file (and of bycustomer's runs in memory):
// a uvarint, the length of the body, then the body, field by field:
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
// record and slices it. Times come back in UTC. A typical card payment
// takes about 130 bytes, against about 360 as a struct with its strings.
const nStrings = 11

// stringFields returns pointers to t's string fields, in encoding order.
func stringFields(t *schemas.Transaction) [nStrings]*string {
	return [nStrings]*string{
		&t.TransactionID, &t.CustomerID, &t.AccountID, &t.Currency,
		(*string)(&t.Status), &t.Type, &t.Description, &t.MerchantName,
		&t.MerchantCode, &t.Amount.Text, &t.BalanceAfter.Text,
	}
}

// AppendRecord appends the compact encoding of t that run files use (its
// length, then its fields) to dst and returns the extended slice.
// DecodeRecord reads it back.
func AppendRecord(dst []byte, t *schemas.Transaction) []byte {
	start := len(dst)
	dst = appendBody(dst, t)
	n := len(dst) - start
	var head [binary.MaxVarintLen64]byte
	h := binary.PutUvarint(head[:], uint64(n))
	dst = append(dst, head[:h]...)
	copy(dst[start+h:], dst[start:start+n]) // move the body after its length
	copy(dst[start:], head[:h])
	return dst
}

// DecodeRecord decodes the record AppendRecord put at the start of b into
// t, overwriting every field, and returns the bytes after it. The strings
// of t are a copy: b may be reused. A b that ends inside the record gives
// io.ErrUnexpectedEOF.
func DecodeRecord(b []byte, t *schemas.Transaction) ([]byte, error) {
	n, h := binary.Uvarint(b)
	switch {
	case h == 0:
		return b, io.ErrUnexpectedEOF
	case h < 0 || n > maxRecord:
		return b, fmt.Errorf("%w: record length", errCorrupt)
	case uint64(len(b)-h) < n:
		return b, io.ErrUnexpectedEOF
	}
	if err := decodeBody(b[h:h+int(n)], t); err != nil {
		return b, err
	}
	return b[h+int(n):], nil
}

// appendBody appends the fields of t.
func appendBody(dst []byte, t *schemas.Transaction) []byte {
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

// decodeBody decodes one record's body, all of b, into t, overwriting
// every field. A body cut short gives io.ErrUnexpectedEOF.
func decodeBody(b []byte, t *schemas.Transaction) error {
	d := decoder{b: b}
	var lens [nStrings]int
	total := 0
	for i := range lens {
		n := d.uvarint()
		if n > maxString {
			return fmt.Errorf("%w: string of %d bytes", errCorrupt, n)
		}
		lens[i] = int(n)
		total += int(n)
	}
	if d.err != nil {
		return d.err
	}
	if len(d.b) < total {
		return io.ErrUnexpectedEOF
	}
	all := string(d.b[:total])
	d.b = d.b[total:]
	off := 0
	for i, p := range stringFields(t) {
		*p = all[off : off+lens[i]]
		off += lens[i]
	}
	sec, nsec := d.varint(), d.uvarint()
	amountUnits, amountScale := d.varint(), d.varint()
	balanceUnits, balanceScale := d.varint(), d.varint()
	flags := d.byte()
	partition, offset := d.varint(), d.varint()
	switch {
	case d.err != nil:
		return d.err
	case len(d.b) != 0:
		return fmt.Errorf("%w: %d bytes after a record", errCorrupt, len(d.b))
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

// decoder reads varints from a byte slice until the first error, which it
// keeps.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(n)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(n)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.err = io.ErrUnexpectedEOF
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

// fail records why a varint could not be read: n == 0 is a body cut short,
// n < 0 an overflow.
func (d *decoder) fail(n int) {
	if n == 0 {
		d.err = io.ErrUnexpectedEOF
	} else {
		d.err = fmt.Errorf("%w: varint overflows 64 bits", errCorrupt)
	}
}

// noEOF turns an end of file inside a record into io.ErrUnexpectedEOF: the
// run knows how many records it holds, so any EOF is a truncation.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
