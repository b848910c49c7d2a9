package schemas

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"time"
	"unicode/utf8"
)

// InvalidError says why a record breaks the input contract. Its message,
// "<field>: <reason>", is one line and is what the pipeline writes to the
// quarantine header midata-reason, so it names the offending field and shows
// at most a truncated copy of that field's own value (never a description or
// any other field). Callers branch on it with errors.As.
type InvalidError struct {
	// Field is the JSON path of the offending field ("booked_at",
	// "merchant.category_code"), "key" for the message key, or "value" for
	// the value as a whole (not JSON, null, not an object).
	Field string
	// Reason says what is wrong, e.g. `not RFC 3339 ("2026-13-01")`.
	Reason string
}

// Error returns "<field>: <reason>".
func (e *InvalidError) Error() string { return e.Field + ": " + e.Reason }

// invalid returns an *InvalidError for field with a formatted reason.
func invalid(field, format string, args ...any) error {
	return &InvalidError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// maxShown is how many characters of an offending value an error shows.
const maxShown = 40

// shown quotes v for an error message: at most maxShown characters, on one
// line (control characters and invalid UTF-8 escaped), "…" when cut.
func shown(v string) string {
	if utf8.RuneCountInString(v) <= maxShown {
		return strconv.Quote(v)
	}
	n := 0
	for i := range v {
		if n == maxShown {
			return strconv.Quote(v[:i]) + "…"
		}
		n++
	}
	return strconv.Quote(v)
}

// absent marks a string field that the JSON did not set (missing or null).
// encoding/json never produces invalid UTF-8, so no decoded value equals it.
const absent = "\xff"

// checkValue checks what both decoding paths need: a value that is there
// and is valid UTF-8 (encoding/json would silently replace bad bytes).
func checkValue(value []byte) error {
	if value == nil {
		return invalid("value", "null (a Kafka tombstone), want a JSON object")
	}
	if !utf8.Valid(value) {
		return invalid("value", "not valid UTF-8")
	}
	return nil
}

// decodeJSON unmarshals an object value (checked by checkValue) into dst
// with encoding/json and turns every decoding failure into an
// *InvalidError. It is the reference the fast path is held to, and the path
// for everything the fast path refuses.
func decodeJSON(value []byte, dst any) error {
	if err := json.Unmarshal(value, dst); err != nil {
		var typeErr *json.UnmarshalTypeError
		var syntaxErr *json.SyntaxError
		switch {
		case errors.As(err, &typeErr) && typeErr.Field != "":
			return invalid(typeErr.Field, "wrong JSON type (%s, want %s)", typeErr.Value, jsonKind(typeErr.Type))
		case errors.As(err, &typeErr):
			return invalid("value", "JSON %s, want an object", typeErr.Value)
		case errors.As(err, &syntaxErr):
			return invalid("value", "not JSON (%s at byte %d)", syntaxErr.Error(), syntaxErr.Offset)
		default:
			return invalid("value", "not JSON (%s)", oneLine(err.Error()))
		}
	}
	if firstNonSpace(value) != '{' {
		return invalid("value", "JSON null, want an object")
	}
	return nil
}

// jsonKind names the JSON type that decodes into t.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Struct:
		return "object"
	case reflect.Slice, reflect.Array:
		return "array"
	}
	return t.Kind().String()
}

// firstNonSpace returns the first byte of b that is not JSON white space.
func firstNonSpace(b []byte) byte {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return c
	}
	return 0
}

// oneLine cuts s at its first line break and to a bounded length.
func oneLine(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' || s[i] == '\r' {
			s = s[:i]
			break
		}
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// maxIDLen is the longest id (transaction, customer, account, consent).
const maxIDLen = 64

// checkCustomerID validates a customer id (CustomerID.Validate's rule) as
// the value of field, with an *InvalidError.
func checkCustomerID(field, v string) error {
	switch problem := customerIDProblem(v); problem {
	case "":
		return nil
	case "required":
		return invalid(field, "required")
	default:
		return invalid(field, "%s (%s)", problem, shown(v))
	}
}

// checkID validates a required id of 1–64 characters.
func checkID(field, v string) error {
	if v == "" || v == absent {
		return invalid(field, "required")
	}
	if n := utf8.RuneCountInString(v); n > maxIDLen {
		return invalid(field, "longer than %d characters (%s)", maxIDLen, shown(v))
	}
	return nil
}

// parseTime parses an RFC 3339 time and returns it in UTC. Go's parser
// takes a one-digit hour ("2026-03-04T1:15:00Z") that RFC 3339 and other
// readers refuse, so the date and time digits are checked first; an
// instant outside the years 0001-9999 in UTC (0000-01-01T00:00:00+00:10)
// has no RFC 3339 form in UTC and is refused too.
func parseTime(field, v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil || !rfc3339Digits(v) {
		return time.Time{}, invalid(field, "not RFC 3339 (%s)", shown(v))
	}
	if y := t.UTC().Year(); y < 1 || y > 9999 {
		return time.Time{}, invalid(field, "outside the years 0001-9999 in UTC (%s)", shown(v))
	}
	return t.UTC(), nil
}

// rfc3339Digits reports whether v starts with YYYY-MM-DDTHH:MM:SS, two
// digits each but the year's four.
func rfc3339Digits(v string) bool {
	const shape = "dddd-dd-ddTdd:dd:dd"
	if len(v) < len(shape) {
		return false
	}
	for i := range len(shape) {
		if c := v[i]; shape[i] == 'd' && (c < '0' || c > '9') || shape[i] != 'd' && c != shape[i] {
			return false
		}
	}
	return true
}

// parseOptionalTime parses an optional RFC 3339 time; absent gives zero.
func parseOptionalTime(field, v string) (time.Time, error) {
	if v == absent {
		return time.Time{}, nil
	}
	return parseTime(field, v)
}
