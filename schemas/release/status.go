package release

// Status is how one release ended: what its manifest (or its absence)
// means. A run of many releases has a status of its own (the jobs' run
// status); the two are different things and are compared each by its own
// type.
type Status string

// The statuses of a release.
const (
	StatusCommitted        Status = "committed"         // files and manifest written
	StatusEmpty            Status = "empty"             // consent, but no record in scope: committed with no rows
	StatusNoConsent        Status = "no_consent"        // no consent covers it: nothing written
	StatusAlreadyCommitted Status = "already_committed" // the same release exists: nothing new written
	StatusCancelled        Status = "cancelled"         // consent changed before commit: nothing published
)

// HasFiles reports whether a release of status s has committed files
// (which links can point to).
func (s Status) HasFiles() bool {
	switch s {
	case StatusCommitted, StatusEmpty, StatusAlreadyCommitted:
		return true
	}
	return false
}
