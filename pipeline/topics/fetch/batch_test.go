package fetch

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go/compress"
	"github.com/segmentio/kafka-go/protocol"
	fetchapi "github.com/segmentio/kafka-go/protocol/fetch"
)

// rec is a record to encode: offset and time deltas, key and value (nil:
// null), headers.
type rec struct {
	offsetDelta, timeDelta int64
	key, value             []byte
	headers                []protocol.Header
}

// batch is a record batch to encode, by the record format v2 of the Kafka
// protocol guide, written out here field by field (not by the code under
// test).
type batch struct {
	base      int64
	lastDelta int32 // default: the last record's offset delta
	attrs     uint16
	baseTime  int64
	maxTime   int64
	recs      []rec
	badCRC    bool
}

func (b batch) encode() []byte {
	var body []byte
	for _, r := range b.recs {
		var x []byte
		x = append(x, 0) // attributes
		x = binary.AppendVarint(x, r.timeDelta)
		x = binary.AppendVarint(x, r.offsetDelta)
		x = appendNullable(x, r.key)
		x = appendNullable(x, r.value)
		x = binary.AppendVarint(x, int64(len(r.headers)))
		for _, h := range r.headers {
			x = appendNullable(x, []byte(h.Key))
			x = appendNullable(x, h.Value)
		}
		body = binary.AppendVarint(body, int64(len(x)))
		body = append(body, x...)
	}
	last := b.lastDelta
	if last == 0 && len(b.recs) > 0 {
		last = int32(b.recs[len(b.recs)-1].offsetDelta)
	}
	h := make([]byte, 61)
	binary.BigEndian.PutUint64(h[0:], uint64(b.base))
	binary.BigEndian.PutUint32(h[8:], uint32(61-12+len(body)))
	binary.BigEndian.PutUint32(h[12:], 0) // partition leader epoch
	h[16] = 2                             // magic
	binary.BigEndian.PutUint16(h[21:], b.attrs)
	binary.BigEndian.PutUint32(h[23:], uint32(last))
	binary.BigEndian.PutUint64(h[27:], uint64(b.baseTime))
	binary.BigEndian.PutUint64(h[35:], uint64(b.maxTime))
	binary.BigEndian.PutUint64(h[43:], ^uint64(0)) // producer id -1
	binary.BigEndian.PutUint16(h[51:], 0xffff)     // producer epoch -1
	binary.BigEndian.PutUint32(h[53:], ^uint32(0)) // base sequence -1
	binary.BigEndian.PutUint32(h[57:], uint32(len(b.recs)))
	out := append(h, body...)
	sum := crc32.Checksum(out[21:], crc32.MakeTable(crc32.Castagnoli))
	if b.badCRC {
		sum++
	}
	binary.BigEndian.PutUint32(out[17:], sum)
	return out
}

func appendNullable(b, v []byte) []byte {
	if v == nil {
		return binary.AppendVarint(b, -1)
	}
	return append(binary.AppendVarint(b, int64(len(v))), v...)
}

// kv is a record with a string key and value ("" value: a tombstone).
func kv(offsetDelta int64, key, value string) rec {
	r := rec{offsetDelta: offsetDelta, timeDelta: offsetDelta, key: []byte(key)}
	if value != "" {
		r.value = []byte(value)
	}
	return r
}

func concat(bs ...batch) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b.encode()...)
	}
	return out
}

// summary is records as "offset:key=value" ("key=<nil>" for a tombstone).
func summary(recs []Record) string {
	var parts []string
	for _, r := range recs {
		v := string(r.Value)
		if r.Value == nil {
			v = "<nil>"
		}
		parts = append(parts, fmt.Sprintf("%d:%s=%s", r.Offset, r.Key, v))
	}
	return strings.Join(parts, " ")
}

func TestWalkReadsTheBatchesOfAnAnswer(t *testing.T) {
	control := batch{base: 3, attrs: attrControl, recs: []rec{{key: []byte{0, 0, 0, 1}, value: []byte{0, 0, 0, 0, 0, 0}}}}
	tests := []struct {
		name     string
		answer   []byte
		pos      int64
		want     string
		wantNext int64
		whole    bool
	}{
		{
			name:   "records of several batches come in offset order, tombstones as nil values",
			answer: concat(batch{base: 0, recs: []rec{kv(0, "a", "1"), kv(1, "b", "2")}}, batch{base: 2, recs: []rec{kv(0, "a", "")}}),
			want:   "0:a=1 1:b=2 2:a=<nil>", wantNext: 3, whole: true,
		},
		{
			name:   "records before the offset asked for are left out of the batch that holds it",
			answer: concat(batch{base: 10, recs: []rec{kv(0, "a", "1"), kv(1, "b", "2"), kv(2, "c", "3")}}),
			pos:    11, want: "11:b=2 12:c=3", wantNext: 13, whole: true,
		},
		{
			name:   "a batch wholly before the offset asked for gives nothing",
			answer: concat(batch{base: 0, recs: []rec{kv(0, "a", "1")}}, batch{base: 1, recs: []rec{kv(0, "b", "2")}}),
			pos:    1, want: "1:b=2", wantNext: 2, whole: true,
		},
		{
			name:   "a transaction marker moves the offset without a record",
			answer: concat(batch{base: 0, recs: []rec{kv(0, "a", "1"), kv(1, "b", "2"), kv(2, "c", "3")}}, control),
			want:   "0:a=1 1:b=2 2:c=3", wantNext: 4, whole: true,
		},
		{
			name:   "a batch emptied at its end by compaction moves the offset to its last offset",
			answer: concat(batch{base: 0, lastDelta: 9, recs: []rec{kv(0, "a", "1"), kv(4, "b", "2")}}),
			pos:    5, want: "", wantNext: 10, whole: true,
		},
		{
			name:   "offsets compacted away inside a batch are skipped",
			answer: concat(batch{base: 100, lastDelta: 9, recs: []rec{kv(2, "a", "1"), kv(7, "b", "2")}}),
			pos:    100, want: "102:a=1 107:b=2", wantNext: 110, whole: true,
		},
		{
			name: "a batch cut short at the end is left for the next fetch",
			answer: func() []byte {
				b := concat(batch{base: 0, recs: []rec{kv(0, "a", "1")}}, batch{base: 1, recs: []rec{kv(0, "b", "2")}})
				return b[:len(b)-3]
			}(),
			want: "0:a=1", wantNext: 1, whole: true,
		},
		{
			name:   "only the start of a batch is no whole batch",
			answer: batch{base: 0, recs: []rec{kv(0, "a", "1")}}.encode()[:40],
			want:   "", wantNext: 0,
		},
		{name: "an empty answer gives nothing", want: "", wantNext: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var zbuf []byte
			w := batches{pos: tt.pos, zbuf: &zbuf}
			if err := w.walk(tt.answer); err != nil {
				t.Fatalf("walk: %v", err)
			}
			if got := summary(w.recs); got != tt.want || w.next != tt.wantNext || w.whole != tt.whole {
				t.Errorf("walk = %q, next %d, whole %v; want %q, next %d, whole %v", got, w.next, w.whole, tt.want, tt.wantNext, tt.whole)
			}
		})
	}
}

func TestWalkKeepsKeysValuesTimesAndHeaders(t *testing.T) {
	const t0 = 1_700_000_000_000
	b := batch{base: 5, baseTime: t0, maxTime: t0 + 99, recs: []rec{
		{offsetDelta: 0, timeDelta: 7, key: nil, value: []byte("no key")},
		{offsetDelta: 1, timeDelta: 8, key: []byte("k"), value: []byte{}},
		{offsetDelta: 2, timeDelta: 9, key: []byte{}, value: []byte("v"), headers: []protocol.Header{{Key: "h1", Value: []byte("x")}, {Key: "h2"}}},
	}}
	var zbuf []byte
	w := batches{pos: 5, zbuf: &zbuf}
	if err := w.walk(b.encode()); err != nil {
		t.Fatal(err)
	}
	if len(w.recs) != 3 {
		t.Fatalf("%d records, want 3", len(w.recs))
	}
	r0, r1, r2 := w.recs[0], w.recs[1], w.recs[2]
	switch {
	case r0.Key != nil || string(r0.Value) != "no key":
		t.Errorf("record 0: key %q (nil %v), value %q; want a null key", r0.Key, r0.Key == nil, r0.Value)
	case r1.Value == nil || len(r1.Value) != 0:
		t.Errorf("record 1: value %q (nil %v); want empty, not a tombstone", r1.Value, r1.Value == nil)
	case r2.Key == nil || len(r2.Key) != 0:
		t.Errorf("record 2: key %q (nil %v); want empty, not null", r2.Key, r2.Key == nil)
	}
	if want := time.UnixMilli(t0 + 7).UTC(); !r0.Time.Equal(want) || r0.Time.Location() != time.UTC {
		t.Errorf("record 0 time %v, want %v in UTC", r0.Time, want)
	}
	if len(r2.Headers) != 2 || r2.Headers[0].Key != "h1" || string(r2.Headers[0].Value) != "x" || r2.Headers[1].Key != "h2" || r2.Headers[1].Value != nil {
		t.Errorf("record 2 headers %+v, want h1=x and h2 with a null value", r2.Headers)
	}

	// Log append time: every record has the batch's max timestamp.
	b.attrs = attrLogAppendTime
	w = batches{pos: 5, zbuf: &zbuf}
	if err := w.walk(b.encode()); err != nil {
		t.Fatal(err)
	}
	for _, r := range w.recs {
		if want := time.UnixMilli(t0 + 99); !r.Time.Equal(want) {
			t.Errorf("log append time: record %d at %v, want %v", r.Offset, r.Time, want)
		}
	}
}

func TestWalkCopiesRecordsUnlessReused(t *testing.T) {
	answer := batch{base: 0, recs: []rec{kv(0, "key", "value"), {offsetDelta: 1, key: []byte("h"), value: []byte("v"),
		headers: []protocol.Header{{Key: "hk", Value: []byte("hv")}}}}}.encode()
	for _, reuse := range []bool{false, true} {
		t.Run(fmt.Sprintf("reuse %v", reuse), func(t *testing.T) {
			in := bytes.Clone(answer)
			var zbuf []byte
			w := batches{reuse: reuse, zbuf: &zbuf}
			if err := w.walk(in); err != nil {
				t.Fatal(err)
			}
			clear(in) // the next fetch overwrites the buffer
			kept := string(w.recs[0].Key) == "key" && string(w.recs[0].Value) == "value" && string(w.recs[1].Headers[0].Value) == "hv"
			if kept == reuse {
				t.Errorf("records after their buffer was overwritten: %q=%q, header %q; want them kept: %v",
					w.recs[0].Key, w.recs[0].Value, w.recs[1].Headers[0].Value, !reuse)
			}
		})
	}
}

func TestWalkRefusesWhatIsNotARecordBatch(t *testing.T) {
	good := batch{base: 0, recs: []rec{kv(0, "a", "1")}}
	v1 := good.encode()
	v1[16] = 1
	short := good.encode()
	binary.BigEndian.PutUint32(short[8:], 10)
	tests := []struct {
		name, want string
		answer     []byte
	}{
		{"a batch whose checksum is wrong", "crc32c", batch{base: 0, badCRC: true, recs: []rec{kv(0, "a", "1")}}.encode()},
		{"record format v1", "record format v1", v1},
		{"a batch length shorter than its header", "length 10", short},
		{"a record longer than its batch", "malformed record", func() []byte {
			b := good
			b.recs = []rec{kv(0, "a", "1")}
			raw := b.encode()
			raw[61] = 0x7e // record length 63 in a batch with a few bytes left
			binary.BigEndian.PutUint32(raw[17:], crc32.Checksum(raw[21:], castagnoli))
			return raw
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var zbuf []byte
			w := batches{zbuf: &zbuf}
			if err := w.walk(tt.answer); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("walk = %v, want an error saying %q", err, tt.want)
			}
		})
	}
}

// Compressed batches are written by kafka-go's encoder, a second opinion
// on the format.
func TestWalkReadsBatchesOfEveryCodec(t *testing.T) {
	for _, c := range []compress.Compression{compress.Gzip, compress.Snappy, compress.Lz4, compress.Zstd} {
		t.Run(c.String(), func(t *testing.T) {
			var answer []byte
			for i, base := range []int64{40, 42} {
				rs := protocol.RecordSet{Version: 2, Attributes: protocol.Attributes(c), Records: protocol.NewRecordReader(
					protocol.Record{Key: protocol.NewBytes([]byte(fmt.Sprint("k", i))), Value: protocol.NewBytes(bytes.Repeat([]byte{'a' + byte(i)}, 300))},
					protocol.Record{Key: protocol.NewBytes([]byte("t")), Value: nil},
				)}
				var buf bytes.Buffer
				if _, err := rs.WriteTo(&buf); err != nil {
					t.Fatal(err)
				}
				b := buf.Bytes()[4:]                        // after the record set's size
				binary.BigEndian.PutUint64(b, uint64(base)) // the base offset is outside the checksum
				answer = append(answer, b...)
			}
			var zbuf []byte
			w := batches{pos: 41, zbuf: &zbuf}
			if err := w.walk(answer); err != nil {
				t.Fatal(err)
			}
			want := fmt.Sprintf("41:t=<nil> 42:k1=%s 43:t=<nil>", strings.Repeat("b", 300))
			if got := summary(w.recs); got != want || w.next != 44 {
				t.Errorf("walk = %.60q, next %d; want %.60q, next 44", got, w.next, want)
			}
		})
	}
}

// Responses are written by kafka-go's encoder, for every version read.
func TestParseResponseFindsThePartitionInEveryVersion(t *testing.T) {
	for v := int16(minVersion); v <= maxVersion; v++ {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			set := func(key string) protocol.RecordSet {
				return protocol.RecordSet{Version: 2, Records: protocol.NewRecordReader(
					protocol.Record{Key: protocol.NewBytes([]byte(key)), Value: protocol.NewBytes([]byte("1"))})}
			}
			response := func(throttle int32) *fetchapi.Response {
				return &fetchapi.Response{ThrottleTimeMs: throttle, Topics: []fetchapi.ResponseTopic{
					{Topic: "other", Partitions: []fetchapi.ResponsePartition{{Partition: 3, HighWatermark: 1, RecordSet: set("x")}}},
					{Topic: "t", Partitions: []fetchapi.ResponsePartition{
						{Partition: 2, HighWatermark: 2, RecordSet: set("y")},
						{Partition: 3, HighWatermark: 99, LastStableOffset: 98, LogStartOffset: 4,
							AbortedTransactions: []fetchapi.ResponseTransaction{{ProducerID: 1, FirstOffset: 2}}, RecordSet: set("a")},
					}},
				}}
			}
			var buf bytes.Buffer
			if err := protocol.WriteResponse(&buf, v, correlationID, response(5)); err != nil {
				t.Fatal(err)
			}
			a, err := parseResponse(v, buf.Bytes()[4:], "t", 3)
			if err != nil {
				t.Fatal(err)
			}
			if a.highWatermark != 99 || a.throttleMs != 5 || a.errorCode != 0 {
				t.Errorf("answer %+v, want high watermark 99, throttle 5", a)
			}
			var zbuf []byte
			w := batches{zbuf: &zbuf}
			if err := w.walk(a.records); err != nil || summary(w.recs) != "0:a=1" {
				t.Errorf("records of the answer: %q, %v; want 0:a=1", summary(w.recs), err)
			}
			if a, err := parseResponse(v, buf.Bytes()[4:], "t", 4); err != nil || a.records != nil || a.throttleMs != 5 {
				t.Errorf("a throttled response without the partition: %+v, %v; want no records and the throttle", a, err)
			}
			buf.Reset()
			if err := protocol.WriteResponse(&buf, v, correlationID, response(0)); err != nil {
				t.Fatal(err)
			}
			if _, err := parseResponse(v, buf.Bytes()[4:], "t", 4); err == nil {
				t.Error("a response without the partition parsed")
			}
			if _, err := parseResponse(v, buf.Bytes()[4:len(buf.Bytes())-5], "t", 3); !errors.Is(err, errShort) {
				t.Errorf("a response cut short: %v, want errShort", err)
			}
		})
	}
}

// emptyAnswer is the body of a fetch response v11 without records, as the
// protocol guide lays it out: for partition 0 of topic "t" with the high
// watermark hw, or with no partition at all.
func emptyAnswer(throttle int32, hw int64, partition bool) []byte {
	b := binary.BigEndian.AppendUint32(nil, correlationID)
	b = binary.BigEndian.AppendUint32(b, uint32(throttle))
	b = binary.BigEndian.AppendUint16(b, 0) // error code
	b = binary.BigEndian.AppendUint32(b, 0) // session id
	if !partition {
		return binary.BigEndian.AppendUint32(b, 0) // no topics
	}
	b = binary.BigEndian.AppendUint32(b, 1)
	b = append(binary.BigEndian.AppendUint16(b, 1), 't')
	b = binary.BigEndian.AppendUint32(b, 1)
	b = binary.BigEndian.AppendUint32(b, 0) // partition
	b = binary.BigEndian.AppendUint16(b, 0) // error code
	b = binary.BigEndian.AppendUint64(b, uint64(hw))
	b = binary.BigEndian.AppendUint64(b, uint64(hw)) // last stable offset
	b = binary.BigEndian.AppendUint64(b, 0)          // log start offset
	b = binary.BigEndian.AppendUint32(b, ^uint32(0)) // no aborted transactions
	b = binary.BigEndian.AppendUint32(b, ^uint32(0)) // no preferred read replica
	return binary.BigEndian.AppendUint32(b, 0)       // records: none
}

// answers is a kafka.RoundTripper that answers each fetch with the next
// of its response bodies.
type answers struct {
	next  [][]byte
	asked []int64 // the offsets asked for
}

func (f *answers) RoundTrip(_ context.Context, _ net.Addr, req protocol.Message) (protocol.Message, error) {
	f.asked = append(f.asked, req.(*exchange).req.Topics[0].Partitions[0].FetchOffset)
	body := f.next[0]
	f.next = f.next[1:]
	return &rawResponse{version: maxVersion, body: body}, nil
}

func TestFetchMovesPastOffsetsWithoutRecordsUpToTheHighWatermark(t *testing.T) {
	f := &answers{next: [][]byte{
		emptyAnswer(1, 0, false), // a quota's answer: no partitions
		emptyAnswer(1, 9, true),  // throttled: empty whatever the log holds
		emptyAnswer(0, 9, true),  // nothing below 9: offsets 5 to 8 have no records
		emptyAnswer(0, 9, true),  // at the end
	}}
	r := &Reader{Transport: f, Topic: "t", Offset: 5}
	for i, want := range []int64{5, 5, 9, 9} {
		recs, err := r.Fetch(t.Context(), nil)
		if err != nil || len(recs) != 0 || r.Offset != want {
			t.Fatalf("answer %d: %d records, %v, offset %d; want none, offset %d", i, len(recs), err, r.Offset, want)
		}
	}
	if fmt.Sprint(f.asked) != "[5 5 5 9]" {
		t.Errorf("asked for offsets %v, want [5 5 5 9]", f.asked)
	}
}
