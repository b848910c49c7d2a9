package pipeline

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/midata/midata/pipeline/consent"
	"github.com/midata/midata/pipeline/kafkasource"
	"github.com/midata/midata/pipeline/releasestore"
	"github.com/midata/midata/schemas"
	"github.com/midata/midata/schemas/release"
	"github.com/midata/midata/sinks"
)

// records yields one release's records in one row order (a spill.Iterator,
// or one customer's run of it in a bulk release).
type records interface {
	Next() bool
	Transaction() *schemas.Transaction
	Err() error
}

// customerRelease is one customer's release being made.
type customerRelease struct {
	id      string
	req     Request // CustomerID is the customer
	formats []release.Format
	grant   consent.Grant
	snap    kafkasource.Snapshot
	stats   release.Counts
	now     time.Time
	small   bool // its records are few and in memory: small write buffers
	noLinks bool // its result needs no signed links (a bulk task's)
	// conflict, when set, is told that the commit found the release
	// committed by another writer (an earlier attempt).
	conflict func(context.Context)
}

// complete encodes and stages the release from sources (one per row order
// its formats need) under a fresh attempt of its own, re-checks consent, and
// commits the manifest last and conditionally. recheck returns a reason to
// cancel, or "".
func (r *Runner) complete(ctx context.Context, c *customerRelease, sources map[release.Order]records, recheck func(context.Context) (string, error)) (*Result, error) {
	log := r.cfg.Logger.With("release_id", c.id, "customer_id", c.req.CustomerID, "recipient", c.req.Recipient)
	prefix := releasestore.Prefix(c.id)
	attempt := releasestore.NewAttempt()
	bufSize := writeBuffer
	if c.small {
		bufSize = smallWriteBuffer
	}
	staged, err := r.stage(ctx, prefix, attempt, bufSize, c.formats, sources, release.Options{
		Granted: c.grant.Categories(), CustomerID: string(c.req.CustomerID), Recipient: c.req.Recipient, From: c.req.From.UTC(), To: c.req.To.UTC()})
	if err != nil {
		return nil, err
	}
	// Each file holds every released record: a file with another count
	// was cut short (or over-read) and is not committed.
	for _, f := range staged {
		if f.rows != c.stats.Released {
			r.discard(context.WithoutCancel(ctx), staged)
			return nil, fmt.Errorf("stage release %s: %s has %d rows, %d released", c.id, f.object, f.rows, c.stats.Released)
		}
	}
	m := newManifest(c.id, c.now, c.req, c.formats, c.grant, c.snap, c.stats, staged)
	readme, err := r.put(ctx, prefix, releasestore.Object(attempt, release.ReadmeFile), release.Readme(m))
	if err != nil {
		r.discard(context.WithoutCancel(ctx), staged)
		return nil, err
	}
	staged = append(staged, readme)
	m.Resources = append(m.Resources, readmeResource(readme))
	body, err := m.Marshal()
	if err != nil {
		r.discard(context.WithoutCancel(ctx), staged)
		return nil, err
	}
	// The consent re-check comes last, right before the commit.
	if reason, err := recheck(ctx); err != nil {
		r.discard(context.WithoutCancel(ctx), staged)
		return nil, err
	} else if reason != "" {
		r.discard(context.WithoutCancel(ctx), staged)
		log.Warn("release cancelled before commit", "reason", reason)
		snapshot := toSnapshot(c.snap)
		return &Result{ReleaseID: c.id, CustomerID: string(c.req.CustomerID), Status: release.StatusCancelled, Reason: reason, Files: []File{}, Links: []Link{}, Stats: c.stats, Snapshot: &snapshot}, nil
	}
	status := release.StatusCommitted
	if c.stats.Released == 0 {
		status = release.StatusEmpty
	}
	switch err := r.cfg.Sink.Commit(ctx, prefix+release.ManifestFile, body); {
	case errors.Is(err, sinks.ErrAlreadyCommitted):
		won, err := r.committed(ctx, c.id)
		if err != nil {
			return nil, fmt.Errorf("read manifest of %s committed by another writer: %w", c.id, err)
		} else if won == nil {
			return nil, fmt.Errorf("manifest of %s committed by another writer is not readable yet: try again", c.id)
		}
		if releasestore.Names(won, attempt) {
			// Our own write, retried by the client after its answer was lost.
			log.Info("release committed", "status", status, "released", c.stats.Released, "scanned", c.stats.Scanned, "quarantined", c.stats.Quarantined)
			return r.resultOf(ctx, won, status, !c.noLinks, &c.grant)
		}
		// Another writer won the race with the same id: its files have the
		// bytes of ours, under its own attempt, and its manifest is the
		// release. Ours are named by no manifest: this writer removes them.
		log.Info("release committed by another writer first")
		r.discard(context.WithoutCancel(ctx), staged)
		if c.conflict != nil {
			c.conflict(ctx)
		}
		return r.resultOf(ctx, won, release.StatusAlreadyCommitted, !c.noLinks, &c.grant)
	case err != nil:
		// The outcome is unknown (the manifest may exist and name these
		// files): nothing is removed.
		return nil, fmt.Errorf("commit manifest of %s: %w", c.id, err)
	}
	log.Info("release committed", "status", status, "released", c.stats.Released, "scanned", c.stats.Scanned, "quarantined", c.stats.Quarantined)
	return r.resultOf(ctx, m, status, !c.noLinks, &c.grant)
}

// discard removes the files this writer staged for a release it does not
// commit: its attempt's own, which no manifest names (see releasestore for
// the orphans left when it cannot).
func (r *Runner) discard(ctx context.Context, staged []*stagedFile) {
	keys := make([]string, 0, len(staged))
	for _, f := range staged {
		keys = append(keys, f.key)
	}
	if err := releasestore.Discard(ctx, r.cfg.Sink, keys); err != nil {
		r.cfg.Logger.Warn("staged files not removed", "err", err)
	}
}

// committed returns the manifest of release id, or nil when it does not exist.
func (r *Runner) committed(ctx context.Context, id string) (*release.Manifest, error) {
	return releasestore.Manifest(ctx, r.cfg.Sink, id)
}

// stagedFile is one release file written to the sink.
type stagedFile struct {
	format release.Format
	key    string // the object's key
	object string // the key relative to the release's prefix: <attempt>/<file>
	rows   int64
	bytes  int64
	sha256 string
}

// stage encodes every format, one pass over each row order's records,
// streaming each file into the sink under prefix and attempt through a
// buffer of bufSize bytes while hashing it. On error it removes what it
// staged.
func (r *Runner) stage(ctx context.Context, prefix, attempt string, bufSize int, formats []release.Format, sources map[release.Order]records, opts release.Options) (staged []*stagedFile, err error) {
	type open struct {
		file *stagedFile
		obj  sinks.ObjectWriter
		hw   *hashWriter
		bw   *bufio.Writer
		enc  release.Encoder
	}
	var all []*open
	defer func() {
		if err != nil {
			for _, o := range all {
				if o.obj != nil {
					o.obj.Abort()
				}
			}
			r.discard(context.WithoutCancel(ctx), staged)
			staged = nil
		}
	}()
	for _, order := range []release.Order{release.OldestFirst, release.NewestFirst} {
		src := sources[order]
		if src == nil {
			continue
		}
		var group []*open
		for _, f := range formats {
			if f.Order != order {
				continue
			}
			object := releasestore.Object(attempt, f.File)
			key := prefix + object
			obj, err := r.cfg.Sink.Create(ctx, key)
			if err != nil {
				return staged, fmt.Errorf("stage %s: %w", key, err)
			}
			o := &open{file: &stagedFile{format: f, key: key, object: object}, obj: obj, hw: newHashWriter(obj)}
			o.bw = getWriter(o.hw, bufSize)
			o.enc = f.New(o.bw, opts)
			all = append(all, o)
			group = append(group, o)
		}
		for n := 0; src.Next(); n++ {
			t := src.Transaction()
			for _, o := range group {
				if err := o.enc.Encode(t); err != nil {
					return staged, fmt.Errorf("encode %s: %w", o.file.key, err)
				}
				o.file.rows++
			}
			if n%8192 == 0 && ctx.Err() != nil {
				return staged, fmt.Errorf("encode release: %w", ctx.Err())
			}
		}
		if err := src.Err(); err != nil {
			return staged, fmt.Errorf("read sorted records: %w", err)
		}
		for _, o := range group {
			if err := o.enc.Close(); err != nil {
				return staged, fmt.Errorf("encode %s: %w", o.file.key, err)
			}
			if err := o.bw.Flush(); err != nil {
				return staged, fmt.Errorf("write %s: %w", o.file.key, err)
			}
			putWriter(o.bw, bufSize)
			obj := o.obj
			o.obj = nil
			if err := obj.Close(); err != nil {
				return staged, fmt.Errorf("write %s: %w", o.file.key, err)
			}
			o.file.bytes, o.file.sha256 = o.hw.bytes, o.hw.sum()
			staged = append(staged, o.file)
		}
	}
	// Files in the order the request named the formats.
	slices.SortStableFunc(staged, func(a, b *stagedFile) int {
		return slices.IndexFunc(formats, func(f release.Format) bool { return f.Name == a.format.Name }) -
			slices.IndexFunc(formats, func(f release.Format) bool { return f.Name == b.format.Name })
	})
	return staged, nil
}

// Write buffers of staged files, by size, for reuse: a bulk release stages
// thousands of files, and a fresh buffer for each was a sixth of the bytes
// serve allocated.
var writers = map[int]*sync.Pool{
	smallWriteBuffer: {New: func() any { return bufio.NewWriterSize(nil, smallWriteBuffer) }},
	writeBuffer:      {New: func() any { return bufio.NewWriterSize(nil, writeBuffer) }},
}

// Sizes of the write buffer of a staged file.
const (
	writeBuffer      = 256 << 10
	smallWriteBuffer = 16 << 10 // a release whose records are few and in memory
)

func getWriter(w io.Writer, size int) *bufio.Writer {
	bw := writers[size].Get().(*bufio.Writer)
	bw.Reset(w)
	return bw
}

// putWriter returns a flushed bw of size to its pool.
func putWriter(bw *bufio.Writer, size int) {
	bw.Reset(nil)
	writers[size].Put(bw)
}
