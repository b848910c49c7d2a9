package s3sink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/midata/midata/sinks"
)

// firstBufSize is the first buffer a writer allocates, so small objects do
// not cost a whole part; it grows to the part size once that fills.
const firstBufSize = 64 << 10

// firstBufs holds first buffers (capacity firstBufSize) of finished
// writers for reuse: a bulk release writes thousands of small objects, and
// a fresh 64 KiB buffer for each was a quarter of the bytes serve
// allocated. Only buffers of that capacity come back, and those are never
// in an upload goroutine (parts are at least MinPartSize).
var firstBufs = sync.Pool{New: func() any { b := make([]byte, 0, firstBufSize); return &b }}

// errWriterDone is returned by Write and Close after Close or Abort.
var errWriterDone = errors.New("object writer already closed or aborted")

// objectWriter streams one object. It fills a buffer of one part; when the
// buffer is full and more bytes come, the part is uploaded by a goroutine
// the writer owns while the next buffer fills. At most one upload is in
// flight, so at most two part buffers exist. An object that fits in one
// part is written by Close with a single PutObject.
type objectWriter struct {
	ctx context.Context
	s   *Sink
	key string

	buf   []byte // the part being filled
	spare []byte // the buffer of the last finished upload, for reuse

	uploadID *string // set once the multipart upload exists
	parts    []types.CompletedPart
	next     int32           // number of the last part started
	pending  chan partResult // non-nil while one part upload runs

	err  error // first error; Write and Close return it again
	done bool  // Close or Abort ran
}

// partResult is what an upload goroutine hands back: the finished part and
// its buffer, free for reuse.
type partResult struct {
	part types.CompletedPart
	buf  []byte
	err  error
}

// Write buffers p, uploading full parts as it goes.
func (w *objectWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, fmt.Errorf("write %s: %w", w.s.loc(w.key), errWriterDone)
	}
	if w.err != nil {
		return 0, w.err
	}
	partSize := int(w.s.cfg.PartSize)
	n := 0
	for len(p) > 0 {
		if len(w.buf) == cap(w.buf) {
			if err := w.grow(partSize); err != nil {
				w.err = err
				return n, err
			}
		}
		c := copy(w.buf[len(w.buf):cap(w.buf)], p)
		w.buf = w.buf[:len(w.buf)+c]
		p = p[c:]
		n += c
	}
	return n, nil
}

// grow makes room in a full buffer: a larger buffer while it is below one
// part, else the full part is sent and an empty buffer takes its place.
func (w *objectWriter) grow(partSize int) error {
	switch {
	case w.buf == nil:
		w.buf = (*firstBufs.Get().(*[]byte))[:0]
		return nil
	case cap(w.buf) < partSize:
		// Doubling, not straight to a whole part: an object of 100 KB
		// took (and cleared) an 8 MiB buffer, 16 % of serve's CPU in a
		// bulk run of the typical shape and 8 MiB of memory per release
		// in flight.
		bigger := make([]byte, len(w.buf), min(2*cap(w.buf), partSize))
		copy(bigger, w.buf)
		putFirstBuf(w.buf)
		w.buf = bigger
		return nil
	}
	return w.sendPart()
}

// sendPart starts the upload of the full buffer in a goroutine, after the
// previous upload has finished.
func (w *objectWriter) sendPart() error {
	if w.uploadID == nil {
		out, err := w.s.client.CreateMultipartUpload(w.ctx, &s3.CreateMultipartUploadInput{
			Bucket:            aws.String(w.s.cfg.Bucket),
			Key:               aws.String(w.key),
			ContentType:       aws.String(sinks.ContentType(w.key)),
			ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
		})
		if err != nil {
			return fmt.Errorf("write %s: start multipart upload: %w", w.s.loc(w.key), err)
		}
		w.uploadID = out.UploadId
	}
	if err := w.wait(); err != nil {
		return err
	}
	if w.next >= MaxParts {
		return fmt.Errorf("write %s: object exceeds %d parts of %d bytes: raise the part size", w.s.loc(w.key), MaxParts, w.s.cfg.PartSize)
	}
	w.next++
	ch := make(chan partResult, 1) // buffered: the goroutine never blocks on send
	w.pending = ch
	go func(n int32, body []byte) {
		ch <- w.uploadPart(n, body)
	}(w.next, w.buf)
	if w.spare != nil {
		w.buf, w.spare = w.spare[:0], nil
	} else {
		w.buf = make([]byte, 0, w.s.cfg.PartSize)
	}
	return nil
}

// uploadPart uploads body as part n. It reads only fields that do not
// change while an upload runs.
func (w *objectWriter) uploadPart(n int32, body []byte) partResult {
	out, err := w.s.client.UploadPart(w.ctx, &s3.UploadPartInput{
		Bucket:            aws.String(w.s.cfg.Bucket),
		Key:               aws.String(w.key),
		UploadId:          w.uploadID,
		PartNumber:        aws.Int32(n),
		Body:              bytes.NewReader(body),
		ContentLength:     aws.Int64(int64(len(body))),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
	})
	if err != nil {
		return partResult{buf: body, err: fmt.Errorf("write %s: upload part %d: %w", w.s.loc(w.key), n, err)}
	}
	return partResult{
		part: types.CompletedPart{PartNumber: aws.Int32(n), ETag: out.ETag, ChecksumCRC32: out.ChecksumCRC32},
		buf:  body,
	}
}

// wait waits for the part upload in flight, if any, and records it.
func (w *objectWriter) wait() error {
	if w.pending == nil {
		return nil
	}
	r := <-w.pending
	w.pending = nil
	w.spare = r.buf[:0]
	if r.err != nil {
		return r.err
	}
	w.parts = append(w.parts, r.part)
	return nil
}

// Close writes what is buffered and completes the object. On failure it
// aborts the multipart upload, so no parts are left behind.
func (w *objectWriter) Close() (err error) {
	if w.done {
		return fmt.Errorf("close %s: %w", w.s.loc(w.key), errWriterDone)
	}
	w.done = true
	defer w.release()
	defer func() {
		if err != nil {
			err = errors.Join(err, w.abortUpload())
		}
	}()
	if w.err != nil {
		return w.err
	}
	if w.uploadID == nil {
		_, err := w.s.client.PutObject(w.ctx, &s3.PutObjectInput{
			Bucket:        aws.String(w.s.cfg.Bucket),
			Key:           aws.String(w.key),
			Body:          bytes.NewReader(w.buf),
			ContentLength: aws.Int64(int64(len(w.buf))),
			ContentType:   aws.String(sinks.ContentType(w.key)),
		})
		if err != nil {
			// The transport may still read a failed request's body after
			// the answer: the buffer is not reused.
			w.buf = nil
			return fmt.Errorf("write %s: %w", w.s.loc(w.key), err)
		}
		return nil
	}
	if err := w.wait(); err != nil {
		return err
	}
	if len(w.buf) > 0 {
		w.next++
		r := w.uploadPart(w.next, w.buf)
		if r.err != nil {
			return r.err
		}
		w.parts = append(w.parts, r.part)
	}
	_, err = w.s.client.CompleteMultipartUpload(w.ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          aws.String(w.s.cfg.Bucket),
		Key:             aws.String(w.key),
		UploadId:        w.uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: w.parts},
	})
	if err != nil {
		return fmt.Errorf("write %s: complete multipart upload of %d parts: %w", w.s.loc(w.key), len(w.parts), err)
	}
	w.uploadID = nil
	return nil
}

// Abort discards the object: it waits for the part in flight and aborts the
// multipart upload. After Close or a previous Abort it does nothing.
func (w *objectWriter) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	defer w.release()
	return w.abortUpload()
}

// abortUpload aborts the multipart upload, if one was started, even when
// the writer's context has ended.
func (w *objectWriter) abortUpload() error {
	_ = w.wait() // the part's own error does not matter any more
	if w.uploadID == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), cleanupTimeout)
	defer cancel()
	_, err := w.s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket:   aws.String(w.s.cfg.Bucket),
		Key:      aws.String(w.key),
		UploadId: w.uploadID,
	})
	w.uploadID = nil
	if err != nil {
		return fmt.Errorf("abort upload of %s: %w", w.s.loc(w.key), err)
	}
	return nil
}

// release drops the buffers so a writer kept by mistake holds no memory.
func (w *objectWriter) release() {
	putFirstBuf(w.buf)
	w.buf, w.spare, w.parts = nil, nil, nil
}

// putFirstBuf returns b to firstBufs when it is a first buffer.
func putFirstBuf(b []byte) {
	if cap(b) == firstBufSize {
		b = b[:0]
		firstBufs.Put(&b)
	}
}
