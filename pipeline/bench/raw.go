package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"github.com/midata/midata/pipeline/kafkasource"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/schemas/release"
)

// rawConsume reads every record of topic with kafka-go's low-level Fetch
// (fetch size kafkasource.DefaultFetchMaxBytes, read_committed, as the
// pipeline reads), partitions spread over concurrency goroutines, and
// discards them. It returns the records read and the time taken.
func rawConsume(ctx context.Context, conn topics.Connection, topic string, concurrency int) (int64, time.Duration, error) {
	ends, err := topics.Ends(ctx, conn, topic)
	if err != nil {
		return 0, 0, fmt.Errorf("bench: raw consume: %w", err)
	}
	tr := conn.Transport()
	defer tr.CloseIdleConnections()
	client := &kafka.Client{Addr: conn.Addr(), Transport: tr, Timeout: 30 * time.Second}
	parts := make(chan int, len(ends))
	for p := range ends {
		parts <- p
	}
	close(parts)
	var records atomic.Int64
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	for range max(concurrency, 1) {
		g.Go(func() error {
			for p := range parts {
				for off := int64(0); off < ends[p]; {
					res, err := client.Fetch(gctx, &kafka.FetchRequest{Topic: topic, Partition: p, Offset: off,
						MinBytes: 1, MaxBytes: kafkasource.DefaultFetchMaxBytes, MaxWait: 500 * time.Millisecond,
						IsolationLevel: kafka.ReadCommitted})
					if err == nil && res.Error != nil {
						err = res.Error
					}
					if err != nil {
						return fmt.Errorf("bench: raw consume %s/%d at %d: %w", topic, p, off, err)
					}
					next := off
					for {
						r, err := res.Records.ReadRecord()
						if errors.Is(err, io.EOF) {
							break
						}
						if err != nil {
							return fmt.Errorf("bench: raw consume %s/%d: %w", topic, p, err)
						}
						if r.Value != nil {
							_, _ = io.Copy(io.Discard, r.Value)
						}
						if r.Offset >= off {
							records.Add(1)
						}
						next = r.Offset + 1
					}
					if next == off { // nothing new: a gap up to the high watermark
						next = min(ends[p], res.HighWatermark)
						if next == off {
							break
						}
					}
					off = next
				}
			}
			return nil
		})
	}
	err = g.Wait()
	return records.Load(), time.Since(start), err
}

// S3 says how to reach the object store. Credentials come from the AWS
// SDK's chain (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), as for serve.
type S3 struct {
	Endpoint string // empty: AWS
	Region   string // default us-east-1
}

// client returns an S3 client with a transport of its own; close its idle
// connections when done.
func (c S3) client(ctx context.Context) (*s3.Client, *http.Transport, error) {
	region := c.Region
	if region == "" {
		region = "us-east-1"
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(region))
	if err != nil {
		return nil, nil, fmt.Errorf("bench: s3 config: %w", err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.HTTPClient = &http.Client{Transport: tr}
		if c.Endpoint != "" {
			o.BaseEndpoint = aws.String(c.Endpoint)
			o.UsePathStyle = true
		}
	}), tr, nil
}

func createBucket(ctx context.Context, c *s3.Client, name string) error {
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		return fmt.Errorf("bench: create bucket %s: %w", name, err)
	}
	return nil
}

// dropBucket deletes every object of bucket, any unfinished multipart
// upload, and then the bucket.
func dropBucket(ctx context.Context, c *s3.Client, bucket string) error {
	pages := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("bench: delete bucket %s: list: %w", bucket, err)
		}
		if len(page.Contents) == 0 {
			continue
		}
		ids := make([]types.ObjectIdentifier, 0, len(page.Contents))
		for _, o := range page.Contents {
			ids = append(ids, types.ObjectIdentifier{Key: o.Key})
		}
		out, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(bucket),
			Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)}})
		if err != nil {
			return fmt.Errorf("bench: delete bucket %s: delete objects: %w", bucket, err)
		}
		if len(out.Errors) > 0 {
			e := out.Errors[0]
			return fmt.Errorf("bench: delete bucket %s: delete %s: %s", bucket, aws.ToString(e.Key), aws.ToString(e.Message))
		}
	}
	if ups, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)}); err == nil {
		for _, u := range ups.Uploads {
			_, _ = c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(bucket), Key: u.Key, UploadId: u.UploadId})
		}
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)}); err != nil {
		return fmt.Errorf("bench: delete bucket %s: %w", bucket, err)
	}
	return nil
}

// bucketUsage counts the objects of a bucket and their bytes.
func bucketUsage(ctx context.Context, c *s3.Client, bucket string) (objects, bytes int64, err error) {
	pages := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return 0, 0, fmt.Errorf("bench: list %s: %w", bucket, err)
		}
		for _, o := range page.Contents {
			objects++
			bytes += aws.ToInt64(o.Size)
		}
	}
	return objects, bytes, nil
}

// rawPut PUTs n objects of size bytes each into bucket, concurrency at a
// time, and returns the time taken.
func rawPut(ctx context.Context, c *s3.Client, bucket string, n int64, size int64, concurrency int) (time.Duration, error) {
	body := make([]byte, size)
	_, _ = rand.Read(body)
	var next atomic.Int64
	var once sync.Once
	var first error
	start := time.Now()
	var wg sync.WaitGroup
	for range max(concurrency, 1) {
		wg.Go(func() {
			for i := next.Add(1); i <= n; i = next.Add(1) {
				_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(fmt.Sprintf("raw/%08d", i)),
					Body: bytes.NewReader(body), ContentLength: aws.Int64(size)})
				if err != nil {
					once.Do(func() { first = fmt.Errorf("bench: raw put %s: %w", bucket, err) })
					return
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start), first
}

// countManifests counts the committed releases of a bucket: its objects
// named manifest.json.
func countManifests(ctx context.Context, c *s3.Client, bucket string) (int64, error) {
	var n int64
	pages := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return 0, fmt.Errorf("bench: list %s: %w", bucket, err)
		}
		for _, o := range page.Contents {
			if k := aws.ToString(o.Key); k == release.ManifestFile || strings.HasSuffix(k, "/"+release.ManifestFile) {
				n++
			}
		}
	}
	return n, nil
}
