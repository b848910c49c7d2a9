package api

import (
	"fmt"

	"github.com/midata/midata/pipeline"
	"github.com/midata/midata/pipeline/jobs"
)

// DefaultValidate checks req as the workers will: its kind agrees with its
// scope, and for every customer (or, for everyone, once) the recipient,
// period and formats pass pipeline.Request.Validate. It returns the first
// error found, which wraps ErrInvalid or pipeline.ErrInvalidRequest.
func DefaultValidate(req jobs.Request) error {
	customers := req.Scope.Customers
	switch {
	case req.Scope.All && len(customers) > 0:
		return fmt.Errorf("%w: give customers or all, not both", ErrInvalid)
	case req.Kind == jobs.KindBulk && !req.Scope.All:
		return fmt.Errorf("%w: a bulk request is for all customers with consent", ErrInvalid)
	case req.Kind == jobs.KindRelease && req.Scope.All:
		return fmt.Errorf("%w: a release request names its customers: for everyone, ask for a bulk release", ErrInvalid)
	case req.Kind != jobs.KindRelease && req.Kind != jobs.KindBulk:
		return fmt.Errorf("%w: kind %q: want %s or %s", ErrInvalid, req.Kind, jobs.KindRelease, jobs.KindBulk)
	case req.Scope.All:
		// pipeline.Request checks one customer's request; every other
		// check is the same for all, so check it once with a stand-in id.
		customers = []string{"all"}
	case len(customers) == 0:
		return fmt.Errorf("%w: no customer: give customers, or all: true", ErrInvalid)
	}
	for _, c := range customers {
		pr := pipeline.Request{ID: req.ID, CustomerID: c, Recipient: req.Recipient, From: req.From, To: req.To, Formats: req.Formats}
		if _, err := pr.Validate(); err != nil {
			return err
		}
	}
	return nil
}
