package api

import "errors"

// Errors a backend wraps so the API answers with the right status. The API
// also understands pipeline.ErrInvalidRequest (400), sinks.ErrNotFound (404),
// jobs.ErrTransient (503) and the schedule package's ErrNotFound (404),
// ErrReadOnly (409), ErrInvalid (400) and ErrUnavailable (503).
var (
	ErrNotFound    = errors.New("not found")   // 404: no run, schedule or release with that id
	ErrConflict    = errors.New("conflict")    // 409: not possible in the current state (retry a run that has not failed)
	ErrInvalid     = errors.New("invalid")     // 400: the request can never succeed as it is
	ErrUnavailable = errors.New("unavailable") // 503: the queue or store did not answer; the caller may try again
)
