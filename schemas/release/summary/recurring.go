package summary

import (
	"slices"
	"strings"
	"time"

	"github.com/midata/midata/schemas"
	"github.com/midata/midata/schemas/release/summary/internal/recurring"
)

// Bounds of the state kept per currency beyond its fixed sums.
const (
	maxMerchants = 1024 // merchant names summed for the top merchants
	maxPayees    = 1024 // payees whose latest payments out are kept
	maxAccounts  = 16   // accounts with a balance chart
	maxTop       = 10   // rows of the top merchants table
)

// merchantSpend is the money out to one merchant name.
type merchantSpend struct {
	name   string
	out, n int64
}

// addMerchant adds a payment out to the merchant's sum. It cannot
// overflow: it is at most the section's money out, already checked.
func (c *currencySummary) addMerchant(name string, out int64) {
	if name == "" {
		return
	}
	if m := c.merchants.Get(recurring.Hash(recurring.Offset, name)); m != nil {
		m.name = name
		m.out += out
		m.n++
	}
}

// topMerchants returns the maxTop merchants with the most money out, most
// first, ties by name.
func (c *currencySummary) topMerchants() []*merchantSpend {
	var ms []*merchantSpend
	for _, m := range c.merchants.M {
		ms = append(ms, m)
	}
	slices.SortFunc(ms, func(a, b *merchantSpend) int {
		switch {
		case a.out > b.out:
			return -1
		case a.out < b.out:
			return 1
		}
		return strings.Compare(a.name, b.name)
	})
	return ms[:min(len(ms), maxTop)]
}

// payee is one payee's payments out (see recurring.Payments).
type payee struct {
	typ     string // the transaction type code shared by the payments
	label   string // the merchant name, or the latest payment's description
	labelAt time.Time
	labelID string
	seen    bool
	mcc     bool // a payment had a merchant category code (merchant only)
	paid    recurring.Payments
}

// addPayment keeps a payment out for recurring payments. Cash withdrawals
// (type ATM) and transfers between the customer's own accounts (TFR) pay
// no one and are left out. The merchant fields are read only when merchant
// is granted.
func (c *currencySummary) addPayment(t *schemas.Transaction, day int32, out int64, merchant bool) {
	if t.Type == "ATM" || t.Type == "TFR" {
		return
	}
	name := ""
	if merchant {
		name = t.MerchantName
	}
	p := c.payees.Get(recurring.Key(t.Type, name, t.Description))
	if p == nil {
		return
	}
	switch {
	case name != "":
		p.label = name
	case !p.seen || t.BookedAt.After(p.labelAt) || t.BookedAt.Equal(p.labelAt) && t.TransactionID > p.labelID:
		p.label, p.labelAt, p.labelID = t.Description, t.BookedAt, t.TransactionID
	}
	p.typ, p.seen = t.Type, true
	p.mcc = p.mcc || merchant && t.MerchantCode != ""
	p.paid.Add(recurring.Payment{Day: day, Units: out})
}

// found is a recurring payment found, and its payee.
type found struct {
	recurring.Found
	p *payee
}

// recurringPayments returns the section's recurring payments (the rules
// are recurring.Detect's; direct debits are the payees of type DD): those
// still running first, then by yearly cost, most first, then by payee.
func (c *currencySummary) recurringPayments(end int32) []found {
	var rs []found
	for _, p := range c.payees.M {
		for _, f := range recurring.Detect(&p.paid, p.typ == "DD", end) {
			rs = append(rs, found{f, p})
		}
	}
	slices.SortFunc(rs, func(a, b found) int {
		switch {
		case a.Active != b.Active:
			if a.Active {
				return -1
			}
			return 1
		case a.Yearly != b.Yearly:
			if a.Yearly > b.Yearly {
				return -1
			}
			return 1
		case a.p.label != b.p.label:
			return strings.Compare(a.p.label, b.p.label)
		case a.p.typ != b.p.typ:
			return strings.Compare(a.p.typ, b.p.typ)
		case a.Last != b.Last:
			return int(a.Last - b.Last)
		case a.Cadence != b.Cadence:
			return strings.Compare(a.Cadence.Key, b.Cadence.Key)
		}
		return int(min(max(a.Typical-b.Typical, -1), 1))
	})
	return rs
}
