package synth

import (
	"math/rand/v2"
	"time"

	"github.com/midata/midata/schemas"
)

// The partners of the data set.
const (
	partnerOne = "partner:pds-one"
	partnerTwo = "partner:pds-two"
)

// consentEvent is one planned event of the consent topic.
type consentEvent struct {
	at         time.Time // event_time and Kafka timestamp
	id         int       // consent_id K-<id>
	recipient  schemas.Recipient
	revoked    bool
	tombstone  bool // the key is erased: no value
	categories schemas.Category
	windowFrom time.Time
	windowTo   time.Time
	expiresAt  time.Time
}

// consentPatterns is how many consent patterns customers cycle through.
const consentPatterns = 10

// tombstoneCustomer is the 0-based index of the one customer whose partner
// consent is erased with a tombstone (the last one when there are fewer).
func tombstoneCustomer(customers int) int { return min(4, customers-1) }

// planConsent returns the consent events of the customer with 0-based index
// idx, in time order. Customers cycle through ten patterns so that every
// case appears in any data set of ten or more customers:
//
//	0  self; pds-one granted all categories, expiring a year after End
//	1  self; pds-one granted transactions+balances, revoked mid-period
//	2  self; pds-two granted transactions+merchant, expired before End
//	3  self; pds-one granted all, windowed to the second and third months
//	4  self; pds-two granted transactions only
//	5  self; pds-one granted transactions+merchant
//	6  self; pds-two granted balances+merchant: no transactions, nothing released
//	7  self; pds-one transactions+merchant from month two on (open window end); pds-two all
//	8  self; pds-one granted all, then re-granted transactions only mid-period
//	9  no consent at all
//
// Customer tombstoneCustomer(n) also has its first partner key erased by a
// tombstone late in the period. consent ids are K-<10×customer number + j>.
func planConsent(idx, customers int, start, end time.Time, rng *rand.Rand) []consentEvent {
	span := end.Sub(start)
	n := idx + 1
	nextID := n * 10
	id := func() int { nextID++; return nextID }
	before := func(maxDays int) time.Time { // a moment before start
		return start.Add(-time.Duration(1+rng.IntN(maxDays*24)) * time.Hour).Add(-time.Duration(rng.IntN(3600)) * time.Second)
	}
	within := func(lo, hi float64) time.Time { // a moment inside the period
		f := lo + rng.Float64()*(hi-lo)
		return start.Add(time.Duration(f * float64(span))).Truncate(time.Second)
	}
	// Windows start and end at midnight (the next one), or on the second
	// in periods too short for whole days.
	midnight := func(t time.Time) time.Time {
		if span < 4*24*time.Hour {
			return t.Truncate(time.Second)
		}
		d := t.Truncate(24 * time.Hour)
		if d.Before(t) {
			d = d.Add(24 * time.Hour)
		}
		return d
	}
	all := schemas.AllCategories
	tx := schemas.Transactions

	var evs []consentEvent
	pattern := idx % consentPatterns
	if pattern != 9 {
		evs = append(evs, consentEvent{at: before(30), id: id(), recipient: schemas.RecipientSelf, categories: all})
	}
	switch pattern {
	case 0:
		evs = append(evs, consentEvent{at: before(20), id: id(), recipient: partnerOne, categories: all, expiresAt: end.AddDate(1, 0, 0)})
	case 1:
		g := consentEvent{at: before(20), id: id(), recipient: partnerOne, categories: tx | schemas.Balances}
		r := g
		r.at, r.revoked, r.categories = within(0.3, 0.6), true, 0
		evs = append(evs, g, r)
	case 2:
		evs = append(evs, consentEvent{at: before(20), id: id(), recipient: partnerTwo, categories: tx | schemas.Merchant,
			expiresAt: end.Add(-time.Duration((0.1 + 0.2*rng.Float64()) * float64(span))).Truncate(time.Second)})
	case 3:
		evs = append(evs, consentEvent{at: before(20), id: id(), recipient: partnerOne, categories: all,
			windowFrom: midnight(start.Add(span / 6)), windowTo: midnight(start.Add(span / 2)), expiresAt: end.AddDate(0, 6, 0)})
	case 4:
		evs = append(evs, consentEvent{at: within(0, 0.05), id: id(), recipient: partnerTwo, categories: tx})
	case 5:
		evs = append(evs, consentEvent{at: before(20), id: id(), recipient: partnerOne, categories: tx | schemas.Merchant})
	case 6:
		evs = append(evs, consentEvent{at: before(20), id: id(), recipient: partnerTwo, categories: schemas.Balances | schemas.Merchant})
	case 7:
		evs = append(evs,
			consentEvent{at: before(20), id: id(), recipient: partnerOne, categories: tx | schemas.Merchant, windowFrom: midnight(start.Add(span / 6))},
			consentEvent{at: before(20), id: id(), recipient: partnerTwo, categories: all})
	case 8:
		evs = append(evs,
			consentEvent{at: before(20), id: id(), recipient: partnerOne, categories: all},
			consentEvent{at: within(0.4, 0.6), id: id(), recipient: partnerOne, categories: tx})
	}

	if idx == tombstoneCustomer(customers) && len(evs) > 1 {
		key := evs[1].recipient
		last := evs[1].at
		for _, ev := range evs {
			if ev.recipient == key && ev.at.After(last) {
				last = ev.at
			}
		}
		at := within(0.7, 0.8)
		if !at.After(last) {
			at = last.Add(time.Hour)
		}
		evs = append(evs, consentEvent{at: at, recipient: key, tombstone: true})
	}
	sortConsent(evs)
	return evs
}

// sortConsent sorts a handful of events by time, keeping the plan's order
// for equal times (insertion sort: stable, no allocation).
func sortConsent(evs []consentEvent) {
	for i := 1; i < len(evs); i++ {
		for j := i; j > 0 && evs[j].at.Before(evs[j-1].at); j-- {
			evs[j], evs[j-1] = evs[j-1], evs[j]
		}
	}
}
