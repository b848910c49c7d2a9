package filesink

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// errWriterDone is returned by Write and Close after Close or Abort.
var errWriterDone = errors.New("object writer already closed or aborted")

// fileWriter writes an object into a temporary file that Close renames to
// the object's name.
type fileWriter struct {
	ctx  context.Context
	key  string
	f    *os.File // the temporary file
	name string   // the object's file name
	done bool
}

// Write appends p to the temporary file. It stops once the writer's
// context has ended.
func (w *fileWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, fmt.Errorf("write %s: %w", w.key, errWriterDone)
	}
	if err := w.ctx.Err(); err != nil {
		return 0, fmt.Errorf("write %s: %w", w.key, err)
	}
	n, err := w.f.Write(p)
	if err != nil {
		return n, fmt.Errorf("write %s: %w", w.key, err)
	}
	return n, nil
}

// Close flushes the file to disk and renames it to the object's name,
// replacing an object that was there. On failure the temporary file is
// removed.
func (w *fileWriter) Close() error {
	if w.done {
		return fmt.Errorf("close %s: %w", w.key, errWriterDone)
	}
	w.done = true
	err := w.ctx.Err()
	if err == nil {
		err = w.f.Sync()
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(w.f.Name(), w.name)
	}
	if err != nil {
		os.Remove(w.f.Name())
		return fmt.Errorf("write %s: %w", w.key, err)
	}
	if err := syncDir(filepath.Dir(w.name)); err != nil {
		return fmt.Errorf("write %s: %w", w.key, err)
	}
	return nil
}

// Abort removes the temporary file. After Close or a previous Abort it
// does nothing.
func (w *fileWriter) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	w.f.Close()
	if err := os.Remove(w.f.Name()); err != nil {
		return fmt.Errorf("abort %s: %w", w.key, err)
	}
	return nil
}
