package releasestore_test

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/pipeline/releasestore"
	"github.com/midata/midata/schemas/release"
	"github.com/midata/midata/sinks"
	"github.com/midata/midata/sinks/filesink"
	"github.com/midata/midata/sinks/s3sink"
)

func putObject(t *testing.T, s sinks.Sink, key, body string) {
	t.Helper()
	w, err := s.Create(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(body))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func keys(t *testing.T, s sinks.Sink) []string {
	t.Helper()
	var out []string
	if err := s.(sinks.Lister).List(t.Context(), "", func(k string) error { out = append(out, k); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestTheSweeperRemovesWhatWritersLeftAndNeverACommittedRelease writes
// what a killed writer and a losing writer leave behind next to a
// committed release, on the real S3 and on the local store.
func TestTheSweeperRemovesWhatWritersLeftAndNeverACommittedRelease(t *testing.T) {
	stores := map[string]sinks.Sink{}
	fs, err := filesink.New(filesink.Config{Root: filepath.Join(t.TempDir(), "store"), BaseURL: "http://127.0.0.1:1", Secret: bytes.Repeat([]byte{1}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	stores["local"] = fs
	var client *s3.Client
	var bucket string
	if srv, ok := testbench.S3(t); ok {
		client, bucket = testbench.S3Client(srv), testbench.Bucket(t, srv)
		if stores["s3"], err = s3sink.NewFromClient(client, s3sink.Config{Bucket: bucket}); err != nil {
			t.Fatal(err)
		}
	}
	for name, s := range stores {
		t.Run(name, func(t *testing.T) {
			before := time.Now().Add(-time.Minute)
			// A committed release (attempt a1), and what the losing writer
			// (attempt a2) staged of it.
			committed := release.Manifest{ID: "r1", Resources: []release.Resource{{Name: "ndjson", Path: "t.ndjson", Object: "a1/t.ndjson"}, {Name: "readme", Path: "README.txt", Object: "a1/README.txt"}}}
			mb, _ := json.Marshal(committed)
			for k, v := range map[string]string{"releases/r1/a1/t.ndjson": "{}\n", "releases/r1/a1/README.txt": "readme", "releases/r1/a2/t.ndjson": "{}\n",
				"releases/r2/b1/t.ndjson": "{}\n", "releases/r2/b1/README.txt": "x", "partners/p/r1.tar.gz": "bundle"} {
				putObject(t, s, k, v)
			}
			putObject(t, s, "releases/r1/manifest.json", string(mb))
			uploads := 0
			if name == "s3" { // a writer killed in the middle of a multipart upload
				_, err := client.CreateMultipartUpload(t.Context(), &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("releases/r3/c1/big.parquet")})
				if err != nil {
					t.Fatal(err)
				}
				uploads = 1
			}
			all := keys(t, s)

			// Everything is younger than a cutoff before it was written:
			// nothing goes.
			rep, err := releasestore.Sweep(t.Context(), s, before, false)
			if err != nil || rep.Staged+rep.Losers+rep.UploadsAborts != 0 || rep.Young != 3 || rep.Releases != 2 {
				t.Fatalf("a sweep of young objects = %+v, %v; want nothing removed, 3 young", rep, err)
			}
			if got := keys(t, s); !slices.Equal(got, all) {
				t.Fatalf("young objects removed: %v, were %v", got, all)
			}
			// A dry run of old ones counts and removes nothing.
			after := time.Now().Add(time.Minute)
			if rep, err := releasestore.Sweep(t.Context(), s, after, true); err != nil || rep.Staged != 2 || rep.Losers != 1 || !slices.Equal(keys(t, s), all) {
				t.Fatalf("a dry run = %+v, %v; want 2 staged and 1 loser counted, nothing removed", rep, err)
			}
			rep, err = releasestore.Sweep(t.Context(), s, after, false)
			if err != nil || rep.Staged != 2 || rep.Losers != 1 || rep.UploadsAborts != uploads {
				t.Fatalf("a sweep of old objects = %+v, %v; want 2 staged, 1 loser, %d upload", rep, err, uploads)
			}
			want := []string{"partners/p/r1.tar.gz", "releases/r1/a1/README.txt", "releases/r1/a1/t.ndjson", "releases/r1/manifest.json"}
			if got := keys(t, s); !slices.Equal(got, want) {
				t.Errorf("after the sweep: %v, want the committed release and the bundle only", got)
			}
			if m, err := releasestore.Manifest(t.Context(), s, "r1"); err != nil || m == nil || !strings.HasPrefix(m.Resources[0].Object, "a1/") {
				t.Errorf("the committed release after the sweep: %+v %v", m, err)
			}
			if name == "s3" {
				out, err := client.ListMultipartUploads(t.Context(), &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
				if err != nil || len(out.Uploads) != 0 {
					t.Errorf("unfinished uploads after the sweep: %v %v", out, err)
				}
			}
		})
	}
}
