package metrics

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/midata/midata/sinks"
)

// The operations of midata_s3_errors_total{op}.
const (
	OpCreate = "create" // start an object
	OpWrite  = "write"  // stream bytes into it
	OpClose  = "close"  // complete it
	OpAbort  = "abort"  // discard it
	OpCommit = "commit" // conditional put of a manifest
	OpOpen   = "open"   // read an object
	OpDelete = "delete" // remove a staged object
	OpLink   = "link"   // sign a download link
	OpList   = "list"   // list keys under a prefix
)

// Sink wraps s so that every call is counted: bytes of completed objects
// and committed manifests in S3WrittenBytes, failures in S3Errors by
// operation. Outcomes the pipeline expects are not failures:
// sinks.ErrAlreadyCommitted from Commit, sinks.ErrNotFound from Open, and
// cancellation (context.Canceled). The wrapper is a sinks.Linker,
// sinks.Deleter or sinks.Lister exactly when s is. On a nil *Metrics it
// returns s.
func (m *Metrics) Sink(s sinks.Sink) sinks.Sink {
	if m == nil {
		return s
	}
	c := &countingSink{next: s, m: m}
	_, linker := s.(sinks.Linker)
	_, deleter := s.(sinks.Deleter)
	_, lister := s.(sinks.Lister)
	switch {
	case linker && deleter && lister:
		return linkDeleteListSink{linkDeleteSink{c}}
	case linker && deleter:
		return linkDeleteSink{c}
	case linker && lister:
		return linkListSink{linkSink{c}}
	case linker:
		return linkSink{c}
	case deleter && lister:
		return deleteListSink{deleteSink{c}}
	case deleter:
		return deleteSink{c}
	case lister:
		return listSink{c}
	}
	return c
}

var (
	_ sinks.Sink    = (*countingSink)(nil)
	_ sinks.Linker  = linkDeleteSink{}
	_ sinks.Deleter = linkDeleteSink{}
	_ sinks.Linker  = linkSink{}
	_ sinks.Deleter = deleteSink{}
	_ sinks.Lister  = linkDeleteListSink{}
	_ sinks.Lister  = linkListSink{}
	_ sinks.Lister  = deleteListSink{}
	_ sinks.Lister  = listSink{}
)

type countingSink struct {
	next sinks.Sink
	m    *Metrics
}

// fail counts err against op unless it is an expected outcome, and
// returns it unchanged.
func (s *countingSink) fail(op string, err error, expected ...error) error {
	if err == nil || errors.Is(err, context.Canceled) {
		return err
	}
	for _, e := range expected {
		if errors.Is(err, e) {
			return err
		}
	}
	s.m.S3Errors.WithLabelValues(op).Inc()
	return err
}

func (s *countingSink) Create(ctx context.Context, key string) (sinks.ObjectWriter, error) {
	w, err := s.next.Create(ctx, key)
	if err != nil {
		return nil, s.fail(OpCreate, err)
	}
	return &countingWriter{next: w, s: s}, nil
}

func (s *countingSink) Commit(ctx context.Context, key string, body []byte) error {
	err := s.next.Commit(ctx, key, body)
	if err == nil {
		s.m.S3WrittenBytes.Add(float64(len(body)))
	}
	return s.fail(OpCommit, err, sinks.ErrAlreadyCommitted)
}

func (s *countingSink) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	r, err := s.next.Open(ctx, key)
	return r, s.fail(OpOpen, err, sinks.ErrNotFound)
}

func (s *countingSink) link(ctx context.Context, key string, ttl time.Duration) (sinks.Link, error) {
	l, err := s.next.(sinks.Linker).Link(ctx, key, ttl)
	return l, s.fail(OpLink, err)
}

func (s *countingSink) delete(ctx context.Context, key string) error {
	return s.fail(OpDelete, s.next.(sinks.Deleter).Delete(ctx, key))
}

func (s *countingSink) list(ctx context.Context, prefix string, fn func(string) error) error {
	return s.fail(OpList, s.next.(sinks.Lister).List(ctx, prefix, fn))
}

type linkSink struct{ *countingSink }

func (s linkSink) Link(ctx context.Context, key string, ttl time.Duration) (sinks.Link, error) {
	return s.link(ctx, key, ttl)
}

type deleteSink struct{ *countingSink }

func (s deleteSink) Delete(ctx context.Context, key string) error { return s.delete(ctx, key) }

type linkDeleteSink struct{ *countingSink }

func (s linkDeleteSink) Link(ctx context.Context, key string, ttl time.Duration) (sinks.Link, error) {
	return s.link(ctx, key, ttl)
}

func (s linkDeleteSink) Delete(ctx context.Context, key string) error { return s.delete(ctx, key) }

type listSink struct{ *countingSink }

func (s listSink) List(ctx context.Context, prefix string, fn func(string) error) error {
	return s.list(ctx, prefix, fn)
}

type linkListSink struct{ linkSink }

func (s linkListSink) List(ctx context.Context, prefix string, fn func(string) error) error {
	return s.list(ctx, prefix, fn)
}

type deleteListSink struct{ deleteSink }

func (s deleteListSink) List(ctx context.Context, prefix string, fn func(string) error) error {
	return s.list(ctx, prefix, fn)
}

type linkDeleteListSink struct{ linkDeleteSink }

func (s linkDeleteListSink) List(ctx context.Context, prefix string, fn func(string) error) error {
	return s.list(ctx, prefix, fn)
}

// countingWriter counts the bytes of an object, added to S3WrittenBytes
// only when the object is complete.
type countingWriter struct {
	next sinks.ObjectWriter
	s    *countingSink
	n    int64
}

func (w *countingWriter) Write(p []byte) (int, error) {
	n, err := w.next.Write(p)
	w.n += int64(n)
	return n, w.s.fail(OpWrite, err)
}

func (w *countingWriter) Close() error {
	err := w.next.Close()
	if err == nil {
		w.s.m.S3WrittenBytes.Add(float64(w.n))
	}
	return w.s.fail(OpClose, err)
}

func (w *countingWriter) Abort() error { return w.s.fail(OpAbort, w.next.Abort()) }
