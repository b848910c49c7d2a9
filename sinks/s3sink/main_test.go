package s3sink

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"go.uber.org/goleak"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/sinks"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// benchSink is a Sink on a fresh bucket of the real S3 bench, with its
// client, or it skips the test when no bench is configured.
func benchSink(t *testing.T, cfg Config) (*Sink, *s3.Client, testbench.S3Server) {
	t.Helper()
	srv, ok := testbench.S3(t)
	if !ok {
		t.Skip("needs a real S3 server: set MIDATA_TEST_S3, MIDATA_TEST_S3_ACCESS_KEY and MIDATA_TEST_S3_SECRET_KEY (deploy/testbench/bench.sh env)")
	}
	cfg.Bucket = testbench.Bucket(t, srv)
	client := testbench.S3Client(srv)
	s, err := NewFromClient(client, cfg)
	if err != nil {
		t.Fatalf("NewFromClient: %v", err)
	}
	return s, client, srv
}

// noKeepAlive is an s3 option whose HTTP client keeps no idle connections,
// so no transport goroutine outlives a test (goleak).
func noKeepAlive(o *s3.Options) {
	o.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.DisableKeepAlives = true
	})
}

// pattern returns n deterministic pseudo-random bytes.
func pattern(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// put writes body at key through Create in writes of chunk bytes.
func put(t *testing.T, s *Sink, key string, body []byte, chunk int) {
	t.Helper()
	w, err := s.Create(t.Context(), key)
	if err != nil {
		t.Fatalf("Create(%s): %v", key, err)
	}
	for rest := body; len(rest) > 0; {
		n := min(chunk, len(rest))
		if _, err := w.Write(rest[:n]); err != nil {
			w.Abort()
			t.Fatalf("Write(%s): %v", key, err)
		}
		rest = rest[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close(%s): %v", key, err)
	}
}

// get reads the object at key whole.
func get(t *testing.T, s *Sink, key string) []byte {
	t.Helper()
	rc, err := s.Open(t.Context(), key)
	if err != nil {
		t.Fatalf("Open(%s): %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return b
}

// mustNotExist fails unless Open(key) reports sinks.ErrNotFound.
func mustNotExist(t *testing.T, s *Sink, key string) {
	t.Helper()
	rc, err := s.Open(t.Context(), key)
	if err == nil {
		rc.Close()
		t.Fatalf("Open(%s) found an object, want none", key)
	}
	if !errors.Is(err, sinks.ErrNotFound) {
		t.Fatalf("Open(%s) = %v, want an error matching sinks.ErrNotFound", key, err)
	}
}

// openUploads counts the multipart uploads still open in the bucket.
func openUploads(t *testing.T, client *s3.Client, bucket string) int {
	t.Helper()
	out, err := client.ListMultipartUploads(t.Context(), &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatalf("list multipart uploads: %v", err)
	}
	return len(out.Uploads)
}

func sameBytes(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: got %d bytes (sha256 %x), want %d bytes (sha256 %x)", what, len(got), sha256.Sum256(got), len(want), sha256.Sum256(want))
	}
}
