package spill

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"

	"github.com/midata/midata/schemas"
)

// writeBufSize is the buffer of the run file being written (one at a time).
const writeBufSize = 256 << 10

// A merge shares mergeReadBudget among the run files it reads: each gets
// an equal share, within [minReadBuf, maxReadBuf]. A merge's read buffers
// thus take about the same memory whether it merges 10 runs or the
// fan-in's 128 (at 32 KiB each, the bigger merges of a larger partition
// took 4 MiB more per bulk task and raised serve's peak RSS with the data).
const (
	mergeReadBudget = 512 << 10
	minReadBuf      = 4 << 10
	maxReadBuf      = 32 << 10
)

// readBufFor returns the read buffer of each of n run files merged at once.
func readBufFor(n int) int {
	return min(max(mergeReadBudget/max(n, 1), minReadBuf), maxReadBuf)
}

// run is one sorted run file.
type run struct {
	path string
	n    int64 // records in the file
}

// writeRun writes recs, already sorted, to a new temporary file in dir.
func writeRun(dir string, c *codec, recs iter.Seq[*schemas.Transaction]) (_ *run, err error) {
	f, err := os.CreateTemp(dir, "midata-spill-*.run")
	if err != nil {
		return nil, fmt.Errorf("create run file: %w", err)
	}
	r := &run{path: f.Name()}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(r.path)
		}
	}()
	if c.w == nil {
		c.w = bufio.NewWriterSize(f, writeBufSize)
	}
	w := c.w
	w.Reset(f)
	defer w.Reset(nil) // let the file go
	for t := range recs {
		c.buf = AppendRecord(c.buf[:0], t)
		if _, err := w.Write(c.buf); err != nil {
			return nil, fmt.Errorf("write run file %s: %w", r.path, err)
		}
		r.n++
	}
	if err := w.Flush(); err != nil {
		return nil, fmt.Errorf("write run file %s: %w", r.path, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("close run file %s: %w", r.path, err)
	}
	return r, nil
}

// fileCount counts the run files open for reading, now and at most at once.
type fileCount struct{ now, peak int }

// open returns a reader of the run's records, counted in files until it
// is closed.
func (r *run) open(files *fileCount, bufSize int) (*runReader, error) {
	f, err := os.Open(r.path)
	if err != nil {
		return nil, fmt.Errorf("open run file: %w", err)
	}
	files.now++
	files.peak = max(files.peak, files.now)
	return &runReader{f: f, r: bufio.NewReaderSize(f, bufSize), path: r.path, left: r.n, files: files}, nil
}

// remove removes the run's file; a file already gone is not an error.
func (r *run) remove() error {
	if err := os.Remove(r.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// runReader reads one run file. It decodes into one reused record.
type runReader struct {
	f       *os.File
	r       *bufio.Reader
	path    string
	left    int64
	read    int64
	rec     schemas.Transaction
	scratch []byte // a record longer than the read buffer
	files   *fileCount
}

func (rr *runReader) next() (*schemas.Transaction, error) {
	if rr.left == 0 {
		return nil, nil
	}
	if err := rr.decode(); err != nil {
		return nil, fmt.Errorf("read run file %s record %d: %w", rr.path, rr.read, err)
	}
	rr.left--
	rr.read++
	return &rr.rec, nil
}

// decode reads the next record (its length, then its body) into rr.rec,
// from the read buffer itself when it fits there.
func (rr *runReader) decode() error {
	n, err := binary.ReadUvarint(rr.r)
	if err != nil {
		return noEOF(err)
	}
	if n > maxRecord {
		return fmt.Errorf("%w: record of %d bytes", errCorrupt, n)
	}
	if int(n) <= rr.r.Size() {
		body, err := rr.r.Peek(int(n))
		if err != nil {
			return noEOF(err)
		}
		err = decodeBody(body, &rr.rec)
		rr.r.Discard(int(n))
		return err
	}
	if cap(rr.scratch) < int(n) {
		rr.scratch = make([]byte, n)
	}
	body := rr.scratch[:n]
	if _, err := io.ReadFull(rr.r, body); err != nil {
		return noEOF(err)
	}
	return decodeBody(body, &rr.rec)
}

func (rr *runReader) close() error {
	rr.files.now--
	return rr.f.Close()
}

// memSource is the records that never left memory, already sorted.
type memSource struct {
	recs []*schemas.Transaction
}

func (m *memSource) next() (*schemas.Transaction, error) {
	if len(m.recs) == 0 {
		return nil, nil
	}
	t := m.recs[0]
	m.recs = m.recs[1:]
	return t, nil
}

func (m *memSource) close() error { m.recs = nil; return nil }
