package schemas

import "time"

// Status is the booking status of a transaction.
type Status string

// The statuses of the input contract; pending is never released.
const (
	StatusBooked  Status = "booked"
	StatusPending Status = "pending"
)

// Transaction is one validated transaction event of the input contract.
// Times are UTC; money is a Decimal, never a float.
type Transaction struct {
	TransactionID string
	CustomerID    string
	AccountID     string
	BookedAt      time.Time // normalised to UTC
	Amount        Decimal   // signed: negative is money out
	Currency      string    // ISO 4217 alpha-3
	Status        Status    // booked when absent in the input
	Type          string    // short code such as POS, DD, BGC; may be empty
	Description   string

	// Merchant fields (category merchant); empty when absent.
	MerchantName string
	MerchantCode string // MCC, four digits

	// BalanceAfter (category balances); HasBalance is false when absent.
	BalanceAfter Decimal
	HasBalance   bool

	// Where the record came from, for ordering ties, snapshots and audit.
	Partition int
	Offset    int64
}
