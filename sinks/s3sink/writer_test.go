package s3sink

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// heapSampler records the peak of live-and-unswept heap objects while it runs.
type heapSampler struct {
	stop chan struct{}
	wg   sync.WaitGroup
	peak uint64
}

const heapObjects = "/memory/classes/heap/objects:bytes"

func heapNow() uint64 {
	s := []metrics.Sample{{Name: heapObjects}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func startHeapSampler() *heapSampler {
	h := &heapSampler{stop: make(chan struct{})}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			h.peak = max(h.peak, heapNow())
			select {
			case <-h.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return h
}

// Stop ends sampling and returns the peak.
func (h *heapSampler) Stop() uint64 {
	close(h.stop)
	h.wg.Wait()
	return h.peak
}

func TestCreateMemoryDoesNotGrowWithObjectSize(t *testing.T) {
	// Not parallel: the heap of the whole process is measured.
	if testing.Short() {
		t.Skip("writes 200 MiB to the S3 bench; skipped with -short")
	}
	s, _, _ := benchSink(t, Config{PartSize: MinPartSize})
	const (
		total = 200 << 20
		chunk = 256 << 10
	)
	src := pattern(chunk, 7) // one chunk, written with a changing first byte
	hash := sha256.New()

	runtime.GC()
	base := heapNow()
	sampler := startHeapSampler()
	w, err := s.Create(t.Context(), "big/transactions.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < total/chunk; i++ {
		src[0] = byte(i)
		hash.Write(src)
		if _, err := w.Write(src); err != nil {
			w.Abort()
			t.Fatalf("Write at %d MiB: %v", i*chunk>>20, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	peak := sampler.Stop()

	grown := int64(peak) - int64(base)
	t.Logf("wrote %d MiB in %d MiB parts: heap grew by at most %.1f MiB (base %.1f MiB)", total>>20, MinPartSize>>20, float64(grown)/(1<<20), float64(base)/(1<<20))
	if limit := int64(4 * MinPartSize); grown > limit {
		t.Fatalf("heap grew by %d bytes writing %d bytes, want at most 4 parts (%d bytes)", grown, total, limit)
	}

	rc, err := s.Open(t.Context(), "big/transactions.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	back := sha256.New()
	n, err := io.Copy(back, rc)
	if err != nil {
		t.Fatalf("read back: %v", err)
	}
	if n != total || string(back.Sum(nil)) != string(hash.Sum(nil)) {
		t.Fatalf("read back %d bytes with sha256 %x, want %d bytes with %x", n, back.Sum(nil), total, hash.Sum(nil))
	}
}

// offlineSink is a Sink whose client reaches no server: enough for writes
// that stay below one part, which send nothing before Close.
func offlineSink(t *testing.T, cfg Config) *Sink {
	t.Helper()
	cfg.Bucket = "offline"
	s, err := NewFromClient(s3.New(s3.Options{Region: DefaultRegion}), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAnObjectBelowOnePartHoldsLessThanOneBlockMoreThanItsBytes(t *testing.T) {
	t.Parallel()
	for _, size := range []int{1, 64 << 10, 64<<10 + 1, 300 << 10, 3 << 20} {
		t.Run(fmt.Sprintf("%d bytes", size), func(t *testing.T) {
			t.Parallel()
			s := offlineSink(t, Config{}) // 8 MiB parts
			w, err := s.Create(t.Context(), "rel/transactions.ndjson")
			if err != nil {
				t.Fatal(err)
			}
			defer w.Abort()
			body := pattern(size, 3)
			for rest := body; len(rest) > 0; rest = rest[min(4000, len(rest)):] {
				if _, err := w.Write(rest[:min(4000, len(rest))]); err != nil {
					t.Fatal(err)
				}
			}
			ow := w.(*objectWriter)
			// A whole part (8 MiB) was the buffer of every object before.
			if got, limit := ow.buf.held(), size+64<<10; got >= limit {
				t.Errorf("%d bytes written hold a buffer of %d bytes, want less than %d", size, got, limit)
			}
			got, err := io.ReadAll(ow.buf.reader())
			if err != nil || !bytes.Equal(got, body) {
				t.Errorf("the buffer reads back %d bytes (%v) that differ from the %d written", len(got), err, size)
			}
		})
	}
}

func TestABufferReadsBackAfterSeeksAndInAnyChunks(t *testing.T) {
	t.Parallel()
	var pool blockPool
	for _, size := range []int{0, 1, blockSize - 1, blockSize, 3*blockSize + 17} {
		body := pattern(size, uint64(size))
		var b buffer
		if n := b.fill(body, size+100, pool.get); n != size {
			t.Fatalf("fill took %d of %d bytes", n, size)
		}
		r := b.reader()
		if r.Len() != size {
			t.Errorf("%d bytes: Len() = %d", size, r.Len())
		}
		for _, chunk := range []int{1, 1000, blockSize + 3} {
			if _, err := r.Seek(0, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			var got []byte
			buf := make([]byte, chunk)
			for {
				n, err := r.Read(buf)
				got = append(got, buf[:n]...)
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(got, body) {
				t.Errorf("%d bytes read in chunks of %d: got %d bytes that differ", size, chunk, len(got))
			}
		}
		if size > 10 {
			if _, err := r.Seek(-10, io.SeekEnd); err != nil {
				t.Fatal(err)
			}
			var tail bytes.Buffer
			if _, err := r.WriteTo(&tail); err != nil || !bytes.Equal(tail.Bytes(), body[size-10:]) {
				t.Errorf("%d bytes: WriteTo after seeking 10 from the end gave %q, %v", size, tail.Bytes(), err)
			}
		}
		b.release(&pool)
	}
}

func TestFillStopsAtThePartSize(t *testing.T) {
	t.Parallel()
	var pool blockPool
	var b buffer
	const limit = 2*blockSize + 5 // a part size that is not a whole number of blocks
	body := pattern(limit+1000, 9)
	if n := b.fill(body, limit, pool.get); n != limit || b.n != limit {
		t.Fatalf("fill took %d bytes and holds %d, want %d", n, b.n, limit)
	}
	if n := b.fill(body[limit:], limit, pool.get); n != 0 {
		t.Errorf("a full buffer took %d more bytes", n)
	}
	got, _ := io.ReadAll(b.reader())
	if !bytes.Equal(got, body[:limit]) {
		t.Error("the full buffer reads back other bytes")
	}
}
