// Package synth generates midata's synthetic data set: realistic UK current
// account transactions and consent events in the input contract
// (docs/input-contract.md), deterministic for a seed, streamed so that
// millions of rows take no more memory than a few. `midata dev`, `midata
// seed`, tests and benchmarks use it.
//
// It owns the data set: generation, encoding and consent events. It is
// pure: it does not speak Kafka (pipeline/seed.Produce writes the set),
// create topics, decode records (schemas does) or know about releases.
package synth

import (
	"errors"
	"fmt"
	"time"
)

// Default topic names of the input contract.
const (
	DefaultTransactionsTopic = "transactions"
	DefaultConsentTopic      = "midata.consent"
)

// maxCustomers is the most customers the six-digit ids C000001… can name.
const maxCustomers = 999_999

// Config sizes and places a synthetic data set. Build it from DefaultConfig
// and change what you need; Validate checks it.
type Config struct {
	// Seed makes the data set: the same Config gives the same bytes.
	// Default 1.
	Seed int64

	// Customers is how many customers (C000001 …) the set has, 1–999,999.
	// Default 120.
	Customers int

	// Transactions is how many valid transaction records the set has,
	// spread evenly over the customers. Default 24,000.
	Transactions int

	// Start and End bound the booking times: Start <= booked_at < End.
	// Consent events are dated before End (self grants a little before
	// Start). Default: the six months before 2026-10-01 (UTC).
	Start, End time.Time

	// Malformed is how many invalid records are added on the transactions
	// topic, on top of Transactions, cycling through the kinds bad JSON,
	// amount with too many decimals, amount with an exponent, unknown
	// currency, key other than customer_id, missing description and bad
	// booked_at. It needs Transactions >= 1 when set. Default 12.
	Malformed int

	// TransactionsTopic and ConsentTopic name the topics of the messages.
	// Empty means DefaultTransactionsTopic and DefaultConsentTopic.
	TransactionsTopic string
	ConsentTopic      string
}

// DefaultConfig returns the documented defaults: seed 1, 120 customers,
// 24,000 transactions from 2026-04-01 to 2026-10-01, 12 malformed records,
// the default topics.
func DefaultConfig() Config {
	// A fixed end: the default data set never depends on the clock.
	end := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	return Config{
		Seed:              1,
		Customers:         120,
		Transactions:      24_000,
		Start:             end.AddDate(0, -6, 0),
		End:               end,
		Malformed:         12,
		TransactionsTopic: DefaultTransactionsTopic,
		ConsentTopic:      DefaultConsentTopic,
	}
}

// Validate reports the first field that makes c unusable.
func (c Config) Validate() error {
	switch {
	case c.Customers < 1 || c.Customers > maxCustomers:
		return fmt.Errorf("synth config: customers %d not in 1–%d", c.Customers, maxCustomers)
	case c.Transactions < 0:
		return fmt.Errorf("synth config: transactions %d is negative", c.Transactions)
	case c.Malformed < 0:
		return fmt.Errorf("synth config: malformed %d is negative", c.Malformed)
	case c.Malformed > 0 && c.Transactions == 0:
		return errors.New("synth config: malformed records need at least one transaction to derive from")
	case c.Start.IsZero() || c.End.IsZero():
		return errors.New("synth config: start and end are required")
	case !c.Start.Before(c.End):
		return fmt.Errorf("synth config: start %s is not before end %s", c.Start.Format(time.RFC3339), c.End.Format(time.RFC3339))
	case c.End.Sub(c.Start) < time.Hour:
		return errors.New("synth config: the period is shorter than one hour")
	case c.Start.Year() < 1900 || c.End.Year() > 9000:
		return fmt.Errorf("synth config: period %d–%d is outside years 1900–9000", c.Start.Year(), c.End.Year())
	}
	return nil
}

// withDefaults fills the empty topic names and normalises times to UTC.
func (c Config) withDefaults() Config {
	if c.TransactionsTopic == "" {
		c.TransactionsTopic = DefaultTransactionsTopic
	}
	if c.ConsentTopic == "" {
		c.ConsentTopic = DefaultConsentTopic
	}
	c.Start, c.End = c.Start.UTC(), c.End.UTC()
	// Booking times are whole seconds: start on one.
	if s := c.Start.Truncate(time.Second); !s.Equal(c.Start) {
		c.Start = s.Add(time.Second)
	}
	return c
}
