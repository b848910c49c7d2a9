package release

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/midata/midata/schemas"
)

// ManifestFile is the object name of a release's manifest: written last, it
// is the commit point (a release without a manifest does not exist).
const ManifestFile = "manifest.json"

// Manifest is manifest.json: a Frictionless Data Package that explains a
// release: its files, with bytes, SHA-256 and row counts, and in the midata
// block the recipient, the consent used, the period, the source snapshot and
// the counts.
type Manifest struct {
	Schema    string     `json:"$schema"` // DataPackageProfile
	Name      string     `json:"name"`    // "midata-" + the lowercased id
	ID        string     `json:"id"`      // the release id
	Title     string     `json:"title"`
	Created   time.Time  `json:"created"`
	Version   string     `json:"version"` // ManifestVersion
	Resources []Resource `json:"resources"`
	Midata    MidataInfo `json:"midata"`
}

// DataPackageProfile is the Frictionless Data Package profile a manifest
// follows (Data Package v2).
const DataPackageProfile = "https://datapackage.org/profiles/2.0/datapackage.json"

// ManifestVersion is the version of the manifest's shape.
// 1.1.0 added midata:object to each resource.
const ManifestVersion = "1.1.0"

// Resource is one file of a release.
type Resource struct {
	Name         string  `json:"name"`           // the midata format name, or "readme"
	Type         string  `json:"type,omitempty"` // "table" for tabular files
	Path         string  `json:"path"`
	Format       string  `json:"format"` // the file extension: csv, ndjson, json, parquet, html, txt
	MidataFormat string  `json:"midata:format,omitempty"`
	MediaType    string  `json:"mediatype"`
	Encoding     string  `json:"encoding,omitempty"` // "utf-8" for text files
	Bytes        int64   `json:"bytes"`
	Hash         string  `json:"hash"` // "sha256:<hex>"
	Rows         int64   `json:"rows"` // data rows (records); 0 for the readme
	Schema       *Schema `json:"schema,omitempty"`
	// Object is where the file is stored: its key relative to the
	// release's prefix (under the attempt that wrote it, as
	// "<attempt>/transactions.ndjson"), while Path is the file's name as a
	// recipient downloads it. Empty in manifests before 1.1.0, whose
	// objects are at Path.
	Object string `json:"midata:object,omitempty"`
}

// MidataInfo is the midata block of the manifest.
type MidataInfo struct {
	Recipient      schemas.Recipient `json:"recipient"`
	CustomerID     string            `json:"customer_id"`
	LegalBasis     string            `json:"legal_basis"`
	ConsentIDs     []string          `json:"consent_ids"`
	ConsentHash    string            `json:"consent_hash"`
	Categories     []string          `json:"categories"`
	Period         Period            `json:"period"`
	Snapshot       Snapshot          `json:"snapshot"`
	Counts         Counts            `json:"counts"`
	FormatVersions map[string]int    `json:"format_versions"`
}

// Period is the requested [from, to) on booked_at.
type Period struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// Snapshot is the frozen source of a release: the offsets it read.
type Snapshot struct {
	Topic       string           `json:"topic"`
	Partitioner string           `json:"partitioner"`
	Pruned      bool             `json:"pruned"`
	Partitions  []PartitionRange `json:"partitions"`
}

// PartitionRange is the offsets [start, end) read from one partition.
type PartitionRange struct {
	Partition int   `json:"partition"`
	Start     int64 `json:"start"`
	End       int64 `json:"end"`
}

// Counts are what the release saw: records scanned, released, excluded (by
// reason) and quarantined.
type Counts struct {
	Scanned     int64            `json:"scanned"`
	Released    int64            `json:"released"`
	Excluded    map[string]int64 `json:"excluded"`
	Quarantined int64            `json:"quarantined"`
}

// Marshal renders the manifest as indented JSON with a final newline. Map
// keys are sorted by encoding/json, so the bytes are deterministic.
func (m *Manifest) Marshal() ([]byte, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode manifest %s: %w", m.ID, err)
	}
	return append(b, '\n'), nil
}

// ParseManifest decodes a manifest.json.
func ParseManifest(b []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("decode manifest: %w", err)
	}
	if m.ID == "" || len(m.Resources) == 0 {
		return nil, fmt.Errorf("decode manifest: no id or no resources")
	}
	return &m, nil
}
