// Package sinks owns where releases are stored: the Sink seam that the
// pipeline writes through, and the errors callers branch on. The object
// stores themselves live in sub-packages: s3sink (any S3-compatible store)
// and filesink (local disk, for the embedded default).
//
// It does not know about Kafka, consent or release formats: a sink stores
// bytes under keys, commits a small object conditionally, and (when it can)
// signs download links, deletes and lists objects.
package sinks

import (
	"context"
	"errors"
	"io"
	"time"
)

// ErrAlreadyCommitted is returned by Commit when the key already exists:
// another writer committed first (the conditional put lost).
var ErrAlreadyCommitted = errors.New("already committed")

// ErrNotFound is returned by Open when the key does not exist.
var ErrNotFound = errors.New("object not found")

// Sink stores the objects of a release.
type Sink interface {
	// Create starts a streaming write of the object at key. The object
	// exists only after Close returns nil; Abort discards it.
	Create(ctx context.Context, key string) (ObjectWriter, error)
	// Commit writes a small object only if no object exists at key
	// (If-None-Match: *). It returns ErrAlreadyCommitted when one does.
	Commit(ctx context.Context, key string, body []byte) error
	// Open reads the object at key, or returns ErrNotFound.
	Open(ctx context.Context, key string) (io.ReadCloser, error)
}

// ObjectWriter is an object being written. Writes stream: memory does not
// grow with the size of the object.
type ObjectWriter interface {
	io.Writer
	// Close completes the object; it is durable once Close returns nil.
	Close() error
	// Abort discards what was written. It is safe after a failed Write.
	Abort() error
}

// Deleter is a Sink that can remove objects (to clean up a cancelled
// release's staged files).
type Deleter interface {
	Delete(ctx context.Context, key string) error
}

// Lister is a Sink that can list the keys of its objects under a prefix,
// so a caller learns which of many releases exist with one listing instead
// of one request per release.
type Lister interface {
	// List calls fn with the key of every complete object whose key starts
	// with prefix, in ascending byte order of the keys, until fn returns an
	// error, which List returns. Objects still being written (an open
	// ObjectWriter) are not listed. A prefix that matches nothing is no
	// error.
	List(ctx context.Context, prefix string, fn func(key string) error) error
}

// AgedLister is a Lister that also says when each object was written, for
// the sweeper (releasestore.Sweep), which removes only what is old.
type AgedLister interface {
	ListAged(ctx context.Context, prefix string, fn func(key string, written time.Time) error) error
}

// UploadAborter aborts the uploads under prefix that were started before
// cutoff and never finished (S3's multipart uploads), and says how many.
type UploadAborter interface {
	AbortUploads(ctx context.Context, prefix string, cutoff time.Time) (int, error)
}

// Link is a signed, expiring download link.
type Link struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Linker is a Sink that can sign download links.
type Linker interface {
	Link(ctx context.Context, key string, ttl time.Duration) (Link, error)
}

// MaxLinkTTL is the longest a download link may live, in every store and
// every command: the longest a SigV4 presigned link may live (7 days).
const MaxLinkTTL = 7 * 24 * time.Hour

// CheckLinkTTL is the one rule for the lifetime of download links: more
// than 0 and at most MaxLinkTTL.
func CheckLinkTTL(d time.Duration) error {
	if d <= 0 || d > MaxLinkTTL {
		return errors.New("want more than 0 and at most 7d (the longest a SigV4 presigned link may live)")
	}
	return nil
}
