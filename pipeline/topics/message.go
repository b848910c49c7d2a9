package topics

import "time"

// Message is one record read from Kafka. Key and Value are owned by the
// receiver; Value is nil for a tombstone, Key is nil for a record without a
// key.
type Message struct {
	Partition int
	Offset    int64
	Key       []byte
	Value     []byte
	Time      time.Time // the record's Kafka timestamp, UTC
	Headers   []Header
}

// Header is one record header.
type Header struct {
	Key   string
	Value []byte
}
