// Package schemas owns the input contract of midata: the transaction and
// consent events that upstream systems publish on Kafka, their decoding, and
// their validation (see ../shared/FORMATS.md, version 1).
//
// It does not know about Kafka, object stores or release formats: callers pass
// it a message key and value, and get back a typed, validated record or an
// error that says why the record is invalid (the reason written to the
// quarantine topic). The release formats live in schemas/release.
package schemas
