package schemas

import "time"

// ConsentStatus is the state a consent event puts its key in.
type ConsentStatus string

// The consent statuses of the input contract.
const (
	ConsentGranted ConsentStatus = "granted"
	ConsentRevoked ConsentStatus = "revoked"
)

// ConsentEvent is one validated event of the midata.consent topic. The state
// of the key customer_id|recipient is its latest event in offset order.
type ConsentEvent struct {
	ConsentID  string
	CustomerID string
	Recipient  Recipient
	Status     ConsentStatus
	Categories Category
	WindowFrom time.Time // zero: open
	WindowTo   time.Time // zero: open; exclusive
	ExpiresAt  time.Time // zero: never
	EventTime  time.Time

	Partition int
	Offset    int64
}

// ConsentKey returns the Kafka key of the consent state of (customer, recipient).
func ConsentKey(customerID string, recipient Recipient) string {
	return customerID + "|" + string(recipient)
}
