package fetch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/segmentio/kafka-go/protocol"
)

// The layout of a record batch (format v2, magic 2): a fixed header of
// batchHeaderSize bytes, then the records.
const (
	batchHeaderSize = 61
	offMagic        = 16 // where the magic byte is, in every format
	offCRC          = 17 // crc32c of everything from the attributes on
	offAttributes   = 21
	offLastDelta    = 23
	offBaseTime     = 27
	offMaxTime      = 35
	offCount        = 57

	attrCompression   = 0x07
	attrLogAppendTime = 0x08
	attrControl       = 0x20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errRecord is the error of a record that does not parse.
var errRecord = errors.New("malformed record")

// batches walks the record batches of one fetch answer.
type batches struct {
	pos   int64    // the first offset wanted
	reuse bool     // records share b and zbuf instead of owning copies
	zbuf  *[]byte  // decompressed records, appended to
	recs  []Record // appended to
	next  int64    // one past the last offset of the batches seen
	whole bool     // at least one whole batch was seen
}

// walk appends the data records of the batches in b with offsets from
// w.pos on to w.recs and moves w.next past every batch it reads, markers
// (control batches) and the offsets compaction emptied included. A batch
// cut short at the end of b (the answer's size limit) is left for the
// next fetch.
func (w *batches) walk(b []byte) error {
	w.next = max(w.next, w.pos)
	for len(b) >= offMagic+1 {
		base := int64(binary.BigEndian.Uint64(b))
		length := int(int32(binary.BigEndian.Uint32(b[8:])))
		if magic := int8(b[offMagic]); magic != 2 {
			return fmt.Errorf("batch at offset %d: record format v%d, want v2 (Kafka 0.11 and later)", base, magic)
		}
		if length < batchHeaderSize-12 {
			return fmt.Errorf("batch at offset %d: length %d", base, length)
		}
		if 12+length > len(b) {
			break // cut short
		}
		batch := b[:12+length]
		b = b[12+length:]
		w.whole = true
		if err := w.batch(base, batch); err != nil {
			return fmt.Errorf("batch at offset %d: %w", base, err)
		}
	}
	return nil
}

// batch reads one whole record batch whose first offset is base.
func (w *batches) batch(base int64, b []byte) error {
	if sum := crc32.Checksum(b[offAttributes:], castagnoli); sum != binary.BigEndian.Uint32(b[offCRC:]) {
		return fmt.Errorf("crc32c %08x, batch says %08x", sum, binary.BigEndian.Uint32(b[offCRC:]))
	}
	attrs := binary.BigEndian.Uint16(b[offAttributes:])
	last := base + int64(int32(binary.BigEndian.Uint32(b[offLastDelta:])))
	if last < w.pos {
		return nil // all before the offset asked for
	}
	w.next = max(w.next, last+1)
	if attrs&attrControl != 0 {
		return nil // a transaction marker
	}
	baseTime := int64(binary.BigEndian.Uint64(b[offBaseTime:]))
	maxTime := int64(binary.BigEndian.Uint64(b[offMaxTime:]))
	count := int(int32(binary.BigEndian.Uint32(b[offCount:])))
	data := b[batchHeaderSize:]
	if c := attrs & attrCompression; c != 0 {
		var err error
		if data, err = w.decompress(protocol.Attributes(c), data); err != nil {
			return err
		}
	}
	for i := 0; i < count; i++ {
		n, k := binary.Varint(data)
		if k <= 0 || n < 0 || int64(len(data)-k) < n {
			return fmt.Errorf("record %d of %d: %w", i, count, errRecord)
		}
		rec := data[k : k+int(n)]
		data = data[k+int(n):]
		if err := w.record(base, baseTime, maxTime, attrs&attrLogAppendTime != 0, rec); err != nil {
			return fmt.Errorf("record %d of %d: %w", i, count, err)
		}
	}
	return nil
}

// record reads the body of one record (after its length).
func (w *batches) record(base, baseTime, maxTime int64, logAppendTime bool, b []byte) error {
	r := reader{b: b}
	r.take(1) // attributes, unused
	timeDelta := r.varint()
	offset := base + r.varint()
	key := r.nullable()
	value := r.nullable()
	headers := r.varint()
	if r.err != nil || headers < 0 || headers > int64(len(r.b)) {
		return errRecord
	}
	if offset < w.pos {
		return nil
	}
	ts := baseTime + timeDelta
	if logAppendTime {
		ts = maxTime
	}
	m := Record{Offset: offset, Time: time.UnixMilli(ts).UTC(), Key: key, Value: value}
	if !w.reuse {
		buf := make([]byte, len(key)+len(value))
		if key != nil {
			m.Key = buf[:len(key):len(key)]
			copy(m.Key, key)
		}
		if value != nil {
			m.Value = buf[len(key):]
			copy(m.Value, value)
		}
	}
	if headers > 0 {
		m.Headers = make([]Header, headers)
		for i := range m.Headers {
			k, v := r.nullable(), r.nullable()
			if !w.reuse && v != nil {
				v = bytes.Clone(v)
			}
			m.Headers[i] = Header{Key: string(k), Value: v}
		}
		if r.err != nil {
			return errRecord
		}
	}
	w.recs = append(w.recs, m)
	return nil
}

// decompress appends the records of a compressed batch to w.zbuf and
// returns them.
func (w *batches) decompress(c protocol.Attributes, data []byte) ([]byte, error) {
	codec := c.Compression().Codec()
	if codec == nil {
		return nil, fmt.Errorf("compression codec %d unknown", c)
	}
	zr := codec.NewReader(bytes.NewReader(data))
	defer zr.Close()
	start := len(*w.zbuf)
	buf := bytes.NewBuffer(*w.zbuf)
	if _, err := buf.ReadFrom(zr); err != nil {
		return nil, fmt.Errorf("decompress %s: %w", c.Compression(), err)
	}
	*w.zbuf = buf.Bytes()
	return (*w.zbuf)[start:], nil
}

// reader reads the varint fields of a record; after the first short read
// every read returns zero and err is set.
type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil || n < 0 || n > len(r.b) {
		r.err, r.b = errRecord, nil
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err, r.b = errRecord, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

// nullable reads a varint length and that many bytes: nil for -1.
func (r *reader) nullable() []byte {
	n := r.varint()
	if n < 0 || r.err != nil {
		if n < -1 {
			r.err, r.b = errRecord, nil
		}
		return nil
	}
	if n > int64(len(r.b)) {
		r.err, r.b = errRecord, nil
		return nil
	}
	return r.take(int(n))
}
