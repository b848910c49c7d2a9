package fetch

import (
	"encoding/binary"
	"hash/crc32"
	"testing"

	"github.com/segmentio/kafka-go/protocol"
)

// seal wraps records in the header of a batch at offset base that says
// count records, with a valid checksum, so the fuzzer reaches the records.
func seal(base int64, count uint16, records []byte) []byte {
	b := make([]byte, batchHeaderSize, batchHeaderSize+len(records))
	binary.BigEndian.PutUint64(b, uint64(base))
	binary.BigEndian.PutUint32(b[8:], uint32(batchHeaderSize-12+len(records)))
	b[offMagic] = 2
	binary.BigEndian.PutUint32(b[offLastDelta:], uint32(count))
	binary.BigEndian.PutUint32(b[offCount:], uint32(count))
	b = append(b, records...)
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], castagnoli))
	return b
}

// FuzzWalk holds the parser of fetch answers to what it promises on any
// input: no panic; records only from the offset asked for, each within
// the input; the offset never moves back.
// The records go in a batch with a valid header, so that the fuzzer gets
// past the checksum; raw is parsed as a whole response too. The seed
// corpus is in testdata/fuzz/FuzzWalk; these add records written by the
// test encoder.
func FuzzWalk(f *testing.F) {
	recs := batch{recs: []rec{kv(0, "a", "1"), kv(1, "b", ""), {offsetDelta: 2, key: []byte("h"), value: []byte("v"),
		headers: []protocol.Header{{Key: "k", Value: []byte("x")}}}}}.encode()[batchHeaderSize:]
	f.Add(recs, uint16(3), uint8(1), []byte(nil))
	f.Add(recs, uint16(9), uint8(0), recs)
	f.Fuzz(func(t *testing.T, records []byte, count uint16, skip uint8, raw []byte) {
		const base = 1000
		var zbuf []byte
		w := batches{pos: base + int64(skip%8), zbuf: &zbuf}
		err := w.walk(seal(base, count, records))
		if err == nil && !w.whole {
			t.Fatal("a whole batch read without error but not counted")
		}
		if w.next < w.pos {
			t.Fatalf("next %d before the offset asked for %d", w.next, w.pos)
		}
		for _, r := range w.recs {
			if r.Offset < w.pos {
				t.Fatalf("record at %d, before the offset asked for %d", r.Offset, w.pos)
			}
			if len(r.Key)+len(r.Value) > len(records) {
				t.Fatalf("record of %d bytes from %d bytes of records", len(r.Key)+len(r.Value), len(records))
			}
		}

		for v := int16(minVersion); v <= maxVersion; v++ {
			a, err := parseResponse(v, raw, "t", 0)
			if err != nil {
				continue
			}
			w := batches{pos: 0, zbuf: &zbuf}
			_ = w.walk(a.records)
			if w.next < 0 {
				t.Fatalf("next %d from a raw answer", w.next)
			}
		}
	})
}
