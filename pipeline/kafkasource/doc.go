// Package kafkasource owns everything the pipeline does on Kafka: it plans a
// release's source snapshot (per-partition offset ranges found with
// offsets-for-times, end offsets frozen at plan time, partition pruning for
// one customer after checking that the configured partitioner matches the
// data), streams the records of a snapshot or of a whole topic, writes
// quarantined records and consent events, and creates the topics midata
// needs.
//
// It does not decode or validate record values (package schemas does), and
// it does not decide what may be released (package consent does).
//
// All Kafka access goes through github.com/segmentio/kafka-go. Reads use the
// low-level Fetch API with explicit offsets and read_committed isolation, so
// a read stops exactly at the snapshot's end even when the last offsets
// before it are compaction gaps or transaction markers, and records of
// aborted transactions are never delivered.
package kafkasource
