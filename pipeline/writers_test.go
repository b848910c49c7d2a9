package pipeline_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/segmentio/kafka-go"

	"github.com/midata/midata/pipeline"
	"github.com/midata/midata/pipeline/releasestore"
	"github.com/midata/midata/schemas/release"
	"github.com/midata/midata/sinks"
	"github.com/midata/midata/sinks/filesink"
)

// errInjected is the failure a test injects into one writer.
var errInjected = errors.New("injected failure")

// raceSink is one writer's view of the store in a race of two writers of
// one release: hooks run before each Create and Commit of the release's
// objects (not of plans), and may block or fail.
type raceSink struct {
	sinks.Sink
	beforeCreate, beforeCommit func(ctx context.Context, key string) error
}

func (s *raceSink) Create(ctx context.Context, key string) (sinks.ObjectWriter, error) {
	if s.beforeCreate != nil && strings.HasPrefix(key, "releases/") {
		if err := s.beforeCreate(ctx, key); err != nil {
			return nil, err
		}
	}
	return s.Sink.Create(ctx, key)
}

func (s *raceSink) Commit(ctx context.Context, key string, body []byte) error {
	if s.beforeCommit != nil && strings.HasPrefix(key, "releases/") {
		if err := s.beforeCommit(ctx, key); err != nil {
			return err
		}
	}
	return s.Sink.Commit(ctx, key, body)
}

func (s *raceSink) Delete(ctx context.Context, key string) error {
	return s.Sink.(sinks.Deleter).Delete(ctx, key)
}

func (s *raceSink) List(ctx context.Context, prefix string, fn func(string) error) error {
	return s.Sink.(sinks.Lister).List(ctx, prefix, fn)
}

// wait blocks until ch is closed or ctx ends.
func wait(ctx context.Context, ch <-chan struct{}) error {
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestTwoWritersOfOneReleaseLeaveItCompleteAndVerifiable races two writers
// of one release id, as when a request is handled by a second worker while
// the first still runs it, with a failure injected into one of them. The
// committed release must be complete: every object its manifest names
// exists and has the hash the manifest (and README.txt) gives, and the
// writer that did not commit left nothing behind. When writers shared
// object names, the failing writer's cleanup deleted the files the winner
// then committed.
func TestTwoWritersOfOneReleaseLeaveItCompleteAndVerifiable(t *testing.T) {
	b := newBench(t, 2)
	seedData(t, b, kafka.Murmur2Balancer{})
	stores := map[string]sinks.Sink{"filesink": b.sink}
	if _, isFile := b.sink.(*filesink.Sink); !isFile {
		stores = map[string]sinks.Sink{"s3sink": b.sink} // the bench's versitygw
		fs, err := filesink.New(filesink.Config{Root: filepath.Join(t.TempDir(), "store"), BaseURL: "http://127.0.0.1:1", Secret: bytes.Repeat([]byte("k"), 32)})
		if err != nil {
			t.Fatal(err)
		}
		stores["filesink"] = fs
	}
	type race struct {
		winnerAtCommit, loserDone, winnerDone chan struct{}
	}
	for _, tt := range []struct {
		name          string
		winner, loser func(*race, *raceSink)
		loserFails    bool
	}{
		{
			name: "the other writer's readme upload fails after the winner staged its files",
			winner: func(r *race, s *raceSink) {
				s.beforeCommit = func(ctx context.Context, key string) error {
					close(r.winnerAtCommit)
					return wait(ctx, r.loserDone)
				}
			},
			loser: func(r *race, s *raceSink) {
				s.beforeCreate = func(ctx context.Context, key string) error {
					if strings.HasSuffix(key, release.ReadmeFile) {
						wait(ctx, r.winnerAtCommit)
						return errInjected
					}
					return nil
				}
			},
			loserFails: true,
		},
		{
			name: "the other writer's second file fails after the winner staged its files",
			winner: func(r *race, s *raceSink) {
				s.beforeCommit = func(ctx context.Context, key string) error {
					close(r.winnerAtCommit)
					return wait(ctx, r.loserDone)
				}
			},
			loser: func(r *race, s *raceSink) {
				s.beforeCreate = func(ctx context.Context, key string) error {
					if strings.HasSuffix(key, "transactions.midata.csv") {
						wait(ctx, r.winnerAtCommit)
						return errInjected
					}
					return nil
				}
			},
			loserFails: true,
		},
		{
			name:   "the other writer loses the commit",
			winner: func(*race, *raceSink) {},
			loser: func(r *race, s *raceSink) {
				s.beforeCommit = func(ctx context.Context, key string) error { return wait(ctx, r.winnerDone) }
			},
		},
	} {
		for store, sink := range stores {
			t.Run(tt.name+", "+store, func(t *testing.T) {
				r := &race{winnerAtCommit: make(chan struct{}), loserDone: make(chan struct{}), winnerDone: make(chan struct{})}
				ws, ls := &raceSink{Sink: sink}, &raceSink{Sink: sink}
				tt.winner(r, ws)
				tt.loser(r, ls)
				req := request("C1")
				req.ID = "K-race-" + strings.ReplaceAll(t.Name(), "/", "-")
				var won, lost *pipeline.Result
				var wonErr, lostErr error
				var wg sync.WaitGroup
				wg.Go(func() {
					defer close(r.winnerDone)
					won, wonErr = b.runner(t, "murmur2", ws).Release(t.Context(), req)
				})
				wg.Go(func() {
					defer close(r.loserDone)
					lost, lostErr = b.runner(t, "murmur2", ls).Release(t.Context(), req)
				})
				wg.Wait()
				if wonErr != nil || won.Status != release.StatusCommitted {
					t.Fatalf("winner: %+v, %v; want committed", won, wonErr)
				}
				switch {
				case tt.loserFails && !errors.Is(lostErr, errInjected):
					t.Errorf("other writer: %+v, %v; want the injected failure", lost, lostErr)
				case !tt.loserFails && (lostErr != nil || lost.Status != release.StatusAlreadyCommitted || lost.ReleaseID != won.ReleaseID):
					t.Errorf("other writer: %+v, %v; want already_committed of %s", lost, lostErr, won.ReleaseID)
				}
				verifyCommitted(t, sink, won.ReleaseID)
			})
		}
	}
}

// verifyCommitted checks that the committed release id in s is complete:
// every object its manifest names reads back with the manifest's bytes and
// SHA-256, README.txt carries a sha256sum line for each file, and no other
// object is under the release's prefix.
func verifyCommitted(t *testing.T, s sinks.Sink, id string) {
	t.Helper()
	m, err := releasestore.Manifest(t.Context(), s, id)
	if err != nil || m == nil {
		t.Fatalf("manifest of %s: %v, %v", id, m, err)
	}
	want := []string{pipeline.Prefix(id) + release.ManifestFile}
	var readme []byte
	for _, rs := range m.Resources {
		key := releasestore.Key(id, rs)
		want = append(want, key)
		rc, err := s.Open(t.Context(), key)
		if err != nil {
			t.Errorf("the manifest names %s, which cannot be read: %v", key, err)
			continue
		}
		var body bytes.Buffer
		_, err = body.ReadFrom(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("read %s: %v", key, err)
		}
		sum := sha256.Sum256(body.Bytes())
		if rs.Hash != "sha256:"+hex.EncodeToString(sum[:]) || rs.Bytes != int64(body.Len()) {
			t.Errorf("%s: %d bytes, sha256 %x; the manifest says %d bytes, %s", key, body.Len(), sum, rs.Bytes, rs.Hash)
		}
		if rs.Path == release.ReadmeFile {
			readme = body.Bytes()
		}
	}
	for _, rs := range m.Resources {
		if rs.Path != release.ReadmeFile && !bytes.Contains(readme, []byte(strings.TrimPrefix(rs.Hash, "sha256:")+"  "+rs.Path+"\r\n")) {
			t.Errorf("README.txt has no sha256sum line for %s", rs.Path)
		}
	}
	var got []string
	if err := s.(sinks.Lister).List(t.Context(), pipeline.Prefix(id), func(key string) error { got = append(got, key); return nil }); err != nil {
		t.Fatal(err)
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("objects of %s: %q, want only the manifest and what it names: %q", id, got, want)
	}
}
