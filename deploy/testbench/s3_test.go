package testbench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func TestS3ReadsTheServerFromTheEnvironment(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer ln.Close()
	endpoint := "http://" + ln.Addr().String()

	tests := []struct {
		name   string
		region string
		root   string
		want   S3Server
	}{
		{
			name: "an unset region means us-east-1",
			want: S3Server{Endpoint: endpoint, AccessKey: "ak", SecretKey: "sk", Region: "us-east-1"},
		},
		{
			name:   "a set region is kept",
			region: "eu-west-2",
			want:   S3Server{Endpoint: endpoint, AccessKey: "ak", SecretKey: "sk", Region: "eu-west-2"},
		},
		{
			name: "a set root is kept",
			root: "/srv/s3",
			want: S3Server{Endpoint: endpoint, AccessKey: "ak", SecretKey: "sk", Region: "us-east-1", Root: "/srv/s3"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(EnvS3, endpoint)
			t.Setenv(EnvS3AccessKey, "ak")
			t.Setenv(EnvS3SecretKey, "sk")
			t.Setenv(EnvS3Region, tt.region)
			t.Setenv(EnvS3Root, tt.root)
			got, ok := S3(t)
			if !ok || got != tt.want {
				t.Fatalf("S3() = %+v, %v; want %+v, true", got, ok, tt.want)
			}
		})
	}
}

func TestS3ReportsNoServerWhenTheEnvironmentIsUnset(t *testing.T) {
	t.Setenv(EnvS3, "")
	t.Setenv(EnvRequireBench, "")
	if got, ok := S3(t); ok {
		t.Fatalf("S3() = %+v, true; want false with %s unset", got, EnvS3)
	}
}

func TestS3Fails(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		wantText string
	}{
		{
			name:     "when the bench is required but not set",
			env:      map[string]string{EnvS3: "", EnvRequireBench: "1"},
			wantText: EnvS3,
		},
		{
			name:     "when the keys are missing",
			env:      map[string]string{EnvS3: "http://127.0.0.1:1", EnvS3AccessKey: "", EnvS3SecretKey: ""},
			wantText: EnvS3AccessKey,
		},
		{
			name:     "when the server is down",
			env:      map[string]string{EnvS3: "http://127.0.0.1:1", EnvS3AccessKey: "a", EnvS3SecretKey: "s"},
			wantText: "does not accept connections",
		},
		{
			name:     "when the endpoint is not a URL",
			env:      map[string]string{EnvS3: "127.0.0.1:17070", EnvS3AccessKey: "a", EnvS3SecretKey: "s"},
			wantText: "parse endpoint",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			msg := expectFatal(t, func(tb testing.TB) { S3(tb) })
			if !strings.Contains(msg, tt.wantText) {
				t.Fatalf("failure message %q should contain %q", msg, tt.wantText)
			}
		})
	}
}

func TestHostPort(t *testing.T) {
	tests := []struct {
		name     string
		endpoint string
		want     string
	}{
		{name: "an explicit port is kept", endpoint: "http://127.0.0.1:17070", want: "127.0.0.1:17070"},
		{name: "http without a port dials 80", endpoint: "http://s3.local", want: "s3.local:80"},
		{name: "https without a port dials 443", endpoint: "https://s3.local/", want: "s3.local:443"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := hostPort(tt.endpoint)
			if err != nil || got != tt.want {
				t.Fatalf("hostPort(%q) = %q, %v; want %q", tt.endpoint, got, err, tt.want)
			}
		})
	}
}

func TestBucketCreatesAFreshBucketThatHeadBucketSees(t *testing.T) {
	srv, ok := S3(t)
	if !ok {
		t.Skipf("needs a real S3 server: set %s (make bench-up; eval \"$(deploy/testbench/bench.sh env)\")", EnvS3)
	}
	t.Parallel()
	ctx := t.Context()
	client := S3Client(srv)

	first, second := Bucket(t, srv), Bucket(t, srv)
	if first == second {
		t.Fatalf("Bucket returned %q twice", first)
	}
	for _, b := range []string{first, second} {
		if _, err := client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatalf("HeadBucket(%q): %v", b, err)
		}
		list, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(b)})
		if err != nil {
			t.Fatalf("ListObjectsV2(%q): %v", b, err)
		}
		if len(list.Contents) != 0 {
			t.Fatalf("fresh bucket %q holds %d objects, want 0", b, len(list.Contents))
		}
	}

	// The client's settings (path style, signing, checksums) must carry a
	// real object both ways.
	body := []byte("account,amount\n12345678,12.34\n")
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(first), Key: aws.String("releases/r1/midata.csv"), Body: bytes.NewReader(body),
	}); err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(first), Key: aws.String("releases/r1/midata.csv")})
	if err != nil {
		t.Fatalf("GetObject: %v", err)
	}
	defer out.Body.Close()
	got, err := io.ReadAll(out.Body)
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("GetObject body = %q, %v; want %q", got, err, body)
	}
}

func TestBucketOnAServerThatRefusesTheCredentialsFailsTheTest(t *testing.T) {
	srv, ok := S3(t)
	if !ok {
		t.Skipf("needs a real S3 server: set %s (make bench-up; eval \"$(deploy/testbench/bench.sh env)\")", EnvS3)
	}
	t.Parallel()
	srv.SecretKey = "not-the-secret"
	msg := expectFatal(t, func(tb testing.TB) { Bucket(tb, srv) })
	if !strings.Contains(msg, "create bucket") {
		t.Fatalf("failure message %q should say the bucket could not be created", msg)
	}
}

// The bench's S3 server keeps connections alive, as S3 does: without it
// every request of a client dials anew, and the bench measures dialling.
func TestTheBenchS3ServerKeepsConnectionsAlive(t *testing.T) {
	srv, ok := S3(t)
	if !ok {
		t.Skipf("needs a real S3 server: set %s (make bench-up; eval \"$(deploy/testbench/bench.sh env)\")", EnvS3)
	}
	var dials atomic.Int32
	d := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return d.DialContext(ctx, network, addr)
	}}
	defer tr.CloseIdleConnections()
	client := s3.New(S3Client(srv).Options(), func(o *s3.Options) { o.HTTPClient = &http.Client{Transport: tr} })
	bucket := Bucket(t, srv)
	for i := range 5 {
		if _, err := client.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(fmt.Sprint("k", i)), Body: strings.NewReader("x")}); err != nil {
			t.Fatalf("PutObject: %v", err)
		}
	}
	if n := dials.Load(); n != 1 {
		t.Errorf("5 PUTs one after another dialled %d connections, want 1 (is versitygw started with --keep-alive?)", n)
	}
}
