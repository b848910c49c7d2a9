package pipeline

import (
	"github.com/midata/midata/schemas/release"
	"github.com/midata/midata/sinks"
)

// Status is how a release ended.
type Status string

// The statuses of a release.
const (
	StatusCommitted        Status = "committed"         // files and manifest written
	StatusEmpty            Status = "empty"             // consent, but no record in scope: committed with no rows
	StatusNoConsent        Status = "no_consent"        // no consent covers it: nothing written
	StatusAlreadyCommitted Status = "already_committed" // the same release exists: nothing new written
	StatusCancelled        Status = "cancelled"         // consent changed before commit: nothing published
)

// Result is what a release run reports (the JSON `midata export` prints).
type Result struct {
	ReleaseID  string    `json:"release_id,omitempty"`
	CustomerID string    `json:"customer_id"`
	Status     Status    `json:"status"`
	Reason     string    `json:"reason,omitempty"`
	Manifest   string    `json:"manifest,omitempty"` // the manifest's location
	Files      []File    `json:"files"`
	Links      []Link    `json:"links"`
	Stats      Stats     `json:"stats"`
	Snapshot   *Snapshot `json:"snapshot,omitempty"` // the offsets read; absent when nothing was read
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

// Stats count what a release saw.
type Stats = release.Counts

// Snapshot is the frozen source of a release.
type Snapshot = release.Snapshot
