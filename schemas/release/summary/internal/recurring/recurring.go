// Package recurring is the bounded state behind the html summary's
// per-payee sections and the detection of recurring payments in it: the
// BottomK sets that hold the state of at most K keys (merchants, payees,
// accounts) whatever the order of the records, Key that identifies a
// payee, a payee's latest payments out (Payments), Detect, which finds the
// payments among them that repeat, and Kind, which names them. It is
// internal to schemas/release/summary.
package recurring

import (
	"math"
	"slices"
	"time"
)

// MaxKept is how many payments out Payments keeps: the latest, two years
// of a monthly payment.
const MaxKept = 24

// maxSeries is how many recurring payments Detect finds among one payee's.
const maxSeries = 3

// BottomK holds values by a 64-bit key, at most k of them: of all the keys
// it is offered it keeps the k smallest. That set does not depend on the
// order the keys come in, and a key in it was kept from its first offer
// on (the set always holds the k smallest keys offered so far; a key among
// the k smallest of all is among them when it first comes, and is never
// evicted, which takes k smaller ones), so its value saw all its records
// and the page is the same for any record order. Cut says some key was
// left out: the customer paid more than K merchants, payees or accounts.
type BottomK[V any] struct {
	M   map[uint64]*V
	K   int
	max uint64 // the largest key in M, once M is full
	Cut bool
}

// Get returns the value of key h, added if h is among the K smallest keys
// seen, or nil.
func (b *BottomK[V]) Get(h uint64) *V {
	if v, ok := b.M[h]; ok {
		return v
	}
	if b.M == nil {
		b.M = make(map[uint64]*V)
	}
	if len(b.M) >= b.K {
		b.Cut = true
		if h > b.max {
			return nil
		}
		delete(b.M, b.max)
	}
	v := new(V)
	b.M[h] = v
	if len(b.M) == b.K { // rare: only when full
		b.max = 0
		for k := range b.M {
			b.max = max(b.max, k)
		}
	}
	return v
}

// Offset starts an FNV-1a hash (64 bits): Hash(Offset, s) is the hash of
// s, Hash(Hash(Offset, a), b) that of a then b. The hashes key merchants,
// payees and accounts: two names with the same hash (a chance of about
// 2^-64 a pair) would be taken for one.
const Offset = 14695981039346656037

// Hash adds the bytes of s to the hash h.
func Hash(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h = HashByte(h, s[i])
	}
	return h
}

// HashByte adds c to the hash h.
func HashByte(h uint64, c byte) uint64 { return (h ^ uint64(c)) * 1099511628211 }

// Key identifies a payee of payments out of one type (a direct debit
// and card payments to one merchant are two payees): with the merchant
// category, the merchant name when the record has one; otherwise the
// description with digits dropped, ASCII letters upper-cased and every run
// of other ASCII characters read as one space, so that "TESCO STORES 1234"
// and "Tesco Stores 5678" are one payee and a reference number changing
// from month to month does not hide a direct debit.
func Key(typ, name, desc string) uint64 {
	h := Hash(Offset, typ)
	if name != "" {
		return Hash(HashByte(h, 'm'), name)
	}
	h = HashByte(h, 'd')
	gap, wrote := false, false
	for i := 0; i < len(desc); i++ {
		c := desc[i]
		switch {
		case c >= '0' && c <= '9':
			continue
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		case c < 0x80 && (c < 'A' || c > 'Z'):
			gap = true
			continue
		}
		if gap && wrote {
			h = HashByte(h, ' ')
		}
		gap, wrote = false, true
		h = HashByte(h, c)
	}
	return h
}

// Kind names what the transaction data says of a recurring payment: its
// type code, and for card payments whether they carry a merchant category
// code (mcc). The contract has no other field for it.
func Kind(typ string, mcc bool) (key, label string) {
	switch {
	case typ == "DD":
		return "direct-debit", "Direct debit"
	case typ == "SO":
		return "standing-order", "Standing order"
	case typ == "POS" && mcc:
		return "card-subscription", "Card subscription"
	}
	return "recurring-payment", "Recurring payment"
}

// Payment is a payment out to a payee.
type Payment struct {
	Day   int32 // UK date, days since 1970
	Units int64 // the money out, positive, minor units
}

func (a Payment) before(b Payment) bool {
	return a.Day < b.Day || a.Day == b.Day && a.Units < b.Units
}

// Payments are a payee's latest MaxKept payments out by date (then amount),
// so that a shop paid every day takes no more memory than a yearly bill.
// Which are kept does not depend on the order they are added in.
type Payments struct {
	n    int
	kept [MaxKept]Payment // ascending
}

// Add keeps x if it is among the latest.
func (p *Payments) Add(x Payment) {
	if p.n == MaxKept {
		if !p.kept[0].before(x) {
			return
		}
		copy(p.kept[:], p.kept[1:])
		p.n--
	}
	i := p.n
	for ; i > 0 && x.before(p.kept[i-1]); i-- {
		p.kept[i] = p.kept[i-1]
	}
	p.kept[i] = x
	p.n++
}

// Kept returns the payments kept, oldest first; changing them changes
// what is kept (the summary rescales amounts in place).
func (p *Payments) Kept() []Payment { return p.kept[:p.n] }

// Cadence is an interval recurring payments are looked for at.
type Cadence struct {
	Key, Label string
	lo, hi     int32 // the days one interval may take
	nominal    int32
	months     int // the interval in calendar months (next date), or 0: nominal days
	PerYear    int64
}

var cadences = [...]Cadence{
	{"weekly", "Weekly", 6, 8, 7, 0, 52},
	{"fortnightly", "Every 2 weeks", 12, 16, 14, 0, 26},
	{"monthly", "Monthly", 25, 34, 30, 1, 12},
	{"quarterly", "Every 3 months", 84, 98, 91, 3, 4},
	{"yearly", "Yearly", 358, 373, 365, 12, 1},
}

// Found is a recurring payment found.
type Found struct {
	Cadence    *Cadence
	Typical    int64 // the median amount (of an even number, the lower middle one)
	Varies     bool  // not every amount is the typical one
	Last, Next int32 // UK days of the last payment and the next expected
	Active     bool  // the period ends before the next payment was late
	Yearly     int64 // Typical × payments a year; -1 if that overflows
}

// series is a candidate recurring payment: indexes into a payee's kept
// payments, latest first.
type series struct {
	cad     int
	idx     []int
	single  int // intervals of exactly one cadence
	typical int64
}

// better orders the candidates: the most payments, then the most single
// intervals, the latest last payment, the shortest cadence, the smallest
// amount.
func (s series) better(o series, kept []Payment) bool {
	switch {
	case len(s.idx) != len(o.idx):
		return len(s.idx) > len(o.idx)
	case s.single != o.single:
		return s.single > o.single
	case kept[s.idx[0]].Day != kept[o.idx[0]].Day:
		return kept[s.idx[0]].Day > kept[o.idx[0]].Day
	case s.cad != o.cad:
		return s.cad < o.cad
	}
	return s.typical < o.typical
}

// near says whether x is within 10% of a (wide: from half to double of
// a), without overflow.
func near(x, a int64, wide bool) bool {
	if wide {
		return x-a <= a && a-x <= x
	}
	d := x - a
	if d < 0 {
		d = -d
	}
	return d <= a/10
}

// Detect finds the recurring payments among a payee's kept payments (run
// at Close over bounded state: the pass over the records stays one);
// directDebit says they are direct debits, end is the period's last UK
// day. The rules:
//
//   - A recurring payment is at least three payments, each one interval
//     after the one before: weekly 6–8 days, every two weeks 12–16,
//     monthly 25–34, every three months 84–98, yearly 358–373 (so yearly
//     ones need more than two years of records). An interval may also be
//     two or three of those (missed payments: council tax has ten
//     instalments a year), but at least two must be single ones.
//   - Its amounts are within 10% of one of them (the anchor), and at least
//     half of them are exactly the typical amount, their median: a price
//     is a price, and shopping of about the same amount now and then is
//     not a subscription. For direct debits, whose payee sets each amount
//     (energy, water, credit cards), from half to double of the anchor,
//     and none need be the same.
//   - Payments to the payee of such amounts that fall among or after the
//     series' but are not in it number at most a quarter of it: a shop
//     paid often for all sorts of amounts has no series by chance.
//   - The best series wins (more payments, then more single intervals, a
//     later last payment, a shorter interval, a smaller amount); its
//     payments are taken out and the rest searched again, for up to
//     maxSeries a payee (two subscriptions at one merchant).
//   - The next payment is expected one interval after the last: the same
//     day of the month (or the month's last day) for monthly and longer
//     intervals. The payment is still running unless the period's last day
//     end is more than the longest interval after the last payment; one
//     that stopped has no next date and no yearly cost.
//   - The yearly cost is the typical amount times the payments a year
//     (52, 26, 12, 4 or 1).
func Detect(p *Payments, directDebit bool, end int32) []Found {
	kept := p.Kept()
	var used [MaxKept]bool
	var out []Found
	for range maxSeries {
		best, ok := bestSeries(kept, &used, directDebit)
		if !ok {
			break
		}
		for _, i := range best.idx {
			used[i] = true
		}
		cad := &cadences[best.cad]
		r := Found{Cadence: cad, Typical: best.typical, Last: kept[best.idx[0]].Day, Yearly: -1}
		for _, i := range best.idx {
			r.Varies = r.Varies || kept[i].Units != best.typical
		}
		r.Next = nextDue(r.Last, cad)
		r.Active = int64(end) <= int64(r.Last)+int64(cad.hi)
		if best.typical <= math.MaxInt64/cad.PerYear {
			r.Yearly = best.typical * cad.PerYear
		}
		out = append(out, r)
	}
	return out
}

// bestSeries returns the best valid series among the payments not used.
func bestSeries(kept []Payment, used *[MaxKept]bool, directDebit bool) (best series, ok bool) {
	var cluster [MaxKept]int
anchors:
	for a := range kept {
		if used[a] {
			continue
		}
		for b := range a {
			if !used[b] && kept[b].Units == kept[a].Units {
				continue anchors // an amount already tried as the anchor
			}
		}
		for _, wide := range [2]bool{false, true} {
			if wide && !directDebit {
				break
			}
			nc := 0
			for j := range kept {
				if !used[j] && near(kept[j].Units, kept[a].Units, wide) {
					cluster[nc] = j
					nc++
				}
			}
			for ci := range cadences {
				for s := max(nc-3, 0); nc >= 3 && s < nc; s++ {
					if c, valid := walk(kept, cluster[:nc], s, ci, !directDebit); valid && (!ok || c.better(best, kept)) {
						best, ok = c, true
					}
				}
			}
		}
	}
	return best, ok
}

// walk builds the series of cadence ci that ends at cluster[s], going back
// one interval at a time (fewest missed payments first, then nearest the
// nominal interval), and reports whether it is a recurring payment (exact:
// half its amounts are the typical one).
func walk(kept []Payment, cluster []int, s, ci int, exact bool) (series, bool) {
	cad := &cadences[ci]
	c := series{cad: ci, idx: []int{cluster[s]}}
	cur := s
	for {
		bestJ, bestK, bestDist := -1, int32(0), int32(0)
		for j := cur - 1; j >= 0; j-- {
			gap := kept[cluster[cur]].Day - kept[cluster[j]].Day
			if gap > 3*cad.hi {
				break
			}
			for k := int32(1); k <= 3; k++ {
				if gap >= k*cad.lo && gap <= k*cad.hi {
					dist := max(gap-k*cad.nominal, k*cad.nominal-gap)
					if bestJ < 0 || k < bestK || k == bestK && dist < bestDist {
						bestJ, bestK, bestDist = j, k, dist
					}
					break
				}
			}
		}
		if bestJ < 0 {
			break
		}
		if bestK == 1 {
			c.single++
		}
		c.idx = append(c.idx, cluster[bestJ])
		cur = bestJ
	}
	extras := (s - cur + 1 - len(c.idx)) + (len(cluster) - 1 - s)
	if len(c.idx) < 3 || c.single < 2 || extras*4 > len(c.idx) {
		return c, false
	}
	amounts := make([]int64, len(c.idx))
	for i, k := range c.idx {
		amounts[i] = kept[k].Units
	}
	slices.Sort(amounts)
	c.typical = amounts[(len(amounts)-1)/2]
	same := 0
	for _, a := range amounts {
		if a == c.typical {
			same++
		}
	}
	return c, !exact || 2*same >= len(amounts)
}

// nextDue is the day one interval of cad after last.
func nextDue(last int32, cad *Cadence) int32 {
	if cad.months == 0 {
		return last + cad.nominal
	}
	y, m, d := Date(last).Date()
	first := time.Date(y, m+time.Month(cad.months), 1, 0, 0, 0, 0, time.UTC)
	return Day(first.AddDate(0, 0, min(d, first.AddDate(0, 1, -1).Day())-1))
}

// Day is the day number (days since 1 January 1970) of t's date in t's
// location; Date is the date of a day number, at midnight UTC.
func Day(t time.Time) int32 {
	y, m, d := t.Date()
	s := time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix()
	if s < 0 {
		s -= 86399 // round down
	}
	return int32(s / 86400)
}

func Date(n int32) time.Time { return time.Unix(int64(n)*86400, 0).UTC() }
