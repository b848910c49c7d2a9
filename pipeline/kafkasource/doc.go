// Package kafkasource owns the transactions topic, the input of every
// release: it plans a release's source snapshot (per-partition offset
// ranges found with offsets-for-times, end offsets frozen at plan time,
// partition pruning for one customer after checking that the configured
// partitioner matches the data), streams the records of a snapshot, and
// names the partitioners upstream producers use. ReadTopic also streams a
// whole topic from its start, for tests and benchmarks (the consent topic
// is read by the consent view, not by it).
//
// It does not write anything, create topics or read midata's own topics
// (package topics does, and gives this package its Kafka connection
// settings and its record type), decode or validate record values
// (package schemas does), or decide what may be released (package consent
// does).
//
// All Kafka access goes through github.com/segmentio/kafka-go. Reads use the
// low-level Fetch API with explicit offsets and read_committed isolation, so
// a read stops exactly at the snapshot's end even when the last offsets
// before it are compaction gaps or transaction markers, and records of
// aborted transactions are never delivered.
package kafkasource
