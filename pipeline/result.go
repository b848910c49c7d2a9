package pipeline

import (
	"github.com/midata/midata/schemas"
	"github.com/midata/midata/schemas/release"
	"github.com/midata/midata/sinks"
)

// Result is what a release run reports (the JSON `midata export` prints).
type Result struct {
	ReleaseID  string            `json:"release_id,omitempty"`
	CustomerID string            `json:"customer_id"`
	Status     release.Status    `json:"status"`
	Reason     string            `json:"reason,omitempty"`
	Manifest   string            `json:"manifest,omitempty"` // the manifest's location
	Files      []File            `json:"files"`
	Links      []Link            `json:"links"`
	Stats      release.Counts    `json:"stats"`
	Snapshot   *release.Snapshot `json:"snapshot,omitempty"` // the offsets read; absent when nothing was read
	Consent    *Consent          `json:"consent,omitempty"`  // of a committed release
}

// Consent is what a release was committed under: its manifest's consent id
// and categories, and Event when the grant at hand is the one it names.
type Consent struct {
	ID         string                `json:"id"`
	Categories []string              `json:"categories"`
	Event      *schemas.ConsentEvent `json:"-"`
}

// File is one file of a release.
type File struct {
	Format string `json:"format"`
	Path   string `json:"path"` // object key
	Rows   int64  `json:"rows"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// Link is a signed download link to one file.
type Link struct {
	Path string `json:"path"`
	sinks.Link
}
