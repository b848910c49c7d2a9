// Package s3sink stores releases in an S3-compatible object store (AWS S3,
// versitygw, MinIO, ...) through aws-sdk-go-v2: streaming multipart uploads
// whose memory does not grow with the object, conditional commits with
// If-None-Match: *, and SigV4 presigned download links.
//
// It does not create buckets, set lifecycle rules or manage credentials: the
// bucket must exist (Check says so when it does not) and credentials come
// from the SDK's standard chain (AWS_* variables, shared config, instance
// roles).
package s3sink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/midata/midata/sinks"
)

// Limits of S3 itself.
const (
	// MinPartSize is the smallest part S3 accepts in a multipart upload
	// (except the last part).
	MinPartSize = 5 << 20
	// MaxPartSize is the largest part S3 accepts.
	MaxPartSize = 5 << 30
	// MaxParts is the most parts one multipart upload may have.
	MaxParts = 10000
)

// DefaultPartSize is the part size used when Config.PartSize is zero.
const DefaultPartSize = 8 << 20

// MaxIdleConns is how many idle connections to the S3 endpoint a Sink
// keeps for reuse: more than a bulk release keeps requests in flight
// (workers.concurrency × workers.commit_depth).
const MaxIdleConns = 256

// DefaultRegion is the region used when neither Config.Region nor the SDK's
// configuration chain names one.
const DefaultRegion = "us-east-1"

// cleanupTimeout bounds aborting a multipart upload after the caller's
// context has ended.
const cleanupTimeout = 30 * time.Second

// Config says which bucket to write to and how. The zero value of every
// field except Bucket is a usable default.
type Config struct {
	// Endpoint is the base URL of an S3-compatible server, e.g.
	// http://127.0.0.1:17070. Empty means AWS S3, resolved from Region.
	Endpoint string
	// Bucket is the bucket that holds the releases. It must exist.
	Bucket string
	// Region is the signing region. Empty means the SDK's configuration
	// chain (AWS_REGION, shared config), else DefaultRegion.
	Region string
	// PathStyle addresses buckets as Endpoint/bucket/key instead of
	// bucket.host/key. It is always on when Endpoint is set (what
	// S3-compatible servers expect); pass an option to New that sets
	// s3.Options.UsePathStyle to override it.
	PathStyle bool
	// PartSize is the size of each part of a multipart upload, and the
	// most memory one part buffer takes: a writer holds at most two.
	// Objects smaller than one part are written with a single PutObject
	// from a buffer of 64 KiB blocks, so less than one block more than the
	// object's size.
	// Default DefaultPartSize; at least MinPartSize, at most MaxPartSize.
	PartSize int64
	// MaxLinkTTL is the longest lifetime Link accepts. Default and upper
	// bound: sinks.MaxLinkTTL (7 days).
	MaxLinkTTL time.Duration
	// Now is the clock that signs links. Default time.Now.
	Now func() time.Time
	// SSE is the server-side encryption asked for on every object written:
	// "" (the bucket's default), SSEAES256 (SSE-S3) or SSEKMS (SSE-KMS,
	// with KMSKeyID, or the account's default key when empty).
	SSE      string
	KMSKeyID string
	// AttemptTimeout bounds one attempt of one request (sending the body
	// and reading the answer), so a stalled endpoint never holds a writer:
	// the attempt fails and is retried. Default DefaultAttemptTimeout.
	AttemptTimeout time.Duration
	// MaxAttempts is how often one request is tried: the SDK's standard
	// retryer, exponential backoff with jitter, on 5xx, throttling,
	// timeouts and broken connections. Default DefaultMaxAttempts.
	MaxAttempts int
}

// Defaults of the time limits (Config.AttemptTimeout, MaxAttempts): an
// 8 MiB part within a minute needs 140 KB/s; five attempts with backoff up
// to 5 s bound one request to about five and a half minutes.
const (
	DefaultAttemptTimeout = time.Minute
	DefaultMaxAttempts    = 5
	maxBackoff            = 5 * time.Second
)

// Server-side encryptions (Config.SSE).
const (
	SSEAES256 = "AES256"
	SSEKMS    = "aws:kms"
)

// Validate reports the first thing wrong with c, naming the field.
func (c Config) Validate() error {
	if c.Bucket == "" {
		return errors.New("s3 config: bucket is empty")
	}
	if strings.ContainsAny(c.Bucket, "/\\ ") {
		return fmt.Errorf("s3 config: bucket %q: a bucket name has no slashes or spaces", c.Bucket)
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("s3 config: endpoint %q: want http(s)://host[:port]", c.Endpoint)
		}
	}
	if c.AttemptTimeout < 0 || c.MaxAttempts < 0 || c.MaxAttempts > 20 {
		return fmt.Errorf("s3 config: attempt timeout %s, max attempts %d: want a positive timeout and 1-20 attempts (0: the defaults)", c.AttemptTimeout, c.MaxAttempts)
	}
	if c.PartSize != 0 && (c.PartSize < MinPartSize || c.PartSize > MaxPartSize) {
		return fmt.Errorf("s3 config: part size %d: want between %d (5 MiB) and %d (5 GiB)", c.PartSize, MinPartSize, int64(MaxPartSize))
	}
	switch c.SSE {
	case "", SSEAES256, SSEKMS:
	default:
		return fmt.Errorf("s3 config: server-side encryption %q: want %s (SSE-S3), %s (SSE-KMS) or empty (the bucket's default)", c.SSE, SSEAES256, SSEKMS)
	}
	if c.KMSKeyID != "" && c.SSE != SSEKMS {
		return fmt.Errorf("s3 config: a KMS key id is given but the encryption is %q: set it to %s", c.SSE, SSEKMS)
	}
	if c.MaxLinkTTL != 0 {
		if err := sinks.CheckLinkTTL(c.MaxLinkTTL); err != nil {
			return fmt.Errorf("s3 config: max link TTL %s: %w", c.MaxLinkTTL, err)
		}
	}
	return nil
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.PartSize == 0 {
		c.PartSize = DefaultPartSize
	}
	if c.MaxLinkTTL == 0 {
		c.MaxLinkTTL = sinks.MaxLinkTTL
	}
	if c.AttemptTimeout == 0 {
		c.AttemptTimeout = DefaultAttemptTimeout
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Endpoint != "" {
		c.PathStyle = true
	}
	return c
}

// Sink is a sinks.Sink on one S3 bucket. It is safe for concurrent use;
// each ObjectWriter it creates is not.
type Sink struct {
	client  *s3.Client
	presign *s3.PresignClient
	cfg     Config
	where   string // the endpoint, for messages
	// transport is the HTTP transport New made (nil: the caller's client).
	transport *http.Transport
	blocks    blockPool // the object writers' buffers
}

// Close closes the idle connections of the transport New made; the Sink
// stays usable (a later request dials again). A no-op for NewFromClient.
func (s *Sink) Close() error {
	if s.transport != nil {
		s.transport.CloseIdleConnections()
	}
	return nil
}

var (
	_ sinks.Sink    = (*Sink)(nil)
	_ sinks.Linker  = (*Sink)(nil)
	_ sinks.Deleter = (*Sink)(nil)
	_ sinks.Lister  = (*Sink)(nil)
)

// New returns a Sink for cfg with credentials and settings from the SDK's
// standard configuration chain (config.LoadDefaultConfig: AWS_* variables,
// shared config and credentials files, container and instance roles). The
// opts run last on the client's options, e.g. to set an HTTP client.
// New does not contact the server; Check does.
func New(ctx context.Context, cfg Config, opts ...func(*s3.Options)) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	var load []func(*config.LoadOptions) error
	if cfg.Region != "" {
		load = append(load, config.WithRegion(cfg.Region))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return nil, fmt.Errorf("load aws configuration: %w", err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = DefaultRegion
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConns = MaxIdleConns
	transport.MaxIdleConnsPerHost = MaxIdleConns
	all := make([]func(*s3.Options), 0, len(opts)+1)
	all = append(all, func(o *s3.Options) {
		// The SDK's transport keeps 10 idle connections per host: a bulk
		// release keeps 32 and more requests in flight, so every request
		// beyond 10 dialled a new connection (12 % of serve's CPU in a
		// profile, and the server's accept work besides).
		o.HTTPClient = &http.Client{Transport: transport, Timeout: cfg.AttemptTimeout}
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = cfg.MaxAttempts
			so.MaxBackoff = maxBackoff
			// The SDK's default retry quota (500 tokens, 14 a retry,
			// shared by every request of the client) ran out with ~35
			// retries pending at once: a bulk release's requests then
			// failed on their first fault, unretried (the S3 fault drill,
			// pipeline/drills). MaxAttempts and the backoff bound retries.
			so.RateLimiter = ratelimit.None
		})
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
	})
	all = append(all, opts...)
	s := newSink(s3.NewFromConfig(awsCfg, all...), cfg)
	s.transport = transport
	return s, nil
}

// NewFromClient returns a Sink that uses client as it is: its endpoint,
// region, addressing style and credentials. cfg.Endpoint, Region and
// PathStyle are ignored.
func NewFromClient(client *s3.Client, cfg Config) (*Sink, error) {
	if client == nil {
		return nil, errors.New("new s3 sink: client is nil")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return newSink(client, cfg.withDefaults()), nil
}

func newSink(client *s3.Client, cfg Config) *Sink {
	o := client.Options()
	where := "AWS S3 in " + o.Region
	if o.BaseEndpoint != nil {
		where = *o.BaseEndpoint
	}
	return &Sink{client: client, presign: s3.NewPresignClient(client), cfg: cfg, where: where}
}

// Check asks the server for the bucket (HeadBucket) and returns a one-line
// error that says what is wrong and what to do: no credentials, credentials
// refused, bucket missing, or endpoint unreachable.
func (s *Sink) Check(ctx context.Context) error {
	if creds := s.client.Options().Credentials; creds != nil {
		if _, err := creds.Retrieve(ctx); err != nil {
			return fmt.Errorf("check s3 bucket %q at %s: no credentials found (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE): %w", s.cfg.Bucket, s.where, err)
		}
	}
	_, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(s.cfg.Bucket)})
	if err == nil {
		return nil
	}
	var notFound *types.NotFound
	var sendErr *smithyhttp.RequestSendError
	switch status := httpStatus(err); {
	case errors.As(err, &notFound) || status == http.StatusNotFound:
		return fmt.Errorf("check s3 bucket %q at %s: the bucket does not exist (create it, or name another with the bucket setting): %w", s.cfg.Bucket, s.where, err)
	case status == http.StatusForbidden || status == http.StatusUnauthorized:
		return fmt.Errorf("check s3 bucket %q at %s: access denied (check the access key, secret and region, and that they may use this bucket): %w", s.cfg.Bucket, s.where, err)
	case errors.As(err, &sendErr):
		return fmt.Errorf("check s3 bucket %q: cannot reach %s (is the endpoint right and the server up?): %w", s.cfg.Bucket, s.where, err)
	default:
		return fmt.Errorf("check s3 bucket %q at %s: %w", s.cfg.Bucket, s.where, err)
	}
}

// Create starts a streaming multipart upload of the object at key. See
// Config.PartSize for how much memory it holds.
func (s *Sink) Create(ctx context.Context, key string) (sinks.ObjectWriter, error) {
	if err := checkKey(key); err != nil {
		return nil, fmt.Errorf("create %s: %w", s.loc(key), err)
	}
	return &objectWriter{ctx: ctx, s: s, key: key}, nil
}

// Commit writes body at key only if no object is there (If-None-Match: *).
// When one is, the error matches sinks.ErrAlreadyCommitted and wraps the
// server's answer (412 PreconditionFailed, or 409
// ConditionalRequestConflict when a concurrent writer raced it).
func (s *Sink) Commit(ctx context.Context, key string, body []byte) error {
	if err := checkKey(key); err != nil {
		return fmt.Errorf("commit %s: %w", s.loc(key), err)
	}
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:               aws.String(s.cfg.Bucket),
		Key:                  aws.String(key),
		Body:                 bytes.NewReader(body),
		ContentLength:        aws.Int64(int64(len(body))),
		ContentType:          aws.String(sinks.ContentType(key)),
		IfNoneMatch:          aws.String("*"),
		ServerSideEncryption: s.sse(),
		SSEKMSKeyId:          s.kmsKey(),
	})
	if err == nil {
		return nil
	}
	if st := httpStatus(err); st == http.StatusPreconditionFailed || st == http.StatusConflict {
		return fmt.Errorf("commit %s: %w: %w", s.loc(key), sinks.ErrAlreadyCommitted, err)
	}
	return fmt.Errorf("commit %s: %w", s.loc(key), err)
}

// Open reads the object at key. A missing object gives an error that
// matches sinks.ErrNotFound.
func (s *Sink) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := checkKey(key); err != nil {
		return nil, fmt.Errorf("open %s: %w", s.loc(key), err)
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(key)})
	if err != nil {
		var noKey *types.NoSuchKey
		if errors.As(err, &noKey) || httpStatus(err) == http.StatusNotFound {
			return nil, fmt.Errorf("open %s: %w: %w", s.loc(key), sinks.ErrNotFound, err)
		}
		return nil, fmt.Errorf("open %s: %w", s.loc(key), err)
	}
	return out.Body, nil
}

// Delete removes the object at key. Deleting a missing object is not an
// error (as in S3 itself).
func (s *Sink) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return fmt.Errorf("delete %s: %w", s.loc(key), err)
	}
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(key)})
	if err != nil {
		return fmt.Errorf("delete %s: %w", s.loc(key), err)
	}
	return nil
}

// List calls fn with the key of every object under prefix, in the byte
// order S3 lists them (ListObjectsV2, 1,000 keys a page).
func (s *Sink) List(ctx context.Context, prefix string, fn func(key string) error) error {
	pages := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: aws.String(s.cfg.Bucket), Prefix: aws.String(prefix)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list %s: %w", s.loc(prefix), err)
		}
		for _, o := range page.Contents {
			if err := fn(aws.ToString(o.Key)); err != nil {
				return err
			}
		}
	}
	return nil
}

// ListAged is List with each object's LastModified.
func (s *Sink) ListAged(ctx context.Context, prefix string, fn func(key string, written time.Time) error) error {
	pages := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: aws.String(s.cfg.Bucket), Prefix: aws.String(prefix)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list %s: %w", s.loc(prefix), err)
		}
		for _, o := range page.Contents {
			if err := fn(aws.ToString(o.Key), aws.ToTime(o.LastModified)); err != nil {
				return err
			}
		}
	}
	return nil
}

// AbortUploads aborts the multipart uploads under prefix initiated before
// cutoff: a writer that died mid-upload leaves its parts, which S3 keeps
// (and bills) until they are aborted.
func (s *Sink) AbortUploads(ctx context.Context, prefix string, cutoff time.Time) (int, error) {
	n := 0
	in := &s3.ListMultipartUploadsInput{Bucket: aws.String(s.cfg.Bucket), Prefix: aws.String(prefix)}
	for {
		page, err := s.client.ListMultipartUploads(ctx, in)
		if err != nil {
			return n, fmt.Errorf("list uploads under %s: %w", s.loc(prefix), err)
		}
		for _, u := range page.Uploads {
			if !aws.ToTime(u.Initiated).Before(cutoff) {
				continue
			}
			if _, err := s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(s.cfg.Bucket), Key: u.Key, UploadId: u.UploadId}); err != nil {
				return n, fmt.Errorf("abort the upload of %s: %w", s.loc(aws.ToString(u.Key)), err)
			}
			n++
		}
		if !aws.ToBool(page.IsTruncated) {
			return n, nil
		}
		in.KeyMarker, in.UploadIdMarker = page.NextKeyMarker, page.NextUploadIdMarker
	}
}

// loc names an object in messages.
func (s *Sink) loc(key string) string {
	return "s3://" + s.cfg.Bucket + "/" + key
}

// checkKey refuses keys S3 would refuse or that would address something
// else than one object.
func checkKey(key string) error {
	switch {
	case key == "":
		return errors.New("empty key")
	case len(key) > 1024:
		return fmt.Errorf("key of %d bytes: S3 allows at most 1024", len(key))
	case strings.HasSuffix(key, "/"):
		return fmt.Errorf("key %q ends with a slash", key)
	}
	return nil
}

// httpStatus returns the HTTP status of the response that err came from,
// or 0 when there was none.
func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// sse is the encryption header of every write (empty: none asked).
func (s *Sink) sse() types.ServerSideEncryption { return types.ServerSideEncryption(s.cfg.SSE) }

// kmsKey is the KMS key id of every write, nil when none is configured.
func (s *Sink) kmsKey() *string {
	if s.cfg.KMSKeyID == "" {
		return nil
	}
	return aws.String(s.cfg.KMSKeyID)
}
