package schemas

import (
	"strings"

	"github.com/midata/midata/schemas/internal/jsonscan"
)

// The fast path of the decoders: a scanner for the flat shape of the input
// events that fills transactionJSON / consentJSON exactly as encoding/json
// would, about six times faster and with one allocation for all strings.
//
// It only ever answers "done, and identical to encoding/json" or "not
// sure": anything unusual (escapes in a known field or any key, a key that
// matches a field only case-insensitively, a wrong JSON type, invalid JSON,
// deep nesting, too many fields) makes it give up, and the caller decodes
// with encoding/json, which also writes the error messages. A differential
// fuzz target (FuzzFastPathMatchesEncodingJSON) holds it to that.
//
// The callers check that the value is valid UTF-8 first.

// maxSpans bounds the known fields (with repeats) one event may set on the
// fast path; more falls back.
const maxSpans = 24

// fieldSpan is a string field's value: bytes [lo, hi) of the input. The
// field is an index into the targets given to materialize (an index, not a
// pointer, so that the decoded struct can stay on the caller's stack).
type fieldSpan struct {
	field  uint8
	lo, hi int
}

// fastScan walks one JSON value.
type fastScan struct {
	jsonscan.Scanner
	spans             [maxSpans]fieldSpan
	n                 int
	cats              [8]struct{ lo, hi int } // consent categories of the last array
	ncats             int
	hasCats, nullCats bool

	// Strict names: the fields (and nested objects) seen, by bit, and the
	// unknown names of the object being read (scope 0 the top, 1 a nested
	// one); more than maxUnknown of them falls back.
	seen     uint32
	unknowns [2][maxUnknown][]byte
	nunknown [2]int
	scope    int
}

// maxUnknown bounds the unknown names one object may have on the fast path.
const maxUnknown = 16

// once reports whether the field with this bit was not seen before, and
// marks it: a repeated name makes the fast path give up (strict names).
func (s *fastScan) once(bit uint8) bool {
	if s.seen&(1<<bit) != 0 {
		return false
	}
	s.seen |= 1 << bit
	return true
}

// stringField reads the value of a known string field: a string sets it,
// null leaves it; anything else is a type error for encoding/json to report.
func (s *fastScan) stringField(field uint8) bool {
	if !s.once(field) {
		return false
	}
	switch s.Peek() {
	case 'n':
		return s.Literal("null")
	case '"':
		lo, hi, ok := s.PlainString()
		if !ok || s.n == maxSpans {
			return false
		}
		s.spans[s.n] = fieldSpan{field, lo, hi}
		s.n++
		return true
	}
	return false
}

// unknown skips the value of a key that names no field, unless the key
// matches one of names case-insensitively or repeats an earlier unknown
// name of the same object (strict names: the slow path says why).
func (s *fastScan) unknown(key []byte, names ...string) bool {
	for _, n := range names {
		if jsonscan.EqualFoldASCII(key, n) {
			return false
		}
	}
	sc := s.scope
	for _, k := range s.unknowns[sc][:s.nunknown[sc]] {
		if string(k) == string(key) {
			return false
		}
	}
	if s.nunknown[sc] == maxUnknown {
		return false
	}
	s.unknowns[sc][s.nunknown[sc]] = key
	s.nunknown[sc]++
	return s.Skip(0)
}

// materialize copies every field's bytes into one new string and points
// the fields (and categories) at their parts, in input order, so that a
// repeated key keeps its last value as with encoding/json.
func (s *fastScan) materialize(targets []*string, categories *[]string) {
	total := 0
	for _, sp := range s.spans[:s.n] {
		total += sp.hi - sp.lo
	}
	for _, c := range s.cats[:s.ncats] {
		total += c.hi - c.lo
	}
	var sb strings.Builder
	sb.Grow(total)
	for _, sp := range s.spans[:s.n] {
		sb.Write(s.B[sp.lo:sp.hi])
	}
	for _, c := range s.cats[:s.ncats] {
		sb.Write(s.B[c.lo:c.hi])
	}
	all := sb.String()
	off := 0
	for _, sp := range s.spans[:s.n] {
		*targets[sp.field] = all[off : off+sp.hi-sp.lo]
		off += sp.hi - sp.lo
	}
	if categories == nil || !s.hasCats {
		return
	}
	if s.nullCats {
		*categories = nil
		return
	}
	out := make([]string, s.ncats)
	for i, c := range s.cats[:s.ncats] {
		out[i] = all[off : off+c.hi-c.lo]
		off += c.hi - c.lo
	}
	*categories = out
}

// fastTransaction fills in from value and reports true, or reports false
// without having touched in.
func fastTransaction(value []byte, in *transactionJSON) bool {
	const (
		fTransactionID = iota
		fCustomerID
		fAccountID
		fBookedAt
		fAmount
		fCurrency
		fStatus
		fType
		fDescription
		fBalanceAfter
		fMerchantName
		fMerchantCode
		fMerchant // the object itself, for strict names
	)
	s := fastScan{Scanner: jsonscan.Scanner{B: value}}
	merchant := func(k []byte) bool {
		switch string(k) {
		case "name":
			return s.stringField(fMerchantName)
		case "category_code":
			return s.stringField(fMerchantCode)
		}
		return s.unknown(k, "name", "category_code")
	}
	ok := s.Object(func(k []byte) bool {
		switch string(k) {
		case "transaction_id":
			return s.stringField(fTransactionID)
		case "customer_id":
			return s.stringField(fCustomerID)
		case "account_id":
			return s.stringField(fAccountID)
		case "booked_at":
			return s.stringField(fBookedAt)
		case "amount":
			return s.stringField(fAmount)
		case "currency":
			return s.stringField(fCurrency)
		case "status":
			return s.stringField(fStatus)
		case "type":
			return s.stringField(fType)
		case "description":
			return s.stringField(fDescription)
		case "balance_after":
			return s.stringField(fBalanceAfter)
		case "merchant":
			if !s.once(fMerchant) {
				return false
			}
			if s.Peek() == 'n' {
				return s.Literal("null")
			}
			s.scope = 1
			ok := s.Object(merchant)
			s.scope = 0
			return ok
		}
		return s.unknown(k, "transaction_id", "customer_id", "account_id", "booked_at", "amount",
			"currency", "status", "type", "description", "balance_after", "merchant")
	})
	if !ok || !s.End() {
		return false
	}
	s.materialize([]*string{
		fTransactionID: &in.TransactionID, fCustomerID: &in.CustomerID, fAccountID: &in.AccountID,
		fBookedAt: &in.BookedAt, fAmount: &in.Amount, fCurrency: &in.Currency, fStatus: &in.Status,
		fType: &in.Type, fDescription: &in.Description, fBalanceAfter: &in.BalanceAfter,
		fMerchantName: &in.Merchant.Name, fMerchantCode: &in.Merchant.CategoryCode,
	}, nil)
	return true
}

// fastConsent fills in from value and reports true, or reports false
// without having touched in.
func fastConsent(value []byte, in *consentJSON) bool {
	const (
		fConsentID = iota
		fCustomerID
		fRecipient
		fStatus
		fWindowFrom
		fWindowTo
		fExpiresAt
		fEventTime
		fCategories // for strict names
		fActor      // read by the slow path's checks only, for now
	)
	s := fastScan{Scanner: jsonscan.Scanner{B: value}}
	ok := s.Object(func(k []byte) bool {
		switch string(k) {
		case "consent_id":
			return s.stringField(fConsentID)
		case "customer_id":
			return s.stringField(fCustomerID)
		case "recipient":
			return s.stringField(fRecipient)
		case "status":
			return s.stringField(fStatus)
		case "window_from":
			return s.stringField(fWindowFrom)
		case "window_to":
			return s.stringField(fWindowTo)
		case "expires_at":
			return s.stringField(fExpiresAt)
		case "event_time":
			return s.stringField(fEventTime)
		case "categories":
			return s.once(fCategories) && s.categories()
		case "actor":
			return s.once(fActor) && s.Skip(0)
		}
		return s.unknown(k, "consent_id", "customer_id", "recipient", "status", "window_from",
			"window_to", "expires_at", "event_time", "categories", "actor")
	})
	if !ok || !s.End() {
		return false
	}
	s.materialize([]*string{
		fConsentID: &in.ConsentID, fCustomerID: &in.CustomerID, fRecipient: &in.Recipient,
		fStatus: &in.Status, fWindowFrom: &in.WindowFrom, fWindowTo: &in.WindowTo,
		fExpiresAt: &in.ExpiresAt, fEventTime: &in.EventTime,
	}, &in.Categories)
	return true
}

// categories reads the categories array (or null); a later array replaces
// an earlier one, as with encoding/json.
func (s *fastScan) categories() bool {
	s.hasCats, s.nullCats, s.ncats = true, false, 0
	switch s.Peek() {
	case 'n':
		s.nullCats = true
		return s.Literal("null")
	case '[':
		s.I++
	default:
		return false
	}
	if s.Consume(']') {
		return true
	}
	for {
		s.WS()
		lo, hi, ok := s.PlainString()
		if !ok || s.ncats == len(s.cats) {
			return false
		}
		s.cats[s.ncats] = struct{ lo, hi int }{lo, hi}
		s.ncats++
		if s.Consume(',') {
			continue
		}
		return s.Consume(']')
	}
}
