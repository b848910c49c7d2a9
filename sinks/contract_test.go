package sinks_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/sinks"
	"github.com/midata/midata/sinks/filesink"
	"github.com/midata/midata/sinks/s3sink"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// store is what every sink in this module offers.
type store interface {
	sinks.Sink
	sinks.Linker
	sinks.Deleter
	sinks.Lister
}

// implementations returns each sink on fresh storage, by name. The S3 sink
// is left out, with a log line, when no bench is configured.
func implementations(t *testing.T) map[string]store {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewUnstartedServer(mux)
	fs, err := filesink.New(filesink.Config{
		Root:    filepath.Join(t.TempDir(), "store"),
		BaseURL: "http://" + srv.Listener.Addr().String(),
		Secret:  bytes.Repeat([]byte{7}, 32),
	})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/files/", fs.Handler())
	srv.Start()
	t.Cleanup(srv.Close)
	out := map[string]store{"filesink": fs}

	s3srv, ok := testbench.S3(t)
	if !ok {
		t.Log("s3sink left out of the contract: set MIDATA_TEST_S3 (deploy/testbench/bench.sh env) to include it")
		return out
	}
	s3s, err := s3sink.NewFromClient(testbench.S3Client(s3srv), s3sink.Config{Bucket: testbench.Bucket(t, s3srv)})
	if err != nil {
		t.Fatal(err)
	}
	out["s3sink"] = s3s
	return out
}

// download fetches a link with a client that keeps no idle connections.
func download(t *testing.T, link string) (int, []byte) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, link, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", link, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func notFound(t *testing.T, s sinks.Sink, key string) {
	t.Helper()
	rc, err := s.Open(t.Context(), key)
	if err == nil {
		rc.Close()
		t.Fatalf("Open(%s) found an object, want sinks.ErrNotFound", key)
	}
	if !errors.Is(err, sinks.ErrNotFound) {
		t.Fatalf("Open(%s) = %v, want sinks.ErrNotFound", key, err)
	}
}

func TestEverySinkKeepsTheSameContract(t *testing.T) {
	for name, s := range implementations(t) {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			const key = "releases/r1/midata.csv"
			body := bytes.Repeat([]byte("2024-01-02,-12.50,Coffee\n"), 1000)

			t.Run("an object exists only after Close", func(t *testing.T) {
				w, err := s.Create(ctx, key)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := w.Write(body); err != nil {
					t.Fatal(err)
				}
				notFound(t, s, key)
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				rc, err := s.Open(ctx, key)
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(rc)
				rc.Close()
				if err != nil || !bytes.Equal(got, body) {
					t.Fatalf("read back %d bytes (%v), want %d", len(got), err, len(body))
				}
			})
			t.Run("an aborted object does not exist", func(t *testing.T) {
				w, err := s.Create(ctx, "releases/r1/aborted.csv")
				if err != nil {
					t.Fatal(err)
				}
				w.Write(body)
				if err := w.Abort(); err != nil {
					t.Fatal(err)
				}
				notFound(t, s, "releases/r1/aborted.csv")
			})
			t.Run("the second commit loses", func(t *testing.T) {
				if err := s.Commit(ctx, "releases/r1/manifest.json", []byte("one")); err != nil {
					t.Fatal(err)
				}
				if err := s.Commit(ctx, "releases/r1/manifest.json", []byte("two")); !errors.Is(err, sinks.ErrAlreadyCommitted) {
					t.Fatalf("second Commit = %v, want sinks.ErrAlreadyCommitted", err)
				}
			})
			t.Run("a link downloads the object", func(t *testing.T) {
				l, err := s.Link(ctx, key, time.Hour)
				if err != nil {
					t.Fatal(err)
				}
				if d := time.Until(l.ExpiresAt); d < 59*time.Minute || d > time.Hour+time.Second {
					t.Errorf("link expires in %s, want about 1h", d)
				}
				status, got := download(t, l.URL)
				if status != http.StatusOK || !bytes.Equal(got, body) {
					t.Fatalf("GET link: status %d, %d bytes; want 200 and %d bytes", status, len(got), len(body))
				}
				if _, err := s.Link(ctx, key, 0); err == nil {
					t.Error("Link with no lifetime succeeded")
				}
			})
			t.Run("a listing names every complete object under a prefix, in key order", func(t *testing.T) {
				for _, k := range []string{"list/r10/x.csv", "list/r1/b/c.csv", "list/r2/y.csv", "list/r1/a.csv", "list/r1.csv"} {
					w, err := s.Create(ctx, k)
					if err != nil {
						t.Fatal(err)
					}
					if _, err := w.Write(body[:10]); err != nil {
						t.Fatal(err)
					}
					if err := w.Close(); err != nil {
						t.Fatal(err)
					}
				}
				if err := s.Commit(ctx, "list/r1/manifest.json", []byte("{}")); err != nil {
					t.Fatal(err)
				}
				open, err := s.Create(ctx, "list/r1/open.csv") // being written: not an object yet
				if err != nil {
					t.Fatal(err)
				}
				defer open.Abort()
				if _, err := open.Write(body); err != nil {
					t.Fatal(err)
				}
				for _, tt := range []struct {
					prefix string
					want   []string
				}{
					{"list/r1/", []string{"list/r1/a.csv", "list/r1/b/c.csv", "list/r1/manifest.json"}},
					{"list/r1", []string{"list/r1.csv", "list/r1/a.csv", "list/r1/b/c.csv", "list/r1/manifest.json", "list/r10/x.csv"}},
					{"list/r1/b", []string{"list/r1/b/c.csv"}},
					{"list/r3", nil},
					{"nothing/here/", nil},
				} {
					var got []string
					if err := s.List(ctx, tt.prefix, func(key string) error { got = append(got, key); return nil }); err != nil {
						t.Fatalf("List(%q): %v", tt.prefix, err)
					}
					if !slices.Equal(got, tt.want) {
						t.Errorf("List(%q) = %q, want %q", tt.prefix, got, tt.want)
					}
				}
				stop := errors.New("stop")
				n := 0
				if err := s.List(ctx, "list/", func(string) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
					t.Errorf("List stopped by its callback = %v after %d keys, want the callback's error after 1", err, n)
				}
			})
			t.Run("deleting removes the object and a missing one is no error", func(t *testing.T) {
				if err := s.Delete(ctx, key); err != nil {
					t.Fatal(err)
				}
				notFound(t, s, key)
				if err := s.Delete(ctx, key); err != nil {
					t.Fatalf("Delete of a missing object = %v, want nil", err)
				}
			})
		})
	}
}
