package s3sink

import (
	"errors"
	"io"
	"sync"
)

// blockSize is the unit of an object writer's buffer: a buffer is a list
// of blocks, so an object below one part holds less than one block more
// than its bytes, and a buffer grows without copying what it holds.
const blockSize = 64 << 10

// blockPool recycles the blocks of the writers of one Sink. A bulk release
// writes thousands of objects a few at a time; without the pool each one
// allocated its buffer afresh, and the garbage of the last ones inflated
// the heap the collector lets grow. A sync.Pool lets blocks nobody asked
// for go at the next collections, so the pool holds about what the writers
// in flight use, not the most they ever used.
type blockPool struct{ p sync.Pool }

func (bp *blockPool) get() []byte {
	if b, ok := bp.p.Get().(*[]byte); ok {
		return (*b)[:0]
	}
	return make([]byte, 0, blockSize)
}

func (bp *blockPool) put(b []byte) {
	if cap(b) == blockSize {
		b = b[:0]
		bp.p.Put(&b)
	}
}

// buffer holds up to one part of an object in blocks: every block but the
// last is full.
type buffer struct {
	blocks [][]byte
	n      int // bytes held
}

// fill copies from p until the buffer holds limit bytes, taking empty
// blocks from get as it needs them, and returns how many bytes it took.
func (b *buffer) fill(p []byte, limit int, get func() []byte) int {
	taken := 0
	for len(p) > 0 && b.n < limit {
		if len(b.blocks) == 0 || len(b.blocks[len(b.blocks)-1]) == blockSize {
			b.blocks = append(b.blocks, get())
		}
		last := &b.blocks[len(b.blocks)-1]
		c := copy((*last)[len(*last):min(blockSize, len(*last)+limit-b.n)], p)
		*last = (*last)[:len(*last)+c]
		p, b.n, taken = p[c:], b.n+c, taken+c
	}
	return taken
}

// held is the memory the buffer's blocks take.
func (b *buffer) held() int { return len(b.blocks) * blockSize }

// release hands the blocks back to pool and empties the buffer.
func (b *buffer) release(pool *blockPool) {
	for _, blk := range b.blocks {
		pool.put(blk)
	}
	b.drop()
}

// drop empties the buffer and leaves its blocks to the garbage collector.
func (b *buffer) drop() {
	clear(b.blocks)
	b.blocks, b.n = b.blocks[:0], 0
}

// reader returns a reader of the bytes held, which the SDK can seek (it
// reads a body to sign and checksum it, then again to send it).
func (b *buffer) reader() *bufferReader {
	return &bufferReader{blocks: b.blocks, size: int64(b.n)}
}

// bufferReader reads a buffer's blocks as one stream: an io.ReadSeeker
// like bytes.Reader.
type bufferReader struct {
	blocks [][]byte
	size   int64
	off    int64
}

func (r *bufferReader) Read(p []byte) (int, error) {
	if r.off >= r.size {
		return 0, io.EOF
	}
	n := 0
	for len(p) > 0 && r.off < r.size {
		blk := r.blocks[r.off/blockSize]
		c := copy(p, blk[r.off%blockSize:])
		p, n, r.off = p[c:], n+c, r.off+int64(c)
	}
	return n, nil
}

// WriteTo writes the rest of the bytes to w, a block at a time.
func (r *bufferReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for r.off < r.size {
		blk := r.blocks[r.off/blockSize][r.off%blockSize:]
		n, err := w.Write(blk)
		total, r.off = total+int64(n), r.off+int64(n)
		if err != nil {
			return total, err
		}
		if n < len(blk) {
			return total, io.ErrShortWrite
		}
	}
	return total, nil
}

func (r *bufferReader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += r.off
	case io.SeekEnd:
		offset += r.size
	default:
		return r.off, errors.New("seek: invalid whence")
	}
	if offset < 0 {
		return r.off, errors.New("seek: negative position")
	}
	r.off = offset
	return offset, nil
}

// Len is the number of bytes not read yet.
func (r *bufferReader) Len() int { return int(max(r.size-r.off, 0)) }
