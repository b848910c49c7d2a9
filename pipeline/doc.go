// Package pipeline owns the flow of one release: request → plan → read →
// filter → encode → stage → commit → deliver. Runner ties the parts together:
// a Source (the transactions and consent topics: kafkasource), a Quarantiner
// (invalid records), consent (the decision), spill (ordering with bounded
// memory), release (the formats) and a sinks.Sink (the object store). It
// validates what is asked (Request for one customer, Bulk for everyone with
// consent) and reports each release as a Result.
//
// It does not decode Kafka wire formats, encode files or talk to S3 itself;
// those belong to the packages it is built from. Nor does it queue requests
// or retry them: pipeline/jobs does, and pipeline/serve maps the one to the
// other.
package pipeline
