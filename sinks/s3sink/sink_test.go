package s3sink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/sinks"
)

func TestConfigValidateNamesTheWrongField(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
		want string // substring of the error; empty means valid
	}{
		{"a bucket alone is valid", Config{Bucket: "b"}, ""},
		{"an endpoint with a port is valid", Config{Bucket: "b", Endpoint: "http://127.0.0.1:17070"}, ""},
		{"the smallest part size is valid", Config{Bucket: "b", PartSize: MinPartSize}, ""},
		{"a 7 day link limit is valid", Config{Bucket: "b", MaxLinkTTL: 7 * 24 * time.Hour}, ""},
		{"SSE-S3 is valid", Config{Bucket: "b", SSE: SSEAES256}, ""},
		{"SSE-KMS with a key is valid", Config{Bucket: "b", SSE: SSEKMS, KMSKeyID: "alias/k"}, ""},
		{"an unknown encryption is refused", Config{Bucket: "b", SSE: "rot13"}, "server-side encryption"},
		{"a KMS key without SSE-KMS is refused", Config{Bucket: "b", SSE: SSEAES256, KMSKeyID: "alias/k"}, "KMS key"},
		{"an empty bucket is refused", Config{}, "bucket is empty"},
		{"a bucket with a slash is refused", Config{Bucket: "a/b"}, "bucket"},
		{"an endpoint without scheme is refused", Config{Bucket: "b", Endpoint: "127.0.0.1:17070"}, "endpoint"},
		{"an ftp endpoint is refused", Config{Bucket: "b", Endpoint: "ftp://host"}, "endpoint"},
		{"parts under 5 MiB are refused", Config{Bucket: "b", PartSize: MinPartSize - 1}, "part size"},
		{"parts over 5 GiB are refused", Config{Bucket: "b", PartSize: MaxPartSize + 1}, "part size"},
		{"a link limit over 7 days is refused", Config{Bucket: "b", MaxLinkTTL: 7*24*time.Hour + time.Second}, "link TTL"},
		{"a negative link limit is refused", Config{Bucket: "b", MaxLinkTTL: -time.Second}, "link TTL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Validate() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	c := Config{Bucket: "b", Endpoint: "http://127.0.0.1:1"}.withDefaults()
	if c.PartSize != 8<<20 || c.MaxLinkTTL != 7*24*time.Hour || c.Now == nil || !c.PathStyle {
		t.Fatalf("defaults = part %d, max TTL %s, clock set %t, path style %t; want 8 MiB, 168h, true, true", c.PartSize, c.MaxLinkTTL, c.Now != nil, c.PathStyle)
	}
	if (Config{Bucket: "b"}).withDefaults().PathStyle {
		t.Fatal("path style is on for AWS without being asked for")
	}
}

func TestCreateRoundTripsObjectsOfEverySize(t *testing.T) {
	t.Parallel()
	s, client, _ := benchSink(t, Config{PartSize: MinPartSize})
	tests := []struct {
		name  string
		size  int
		chunk int
		parts int // 0: a single PutObject
	}{
		{"an empty object is written", 0, 1, 0},
		{"a small object is written with one put", 1000, 7, 0},
		{"an object of exactly one part is written with one put", MinPartSize, 1 << 20, 0},
		{"an object one byte over a part takes two parts", MinPartSize + 1, 1 << 20, 2},
		{"a 12 MiB object is written in three 5 MiB parts", 12 << 20, 256<<10 + 3, 3},
		{"one write larger than two parts is split", 11 << 20, 11 << 20, 3},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			key := fmt.Sprintf("releases/r%d/data %d.csv", i, tt.size)
			body := pattern(tt.size, uint64(i))
			put(t, s, key, body, tt.chunk)
			sameBytes(t, "read back", get(t, s, key), body)

			head, err := client.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(key)})
			if err != nil {
				t.Fatalf("HeadObject: %v", err)
			}
			etag := strings.Trim(aws.ToString(head.ETag), `"`)
			wantSuffix := fmt.Sprintf("-%d", tt.parts)
			if multipart := strings.Contains(etag, "-"); multipart != (tt.parts > 0) || (tt.parts > 0 && !strings.HasSuffix(etag, wantSuffix)) {
				t.Errorf("ETag %q: want %d parts (0 = single put)", etag, tt.parts)
			}
			if got := aws.ToString(head.ContentType); got != "text/csv; charset=utf-8" {
				t.Errorf("Content-Type = %q, want text/csv; charset=utf-8", got)
			}
		})
	}
}

func TestAbortLeavesNoObjectAndNoUpload(t *testing.T) {
	t.Parallel()
	s, client, _ := benchSink(t, Config{PartSize: MinPartSize})
	tests := []struct {
		name string
		size int
	}{
		{"aborting a small object before any upload", 1000},
		{"aborting a multipart upload after two parts", 2*MinPartSize + 10},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := fmt.Sprintf("aborted/%d.ndjson", i)
			w, err := s.Create(t.Context(), key)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write(pattern(tt.size, 1)); err != nil {
				t.Fatalf("Write: %v", err)
			}
			if err := w.Abort(); err != nil {
				t.Fatalf("Abort: %v", err)
			}
			mustNotExist(t, s, key)
			if n := openUploads(t, client, s.cfg.Bucket); n != 0 {
				t.Fatalf("%d multipart uploads left open after Abort, want 0", n)
			}
			if err := w.Abort(); err != nil {
				t.Fatalf("second Abort = %v, want nil", err)
			}
			if _, err := w.Write([]byte("x")); err == nil {
				t.Fatal("Write after Abort succeeded, want an error")
			}
			if err := w.Close(); err == nil {
				t.Fatal("Close after Abort succeeded, want an error")
			}
		})
	}
}

func TestCancelledWriteFailsAndAbortCleansUp(t *testing.T) {
	t.Parallel()
	s, client, _ := benchSink(t, Config{PartSize: MinPartSize})
	ctx, cancel := context.WithCancel(t.Context())
	w, err := s.Create(ctx, "cancelled.csv")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(pattern(MinPartSize+1, 2)); err != nil { // starts the upload
		t.Fatalf("Write: %v", err)
	}
	cancel()
	var werr error
	for i := 0; i < 4 && werr == nil; i++ { // the next part boundaries meet the cancelled context
		_, werr = w.Write(pattern(MinPartSize, 3))
	}
	if !errors.Is(werr, context.Canceled) {
		t.Fatalf("Write after cancel = %v, want an error matching context.Canceled", werr)
	}
	if err := w.Close(); err == nil {
		t.Fatal("Close after a failed Write succeeded, want the Write's error")
	}
	mustNotExist(t, s, "cancelled.csv")
	if n := openUploads(t, client, s.cfg.Bucket); n != 0 {
		t.Fatalf("%d multipart uploads left open after a failed Close, want 0", n)
	}
}

func TestCommitIsConditional(t *testing.T) {
	t.Parallel()
	s, _, _ := benchSink(t, Config{})
	const key = "releases/r1/manifest.json"
	first, second := []byte(`{"id":"first"}`), []byte(`{"id":"second"}`)
	if err := s.Commit(t.Context(), key, first); err != nil {
		t.Fatalf("first Commit: %v", err)
	}
	err := s.Commit(t.Context(), key, second)
	if !errors.Is(err, sinks.ErrAlreadyCommitted) {
		t.Fatalf("second Commit = %v, want an error matching sinks.ErrAlreadyCommitted", err)
	}
	if httpStatus(err) != 412 && httpStatus(err) != 409 {
		t.Errorf("second Commit's error does not wrap the server's 412/409 answer: %v", err)
	}
	sameBytes(t, "committed body", get(t, s, key), first)

	// A key that Create already wrote counts as committed too.
	put(t, s, "releases/r2/manifest.json", []byte("staged"), 10)
	if err := s.Commit(t.Context(), "releases/r2/manifest.json", first); !errors.Is(err, sinks.ErrAlreadyCommitted) {
		t.Fatalf("Commit over a created object = %v, want sinks.ErrAlreadyCommitted", err)
	}
}

func TestOpenAndDeleteOfMissingObjects(t *testing.T) {
	t.Parallel()
	s, _, _ := benchSink(t, Config{})
	mustNotExist(t, s, "no/such/key.csv")
	if err := s.Delete(t.Context(), "no/such/key.csv"); err != nil {
		t.Fatalf("Delete of a missing object = %v, want nil", err)
	}
	put(t, s, "k.txt", []byte("hello"), 5)
	if err := s.Delete(t.Context(), "k.txt"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	mustNotExist(t, s, "k.txt")
}

func TestKeysS3WouldRefuseAreRefused(t *testing.T) {
	t.Parallel()
	s, err := NewFromClient(s3.New(s3.Options{Region: "us-east-1"}), Config{Bucket: "b"})
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"", "dir/", strings.Repeat("k", 1025)} {
		if _, err := s.Create(t.Context(), key); err == nil {
			t.Errorf("Create(%.20q) succeeded, want an error", key)
		}
		if err := s.Commit(t.Context(), key, nil); err == nil {
			t.Errorf("Commit(%.20q) succeeded, want an error", key)
		}
	}
}

func TestCheckSaysWhatIsWrong(t *testing.T) {
	t.Parallel()
	srv, ok := testbench.S3(t)
	if !ok {
		t.Skip("needs a real S3 server: set MIDATA_TEST_S3, MIDATA_TEST_S3_ACCESS_KEY and MIDATA_TEST_S3_SECRET_KEY (deploy/testbench/bench.sh env)")
	}
	bucket := testbench.Bucket(t, srv)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadEndpoint := "http://" + closed.Addr().String()
	closed.Close()

	client := func(endpoint, secret string) *s3.Client {
		var creds aws.CredentialsProvider = credentials.NewStaticCredentialsProvider(srv.AccessKey, secret, "")
		if secret == "" {
			creds = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
				return aws.Credentials{}, errors.New("no EC2 IMDS role found")
			})
		}
		return s3.New(s3.Options{
			Region:           srv.Region,
			BaseEndpoint:     aws.String(endpoint),
			UsePathStyle:     true,
			Credentials:      creds,
			RetryMaxAttempts: 1,
		}, noKeepAlive)
	}
	tests := []struct {
		name   string
		client *s3.Client
		bucket string
		want   []string // substrings of the error; none means no error
	}{
		{"an existing bucket passes", client(srv.Endpoint, srv.SecretKey), bucket, nil},
		{"a missing bucket is named", client(srv.Endpoint, srv.SecretKey), "no-such-bucket-" + bucket[:8], []string{`"no-such-bucket-`, "does not exist", srv.Endpoint}},
		{"a wrong secret is access denied", client(srv.Endpoint, "wrong-secret"), bucket, []string{bucket, "access denied", "check the access key"}},
		{"missing credentials are named", client(srv.Endpoint, ""), bucket, []string{bucket, "no credentials found", "AWS_ACCESS_KEY_ID"}},
		{"an unreachable endpoint is named", client(deadEndpoint, srv.SecretKey), bucket, []string{"cannot reach " + deadEndpoint}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := NewFromClient(tt.client, Config{Bucket: tt.bucket})
			if err != nil {
				t.Fatal(err)
			}
			err = s.Check(t.Context())
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Check() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Check() = nil, want an error")
			}
			msg := err.Error()
			t.Logf("Check() = %s", msg)
			if strings.Contains(msg, "\n") {
				t.Errorf("Check() error spans lines: %q", msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("Check() = %q, want it to contain %q", msg, w)
				}
			}
		})
	}
}

func TestNewReadsTheStandardCredentialChain(t *testing.T) {
	// Not parallel: it sets process environment variables.
	srv, ok := testbench.S3(t)
	if !ok {
		t.Skip("needs a real S3 server: set MIDATA_TEST_S3, MIDATA_TEST_S3_ACCESS_KEY and MIDATA_TEST_S3_SECRET_KEY (deploy/testbench/bench.sh env)")
	}
	bucket := testbench.Bucket(t, srv)
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	t.Setenv("AWS_REGION", srv.Region)
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	s, err := New(t.Context(), Config{Endpoint: srv.Endpoint, Bucket: bucket}, noKeepAlive)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if !s.client.Options().UsePathStyle {
		t.Error("a custom endpoint does not use path style")
	}
	if err := s.Check(t.Context()); err != nil {
		t.Fatalf("Check: %v", err)
	}
	put(t, s, "hello.txt", []byte("hello"), 5)
	sameBytes(t, "read back", get(t, s, "hello.txt"), []byte("hello"))
}

func TestNewDefaultsTheRegion(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	tests := []struct {
		name   string
		region string
		want   string
	}{
		{"no region anywhere means us-east-1", "", "us-east-1"},
		{"the configured region wins", "eu-west-2", "eu-west-2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(t.Context(), Config{Bucket: "b", Region: tt.region}, noKeepAlive)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.client.Options().Region; got != tt.want {
				t.Fatalf("region = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestEveryWriteAsksForTheConfiguredEncryption: with SSE-KMS configured,
// every request that creates an object (PutObject for a small one or a
// commit, CreateMultipartUpload for a large one) carries the encryption
// and its key, as a recording proxy in front of the real server sees.
func TestEveryWriteAsksForTheConfiguredEncryption(t *testing.T) {
	srv, ok := testbench.S3(t)
	if !ok {
		t.Skip("needs a real S3 server: set MIDATA_TEST_S3, MIDATA_TEST_S3_ACCESS_KEY and MIDATA_TEST_S3_SECRET_KEY (deploy/testbench/bench.sh env)")
	}
	target, err := url.Parse(srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	type seen struct{ method, query, sse, key string }
	var mu sync.Mutex
	var writes []seen
	rp := httputil.NewSingleHostReverseProxy(target)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		_, part := q["partNumber"]
		_, uploads := q["uploads"]
		if r.Method == http.MethodPut && !part || r.Method == http.MethodPost && uploads {
			mu.Lock()
			writes = append(writes, seen{r.Method, r.URL.RawQuery, r.Header.Get("X-Amz-Server-Side-Encryption"), r.Header.Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id")})
			mu.Unlock()
		}
		rp.ServeHTTP(w, r)
	}))
	defer proxy.Close()
	client := s3.New(testbench.S3Client(srv).Options(), noKeepAlive, func(o *s3.Options) { o.BaseEndpoint = aws.String(proxy.URL) })
	cfg := Config{Bucket: testbench.Bucket(t, srv), SSE: SSEKMS, KMSKeyID: "alias/midata-releases", PartSize: MinPartSize}
	s, err := NewFromClient(client, cfg)
	if err != nil {
		t.Fatal(err)
	}
	put(t, s, "releases/r1/a/small.csv", pattern(1000, 1), 1000)
	put(t, s, "releases/r1/a/large.csv", pattern(MinPartSize+10, 2), 1<<20)
	if err := s.Commit(t.Context(), "releases/r1/manifest.json", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(writes) != 3 {
		t.Fatalf("saw %d object-creating requests, want 3 (small PUT, multipart start, commit PUT): %+v", len(writes), writes)
	}
	for _, w := range writes {
		if w.sse != SSEKMS || w.key != "alias/midata-releases" {
			t.Errorf("%s ?%s: encryption %q key %q, want %s and the configured key", w.method, w.query, w.sse, w.key, SSEKMS)
		}
	}
}

// TestAStalledEndpointNeverHoldsAWriter: a server that takes the request
// and never answers fails each attempt after AttemptTimeout, and the
// request after MaxAttempts, well before the caller's own deadline.
func TestAStalledEndpointNeverHoldsAWriter(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "stall")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "stall-secret")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var mu sync.Mutex
	var conns []net.Conn
	attempts := 0
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns, attempts = append(conns, c), attempts+1
			mu.Unlock()
			go func() { _, _ = io.Copy(io.Discard, c) }() // read, never answer
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()
	s, err := New(t.Context(), Config{Endpoint: "http://" + l.Addr().String(), Bucket: "b", Region: "us-east-1",
		AttemptTimeout: 300 * time.Millisecond, MaxAttempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	err = s.Commit(ctx, "releases/r1/manifest.json", []byte("{}"))
	if err == nil || ctx.Err() != nil {
		t.Fatalf("Commit against a stalled endpoint: %v (caller's deadline passed: %v); want it to fail by its own time limits", err, ctx.Err())
	}
	mu.Lock()
	defer mu.Unlock()
	if attempts != 2 {
		t.Errorf("%d attempts, want MaxAttempts (2): %v", attempts, err)
	}
}
