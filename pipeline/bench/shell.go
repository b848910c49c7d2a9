package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/segmentio/kafka-go"

	"github.com/midata/midata/pipeline/kafkasource"
	"github.com/midata/midata/pipeline/topics"
)

// shellScript is what a user would write for one customer without midata:
// the whole topic through kcat, the customer's lines kept, the values
// uploaded with curl's SigV4. Its arguments: brokers, topic, customer,
// the object URL, the region.
const shellScript = `set -euo pipefail
out="$(mktemp)"; trap 'rm -f "$out"' EXIT
kcat -C -q -e -b "$1" -t "$2" -o beginning -f '%k\t%s\n' | grep -F "$(printf '%s\t' "$3")" | cut -f2- >"$out"
curl -sS --fail --aws-sigv4 "aws:amz:$5:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
	-H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' -T "$out" "$4" >/dev/null
`

// shell runs the user's script for one customer (or, without kcat, a Go
// stand-in doing the same: every record read, the customer's kept, one
// PUT) and returns the lines it kept, how and the time taken.
func shell(ctx context.Context, conn topics.Connection, c *s3.Client, s3c S3, bucket string, d *dataset, customer string) (int64, string, time.Duration, error) {
	start := time.Now()
	if kcat, err := exec.LookPath("kcat"); err == nil && s3c.Endpoint != "" && os.Getenv("AWS_ACCESS_KEY_ID") != "" {
		region := s3c.Region
		if region == "" {
			region = "us-east-1"
		}
		url := strings.TrimRight(s3c.Endpoint, "/") + "/" + bucket + "/shell/" + customer + ".ndjson"
		cmd := exec.CommandContext(ctx, "bash", "-c", shellScript, "bench-shell", strings.Join(conn.Brokers, ","), d.tx, customer, url, region)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			return 0, "", 0, fmt.Errorf("bench: shell (%s): %w: %s", kcat, err, bytes.TrimSpace(stderr.Bytes()))
		}
		took := time.Since(start)
		head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("shell/" + customer + ".ndjson")})
		if err != nil {
			return 0, "", took, fmt.Errorf("bench: shell upload: %w", err)
		}
		return aws.ToInt64(head.ContentLength), "kcat | grep | cut | curl --aws-sigv4", took, nil
	}
	var buf bytes.Buffer
	err := readAll(ctx, conn, d.tx, func(key, value []byte) {
		if string(key) == customer {
			buf.Write(value)
			buf.WriteByte('\n')
		}
	})
	if err != nil {
		return 0, "", 0, err
	}
	n := int64(buf.Len())
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("shell/" + customer + ".ndjson"),
		Body: bytes.NewReader(buf.Bytes()), ContentLength: aws.Int64(n)}); err != nil {
		return 0, "", 0, fmt.Errorf("bench: shell stand-in upload: %w", err)
	}
	return n, "Go stand-in (kcat missing): fetch all | filter key | PUT", time.Since(start), nil
}

// readAll calls fn for every record of topic, partition after partition.
func readAll(ctx context.Context, conn topics.Connection, topic string, fn func(key, value []byte)) error {
	ends, err := topics.Ends(ctx, conn, topic)
	if err != nil {
		return err
	}
	tr := conn.Transport()
	defer tr.CloseIdleConnections()
	client := &kafka.Client{Addr: conn.Addr(), Transport: tr, Timeout: 30 * time.Second}
	for p, end := range ends {
		for off := int64(0); off < end; {
			res, err := client.Fetch(ctx, &kafka.FetchRequest{Topic: topic, Partition: p, Offset: off, MinBytes: 1,
				MaxBytes: kafkasource.DefaultFetchMaxBytes, MaxWait: 500 * time.Millisecond})
			if err == nil && res.Error != nil {
				err = res.Error
			}
			if err != nil {
				return fmt.Errorf("bench: read %s/%d: %w", topic, p, err)
			}
			next := off
			for {
				r, err := res.Records.ReadRecord()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					return fmt.Errorf("bench: read %s/%d: %w", topic, p, err)
				}
				next = r.Offset + 1
				if r.Offset < off {
					continue
				}
				var k, v []byte
				if r.Key != nil {
					k, _ = io.ReadAll(r.Key)
				}
				if r.Value != nil {
					v, _ = io.ReadAll(r.Value)
				}
				fn(k, v)
			}
			if next == off {
				break
			}
			off = next
		}
	}
	return nil
}
