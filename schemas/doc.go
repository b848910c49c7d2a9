// Package schemas owns the input contract of midata (version 1, described
// in docs/input-contract.md): the transaction and consent events that
// upstream systems publish on Kafka, their decoding and their validation;
// and the domain types every layer shares, each with the one validator of
// its rule: Recipient ("self" or "partner:<id>"), CustomerID and Scope
// (whose records a request releases).
//
// It does not know about Kafka, object stores or release formats: callers pass
// it a message key and value, and get back a typed, validated record or an
// error that says why the record is invalid (the reason written to the
// quarantine topic). The release formats live in schemas/release.
package schemas
