package consent

import (
	"time"

	"github.com/midata/midata/schemas"
)

// Reason says why a record was not released. The values are stable: they are
// the keys of the "excluded" counts in release stats and manifests.
type Reason string

// The exclusion reasons, in the order Filter.Check tests them.
const (
	Released             Reason = ""
	OtherCustomer        Reason = "other_customer"         // not in the release's scope
	Pending              Reason = "pending"                // pending transactions are never released
	OutsidePeriod        Reason = "outside_period"         // booked_at not in the requested [from, to)
	OutsideConsentWindow Reason = "outside_consent_window" // booked_at not in the consent's window
)

// Filter decides, record by record, what one release may contain: the
// customer in scope, the requested period [From, To), and the grant.
type Filter struct {
	CustomerID string
	From, To   time.Time
	Grant      Grant
}

// Check returns Released when t may be released, or the reason it may not.
func (f *Filter) Check(t *schemas.Transaction) Reason {
	switch {
	case t.CustomerID != f.CustomerID:
		return OtherCustomer
	case t.Status != schemas.StatusBooked:
		return Pending
	case t.BookedAt.Before(f.From) || !t.BookedAt.Before(f.To):
		return OutsidePeriod
	case !f.Grant.InWindow(t.BookedAt):
		return OutsideConsentWindow
	}
	return Released
}
