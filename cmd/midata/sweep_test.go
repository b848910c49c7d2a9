package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/midata/midata/deploy/testbench"
)

func TestSweepLeavesWhatIsYoungerThanItsLimitAndRefusesAShortOne(t *testing.T) {
	var out, errOut lockedBuffer
	if code := run(t.Context(), []string{"sweep", "--older-than", "10m", "--s3-bucket", "b"}, &out, &errOut); code != exitUsage || !strings.Contains(errOut.String(), "at least 1h") {
		t.Errorf("sweep --older-than 10m = %d %q, want exit 2 saying at least 1h", code, errOut.String())
	}
	srv, ok := testbench.S3(t)
	if !ok {
		t.Skip("sweep reads S3: set MIDATA_TEST_S3 (make test does)")
	}
	setS3Env(t, srv)
	bucket := testbench.Bucket(t, srv)
	client := testbench.S3Client(srv)
	// A release a writer staged a moment ago, without its manifest yet.
	if _, err := client.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("releases/r9/a1/t.ndjson"), Body: bytes.NewReader([]byte("{}\n"))}); err != nil {
		t.Fatal(err)
	}
	out, errOut = lockedBuffer{}, lockedBuffer{}
	code := run(t.Context(), []string{"sweep", "--s3-endpoint", srv.Endpoint, "--s3-bucket", bucket, "--s3-region", srv.Region}, &out, &errOut)
	var rep struct {
		Releases, Staged, Young int
	}
	if code != 0 || json.Unmarshal([]byte(out.String()), &rep) != nil || rep.Releases != 1 || rep.Young != 1 || rep.Staged != 0 {
		t.Fatalf("sweep = %d %q %q, want the staged file kept as young", code, out.String(), errOut.String())
	}
	if _, err := client.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("releases/r9/a1/t.ndjson")}); err != nil {
		t.Errorf("the young staged file is gone: %v", err)
	}
}
