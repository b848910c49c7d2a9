package pipeline

import (
	"strings"
	"testing"
	"time"

	"github.com/midata/midata/pipeline/kafkasource"
)

func TestRequestValidate(t *testing.T) {
	t.Parallel()
	feb := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	may := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	ok := Request{CustomerID: "C000123", Recipient: "self", From: feb, To: may, Formats: []string{"midata-csv", "ndjson", "midata-csv"}}
	tests := []struct {
		name    string
		change  func(*Request)
		wantErr string
	}{
		{"a complete request is valid", func(*Request) {}, ""},
		{"a partner recipient is valid", func(r *Request) { r.Recipient = "partner:pds-one" }, ""},
		{"a customer id with a space is refused", func(r *Request) { r.CustomerID = "C 1" }, "customer"},
		{"an unknown recipient kind is refused", func(r *Request) { r.Recipient = "bank" }, "recipient"},
		{"a partner without an id is refused", func(r *Request) { r.Recipient = "partner:" }, "recipient"},
		{"an empty period is refused", func(r *Request) { r.To = r.From }, "want from before to"},
		{"a missing start is refused", func(r *Request) { r.From = time.Time{} }, "want from before to"},
		{"no format is refused", func(r *Request) { r.Formats = nil }, "no format"},
		{"an unknown format is refused", func(r *Request) { r.Formats = []string{"xlsx"} }, `unknown format "xlsx"`},
		{"the html summary is for the customer only", func(r *Request) { r.Recipient = "partner:pds-one"; r.Formats = []string{"html"} }, "only for recipient self"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := ok
			tt.change(&r)
			formats, err := r.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				if len(formats) != len(r.Formats)-1 && tt.name == "a complete request is valid" {
					t.Fatalf("formats = %v, want duplicates dropped", formats)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate error = %v, want it to say %q", err, tt.wantErr)
			}
		})
	}
}

func TestReleaseIDDependsOnWhatDecidesTheBytes(t *testing.T) {
	t.Parallel()
	feb := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	req := Request{CustomerID: "C1", Recipient: "self", From: feb, To: feb.AddDate(0, 3, 0), Formats: []string{"ndjson", "midata-csv"}}
	formats, err := req.Validate()
	if err != nil {
		t.Fatal(err)
	}
	snap := kafkasource.Snapshot{Topic: "transactions", Partitioner: "murmur2", Pruned: true, Ranges: []kafkasource.Range{{Partition: 2, Start: 10, End: 99}}}
	base := releaseID(req, formats, snap, "h1")
	if again := releaseID(req, formats, snap, "h1"); again != base {
		t.Fatalf("release id is not deterministic: %s, %s", base, again)
	}
	swapped := req
	swapped.Formats = []string{"midata-csv", "ndjson"}
	sf, _ := swapped.Validate()
	if releaseID(swapped, sf, snap, "h1") != base {
		t.Error("the order formats are named in changes the id")
	}
	moved := snap
	moved.Ranges = []kafkasource.Range{{Partition: 2, Start: 10, End: 100}}
	other := req
	other.Recipient = "partner:pds-one"
	for name, id := range map[string]string{
		"a new end offset":   releaseID(req, formats, moved, "h1"),
		"another consent":    releaseID(req, formats, snap, "h2"),
		"another recipient":  releaseID(other, formats, snap, "h1"),
		"another format set": releaseID(req, formats[:1], snap, "h1"),
	} {
		if id == base {
			t.Errorf("%s gives the same release id", name)
		}
	}
}
