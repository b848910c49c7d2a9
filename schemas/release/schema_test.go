package release

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/midata/midata/schemas"
	"github.com/midata/midata/schemas/release/format/formattest"
)

// written is what an encoder's output says about its fields: for a CSV,
// the header and the rows; for a JSON format, the keys of each record
// object in order.
type written struct {
	header []string
	rows   [][]string
	keys   [][]string
}

func readWritten(t *testing.T, f Format, out []byte) written {
	t.Helper()
	var w written
	var objects [][]byte
	switch f.Name {
	case MidataCSV.Name, CSV.Name:
		all, err := csv.NewReader(bytes.NewReader(out)).ReadAll()
		if err != nil {
			t.Fatalf("read %s: %v", f.Name, err)
		}
		w.header, w.rows = all[0], all[1:]
		return w
	case NDJSON.Name:
		objects = bytes.Split(bytes.TrimSuffix(out, []byte("\n")), []byte("\n"))
	case JSON.Name:
		var doc struct {
			Data struct{ Transaction []json.RawMessage }
		}
		if err := json.Unmarshal(out, &doc); err != nil {
			t.Fatalf("decode json: %v", err)
		}
		for _, raw := range doc.Data.Transaction {
			objects = append(objects, raw)
		}
	default:
		t.Fatalf("no field reader for format %s", f.Name)
	}
	for _, obj := range objects {
		w.keys = append(w.keys, keysOf(t, obj))
	}
	return w
}

func TestSchemasListExactlyTheFieldsTheEncodersWrite(t *testing.T) {
	t.Parallel()
	types := []string{"string", "number", "integer", "date", "datetime", "object"}
	wantKey := map[string][]string{CSV.Name: {"transaction_id"}, NDJSON.Name: {"transaction_id"}}
	for _, f := range testedFormats {
		recs := formattest.InOrder(formattest.Fixtures(t), f.Order)
		for g := range schemas.AllCategories + 1 {
			granted := schemas.Category(g)
			t.Run(f.Name+" granted "+granted.String(), func(t *testing.T) {
				t.Parallel()
				if f.Schema == nil {
					t.Fatalf("%s has no Schema func", f.Name)
				}
				s := f.Schema(granted)
				out := formattest.EncodeAll(t, f, granted, recs)
				if !granted.Has(schemas.Transactions) {
					if s != nil || len(out) != 0 {
						t.Fatalf("without transactions: schema %+v and %d bytes, want nil and none", s, len(out))
					}
					return
				}
				if s == nil {
					t.Fatal("schema is nil with transactions granted")
				}
				var names []string
				notGranted := map[string]bool{}
				for _, fl := range s.Fields {
					names = append(names, fl.Name)
					if !slices.Contains(types, fl.Type) {
						t.Errorf("field %s has type %q, not a Table Schema type", fl.Name, fl.Type)
					}
					c, err := schemas.ParseCategory(fl.Category)
					if err != nil {
						t.Errorf("field %s has category %q: %v", fl.Name, fl.Category, err)
					}
					notGranted[fl.Name] = !granted.Has(c)
					if fl.Description == "" {
						t.Errorf("field %s has no description", fl.Name)
					}
				}
				w := readWritten(t, f, out)
				if w.header != nil {
					// A CSV has exactly the schema's columns; a column of a
					// category that is not granted (the midata CSV's fixed
					// Balance column) is empty in every row.
					if !slices.Equal(w.header, names) {
						t.Errorf("header %v, want the schema's %v", w.header, names)
					}
					for i, name := range w.header {
						for r, row := range w.rows {
							if notGranted[name] && row[i] != "" {
								t.Errorf("row %d: column %s of a category not granted holds %q", r, name, row[i])
							}
						}
					}
				} else {
					// Each JSON object has a subset of the schema's keys in
					// the schema's order, and together the fixtures use them all.
					seen := map[string]bool{}
					for r, keys := range w.keys {
						last := -1
						for _, k := range keys {
							i := slices.Index(names, k)
							if i <= last || notGranted[k] {
								t.Errorf("record %d: key %s is not in the schema, out of order, or of a category not granted (%v)", r, k, names)
							}
							last = i
							seen[k] = true
						}
					}
					for _, name := range names {
						if !seen[name] {
							t.Errorf("schema field %s is in no record", name)
						}
					}
				}
				if !slices.Equal(s.PrimaryKey, wantKey[f.Name]) {
					t.Errorf("primary key %v, want %v", s.PrimaryKey, wantKey[f.Name])
				}
				for _, k := range s.PrimaryKey {
					if !slices.Contains(names, k) {
						t.Errorf("primary key %s is not a field", k)
					}
				}
			})
		}
	}
}

func TestSchemasMarshalWithTheirConsentCategory(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(CSV.Schema(schemas.Transactions | schemas.Balances))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"name":"balance_after","type":"number"`, `"midata:category":"balances"`, `"primaryKey":["transaction_id"]`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("schema JSON %s lacks %s", b, want)
		}
	}
}

func TestEncodersStreamBeforeClose(t *testing.T) {
	t.Parallel()
	recs := formattest.Fixtures(t)
	for _, f := range testedFormats {
		var w formattest.CountingWriter
		enc := f.New(&w, Options{Granted: schemas.AllCategories})
		const rows = 5000 // a few hundred kilobytes: far more than one buffer
		for i := range rows {
			if err := enc.Encode(&recs[i%len(recs)]); err != nil {
				t.Fatal(err)
			}
		}
		before := w.N
		if err := enc.Close(); err != nil {
			t.Fatal(err)
		}
		total := w.N
		// Everything but the last buffer's worth (64 KiB) must be out
		// before Close: the release is never held in memory.
		if before == 0 || total-before > 64<<10+1024 {
			t.Errorf("%s: %d of %d bytes written before Close, want all but at most one buffer", f.Name, before, total)
		}
	}
}
