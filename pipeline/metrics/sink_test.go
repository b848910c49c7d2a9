package metrics_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/midata/midata/sinks"
)

// fakeSink fails the calls it is told to; it is a plain Sink, neither a
// Linker nor a Deleter.
type fakeSink struct {
	createErr, commitErr, openErr error
	writeErr, closeErr, abortErr  error
	committed, written            bytes.Buffer
}

func (s *fakeSink) Create(ctx context.Context, key string) (sinks.ObjectWriter, error) {
	if s.createErr != nil {
		return nil, s.createErr
	}
	return &fakeWriter{s: s}, nil
}

func (s *fakeSink) Commit(ctx context.Context, key string, body []byte) error {
	if s.commitErr != nil {
		return s.commitErr
	}
	s.committed.Write(body)
	return nil
}

func (s *fakeSink) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if s.openErr != nil {
		return nil, s.openErr
	}
	return io.NopCloser(strings.NewReader("x")), nil
}

type fakeWriter struct{ s *fakeSink }

func (w *fakeWriter) Write(p []byte) (int, error) {
	if w.s.writeErr != nil {
		return 0, w.s.writeErr
	}
	return w.s.written.Write(p)
}
func (w *fakeWriter) Close() error { return w.s.closeErr }
func (w *fakeWriter) Abort() error { return w.s.abortErr }

// linkOnlySink is a Linker but not a Deleter.
type linkOnlySink struct{ fakeSink }

func (s *linkOnlySink) Link(ctx context.Context, key string, ttl time.Duration) (sinks.Link, error) {
	return sinks.Link{}, errors.New("presign: no credentials")
}

// memSink is an object store in memory that links and deletes, with the
// outcomes a real one has: Commit loses to an existing key, Open of a
// missing key is ErrNotFound.
type memSink struct {
	objects map[string][]byte
}

func newMemSink() *memSink { return &memSink{objects: make(map[string][]byte)} }

func (s *memSink) Create(ctx context.Context, key string) (sinks.ObjectWriter, error) {
	return &memWriter{s: s, key: key}, nil
}

func (s *memSink) Commit(ctx context.Context, key string, body []byte) error {
	if _, ok := s.objects[key]; ok {
		return fmt.Errorf("commit %s: %w", key, sinks.ErrAlreadyCommitted)
	}
	s.objects[key] = bytes.Clone(body)
	return nil
}

func (s *memSink) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	b, ok := s.objects[key]
	if !ok {
		return nil, fmt.Errorf("open %s: %w", key, sinks.ErrNotFound)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (s *memSink) Link(ctx context.Context, key string, ttl time.Duration) (sinks.Link, error) {
	return sinks.Link{URL: "mem://" + key}, nil
}

func (s *memSink) Delete(ctx context.Context, key string) error {
	delete(s.objects, key)
	return nil
}

func (s *memSink) List(ctx context.Context, prefix string, fn func(string) error) error {
	keys := slices.Sorted(maps.Keys(s.objects))
	for _, k := range keys {
		if strings.HasPrefix(k, prefix) {
			if err := fn(k); err != nil {
				return err
			}
		}
	}
	return nil
}

// deleteOnlySink is a Deleter, neither a Linker nor a Lister.
type deleteOnlySink struct{ fakeSink }

func (s *deleteOnlySink) Delete(ctx context.Context, key string) error { return nil }

type memWriter struct {
	s   *memSink
	key string
	buf bytes.Buffer
}

func (w *memWriter) Write(p []byte) (int, error) { return w.buf.Write(p) }
func (w *memWriter) Close() error                { w.s.objects[w.key] = w.buf.Bytes(); return nil }
func (w *memWriter) Abort() error                { return nil }

func TestSinkCountsBytesOfCompletedObjectsOnly(t *testing.T) {
	t.Parallel()
	m, reg := newMetrics(t)
	sink := m.Sink(newMemSink())
	ctx := t.Context()

	w, err := sink.Create(ctx, "releases/r1/a.csv")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(w, strings.Repeat("a", 1000))
	fmt.Fprint(w, strings.Repeat("b", 500))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	aborted, err := sink.Create(ctx, "releases/r1/b.csv")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(aborted, strings.Repeat("c", 700))
	if err := aborted.Abort(); err != nil {
		t.Fatal(err)
	}
	if err := sink.Commit(ctx, "releases/r1/manifest.json", []byte(`{"id":"r1"}`)); err != nil {
		t.Fatal(err)
	}
	// The second writer loses, as expected: neither bytes nor an error.
	if err := sink.Commit(ctx, "releases/r1/manifest.json", []byte(`{"id":"r1"}`)); !errors.Is(err, sinks.ErrAlreadyCommitted) {
		t.Fatalf("second Commit = %v, want ErrAlreadyCommitted through the wrapper", err)
	}
	if _, err := sink.Open(ctx, "releases/nope"); !errors.Is(err, sinks.ErrNotFound) {
		t.Fatalf("Open(missing) = %v, want ErrNotFound through the wrapper", err)
	}

	text := scrape(t, reg)
	if want := fmt.Sprintf("midata_s3_written_bytes_total %d\n", 1500+len(`{"id":"r1"}`)); !strings.Contains(text, want) {
		t.Errorf("/metrics lacks %q (the aborted 700 bytes must not count)", want)
	}
	for _, op := range []string{"create", "write", "close", "abort", "commit", "open", "delete", "link"} {
		if want := `midata_s3_errors_total{op="` + op + `"} 0`; !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q: an expected outcome counted as an error", want)
		}
	}
}

func TestSinkCountsFailuresByOperation(t *testing.T) {
	t.Parallel()
	boom := errors.New("connection reset")
	tests := []struct {
		name string
		sink *fakeSink
		call func(ctx context.Context, s sinks.Sink) error
		op   string
	}{
		{"a failed create", &fakeSink{createErr: boom}, func(ctx context.Context, s sinks.Sink) error {
			_, err := s.Create(ctx, "k")
			return err
		}, "create"},
		{"a failed write", &fakeSink{writeErr: boom}, func(ctx context.Context, s sinks.Sink) error {
			w, _ := s.Create(ctx, "k")
			_, err := w.Write([]byte("x"))
			return err
		}, "write"},
		{"a failed close", &fakeSink{closeErr: boom}, func(ctx context.Context, s sinks.Sink) error {
			w, _ := s.Create(ctx, "k")
			return w.Close()
		}, "close"},
		{"a failed abort", &fakeSink{abortErr: boom}, func(ctx context.Context, s sinks.Sink) error {
			w, _ := s.Create(ctx, "k")
			return w.Abort()
		}, "abort"},
		{"a failed commit", &fakeSink{commitErr: boom}, func(ctx context.Context, s sinks.Sink) error {
			return s.Commit(ctx, "k", []byte("x"))
		}, "commit"},
		{"a failed open", &fakeSink{openErr: boom}, func(ctx context.Context, s sinks.Sink) error {
			_, err := s.Open(ctx, "k")
			return err
		}, "open"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, reg := newMetrics(t)
			if err := tt.call(t.Context(), m.Sink(tt.sink)); !errors.Is(err, boom) {
				t.Fatalf("the wrapper returned %v, want the sink's error", err)
			}
			text := scrape(t, reg)
			if want := `midata_s3_errors_total{op="` + tt.op + `"} 1`; !strings.Contains(text, want) {
				t.Errorf("/metrics lacks %q", want)
			}
			if n := len(regexp.MustCompile(`(?m)^midata_s3_errors_total\{op="[a-z]+"\} 1$`).FindAllString(text, -1)); n != 1 {
				t.Errorf("%d series at 1, want only op=%s", n, tt.op)
			}
		})
	}
}

func TestSinkDoesNotCountCancellation(t *testing.T) {
	t.Parallel()
	m, reg := newMetrics(t)
	sink := m.Sink(&fakeSink{createErr: fmt.Errorf("upload: %w", context.Canceled)})
	if _, err := sink.Create(t.Context(), "k"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Create = %v", err)
	}
	if text := scrape(t, reg); !strings.Contains(text, `midata_s3_errors_total{op="create"} 0`) {
		t.Errorf("a cancelled call counted as an S3 error")
	}
}

func TestSinkKeepsExactlyTheCapabilitiesOfTheSinkItWraps(t *testing.T) {
	t.Parallel()
	m, reg := newMetrics(t)
	store := newMemSink()
	tests := []struct {
		name                    string
		sink                    sinks.Sink
		linker, deleter, lister bool
	}{
		{"a plain sink", &fakeSink{}, false, false, false},
		{"a sink that links", &linkOnlySink{}, true, false, false},
		{"a sink that deletes", &deleteOnlySink{}, false, true, false},
		{"a sink that links, deletes and lists", store, true, true, true},
	}
	for _, tt := range tests {
		wrapped := m.Sink(tt.sink)
		_, linker := wrapped.(sinks.Linker)
		_, deleter := wrapped.(sinks.Deleter)
		_, lister := wrapped.(sinks.Lister)
		if linker != tt.linker || deleter != tt.deleter || lister != tt.lister {
			t.Errorf("%s: wrapped is Linker %v, Deleter %v, Lister %v; want %v, %v, %v", tt.name, linker, deleter, lister, tt.linker, tt.deleter, tt.lister)
		}
	}
	// Link errors are counted and passed on.
	wrapped := m.Sink(&linkOnlySink{}).(sinks.Linker)
	if _, err := wrapped.Link(t.Context(), "k", time.Hour); err == nil {
		t.Fatal("Link through the wrapper lost the error")
	}
	// Links and deletes of the real sink go through.
	full := m.Sink(store)
	if err := full.Commit(t.Context(), "r/manifest.json", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if l, err := full.(sinks.Linker).Link(t.Context(), "r/manifest.json", time.Hour); err != nil || l.URL != "mem://r/manifest.json" {
		t.Errorf("Link through the wrapper = %+v, %v", l, err)
	}
	var listed []string
	if err := full.(sinks.Lister).List(t.Context(), "r/", func(k string) error { listed = append(listed, k); return nil }); err != nil || !slices.Equal(listed, []string{"r/manifest.json"}) {
		t.Errorf("List through the wrapper = %q, %v", listed, err)
	}
	if err := full.(sinks.Deleter).Delete(t.Context(), "r/manifest.json"); err != nil {
		t.Errorf("Delete through the wrapper = %v", err)
	}
	if _, err := full.Open(t.Context(), "r/manifest.json"); !errors.Is(err, sinks.ErrNotFound) {
		t.Errorf("after Delete, Open = %v, want ErrNotFound", err)
	}
	if text := scrape(t, reg); !strings.Contains(text, `midata_s3_errors_total{op="link"} 1`) {
		t.Errorf("the failed Link was not counted")
	}
}
