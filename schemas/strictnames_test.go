package schemas

import (
	"errors"
	"strings"
	"testing"
)

// The findings of the trust issue (3): encoding/json v1 folds names and
// keeps the last of two, so these were read as the values after the
// variant. Every one is now invalid, naming the field.
func TestStrictNamesRefuseRepeatsAndCaseVariants(t *testing.T) {
	tx := func(extra string) []byte {
		return []byte(strings.Replace(exampleTransaction, `"status":"booked",`, extra, 1))
	}
	txs := []struct {
		name, field string
		value       []byte
	}{
		{"a case variant of status (was read as pending)", "status", tx(`"status":"booked","STATUS":"pending",`)},
		{"a case variant of customer_id", "customer_id", []byte(strings.Replace(exampleTransaction, `"customer_id":"C000123"`, `"customer_id":"C000123","Customer_Id":"C999"`, 1))},
		{"a repeated status", "status", tx(`"status":"booked","status":"pending",`)},
		{"a repeat spelled with an escape", "status", tx(`"status":"booked","st\u0061tus":"pending",`)},
		{"a Unicode fold of status (long s)", "status", tx(`"status":"booked","ſtatus":"pending",`)},
		{"a case variant inside merchant", "merchant.name", []byte(strings.Replace(exampleTransaction, `"name":"Tesco"`, `"name":"Tesco","NAME":"Other"`, 1))},
		{"a repeated merchant", "merchant", []byte(strings.Replace(exampleTransaction, `"merchant":{`, `"merchant":null,"merchant":{`, 1))},
		{"a repeated unknown name", "value", []byte(strings.Replace(exampleTransaction, `{`, `{"x":1,"x":2,`, 1))},
	}
	for _, tt := range txs {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeTransaction([]byte("C000123"), tt.value)
			var inv *InvalidError
			if !errors.As(err, &inv) || inv.Field != tt.field {
				t.Fatalf("DecodeTransaction(%s) = %v, want an invalid %s", tt.value, err, tt.field)
			}
		})
	}

	// The finding itself: revoked, then a case variant saying granted.
	revoked := strings.Replace(exampleConsent, `"status":"granted"`, `"status":"revoked"`, 1)
	for _, v := range []string{
		strings.Replace(revoked, `"status":"revoked"`, `"status":"revoked","Status":"granted"`, 1),
		strings.Replace(revoked, `"status":"revoked"`, `"status":"revoked","status":"granted"`, 1),
		strings.Replace(revoked, `{`, `{"CATEGORIES":["transactions"],`, 1),
	} {
		ev, _, err := DecodeConsentEvent([]byte("C000123|partner:pds-one"), []byte(v))
		var inv *InvalidError
		if !errors.As(err, &inv) {
			t.Errorf("DecodeConsentEvent(%s) = %+v, %v; want invalid", v, ev, err)
		}
	}

	// An exact name spelled with an escape is that name, once: valid.
	if tr, err := DecodeTransaction([]byte("C000123"), tx(`"st\u0061tus":"pending",`)); err != nil || tr.Status != StatusPending {
		t.Errorf("an escaped status: %+v, %v; want pending", tr, err)
	}
	// Unknown names that are no variant of a field stay ignored.
	if _, err := DecodeTransaction([]byte("C000123"), tx(`"status":"booked","statuses":"x","Note":1,`)); err != nil {
		t.Errorf("unknown names: %v", err)
	}
}

// Times that Go's parser takes but RFC 3339 (and Python, Jackson) do not:
// a one-digit hour; and an instant before year 1 in UTC, which could not
// be written back (FuzzDecodeTransaction found 0000-01-01T0:00:00+00:10).
func TestBookedAtIsStrictRFC3339(t *testing.T) {
	for _, v := range []string{"2026-03-04T1:15:00Z", "0000-01-01T0:00:00+00:10", "0000-01-01T00:00:00+00:10", "2026-03-04 10:15:00Z"} {
		value := strings.Replace(exampleTransaction, `"2026-03-04T10:15:00Z"`, `"`+v+`"`, 1)
		_, err := DecodeTransaction([]byte("C000123"), []byte(value))
		var inv *InvalidError
		if !errors.As(err, &inv) || inv.Field != "booked_at" {
			t.Errorf("booked_at %q: %v, want invalid booked_at", v, err)
		}
	}
	for _, v := range []string{"2026-03-04T10:15:00Z", "2026-03-04T10:15:00.123456789+01:00", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"} {
		value := strings.Replace(exampleTransaction, `"2026-03-04T10:15:00Z"`, `"`+v+`"`, 1)
		if _, err := DecodeTransaction([]byte("C000123"), []byte(value)); err != nil {
			t.Errorf("booked_at %q: %v, want valid", v, err)
		}
	}
}
