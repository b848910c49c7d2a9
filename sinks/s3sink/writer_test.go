package s3sink

import (
	"crypto/sha256"
	"io"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"
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

// A small object's buffer grows by doubling, not straight to a whole part:
// a 100 KB object held (and cleared) an 8 MiB buffer.
func TestASmallObjectsBufferStaysNearItsSize(t *testing.T) {
	s := &Sink{cfg: Config{Bucket: "b"}.withDefaults()}
	w := &objectWriter{ctx: t.Context(), s: s, key: "k"}
	for _, size := range []int{1, firstBufSize, 100_000, 300_000} {
		for len(w.buf) < size {
			if _, err := w.Write(make([]byte, min(4096, size-len(w.buf)))); err != nil {
				t.Fatal(err)
			}
		}
		if c := cap(w.buf); c > 2*max(size, firstBufSize) {
			t.Errorf("after %d bytes the buffer holds %d, want at most %d", size, c, 2*max(size, firstBufSize))
		}
	}
	w.Abort()
}
