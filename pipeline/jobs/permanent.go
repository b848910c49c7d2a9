package jobs

import "errors"

// PermanentError marks an error that no retry can mend: the run fails at
// once, even when the error also wraps ErrTransient (a bulk request whose
// tasks failed after their own retries, say). Make one with Permanent and
// find it with errors.As or IsPermanent.
type PermanentError struct {
	Err error
}

// Error returns the message of the wrapped error.
func (e *PermanentError) Error() string { return e.Err.Error() }

// Unwrap returns the wrapped error, so errors.Is and errors.As see it.
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err so that the worker does not retry it; nil stays nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &PermanentError{Err: err}
}

// IsPermanent reports whether err is, or wraps, a *PermanentError.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// Retryable reports whether a worker retries err: it wraps ErrTransient
// and is not Permanent.
func Retryable(err error) bool {
	return errors.Is(err, ErrTransient) && !IsPermanent(err)
}
