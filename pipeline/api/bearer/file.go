package bearer

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
)

// File is a tokens file: one token=role a line, blank lines and lines
// starting with # ignored. Watch re-reads it when it changes, so tokens
// are rotated by rewriting the file (a Kubernetes secret update does): a
// file that no longer reads keeps the tokens it had, and says why in the
// log.
type File struct {
	path string
	mu   sync.RWMutex
	cur  *Static
	stat fileStamp
}

type fileStamp struct {
	mod  time.Time
	size int64
}

// OpenFile reads the tokens file at path; an error names the line.
func OpenFile(path string) (*File, error) {
	f := &File{path: path}
	if _, err := f.Reload(); err != nil {
		return nil, err
	}
	return f, nil
}

// Role implements Authenticator.
func (f *File) Role(ctx context.Context, token string) (string, error) {
	f.mu.RLock()
	cur := f.cur
	f.mu.RUnlock()
	return cur.Role(ctx, token)
}

// Reload reads the file again when its size or time changed, and says
// whether it did. On an error the tokens read before stay.
func (f *File) Reload() (bool, error) {
	fi, err := os.Stat(f.path)
	if err != nil {
		return false, fmt.Errorf("tokens file: %w", err)
	}
	stamp := fileStamp{fi.ModTime(), fi.Size()}
	f.mu.RLock()
	same := f.cur != nil && stamp == f.stat
	f.mu.RUnlock()
	if same {
		return false, nil
	}
	b, err := os.ReadFile(f.path)
	if err != nil {
		return false, fmt.Errorf("tokens file: %w", err)
	}
	s, err := parseTokens(b)
	if err != nil {
		return false, fmt.Errorf("tokens file %s: %w", f.path, err)
	}
	f.mu.Lock()
	f.cur, f.stat = s, stamp
	f.mu.Unlock()
	return true, nil
}

// Watch calls Reload every interval until ctx ends, logging each change
// and each error.
func (f *File) Watch(ctx context.Context, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		changed, err := f.Reload()
		switch {
		case err != nil:
			log.Error("tokens file not reloaded; the tokens read before stay", "err", err)
		case changed:
			f.mu.RLock()
			n := f.cur.Len()
			f.mu.RUnlock()
			log.Info("tokens file reloaded", "path", f.path, "tokens", n)
		}
	}
}

// parseTokens reads token=role lines. A token may hold "=" but the role is
// after the last one; errors name the line, never the token.
func parseTokens(b []byte) (*Static, error) {
	tokens := make(map[string]string)
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		eq := strings.LastIndexByte(line, '=')
		if eq <= 0 || eq == len(line)-1 {
			return nil, fmt.Errorf("line %d: want <token>=<role>", n)
		}
		tok, role := strings.TrimSpace(line[:eq]), strings.TrimSpace(line[eq+1:])
		if _, dup := tokens[tok]; dup {
			return nil, fmt.Errorf("line %d (role %q): the same token as an earlier line", n, role)
		}
		tokens[tok] = role
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return NewStatic(tokens)
}
