package fetch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/segmentio/kafka-go/protocol"
	fetchapi "github.com/segmentio/kafka-go/protocol/fetch"
)

// Fetch versions this package reads: v4 brought the isolation level and
// the last stable offset; kafka-go speaks up to v11.
const (
	minVersion = 4
	maxVersion = 11
)

// correlationID is the id of every raw fetch: a connection carries one
// request at a time, so it only has to come back.
const correlationID = 0x6d696461 // "mida"

// exchange is a fetch request that kafka-go's transport routes to the
// partition's leader like its own, but that reads its response itself
// (protocol.RawExchanger): the raw bytes, parsed later by parseResponse
// without decoding every record into kafka-go's structures.
type exchange struct {
	req      fetchapi.Request
	clientID string
	version  int16
	buf      []byte // to read the response into when large enough
}

var (
	_ protocol.RawExchanger  = (*exchange)(nil)
	_ protocol.BrokerMessage = (*exchange)(nil)
)

func (x *exchange) ApiKey() protocol.ApiKey { return protocol.Fetch }

// Broker routes the request to the partition's leader.
func (x *exchange) Broker(cluster protocol.Cluster) (protocol.Broker, error) {
	return x.req.Broker(cluster)
}

// Required is called with the versions the connection negotiated.
func (x *exchange) Required(versions map[protocol.ApiKey]int16) bool {
	x.version = versions[protocol.Fetch]
	return true
}

// rawResponse is the body of a fetch response after its size.
type rawResponse struct {
	version int16
	body    []byte
}

func (r *rawResponse) ApiKey() protocol.ApiKey { return protocol.Fetch }

// RawExchange writes the request with kafka-go's encoder and reads the
// response's bytes.
func (x *exchange) RawExchange(rw io.ReadWriter) (protocol.Message, error) {
	if x.version < minVersion {
		return nil, fmt.Errorf("the broker speaks fetch v%d, older than v%d (Kafka 0.11)", x.version, minVersion)
	}
	v := min(x.version, maxVersion)
	if err := protocol.WriteRequest(rw, v, correlationID, x.clientID, &x.req); err != nil {
		return nil, fmt.Errorf("write fetch request: %w", err)
	}
	var size [4]byte
	if _, err := io.ReadFull(rw, size[:]); err != nil {
		return nil, fmt.Errorf("read fetch response: %w", err)
	}
	n := int(int32(binary.BigEndian.Uint32(size[:])))
	if n < 4 {
		return nil, fmt.Errorf("read fetch response: size %d", n)
	}
	body := x.buf
	if cap(body) < n || cap(body) > 2*n && cap(body) > minKept {
		// A buffer much larger than the answers now needed (the backlog
		// is read) is given back.
		body = make([]byte, n)
	}
	body = body[:n]
	if _, err := io.ReadFull(rw, body); err != nil {
		return nil, fmt.Errorf("read fetch response: %w", err)
	}
	return &rawResponse{version: v, body: body}, nil
}

// minKept is the size up to which a Reader keeps its buffers whatever the
// answers need.
const minKept = 64 << 10

// answer is what a fetch response says of the partition asked for.
type answer struct {
	throttleMs    int32
	errorCode     int16
	highWatermark int64
	records       []byte // record batches, the last possibly cut short
}

// errShort is the error of a response shorter than its fields.
var errShort = errors.New("fetch response cut short")

// parseResponse reads the answer for topic's partition from a fetch
// response body of version v (Fetch v4 to v11, response header v0).
func parseResponse(v int16, body []byte, topic string, partition int32) (answer, error) {
	d := decoder{b: body}
	var a answer
	if id := d.int32(); id != correlationID && d.err == nil {
		return a, fmt.Errorf("fetch response with correlation id %d, want %d", id, correlationID)
	}
	a.throttleMs = d.int32() // v1+
	if v >= 7 {
		a.errorCode = d.int16()
		d.int32() // session id
	}
	found := false
	for range d.count() {
		name := d.string()
		for range d.count() {
			p := answer{throttleMs: a.throttleMs}
			index := d.int32()
			p.errorCode = d.int16()
			p.highWatermark = d.int64()
			d.int64() // last stable offset, v4+
			if v >= 5 {
				d.int64() // log start offset
			}
			for range d.count() { // aborted transactions: none under read_uncommitted
				d.int64()
				d.int64()
			}
			if v >= 11 {
				d.int32() // preferred read replica
			}
			p.records = d.bytes()
			if d.err == nil && name == topic && index == partition {
				if a.errorCode == 0 {
					a.errorCode = p.errorCode
				}
				a.highWatermark, a.records = p.highWatermark, p.records
				found = true
			}
		}
	}
	switch {
	case d.err != nil:
		return answer{}, d.err
	case a.errorCode != 0, !found && a.throttleMs > 0: // a throttled answer may leave the partition out
		return a, nil
	case !found:
		return answer{}, fmt.Errorf("fetch response without partition %d of %s", partition, topic)
	}
	return a, nil
}

// decoder reads big-endian Kafka primitives from b; after the first short
// read every read returns zero and err is set.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) take(n int) []byte {
	if d.err != nil || n < 0 || n > len(d.b) {
		if d.err == nil {
			d.err = errShort
		}
		d.b = nil
		return nil
	}
	out := d.b[:n:n]
	d.b = d.b[n:]
	return out
}

func (d *decoder) int16() int16 {
	if b := d.take(2); b != nil {
		return int16(binary.BigEndian.Uint16(b))
	}
	return 0
}

func (d *decoder) int32() int32 {
	if b := d.take(4); b != nil {
		return int32(binary.BigEndian.Uint32(b))
	}
	return 0
}

func (d *decoder) int64() int64 {
	if b := d.take(8); b != nil {
		return int64(binary.BigEndian.Uint64(b))
	}
	return 0
}

// count reads an array length; null (-1) is empty. A length that cannot
// fit in what is left is an error.
func (d *decoder) count() int {
	n := d.int32()
	if n < 0 {
		return 0
	}
	if int(n) > len(d.b) {
		d.err, d.b = errShort, nil
		return 0
	}
	return int(n)
}

func (d *decoder) string() string {
	n := d.int16()
	if n < 0 {
		return ""
	}
	return string(d.take(int(n)))
}

// bytes reads nullable bytes, sharing d's buffer.
func (d *decoder) bytes() []byte {
	n := d.int32()
	if n < 0 {
		return nil
	}
	return d.take(int(n))
}
