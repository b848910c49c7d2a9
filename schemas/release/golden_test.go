package release

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/midata/midata/schemas"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the encoders' output")

// encodeAll runs recs through a fresh encoder of f and returns the bytes.
func encodeAll(t testing.TB, f Format, granted schemas.Category, recs []schemas.Transaction) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := f.New(&buf, Options{Granted: granted})
	for i := range recs {
		if err := enc.Encode(&recs[i]); err != nil {
			t.Fatalf("encode %s record %d: %v", f.Name, i, err)
		}
	}
	if err := enc.Close(); err != nil {
		t.Fatalf("close %s encoder: %v", f.Name, err)
	}
	return buf.Bytes()
}

func TestGoldenFilesMatchTheEncoders(t *testing.T) {
	t.Parallel()
	grants := []struct {
		name    string
		granted schemas.Category
	}{
		{"transactions", schemas.Transactions},
		{"all", schemas.AllCategories},
	}
	for _, f := range testedFormats {
		for _, g := range grants {
			name := f.Name + "." + g.name
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				got := encodeAll(t, f, g.granted, inOrder(fixtures(t), f.Order))
				path := filepath.Join("testdata", name+".golden")
				if *update {
					if err := os.WriteFile(path, got, 0o644); err != nil {
						t.Fatalf("update golden file: %v", err)
					}
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("read golden file (run go test -update to create it): %v", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s differs from the encoder's output (review, then go test -update)\ngot:\n%s\nwant:\n%s", path, got, want)
				}
			})
		}
	}
}
