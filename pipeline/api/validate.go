package api

import (
	"fmt"

	"github.com/midata/midata/pipeline"
	"github.com/midata/midata/pipeline/jobs"
	"github.com/midata/midata/schemas"
)

// DefaultValidate checks req as the workers will: its kind agrees with its
// scope, the scope passes schemas.Scope.Validate, and the request passes
// pipeline.Bulk.Validate (everyone) or pipeline.Request.Validate (each
// customer). It returns the first error found, which wraps ErrInvalid or
// pipeline.ErrInvalidRequest.
func DefaultValidate(req jobs.Request) error {
	switch {
	case req.Scope.All && len(req.Scope.Customers) > 0:
		return fmt.Errorf("%w: scope: %w", ErrInvalid, req.Scope.Validate())
	case req.Kind == jobs.KindBulk && !req.Scope.All:
		return fmt.Errorf("%w: a bulk request is for all customers with consent", ErrInvalid)
	case req.Kind == jobs.KindRelease && req.Scope.All:
		return fmt.Errorf("%w: a release request names its customers: for everyone, ask for a bulk release", ErrInvalid)
	case req.Kind != jobs.KindRelease && req.Kind != jobs.KindBulk:
		return fmt.Errorf("%w: kind %q: want %s or %s", ErrInvalid, req.Kind, jobs.KindRelease, jobs.KindBulk)
	}
	if err := req.Scope.Validate(); err != nil {
		return fmt.Errorf("%w: scope: %w", ErrInvalid, err)
	}
	if req.Scope.All {
		_, err := pipeline.Bulk{ID: req.ID, Recipient: req.Recipient, From: req.From, To: req.To, Formats: req.Formats}.Validate()
		return err
	}
	for _, c := range req.Scope.Customers {
		pr := pipeline.Request{ID: req.ID, CustomerID: schemas.CustomerID(c), Recipient: req.Recipient, From: req.From, To: req.To, Formats: req.Formats}
		if _, err := pr.Validate(); err != nil {
			return err
		}
	}
	return nil
}
