// Package releasestore owns how releases are kept in the object store: the
// layout of a release's objects, the names of writers' attempts, reading the
// commit point (the manifest), learning which of many releases are committed
// with one listing, and removing an attempt's own files.
//
// The layout of release <id>:
//
//	releases/<id>/manifest.json        the commit point, written last and
//	                                   only if absent (If-None-Match: *)
//	releases/<id>/<attempt>/<file>     the files of one writer's attempt
//
// Every writer stages under an attempt of its own (NewAttempt), and the
// manifest names the exact objects of the attempt that committed
// (release.Resource.Object). So a writer that loses the commit, or gives
// up, removes only what it wrote, and never a file of the winner.
//
// Orphans: the files of an attempt that ended without removing them (a
// crash, an unknown commit outcome, a failed delete) stay under
// releases/<id>/<attempt>/. They are orphans when the release's manifest
// names another attempt, or when no manifest exists once no writer can still
// commit the release. A sweeper that reads manifests may remove them; none
// runs yet.
//
// It does not make releases (the pipeline does) or talk to a store itself
// (it goes through a sinks.Sink).
package releasestore

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/midata/midata/schemas/release"
	"github.com/midata/midata/sinks"
)

// root is the prefix of every release.
const root = "releases/"

// maxManifest is the largest manifest Manifest reads.
const maxManifest = 16 << 20

// Prefix is where the objects of release id live.
func Prefix(id string) string { return root + id + "/" }

// NewAttempt names one writer's attempt at a release: 64 random bits, so two
// writers of one release (a redelivered request, a task restarted by a
// rebalance while its first run goes on) never write to the same object.
// The name differs between attempts; the files' bytes and the release id do
// not.
func NewAttempt() string {
	var b [8]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// Object is the key of file name of attempt, relative to the release's
// prefix: what release.Resource.Object holds.
func Object(attempt, name string) string { return attempt + "/" + name }

// Key is where resource rs of release id is stored: its Object, or for a
// manifest written before attempts, its Path.
func Key(id string, rs release.Resource) string {
	return Prefix(id) + cmp.Or(rs.Object, rs.Path)
}

// Names reports whether manifest m names an object of attempt.
func Names(m *release.Manifest, attempt string) bool {
	return slices.ContainsFunc(m.Resources, func(rs release.Resource) bool {
		return strings.HasPrefix(rs.Object, attempt+"/")
	})
}

// Manifest returns the manifest of release id, or nil when the release is
// not committed. A body cut off mid-way (the store's client retries the
// request, not the reading of its answer) is read again, up to
// manifestReads times: the S3 fault drill saw a writer fail on it
// although its release was committed.
func Manifest(ctx context.Context, s sinks.Sink, id string) (*release.Manifest, error) {
	for n := 1; ; n++ {
		rc, err := s.Open(ctx, Prefix(id)+release.ManifestFile)
		if errors.Is(err, sinks.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("look for release %s: %w", id, err)
		}
		var buf bytes.Buffer
		_, err = io.Copy(&buf, io.LimitReader(rc, maxManifest))
		rc.Close()
		if err == nil {
			return release.ParseManifest(buf.Bytes())
		}
		if n == manifestReads || ctx.Err() != nil {
			return nil, fmt.Errorf("read manifest of %s (%d tries): %w", id, n, err)
		}
	}
}

// manifestReads is how many times Manifest reads a body that breaks off.
const manifestReads = 3

// Committed returns which of the releases ids are committed, from one
// listing of the store instead of one request per release: every id is in
// the map, true when its manifest exists. It returns nil when s cannot list
// (it is no sinks.Lister): then ask Manifest for each.
//
// The listing covers the keys under the ids' common prefix
// (releases/r<period start>-…): manifests and staged files of every release
// of that period alike, about one page of 1,000 keys per 250 releases.
func Committed(ctx context.Context, s sinks.Sink, ids []string) (map[string]bool, error) {
	l, ok := s.(sinks.Lister)
	if !ok || len(ids) == 0 {
		return nil, nil
	}
	found := make(map[string]bool, len(ids))
	common := ids[0]
	for _, id := range ids {
		found[id] = false
		for !strings.HasPrefix(id, common) {
			common = common[:len(common)-1]
		}
	}
	err := l.List(ctx, root+common, func(key string) error {
		id, rest, _ := strings.Cut(strings.TrimPrefix(key, root), "/")
		if _, ok := found[id]; ok && rest == release.ManifestFile {
			found[id] = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list committed releases: %w", err)
	}
	return found, nil
}

// Discard removes the objects at keys, which must be files of one attempt
// that no manifest names: a writer's own, so no other writer's file is
// touched, whatever the other writer is doing. It does nothing when s
// cannot delete (it is no sinks.Deleter). It tries every key and returns
// the errors of those it could not remove.
func Discard(ctx context.Context, s sinks.Sink, keys []string) error {
	d, ok := s.(sinks.Deleter)
	if !ok {
		return nil
	}
	var errs []error
	for _, key := range keys {
		if err := d.Delete(ctx, key); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("discard staged files: %w", err)
	}
	return nil
}
