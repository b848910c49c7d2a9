// Package pipeline owns the flow of one release: request → plan → read →
// filter → encode → stage → commit → deliver. Runner ties the parts together:
// kafkasource (Kafka), consent (the decision), spill (ordering with bounded
// memory), release (the formats) and a sinks.Sink (the object store).
//
// It does not decode Kafka wire formats, encode files or talk to S3 itself;
// those belong to the packages it is built from.
package pipeline
