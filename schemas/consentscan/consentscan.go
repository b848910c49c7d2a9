// Package consentscan is the fast path of the consent view's decoding: it
// reads a consent event of the usual shape from its Kafka key and value
// without allocating (the consent id stays a slice of the value, times are
// computed from their digits), for a view that copies what it keeps.
//
// It only ever answers "done, and the same as schemas.DecodeConsentEvent"
// or "not sure": anything unusual (a tombstone, escapes in a known field
// or any name, a name that folds onto a field, a repeated name, a time not
// of the form 2026-01-15T12:00:00Z or 2026-01-15T12:00:00.123Z, an unknown
// category, any rule of the input contract broken) makes Scan report
// false, and the caller decodes with schemas.DecodeConsentEvent, which
// decides and says why it refuses. A differential fuzz target
// (FuzzScanMatchesDecodeConsentEvent) holds it to that.
package consentscan

import (
	"bytes"
	"time"
	"unicode/utf8"

	"github.com/midata/midata/schemas"
	"github.com/midata/midata/schemas/internal/jsonscan"
)

// Event is a consent event read by Scan: what schemas.DecodeConsentEvent
// returns, with the ids as parts of the record.
type Event struct {
	// ConsentID is the consent id: bytes of the value Scan read, valid as
	// long as they are.
	ConsentID []byte
	// CustomerLen is the length of the customer id: the key is
	// key[:CustomerLen] "|" recipient.
	CustomerLen int
	Status      schemas.ConsentStatus
	Categories  schemas.Category
	WindowFrom  time.Time // zero: open
	WindowTo    time.Time // zero: open; exclusive
	ExpiresAt   time.Time // zero: never
	EventTime   time.Time
}

// ConsentEvent returns ev as schemas.DecodeConsentEvent returns it for
// key, the key Scan read it with (Partition and Offset left zero).
func (ev *Event) ConsentEvent(key []byte) schemas.ConsentEvent {
	return schemas.ConsentEvent{
		ConsentID: string(ev.ConsentID), CustomerID: string(key[:ev.CustomerLen]),
		Recipient: schemas.Recipient(key[ev.CustomerLen+1:]), Status: ev.Status, Categories: ev.Categories,
		WindowFrom: ev.WindowFrom, WindowTo: ev.WindowTo, ExpiresAt: ev.ExpiresAt, EventTime: ev.EventTime,
	}
}

// The fields of a consent event, as bits of scan.seen and indexes of
// scan.spans (the string fields first).
const (
	fConsentID = iota
	fCustomerID
	fRecipient
	fStatus
	fWindowFrom
	fWindowTo
	fExpiresAt
	fEventTime
	nStrings // the string fields above
	fCategories
	fActor // read by schemas' own checks only: skipped here as there
)

// fieldNames are the names of the contract's consent fields, for strict
// names: an unknown name that folds onto one of them is not for Scan.
var fieldNames = [...]string{"consent_id", "customer_id", "recipient", "status", "window_from",
	"window_to", "expires_at", "event_time", "categories", "actor"}

// maxUnknown bounds the unknown names one event may have on the fast path.
const maxUnknown = 16

// field returns the field of the name k, or -1.
func field(k []byte) int {
	switch string(k) {
	case "consent_id":
		return fConsentID
	case "customer_id":
		return fCustomerID
	case "recipient":
		return fRecipient
	case "status":
		return fStatus
	case "window_from":
		return fWindowFrom
	case "window_to":
		return fWindowTo
	case "expires_at":
		return fExpiresAt
	case "event_time":
		return fEventTime
	case "categories":
		return fCategories
	case "actor":
		return fActor
	}
	return -1
}

// scan is the state of one Scan.
type scan struct {
	jsonscan.Scanner
	seen     uint16
	spans    [nStrings]struct{ lo, hi int } // of the string fields set (seen and not null)
	set      uint16                         // the string fields with a span
	cats     schemas.Category
	unknowns [maxUnknown][]byte
	nunknown int
}

// Scan reads the consent event of key and value into ev and reports true
// when it is of the usual shape; then schemas.DecodeConsentEvent(key,
// value) returns ev.ConsentEvent(key), no tombstone and no error. It
// reports false, with ev in an unspecified state, when it is not sure:
// call schemas.DecodeConsentEvent then.
func Scan(key, value []byte, ev *Event) bool {
	customerLen, ok := checkKey(key)
	if !ok || len(value) == 0 || !utf8.Valid(value) {
		return false
	}
	s := scan{Scanner: jsonscan.Scanner{B: value}}
	if !s.object() || !s.End() {
		return false
	}

	id, ok := s.str(fConsentID)
	if !ok || len(id) == 0 || len(id) > 64 && utf8.RuneCount(id) > 64 {
		return false
	}
	if c, ok := s.str(fCustomerID); !ok || !bytes.Equal(c, key[:customerLen]) {
		return false
	}
	if r, ok := s.str(fRecipient); !ok || !bytes.Equal(r, key[customerLen+1:]) {
		return false
	}
	switch st, _ := s.str(fStatus); string(st) {
	case string(schemas.ConsentGranted):
		ev.Status = schemas.ConsentGranted
	case string(schemas.ConsentRevoked):
		ev.Status = schemas.ConsentRevoked
	default: // absent or another status
		return false
	}
	ev.ConsentID, ev.CustomerLen, ev.Categories = id, customerLen, s.cats
	if ev.WindowFrom, ok = s.optionalTime(fWindowFrom); !ok {
		return false
	}
	if ev.WindowTo, ok = s.optionalTime(fWindowTo); !ok {
		return false
	}
	if !ev.WindowFrom.IsZero() && !ev.WindowTo.IsZero() && !ev.WindowFrom.Before(ev.WindowTo) {
		return false
	}
	if ev.ExpiresAt, ok = s.optionalTime(fExpiresAt); !ok {
		return false
	}
	t, ok := s.str(fEventTime)
	if !ok {
		return false
	}
	ev.EventTime, ok = parseTime(t)
	return ok
}

// checkKey checks a key customer_id|recipient as schemas does and returns
// the length of its customer id.
func checkKey(key []byte) (customerLen int, ok bool) {
	i := bytes.IndexByte(key, '|')
	if i < 1 || i > 64 {
		return 0, false
	}
	for _, c := range key[:i] {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return 0, false
		}
	}
	r := key[i+1:]
	if string(r) == string(schemas.RecipientSelf) {
		return i, true
	}
	const prefix = "partner:"
	if len(r) <= len(prefix) || len(r) > len(prefix)+64 || string(r[:len(prefix)]) != prefix {
		return 0, false
	}
	for _, c := range r[len(prefix):] {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return 0, false
		}
	}
	return i, true
}

// str returns the value of the string field f, false when it is absent
// (missing or null).
func (s *scan) str(f int) ([]byte, bool) {
	if s.set&(1<<f) == 0 {
		return nil, false
	}
	return s.B[s.spans[f].lo:s.spans[f].hi], true
}

// optionalTime returns the time of the optional field f: zero when absent.
func (s *scan) optionalTime(f int) (time.Time, bool) {
	v, ok := s.str(f)
	if !ok {
		return time.Time{}, true
	}
	return parseTime(v)
}

// object reads the event's object: every name once, the known fields of
// the expected JSON types, the unknown ones skipped.
func (s *scan) object() bool {
	if !s.Consume('{') {
		return false
	}
	if s.Consume('}') {
		return true
	}
	for {
		k, ok := s.Key()
		if !ok {
			return false
		}
		f := field(k)
		switch {
		case f < 0:
			ok = s.unknown(k)
		case s.seen&(1<<f) != 0:
			return false // a repeated name: strict names, for schemas to say
		case f < nStrings:
			s.seen |= 1 << f
			ok = s.stringField(f)
		case f == fCategories:
			s.seen |= 1 << f
			ok = s.categories()
		default: // fActor
			s.seen |= 1 << f
			ok = s.Skip(0)
		}
		if !ok {
			return false
		}
		if s.Consume(',') {
			continue
		}
		return s.Consume('}')
	}
}

// stringField reads the value of the string field f: a string without
// escapes sets it, null leaves it absent.
func (s *scan) stringField(f int) bool {
	switch s.Peek() {
	case 'n':
		return s.Literal("null")
	case '"':
		lo, hi, ok := s.PlainString()
		if ok {
			s.spans[f].lo, s.spans[f].hi = lo, hi
			s.set |= 1 << f
		}
		return ok
	}
	return false
}

// unknown skips the value of a name that is no field, unless the name
// folds onto a field or repeats an earlier unknown name.
func (s *scan) unknown(k []byte) bool {
	for _, n := range fieldNames {
		if jsonscan.EqualFoldASCII(k, n) {
			return false
		}
	}
	for _, u := range s.unknowns[:s.nunknown] {
		if string(u) == string(k) {
			return false
		}
	}
	if s.nunknown == maxUnknown {
		return false
	}
	s.unknowns[s.nunknown] = k
	s.nunknown++
	return s.Skip(0)
}

// categories reads the categories (null: none): known names only.
func (s *scan) categories() bool {
	switch s.Peek() {
	case 'n':
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
		if !ok {
			return false
		}
		switch string(s.B[lo:hi]) {
		case "transactions":
			s.cats |= schemas.Transactions
		case "balances":
			s.cats |= schemas.Balances
		case "merchant":
			s.cats |= schemas.Merchant
		default:
			return false
		}
		if s.Consume(',') {
			continue
		}
		return s.Consume(']')
	}
}

// parseTime parses a time of the form YYYY-MM-DDTHH:MM:SS, then an
// optional fraction of 1 to 9 digits, then Z, in the years 0001-9999: a
// subset of what schemas accepts, read the same (UTC).
func parseTime(v []byte) (time.Time, bool) {
	if len(v) < 20 || v[4] != '-' || v[7] != '-' || v[10] != 'T' || v[13] != ':' || v[16] != ':' || v[len(v)-1] != 'Z' {
		return time.Time{}, false
	}
	two := func(i int) (int, bool) {
		a, b := v[i]-'0', v[i+1]-'0' // above 9 for any byte but a digit
		return int(a)*10 + int(b), a <= 9 && b <= 9
	}
	century, ok1 := two(0)
	yy, ok2 := two(2)
	month, ok3 := two(5)
	day, ok4 := two(8)
	hour, ok5 := two(11)
	minute, ok6 := two(14)
	sec, ok7 := two(17)
	year := century*100 + yy
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) || year < 1 || month < 1 || month > 12 || day < 1 ||
		day > daysIn(month, year) || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	nsec := 0
	if frac := v[19 : len(v)-1]; len(frac) > 0 {
		if len(frac) < 2 || len(frac) > 10 || frac[0] != '.' {
			return time.Time{}, false
		}
		for _, c := range frac[1:] {
			if c < '0' || c > '9' {
				return time.Time{}, false
			}
			nsec = nsec*10 + int(c-'0')
		}
		for range 10 - len(frac) {
			nsec *= 10
		}
	}
	unix := daysSinceEpoch(year, month, day)*86400 + int64(hour*3600+minute*60+sec)
	return time.Unix(unix, int64(nsec)).UTC(), true
}

// daysIn returns the number of days of month in year.
func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysSinceEpoch returns the days from 1970-01-01 to the date in the
// proleptic Gregorian calendar (a valid date).
func daysSinceEpoch(year, month, day int) int64 {
	y := int64(year)
	if month <= 2 {
		y--
	}
	era := y / 400 // y >= 0 here: years 0001-9999, or 0 for January and February of 0001
	yoe := y - era*400
	m := int64(month)
	if m > 2 {
		m -= 3
	} else {
		m += 9
	}
	doy := (153*m+2)/5 + int64(day) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}
