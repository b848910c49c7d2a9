package testbench

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// bucketTimeout bounds creating a bucket and waiting until it is visible.
const bucketTimeout = 30 * time.Second

// S3Server says where an S3-compatible server is and how to sign in to it.
type S3Server struct {
	// Endpoint is the base URL, e.g. http://127.0.0.1:17070. Buckets are
	// addressed path-style under it.
	Endpoint string
	// AccessKey is the access key id of the root account.
	AccessKey string
	// SecretKey is the secret access key of the root account.
	SecretKey string
	// Region is the signing region, DefaultS3Region unless EnvS3Region says otherwise.
	Region string
	// Root is the folder the server's posix backend serves (EnvS3Root),
	// one folder per bucket, when known: a drill ages objects there, as
	// a clock that moved on would.
	Root string
}

// S3 returns the S3 server of the bench, read from EnvS3, EnvS3AccessKey,
// EnvS3SecretKey and EnvS3Region, after checking that it accepts connections.
// It returns false when EnvS3 is unset, so the caller can skip:
//
//	srv, ok := testbench.S3(t)
//	if !ok {
//		t.Skip("needs a real S3 server: set MIDATA_TEST_S3 (make bench-up)")
//	}
//
// When EnvRequireBench is "1" a missing EnvS3 fails the test instead. An
// endpoint without both keys, or one that does not accept connections,
// always fails the test.
func S3(t testing.TB) (S3Server, bool) {
	t.Helper()
	endpoint := os.Getenv(EnvS3)
	if endpoint == "" {
		if benchRequired() {
			t.Fatalf("s3 bench: %s is not set but %s=1 requires the real server; %s",
				EnvS3, EnvRequireBench, startHint)
		}
		return S3Server{}, false
	}
	srv := S3Server{
		Endpoint:  endpoint,
		AccessKey: os.Getenv(EnvS3AccessKey),
		SecretKey: os.Getenv(EnvS3SecretKey),
		Region:    os.Getenv(EnvS3Region),
		Root:      os.Getenv(EnvS3Root),
	}
	if srv.Region == "" {
		srv.Region = DefaultS3Region
	}
	if srv.AccessKey == "" || srv.SecretKey == "" {
		t.Fatalf("s3 bench: %s is set but %s or %s is empty; %s",
			EnvS3, EnvS3AccessKey, EnvS3SecretKey, startHint)
	}
	addr, err := hostPort(endpoint)
	if err != nil {
		t.Fatalf("s3 bench: %s=%s: %v", EnvS3, endpoint, err)
	}
	if err := reachable(addr); err != nil {
		t.Fatalf("s3 bench: %s=%s does not accept connections (%v); %s", EnvS3, endpoint, err, startHint)
	}
	return srv, true
}

// hostPort returns the host:port that an endpoint URL dials.
func hostPort(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", fmt.Errorf("parse endpoint: %w", err)
	}
	if u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("parse endpoint: want http(s)://host[:port], got %q", endpoint)
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return net.JoinHostPort(u.Hostname(), port), nil
}

// S3Client returns an S3 client for srv: static credentials, path-style
// addressing, srv.Region for signing. Its HTTP transport does not keep idle
// connections, so no connection goroutine outlives a request and
// goleak-checked tests stay clean without closing the client.
func S3Client(srv S3Server) *s3.Client {
	httpClient := awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.DisableKeepAlives = true
	})
	return s3.New(s3.Options{
		Region:       srv.Region,
		BaseEndpoint: aws.String(srv.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey, ""),
		HTTPClient:   httpClient,
	})
}

// Bucket creates a fresh, empty bucket named by UniqueName for the test and
// returns its name once HeadBucket sees it. Nothing is removed at cleanup:
// each bench start begins with empty storage.
func Bucket(t testing.TB, srv S3Server) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), bucketTimeout)
	defer cancel()
	name := UniqueName(t, "b")
	client := S3Client(srv)
	in := &s3.CreateBucketInput{Bucket: aws.String(name)}
	if srv.Region != "" && srv.Region != "us-east-1" {
		in.CreateBucketConfiguration = &s3types.CreateBucketConfiguration{
			LocationConstraint: s3types.BucketLocationConstraint(srv.Region),
		}
	}
	if _, err := client.CreateBucket(ctx, in); err != nil {
		t.Fatalf("create bucket %q at %s: %v", name, srv.Endpoint, err)
	}
	waiter := s3.NewBucketExistsWaiter(client, func(o *s3.BucketExistsWaiterOptions) {
		o.MinDelay = 100 * time.Millisecond
		o.MaxDelay = time.Second
	})
	if err := waiter.Wait(ctx, &s3.HeadBucketInput{Bucket: aws.String(name)}, bucketTimeout); err != nil {
		t.Fatalf("create bucket %q at %s: wait until visible: %v", name, srv.Endpoint, err)
	}
	return name
}
