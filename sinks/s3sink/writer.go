package s3sink

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/midata/midata/sinks"
)

// errWriterDone is returned by Write and Close after Close or Abort.
var errWriterDone = errors.New("object writer already closed or aborted")

// objectWriter streams one object. It fills a buffer of one part, in
// blocks of 64 KiB from the Sink's pool, so an object smaller than a part
// holds less than one block more than its bytes; when a part's buffer is
// full and more bytes come, the part is uploaded by a goroutine the writer
// owns while the next buffer fills. At most one upload is in flight, so at
// most two parts are buffered. An object that fits in one part is written
// by Close with a single PutObject. The blocks go back to the pool once
// their request is answered.
type objectWriter struct {
	ctx context.Context
	s   *Sink
	key string

	buf   buffer   // the part being filled
	spare [][]byte // the empty blocks of the last part uploaded, for the next

	uploadID *string // set once the multipart upload exists
	parts    []types.CompletedPart
	next     int32           // number of the last part started
	pending  chan partResult // non-nil while one part upload runs

	err  error // first error; Write and Close return it again
	done bool  // Close or Abort ran
}

// partResult is what an upload goroutine hands back: the finished part and
// its buffer.
type partResult struct {
	part types.CompletedPart
	buf  buffer
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
		if w.buf.n == partSize {
			if err := w.sendPart(); err != nil {
				w.err = err
				return n, err
			}
		}
		c := w.buf.fill(p, partSize, w.block)
		p, n = p[c:], n+c
	}
	return n, nil
}

// block returns an empty block: one of the last part's, else the pool's.
// Reusing its own blocks for the parts of a large object keeps them out
// of the pool, which a garbage collection empties.
func (w *objectWriter) block() []byte {
	if n := len(w.spare); n > 0 {
		b := w.spare[n-1][:0]
		w.spare[n-1] = nil
		w.spare = w.spare[:n-1]
		return b
	}
	return w.s.blocks.get()
}

// sendPart starts the upload of the full buffer in a goroutine, after the
// previous upload has finished, and leaves an empty buffer to fill.
func (w *objectWriter) sendPart() error {
	if w.uploadID == nil {
		out, err := w.s.client.CreateMultipartUpload(w.ctx, &s3.CreateMultipartUploadInput{
			Bucket:               aws.String(w.s.cfg.Bucket),
			Key:                  aws.String(w.key),
			ContentType:          aws.String(sinks.ContentType(w.key)),
			ChecksumAlgorithm:    types.ChecksumAlgorithmCrc32,
			ServerSideEncryption: w.s.sse(),
			SSEKMSKeyId:          w.s.kmsKey(),
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
	go func(n int32, body buffer) {
		ch <- w.uploadPart(n, body)
	}(w.next, w.buf)
	w.buf = buffer{}
	return nil
}

// uploadPart uploads body as part n. It reads only fields that do not
// change while an upload runs.
func (w *objectWriter) uploadPart(n int32, body buffer) partResult {
	out, err := w.s.client.UploadPart(w.ctx, &s3.UploadPartInput{
		Bucket:            aws.String(w.s.cfg.Bucket),
		Key:               aws.String(w.key),
		UploadId:          w.uploadID,
		PartNumber:        aws.Int32(n),
		Body:              body.reader(),
		ContentLength:     aws.Int64(int64(body.n)),
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

// wait waits for the part upload in flight, if any, and records it. The
// part's blocks become the spare ones, unless its request failed: the HTTP
// transport may still read the body of a request that failed, so they are
// left to the garbage collector.
func (w *objectWriter) wait() error {
	if w.pending == nil {
		return nil
	}
	r := <-w.pending
	w.pending = nil
	if r.err != nil {
		r.buf.drop()
		return r.err
	}
	w.spare = append(w.spare, r.buf.blocks...)
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
			Bucket:               aws.String(w.s.cfg.Bucket),
			Key:                  aws.String(w.key),
			Body:                 w.buf.reader(),
			ContentLength:        aws.Int64(int64(w.buf.n)),
			ContentType:          aws.String(sinks.ContentType(w.key)),
			ServerSideEncryption: w.s.sse(),
			SSEKMSKeyId:          w.s.kmsKey(),
		})
		if err != nil {
			w.buf.drop() // the failed request may still read it
			return fmt.Errorf("write %s: %w", w.s.loc(w.key), err)
		}
		return nil
	}
	if err := w.wait(); err != nil {
		return err
	}
	if w.buf.n > 0 {
		w.next++
		r := w.uploadPart(w.next, w.buf)
		w.buf = buffer{}
		if r.err != nil {
			r.buf.drop()
			return r.err
		}
		r.buf.release(&w.s.blocks)
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

// release hands the blocks of the buffer being filled and the spare ones
// back to the Sink's pool (those of a failed request were dropped), so a
// writer kept by mistake holds no memory. The upload in flight, if any, has been waited
// for.
func (w *objectWriter) release() {
	w.buf.release(&w.s.blocks)
	for _, b := range w.spare {
		w.s.blocks.put(b)
	}
	w.spare, w.parts = nil, nil
}
