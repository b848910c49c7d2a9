package drills

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/logging"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/sinks"
	"github.com/midata/midata/sinks/s3sink"
)

// s3Bench returns the bench's S3 server, or skips the test without one
// (MIDATA_TEST_REQUIRE_BENCH=1 fails it instead).
func s3Bench(t *testing.T) testbench.S3Server {
	t.Helper()
	srv, ok := testbench.S3(t)
	if !ok {
		t.Skip("needs a real S3 server: set MIDATA_TEST_S3, MIDATA_TEST_S3_ACCESS_KEY and MIDATA_TEST_S3_SECRET_KEY (deploy/testbench/bench.sh env)")
	}
	return srv
}

// limits are the time limits of a sink: what the drill promises.
type limits struct {
	attempts int
	timeout  time.Duration // of one attempt
}

// sdkMaxBackoff is s3sink's cap of the SDK retryer's backoff (its
// unexported maxBackoff; Config's doc says "backoff up to 5 s").
const sdkMaxBackoff = 5 * time.Second

// backoff is the most the SDK's standard retryer sleeps between the
// attempts of one operation. Its Retry Behavior 2.1 (aws-sdk-go-v2
// v1.48, aws/retry/jitter_backoff.go) sleeps rand × min(x × 2^i,
// MaxBackoff) before retry i (from 0), x being 1 s for throttling errors
// and 50 ms for the others: at most min(2^i s, 5 s).
func (l limits) backoff() time.Duration {
	var d time.Duration
	for i := 0; i < l.attempts-1; i++ {
		d += min(time.Duration(1<<i)*time.Second, sdkMaxBackoff)
	}
	return d
}

// operation is the longest one S3 operation may take by the limits: every
// attempt timed out, every backoff at its largest.
func (l limits) operation() time.Duration {
	return time.Duration(l.attempts)*l.timeout + l.backoff()
}

// newSink is an s3sink.Sink on bucket at endpoint (the proxy's, or the
// server's) with the limits l and a part size of 5 MiB, signing with the
// bench's keys. Its idle connections close at cleanup.
func newSink(t *testing.T, srv testbench.S3Server, endpoint, bucket string, l limits) *s3sink.Sink {
	t.Helper()
	s, err := s3sink.New(t.Context(), s3sink.Config{
		Endpoint: endpoint, Bucket: bucket, Region: srv.Region, PathStyle: true,
		PartSize: s3sink.MinPartSize, AttemptTimeout: l.timeout, MaxAttempts: l.attempts,
	}, func(o *s3.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey, "")
		o.Logger = logging.Nop{} // the SDK's warnings of bodies cut by the faults
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// newProxy starts a fault proxy in front of srv, closed at cleanup.
func newProxy(t *testing.T, srv testbench.S3Server, schedule Schedule) *Proxy {
	t.Helper()
	p, err := NewProxy(srv.Endpoint, schedule)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// direct reads the store past the proxy.
type direct struct {
	client *s3.Client
	bucket string
}

// object returns the bytes at key, or nil and false when there is none.
func (d direct) object(ctx context.Context, key string) ([]byte, bool, error) {
	out, err := d.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(d.bucket), Key: aws.String(key)})
	if err != nil {
		var noKey *s3types.NoSuchKey
		if errors.As(err, &noKey) {
			return nil, false, nil
		}
		return nil, false, err
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	return b, err == nil, err
}

// keys lists every key under prefix.
func (d direct) keys(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	pages := s3.NewListObjectsV2Paginator(d.client, &s3.ListObjectsV2Input{Bucket: aws.String(d.bucket), Prefix: aws.String(prefix)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys, nil
}

// uploads counts the multipart uploads open under prefix.
func (d direct) uploads(ctx context.Context, prefix string) (int, error) {
	out, err := d.client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(d.bucket), Prefix: aws.String(prefix)})
	if err != nil {
		return 0, err
	}
	return len(out.Uploads), nil
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
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

// write stores body at key through s (a streaming object writer, as the
// pipeline stages files).
func write(ctx context.Context, s sinks.Sink, key string, body []byte) error {
	w, err := s.Create(ctx, key)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, bytes.NewReader(body)); err != nil {
		w.Abort()
		return err
	}
	return w.Close()
}
