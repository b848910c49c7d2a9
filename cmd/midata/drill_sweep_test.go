package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/pipeline/releasestore"
)

// sweepTally is what the sweeps after the kills removed.
type sweepTally struct {
	ran                     bool
	leftovers               int // staged objects no manifest names, before the sweeps
	servedSwept, cliSwept   int // objects gone by serve's own sweep, by `midata sweep`
	uploadsAborted, touched int // multipart uploads gone; committed objects changed (must be 0)
}

// sweepAfterKills is the sweeper drill, after the kill drill's last life
// ended: what the kills left in the world's bucket, plus a release staged
// by a writer that never committed and an unfinished multipart upload (a
// killed writer's large file), is aged past the sweep's 24 h limit (the
// files' times on the S3 server's disk set back 25 h, as a clock that moved
// on would); then a new life of serve starts, whose own sweep runs at its
// start, and must remove every staged object no manifest names and abort
// the upload. The same again for `midata sweep` with its defaults, on new
// leftovers. Every committed release must be left byte for byte as it was
// (got, read before the sweeps).
func (w *drillWorld) sweepAfterKills(t *testing.T, srv testbench.S3Server, bin string, got *drillState) sweepTally {
	t.Helper()
	var tally sweepTally
	if srv.Root == "" {
		if os.Getenv(testbench.EnvRequireBench) == "1" {
			t.Fatalf("the sweeper drill ages objects on the S3 server's disk: set %s (bench.sh env prints it)", testbench.EnvS3Root)
		}
		t.Logf("no sweeper drill: %s is not set", testbench.EnvS3Root)
		return tally
	}
	tally.ran = true
	client := testbench.S3Client(srv)
	before := collectBucket(t, client, w.bucket)
	tally.leftovers = before.leftovers

	// serve's own sweep, at the start of a life.
	w.leaveBehind(t, client, "serve")
	w.age(t, srv)
	staged := collectBucket(t, client, w.bucket).leftovers
	life := w.start(t, bin)
	life.ready(t)
	life.waitFor(t, "store swept", 60*time.Second) // logged when its sweep removed something
	life.stop(t)
	if n := collectBucket(t, client, w.bucket).leftovers; n != 0 {
		t.Errorf("serve's sweep left %d of %d staged objects", n, staged)
	}
	if n := w.uploads(t, client); n != 0 {
		t.Errorf("serve's sweep left %d multipart uploads", n)
	} else {
		tally.uploadsAborted++
	}
	tally.servedSwept = staged
	tally.touched += w.sameReleases(t, client, got)

	// midata sweep, with its defaults.
	w.leaveBehind(t, client, "cli")
	w.age(t, srv)
	staged = collectBucket(t, client, w.bucket).leftovers
	var out, errOut bytes.Buffer
	cmd := exec.Command(bin, "sweep", "--s3-endpoint", srv.Endpoint, "--s3-bucket", w.bucket, "--s3-region", srv.Region)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("midata sweep: %v\n%s%s", err, out.String(), errOut.String())
	}
	var rep releasestore.SweepReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("midata sweep printed %q: %v", out.String(), err)
	}
	if rep.Staged != staged || rep.Losers != 0 || rep.UploadsAborts != 1 {
		t.Errorf("midata sweep reported %+v; want %d staged objects removed, no losers, 1 upload aborted", rep, staged)
	}
	if n := collectBucket(t, client, w.bucket).leftovers; n != 0 {
		t.Errorf("midata sweep left %d staged objects", n)
	}
	if n := w.uploads(t, client); n != 0 {
		t.Errorf("midata sweep left %d multipart uploads", n)
	}
	tally.cliSwept = rep.Staged
	tally.uploadsAborted += rep.UploadsAborts
	tally.touched += w.sameReleases(t, client, got)
	return tally
}

// leaveBehind stages what a killed writer leaves: two objects of a
// release without a manifest, and a multipart upload with one part.
func (w *drillWorld) leaveBehind(t *testing.T, client *s3.Client, tag string) {
	t.Helper()
	id := "r-killed-" + tag
	for _, name := range []string{"transactions.ndjson", "summary.html"} {
		key := releasestore.Prefix(id) + "a-dead/" + name
		if _, err := client.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(w.bucket), Key: aws.String(key), Body: strings.NewReader("staged by a writer that died\n")}); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
	}
	key := releasestore.Prefix(id+"-big") + "a-dead/transactions.parquet"
	up, err := client.CreateMultipartUpload(t.Context(), &s3.CreateMultipartUploadInput{Bucket: aws.String(w.bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("create upload %s: %v", key, err)
	}
	if _, err := client.UploadPart(t.Context(), &s3.UploadPartInput{Bucket: aws.String(w.bucket), Key: aws.String(key), UploadId: up.UploadId,
		PartNumber: aws.Int32(1), Body: bytes.NewReader(bytes.Repeat([]byte("p"), 1<<20))}); err != nil {
		t.Fatalf("upload part of %s: %v", key, err)
	}
}

// age sets the times of everything of the world's bucket on the S3
// server's disk 25 h back: older than releasestore.DefaultSweepAge.
func (w *drillWorld) age(t *testing.T, srv testbench.S3Server) {
	t.Helper()
	old := time.Now().Add(-releasestore.DefaultSweepAge - time.Hour)
	dir := filepath.Join(srv.Root, w.bucket)
	n := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		n++
		return os.Chtimes(path, old, old)
	})
	if err != nil || n < 2 {
		t.Fatalf("age %s: %d entries: %v", dir, n, err)
	}
}

// uploads counts the unfinished multipart uploads of the world's bucket.
func (w *drillWorld) uploads(t *testing.T, client *s3.Client) int {
	t.Helper()
	res, err := client.ListMultipartUploads(t.Context(), &s3.ListMultipartUploadsInput{Bucket: aws.String(w.bucket)})
	if err != nil {
		t.Fatalf("list uploads of %s: %v", w.bucket, err)
	}
	return len(res.Uploads)
}

// sameReleases fails t unless the bucket holds got's releases, each file
// with the same hash and none partial, and returns how many differ.
func (w *drillWorld) sameReleases(t *testing.T, client *s3.Client, got *drillState) int {
	t.Helper()
	now := collectBucket(t, client, w.bucket)
	var diff []string
	for id, r := range got.releases {
		n := now.releases[id]
		if n == nil {
			diff = append(diff, id+": gone")
			continue
		}
		for path, sum := range r.files {
			if n.files[path] != sum {
				diff = append(diff, fmt.Sprintf("%s: %s is %q, was %q", id, path, n.files[path], sum))
			}
		}
	}
	for id := range now.releases {
		if got.releases[id] == nil {
			diff = append(diff, id+": a release that was not there")
		}
	}
	diff = append(diff, now.partial...)
	if len(diff) > 0 {
		t.Errorf("after a sweep the committed releases changed (%d):\n  %s", len(diff), strings.Join(diff[:min(len(diff), 20)], "\n  "))
	}
	return len(diff)
}
