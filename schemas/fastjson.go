package schemas

import (
	"strings"
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

// maxSkipDepth bounds the nesting of unknown fields the fast path skips.
const maxSkipDepth = 32

// fieldSpan is a string field's value: bytes [lo, hi) of the input. The
// field is an index into the targets given to materialize (an index, not a
// pointer, so that the decoded struct can stay on the caller's stack).
type fieldSpan struct {
	field  uint8
	lo, hi int
}

// fastScan walks one JSON value.
type fastScan struct {
	b                 []byte
	i                 int
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

func (s *fastScan) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// consume skips white space and then c.
func (s *fastScan) consume(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// peek skips white space and returns the next byte (0 at the end).
func (s *fastScan) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// plainString scans a string without escapes at s.i and returns the bounds
// of its contents.
func (s *fastScan) plainString() (lo, hi int, ok bool) {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return 0, 0, false
	}
	lo = s.i + 1
	for j := lo; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '"':
			s.i = j + 1
			return lo, j, true
		case c == '\\' || c < 0x20:
			return 0, 0, false
		}
	}
	return 0, 0, false
}

// key scans an object key and the colon after it. Keys with escapes or
// non-ASCII bytes are refused: encoding/json unescapes and folds them.
func (s *fastScan) key() ([]byte, bool) {
	s.ws()
	lo, hi, ok := s.plainString()
	if !ok {
		return nil, false
	}
	for _, c := range s.b[lo:hi] {
		if c >= 0x80 {
			return nil, false
		}
	}
	if !s.consume(':') {
		return nil, false
	}
	return s.b[lo:hi], true
}

// literal consumes the literal word.
func (s *fastScan) literal(word string) bool {
	if len(s.b)-s.i < len(word) || string(s.b[s.i:s.i+len(word)]) != word {
		return false
	}
	s.i += len(word)
	return true
}

// stringField reads the value of a known string field: a string sets it,
// null leaves it; anything else is a type error for encoding/json to report.
func (s *fastScan) stringField(field uint8) bool {
	if !s.once(field) {
		return false
	}
	switch s.peek() {
	case 'n':
		return s.literal("null")
	case '"':
		lo, hi, ok := s.plainString()
		if !ok || s.n == maxSpans {
			return false
		}
		s.spans[s.n] = fieldSpan{field, lo, hi}
		s.n++
		return true
	}
	return false
}

// object scans an object, handing each key to field, which consumes the
// value and reports whether it could.
func (s *fastScan) object(field func(key []byte) bool) bool {
	if !s.consume('{') {
		return false
	}
	if s.consume('}') {
		return true
	}
	for {
		k, ok := s.key()
		if !ok || !field(k) {
			return false
		}
		if s.consume(',') {
			continue
		}
		return s.consume('}')
	}
}

// unknown skips the value of a key that names no field, unless the key
// matches one of names case-insensitively or repeats an earlier unknown
// name of the same object (strict names: the slow path says why).
func (s *fastScan) unknown(key []byte, names ...string) bool {
	for _, n := range names {
		if asciiEqualFold(key, n) {
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
	return s.skip(0)
}

// asciiEqualFold reports whether the ASCII key equals name ignoring case.
func asciiEqualFold(key []byte, name string) bool {
	if len(key) != len(name) {
		return false
	}
	for i := range len(key) {
		a, b := key[i], name[i]
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if a != b {
			return false
		}
	}
	return true
}

// skip validates and skips any JSON value.
func (s *fastScan) skip(depth int) bool {
	if depth > maxSkipDepth {
		return false
	}
	switch c := s.peek(); {
	case c == '"':
		return s.skipString()
	case c == '{':
		s.i++
		if s.consume('}') {
			return true
		}
		for {
			s.ws()
			if !s.skipString() || !s.consume(':') || !s.skip(depth+1) {
				return false
			}
			if s.consume(',') {
				continue
			}
			return s.consume('}')
		}
	case c == '[':
		s.i++
		if s.consume(']') {
			return true
		}
		for {
			if !s.skip(depth + 1) {
				return false
			}
			if s.consume(',') {
				continue
			}
			return s.consume(']')
		}
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || '0' <= c && c <= '9':
		return s.skipNumber()
	}
	return false
}

// skipString skips a string, escapes included, checking them.
func (s *fastScan) skipString() bool {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return false
	}
	for j := s.i + 1; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '"':
			s.i = j + 1
			return true
		case c < 0x20:
			return false
		case c == '\\':
			j++
			if j >= len(s.b) {
				return false
			}
			switch s.b[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if j+4 >= len(s.b) {
					return false
				}
				for _, h := range s.b[j+1 : j+5] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return false
					}
				}
				j += 4
			default:
				return false
			}
		}
	}
	return false
}

// skipNumber skips a number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *fastScan) skipNumber() bool {
	b, i := s.b, s.i
	digits := func() bool {
		start := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		return i > start
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case !digits():
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if !digits() {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if !digits() {
			return false
		}
	}
	s.i = i
	return true
}

// end checks that only white space follows the top-level value.
func (s *fastScan) end() bool {
	s.ws()
	return s.i == len(s.b)
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
		sb.Write(s.b[sp.lo:sp.hi])
	}
	for _, c := range s.cats[:s.ncats] {
		sb.Write(s.b[c.lo:c.hi])
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
	s := fastScan{b: value}
	merchant := func(k []byte) bool {
		switch string(k) {
		case "name":
			return s.stringField(fMerchantName)
		case "category_code":
			return s.stringField(fMerchantCode)
		}
		return s.unknown(k, "name", "category_code")
	}
	ok := s.object(func(k []byte) bool {
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
			if s.peek() == 'n' {
				return s.literal("null")
			}
			s.scope = 1
			ok := s.object(merchant)
			s.scope = 0
			return ok
		}
		return s.unknown(k, "transaction_id", "customer_id", "account_id", "booked_at", "amount",
			"currency", "status", "type", "description", "balance_after", "merchant")
	})
	if !ok || !s.end() {
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
	s := fastScan{b: value}
	ok := s.object(func(k []byte) bool {
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
			return s.once(fActor) && s.skip(0)
		}
		return s.unknown(k, "consent_id", "customer_id", "recipient", "status", "window_from",
			"window_to", "expires_at", "event_time", "categories", "actor")
	})
	if !ok || !s.end() {
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
	switch s.peek() {
	case 'n':
		s.nullCats = true
		return s.literal("null")
	case '[':
		s.i++
	default:
		return false
	}
	if s.consume(']') {
		return true
	}
	for {
		s.ws()
		lo, hi, ok := s.plainString()
		if !ok || s.ncats == len(s.cats) {
			return false
		}
		s.cats[s.ncats] = struct{ lo, hi int }{lo, hi}
		s.ncats++
		if s.consume(',') {
			continue
		}
		return s.consume(']')
	}
}
