package filesink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/midata/midata/sinks"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var testSecret = []byte("0123456789abcdef0123456789abcdef")

// newSink returns a Sink on a fresh directory and that directory.
func newSink(t *testing.T) (*Sink, string) {
	t.Helper()
	root := filepath.Join(t.TempDir(), "store")
	s, err := New(Config{Root: root, BaseURL: "http://127.0.0.1:8080", Secret: testSecret})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s, root
}

// files lists every file and directory under root, slash-separated.
func files(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != root {
			rel, _ := filepath.Rel(root, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
	}
	return out
}

func read(t *testing.T, s *Sink, key string) []byte {
	t.Helper()
	rc, err := s.Open(t.Context(), key)
	if err != nil {
		t.Fatalf("Open(%s): %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return b
}

func mustNotExist(t *testing.T, s *Sink, key string) {
	t.Helper()
	rc, err := s.Open(t.Context(), key)
	if err == nil {
		rc.Close()
		t.Fatalf("Open(%s) found an object, want none", key)
	}
	if !errors.Is(err, sinks.ErrNotFound) {
		t.Fatalf("Open(%s) = %v, want an error matching sinks.ErrNotFound", key, err)
	}
}

func TestConfigValidateNamesTheWrongField(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"a full config is valid", Config{Root: "r", BaseURL: "http://127.0.0.1:8080", Secret: testSecret}, ""},
		{"a base URL with a path is valid", Config{Root: "r", BaseURL: "https://example.org/dl/", Secret: testSecret}, ""},
		{"an empty root is refused", Config{BaseURL: "http://h", Secret: testSecret}, "root"},
		{"a base URL without scheme is refused", Config{Root: "r", BaseURL: "127.0.0.1:8080", Secret: testSecret}, "base URL"},
		{"a base URL with a query is refused", Config{Root: "r", BaseURL: "http://h/?a=b", Secret: testSecret}, "base URL"},
		{"a short secret is refused", Config{Root: "r", BaseURL: "http://h", Secret: testSecret[:31]}, "secret of 31 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Validate() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestCreateWritesAtomically(t *testing.T) {
	t.Parallel()
	s, root := newSink(t)
	const key = "releases/r1/transactions.csv"
	body := bytes.Repeat([]byte("2024-01-02,-12.50\n"), 10000)

	w, err := s.Create(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	for rest := body; len(rest) > 0; rest = rest[min(len(rest), 4093):] {
		if _, err := w.Write(rest[:min(len(rest), 4093)]); err != nil {
			t.Fatalf("Write: %v", err)
		}
	}
	mustNotExist(t, s, key) // not there before Close
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := read(t, s, key); !bytes.Equal(got, body) {
		t.Fatalf("read back %d bytes, want %d", len(got), len(body))
	}
	if got, want := files(t, root), []string{"releases", "releases/r1", "releases/r1/transactions.csv"}; !slices.Equal(got, want) {
		t.Fatalf("files = %q, want %q (no temporary file left)", got, want)
	}
	st, err := os.Stat(filepath.Join(root, "releases/r1/transactions.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != fileMode {
		t.Errorf("file mode %v, want %v", st.Mode().Perm(), os.FileMode(fileMode))
	}

	// A second Create replaces the object.
	w, err = s.Create(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("new"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := read(t, s, key); string(got) != "new" {
		t.Fatalf("after a second Create: %q, want %q", got, "new")
	}
	if err := w.Close(); err == nil {
		t.Fatal("second Close succeeded, want an error")
	}
	if err := w.Abort(); err != nil {
		t.Fatalf("Abort after Close = %v, want nil", err)
	}
	if got := read(t, s, key); string(got) != "new" {
		t.Fatal("Abort after Close removed the object")
	}
}

func TestAbortLeavesNothing(t *testing.T) {
	t.Parallel()
	s, root := newSink(t)
	w, err := s.Create(t.Context(), "a/b.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(`{"x":1}`))
	if err := w.Abort(); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	mustNotExist(t, s, "a/b.ndjson")
	if got := files(t, root); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("files = %q, want only the directory a", got)
	}
	if err := w.Abort(); err != nil {
		t.Fatalf("second Abort = %v, want nil", err)
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Fatal("Write after Abort succeeded")
	}
	if err := w.Close(); err == nil {
		t.Fatal("Close after Abort succeeded")
	}
}

func TestCancelledContextStopsWriting(t *testing.T) {
	t.Parallel()
	s, root := newSink(t)
	ctx, cancel := context.WithCancel(t.Context())
	w, err := s.Create(ctx, "c.csv")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("a,b\n"))
	cancel()
	if _, err := w.Write([]byte("c,d\n")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Write after cancel = %v, want context.Canceled", err)
	}
	if err := w.Close(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close after cancel = %v, want context.Canceled", err)
	}
	mustNotExist(t, s, "c.csv")
	if got := files(t, root); len(got) != 0 {
		t.Fatalf("files = %q, want none", got)
	}
}

func TestCommitIsConditional(t *testing.T) {
	t.Parallel()
	s, root := newSink(t)
	const key = "releases/r1/manifest.json"
	if err := s.Commit(t.Context(), key, []byte("first")); err != nil {
		t.Fatalf("first Commit: %v", err)
	}
	err := s.Commit(t.Context(), key, []byte("second"))
	if !errors.Is(err, sinks.ErrAlreadyCommitted) || !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second Commit = %v, want sinks.ErrAlreadyCommitted wrapping fs.ErrExist", err)
	}
	if got := read(t, s, key); string(got) != "first" {
		t.Fatalf("committed body = %q, want %q", got, "first")
	}
	if got, want := files(t, root), []string{"releases", "releases/r1", "releases/r1/manifest.json"}; !slices.Equal(got, want) {
		t.Fatalf("files = %q, want %q (no temporary file left)", got, want)
	}
}

func TestConcurrentCommitsHaveOneWinner(t *testing.T) {
	t.Parallel()
	s, _ := newSink(t)
	const writers = 8
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			errs[i] = s.Commit(t.Context(), "m.json", []byte(fmt.Sprintf("writer %d", i)))
		})
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("writers %d and %d both committed", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, sinks.ErrAlreadyCommitted):
			t.Fatalf("writer %d: %v, want nil or ErrAlreadyCommitted", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no writer committed")
	}
	if got, want := string(read(t, s, "m.json")), fmt.Sprintf("writer %d", winner); got != want {
		t.Fatalf("body = %q, want the winner's %q", got, want)
	}
}

func TestOpenAndDelete(t *testing.T) {
	t.Parallel()
	s, _ := newSink(t)
	mustNotExist(t, s, "no/such.csv")
	if err := s.Commit(t.Context(), "dir/file.txt", []byte("x")); err != nil {
		t.Fatal(err)
	}
	mustNotExist(t, s, "dir")               // a directory is not an object
	mustNotExist(t, s, "dir/file.txt/more") // a file is not a directory
	if err := s.Delete(t.Context(), "dir"); err == nil {
		t.Fatal("Delete of a directory succeeded, want an error")
	}
	if err := s.Delete(t.Context(), "dir/file.txt"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	mustNotExist(t, s, "dir/file.txt")
	if err := s.Delete(t.Context(), "dir/file.txt"); err != nil {
		t.Fatalf("Delete of a missing object = %v, want nil", err)
	}
}

func TestKeysThatEscapeTheRootAreRefused(t *testing.T) {
	t.Parallel()
	s, root := newSink(t)
	outside := filepath.Dir(root)
	keys := []struct {
		name string
		key  string
	}{
		{"an empty key", ""},
		{"a parent segment", "../escaped.csv"},
		{"a parent segment deeper down", "a/../../escaped.csv"},
		{"a parent segment at the end", "a/.."},
		{"an absolute path", "/tmp/escaped.csv"},
		{"a backslash path", `..\escaped.csv`},
		{"a backslash inside a name", `a\b.csv`},
		{"a dot segment", "a/./b.csv"},
		{"an empty segment", "a//b.csv"},
		{"a trailing slash", "a/"},
		{"a hidden name, reserved for temporary files", "a/.b.csv.123.tmp"},
		{"a NUL byte", "a\x00b.csv"},
		{"a newline", "a\nb.csv"},
	}
	for _, tt := range keys {
		t.Run(tt.name+" is refused", func(t *testing.T) {
			ctx := t.Context()
			if w, err := s.Create(ctx, tt.key); err == nil {
				w.Abort()
				t.Error("Create succeeded")
			}
			if err := s.Commit(ctx, tt.key, []byte("x")); err == nil {
				t.Error("Commit succeeded")
			}
			if rc, err := s.Open(ctx, tt.key); err == nil {
				rc.Close()
				t.Error("Open succeeded")
			}
			if err := s.Delete(ctx, tt.key); err == nil {
				t.Error("Delete succeeded")
			}
			if _, err := s.Link(ctx, tt.key, time.Hour); err == nil {
				t.Error("Link succeeded")
			}
		})
	}
	if got := files(t, outside); !slices.Equal(got, []string{"store"}) {
		t.Fatalf("files next to the root = %q, want only the root", got)
	}
	if got := files(t, root); len(got) != 0 {
		t.Fatalf("files in the root = %q, want none", got)
	}
}
