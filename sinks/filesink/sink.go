// Package filesink stores releases on local disk, for the embedded default
// (`midata dev`): atomic writes (temporary file, fsync, rename), conditional
// commits (a hard link that fails when the name exists), and HMAC-signed,
// expiring download links that its own HTTP handler checks and serves.
//
// It does not share files between machines or clean up old releases, and it
// trusts the directory tree under Root: a symbolic link placed there by
// someone else is followed.
package filesink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/midata/midata/sinks"
)

// MinSecretLen is the shortest HMAC key New accepts.
const MinSecretLen = 32

// File modes: releases hold personal data, so only the owner reads them.
const (
	dirMode  = 0o700
	fileMode = 0o600
)

// Config says where the objects live and how links to them are made.
type Config struct {
	// Root is the directory that holds the objects; New creates it. A key
	// a/b.csv is the file Root/a/b.csv.
	Root string
	// BaseURL is where Handler is reachable, e.g. http://127.0.0.1:8080.
	// Links are BaseURL + "/files/" + key + "?expires=…&sig=…".
	BaseURL string
	// Secret is the HMAC-SHA256 key that signs links, at least
	// MinSecretLen bytes. Keep it between restarts, or links made before
	// a restart stop working.
	Secret []byte
	// Now is the clock for link expiry. Default time.Now.
	Now func() time.Time
}

// Validate reports the first thing wrong with c, naming the field.
func (c Config) Validate() error {
	if c.Root == "" {
		return errors.New("file sink config: root is empty")
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("file sink config: base URL %q: want http(s)://host[:port][/path]", c.BaseURL)
	}
	if len(c.Secret) < MinSecretLen {
		return fmt.Errorf("file sink config: secret of %d bytes: want at least %d", len(c.Secret), MinSecretLen)
	}
	return nil
}

// Sink is a sinks.Sink on a local directory. It is safe for concurrent
// use; each ObjectWriter it creates is not.
type Sink struct {
	root     string // absolute, cleaned
	base     string // BaseURL without a trailing slash
	basePath string // the path part of BaseURL, without a trailing slash
	secret   []byte
	now      func() time.Time
}

var (
	_ sinks.Sink    = (*Sink)(nil)
	_ sinks.Linker  = (*Sink)(nil)
	_ sinks.Deleter = (*Sink)(nil)
	_ sinks.Lister  = (*Sink)(nil)
)

// New validates cfg, creates cfg.Root if needed and returns the Sink.
func New(cfg Config) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	root, err := filepath.Abs(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("new file sink: root %s: %w", cfg.Root, err)
	}
	if err := os.MkdirAll(root, dirMode); err != nil {
		return nil, fmt.Errorf("new file sink: %w", err)
	}
	u, _ := url.Parse(cfg.BaseURL) // checked by Validate
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Sink{
		root:     root,
		base:     strings.TrimSuffix(cfg.BaseURL, "/"),
		basePath: strings.TrimSuffix(u.Path, "/"),
		secret:   append([]byte(nil), cfg.Secret...),
		now:      now,
	}, nil
}

// Create starts writing the object at key into a temporary file next to
// it; Close makes it the object (replacing one that was there), Abort
// removes it.
func (s *Sink) Create(ctx context.Context, key string) (sinks.ObjectWriter, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("create %s: %w", key, err)
	}
	name, err := s.path(key)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", key, err)
	}
	f, err := s.tempFile(name)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", key, err)
	}
	return &fileWriter{ctx: ctx, key: key, f: f, name: name}, nil
}

// Commit writes body at key only if no object is there: it writes a
// temporary file and hard-links it to the key's name, which fails when the
// name exists. That error matches sinks.ErrAlreadyCommitted.
func (s *Sink) Commit(ctx context.Context, key string, body []byte) (err error) {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("commit %s: %w", key, err)
	}
	name, err := s.path(key)
	if err != nil {
		return fmt.Errorf("commit %s: %w", key, err)
	}
	f, err := s.tempFile(name)
	if err != nil {
		return fmt.Errorf("commit %s: %w", key, err)
	}
	defer os.Remove(f.Name()) // the link keeps the data; the temporary name goes
	_, err = f.Write(body)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("commit %s: %w", key, err)
	}
	if err := os.Link(f.Name(), name); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("commit %s: %w: %w", key, sinks.ErrAlreadyCommitted, err)
		}
		return fmt.Errorf("commit %s: %w", key, err)
	}
	if err := syncDir(filepath.Dir(name)); err != nil {
		return fmt.Errorf("commit %s: %w", key, err)
	}
	return nil
}

// Open reads the object at key. A missing object gives an error that
// matches sinks.ErrNotFound.
func (s *Sink) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("open %s: %w", key, err)
	}
	f, err := s.open(key)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", key, err)
	}
	return f, nil
}

// open opens the object file at key, mapping a missing file (or a
// directory in its place) to sinks.ErrNotFound.
func (s *Sink) open(key string) (*os.File, error) {
	name, err := s.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(name)
	if err != nil {
		if missing(err) {
			return nil, fmt.Errorf("%w: %w", sinks.ErrNotFound, err)
		}
		return nil, err
	}
	if st, err := f.Stat(); err != nil || st.IsDir() {
		f.Close()
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %s is a directory", sinks.ErrNotFound, key)
	}
	return f, nil
}

// Delete removes the object at key. Deleting a missing object is not an
// error; the directories that held it stay.
func (s *Sink) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	name, err := s.path(key)
	if err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	st, err := os.Lstat(name)
	switch {
	case err != nil && missing(err):
		return nil
	case err != nil:
		return fmt.Errorf("delete %s: %w", key, err)
	case st.IsDir():
		return fmt.Errorf("delete %s: it is a directory, not an object", key)
	}
	if err := os.Remove(name); err != nil && !missing(err) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

// List calls fn with the key of every object under prefix, in ascending
// byte order of the keys. Temporary files (hidden names) are not objects and
// are not listed; directories that hold no object are skipped.
func (s *Sink) List(ctx context.Context, prefix string, fn func(key string) error) error {
	dir, _ := path.Split(prefix) // the directories the prefix names whole
	start := s.root
	if dir != "" {
		if err := checkKey(strings.TrimSuffix(dir, "/")); err != nil {
			return fmt.Errorf("list %s: %w", prefix, err)
		}
		start = filepath.Join(s.root, filepath.FromSlash(dir))
	}
	return s.list(ctx, start, dir, prefix, fn)
}

// ListAged is List with each file's modification time.
func (s *Sink) ListAged(ctx context.Context, prefix string, fn func(key string, written time.Time) error) error {
	return s.List(ctx, prefix, func(key string) error {
		fi, err := os.Stat(filepath.Join(s.root, filepath.FromSlash(key)))
		if err != nil {
			if missing(err) {
				return nil // deleted since it was listed
			}
			return fmt.Errorf("list %s: %w", prefix, err)
		}
		return fn(key, fi.ModTime())
	})
}

// list walks the directory name, whose key prefix is key ("" or ending in
// a slash), in key order: a directory sorts as its name and a slash.
func (s *Sink) list(ctx context.Context, name, key, prefix string, fn func(key string) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list %s: %w", prefix, err)
	}
	entries, err := os.ReadDir(name)
	if err != nil {
		if missing(err) {
			return nil
		}
		return fmt.Errorf("list %s: %w", prefix, err)
	}
	type entry struct {
		key string
		dir bool
	}
	var keys []entry
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		k := entry{key: key + e.Name(), dir: e.IsDir()}
		if k.dir {
			k.key += "/"
		}
		if strings.HasPrefix(k.key, prefix) || (k.dir && strings.HasPrefix(prefix, k.key)) {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b entry) int { return strings.Compare(a.key, b.key) })
	for _, k := range keys {
		if k.dir {
			err = s.list(ctx, filepath.Join(name, filepath.Base(k.key)), k.key, prefix, fn)
		} else {
			err = fn(k.key)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// path returns the file name of key under the root, or why key is refused.
func (s *Sink) path(key string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	return filepath.Join(s.root, filepath.FromSlash(key)), nil
}

// checkKey accepts only keys that name a file inside the root: relative
// slash paths of non-empty segments, none of them "." or "..", none
// starting with a dot (reserved for temporary files), with no backslash or
// control character.
func checkKey(key string) error {
	switch {
	case key == "":
		return errors.New("invalid key: empty")
	case len(key) > 1024:
		return fmt.Errorf("invalid key: %d bytes, want at most 1024", len(key))
	case strings.HasPrefix(key, "/"):
		return fmt.Errorf("invalid key %q: absolute path", key)
	case strings.ContainsRune(key, '\\'):
		return fmt.Errorf("invalid key %q: backslash", key)
	case strings.ContainsFunc(key, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return fmt.Errorf("invalid key %q: control character", key)
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch {
		case seg == "":
			return fmt.Errorf("invalid key %q: empty path segment", key)
		case seg == "." || seg == "..":
			return fmt.Errorf("invalid key %q: %q segment", key, seg)
		case strings.HasPrefix(seg, "."):
			return fmt.Errorf("invalid key %q: segment %q starts with a dot", key, seg)
		}
	}
	return nil
}

// tempFile creates a hidden temporary file in the directory of name,
// creating the directory if needed.
func (s *Sink) tempFile(name string) (*os.File, error) {
	dir := filepath.Dir(name)
	if err := s.makeDir(dir); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(name)+".*.tmp")
	if err != nil {
		return nil, err
	}
	return f, nil
}

// makeDir creates dir and its missing parents below the root, and syncs
// the parent of each directory it created so the new entries survive a
// crash.
func (s *Sink) makeDir(dir string) error {
	var created []string
	for d := dir; d != s.root && len(d) > len(s.root); d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		}
		created = append(created, d)
	}
	if len(created) == 0 {
		return nil
	}
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return err
	}
	for _, d := range created {
		if err := syncDir(filepath.Dir(d)); err != nil {
			return err
		}
	}
	return nil
}

// syncDir makes the entries of dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// missing reports whether err says a file is not there, including when a
// parent in its path is a file.
func missing(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}
