package releasestore_test

import (
	"bytes"
	"context"
	"io"
	"maps"
	"path/filepath"
	"testing"

	"github.com/midata/midata/pipeline/releasestore"
	"github.com/midata/midata/schemas/release"
	"github.com/midata/midata/sinks"
	"github.com/midata/midata/sinks/filesink"
)

func store(t *testing.T) *filesink.Sink {
	t.Helper()
	s, err := filesink.New(filesink.Config{Root: filepath.Join(t.TempDir(), "store"), BaseURL: "http://127.0.0.1:1", Secret: bytes.Repeat([]byte{1}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func put(t *testing.T, s sinks.Sink, key string) {
	t.Helper()
	w, err := s.Create(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("x"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// plainSink hides every optional capability of the sink it wraps.
type plainSink struct{ s sinks.Sink }

func (p plainSink) Create(ctx context.Context, key string) (sinks.ObjectWriter, error) {
	return p.s.Create(ctx, key)
}
func (p plainSink) Commit(ctx context.Context, key string, body []byte) error {
	return p.s.Commit(ctx, key, body)
}
func (p plainSink) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	return p.s.Open(ctx, key)
}

func TestCommittedIsOneListingOfTheReleasesAsked(t *testing.T) {
	s := store(t)
	// r1 committed; r2 staged by an attempt, not committed; r3 committed
	// but not asked about; another period's release committed.
	for _, id := range []string{"r20260101-aa", "r20260101-cc", "r20250101-aa"} {
		if err := s.Commit(t.Context(), releasestore.Prefix(id)+release.ManifestFile, []byte("{}")); err != nil {
			t.Fatal(err)
		}
	}
	put(t, s, releasestore.Prefix("r20260101-bb")+releasestore.Object(releasestore.NewAttempt(), "transactions.ndjson"))
	got, err := releasestore.Committed(t.Context(), s, []string{"r20260101-aa", "r20260101-bb"})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]bool{"r20260101-aa": true, "r20260101-bb": false}; !maps.Equal(got, want) {
		t.Errorf("Committed = %v, want %v", got, want)
	}
	if got, err := releasestore.Committed(t.Context(), plainSink{s}, []string{"r20260101-aa"}); got != nil || err != nil {
		t.Errorf("Committed on a sink that cannot list = %v, %v; want nil: ask per release", got, err)
	}
}

func TestAResourceIsStoredWhereTheManifestSays(t *testing.T) {
	a := releasestore.NewAttempt()
	if b := releasestore.NewAttempt(); a == b || len(a) != 16 {
		t.Errorf("attempts %q and %q: want two different 16-character names", a, b)
	}
	m := &release.Manifest{ID: "r1", Resources: []release.Resource{{Path: "transactions.csv", Object: releasestore.Object(a, "transactions.csv")}}}
	if got := releasestore.Key("r1", m.Resources[0]); got != "releases/r1/"+a+"/transactions.csv" {
		t.Errorf("Key = %s", got)
	}
	if got := releasestore.Key("r1", release.Resource{Path: "transactions.csv"}); got != "releases/r1/transactions.csv" {
		t.Errorf("Key of a resource of a manifest before attempts = %s, want its path", got)
	}
	if !releasestore.Names(m, a) || releasestore.Names(m, releasestore.NewAttempt()) {
		t.Error("Names does not tell the attempt of the manifest from another")
	}
}

func TestDiscardRemovesOnlyTheKeysGiven(t *testing.T) {
	s := store(t)
	mine, theirs := releasestore.NewAttempt(), releasestore.NewAttempt()
	p := releasestore.Prefix("r1")
	put(t, s, p+releasestore.Object(mine, "a.csv"))
	put(t, s, p+releasestore.Object(theirs, "a.csv"))
	if err := releasestore.Discard(t.Context(), s, []string{p + releasestore.Object(mine, "a.csv")}); err != nil {
		t.Fatal(err)
	}
	var left []string
	s.List(t.Context(), p, func(k string) error { left = append(left, k); return nil })
	if len(left) != 1 || left[0] != p+releasestore.Object(theirs, "a.csv") {
		t.Errorf("after discarding mine, %q left; want only theirs", left)
	}
}
