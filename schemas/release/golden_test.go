package release

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/midata/midata/schemas"
	"github.com/midata/midata/schemas/release/format/formattest"
)

// testedFormats are the formats whose encoders the shared tests (golden
// files, write errors, allocations, schemas) run the fixtures through.
var testedFormats = []Format{MidataCSV, NDJSON, CSV, JSON}

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the encoders' output")

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
				got := formattest.EncodeAll(t, f, g.granted, formattest.InOrder(formattest.Fixtures(t), f.Order))
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
