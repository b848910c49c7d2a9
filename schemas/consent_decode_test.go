package schemas_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/midata/midata/schemas"
)

const consentKey = "C000123|partner:pds-one"

// validConsent is the example event of the input contract as a map.
func validConsent() map[string]any {
	return map[string]any{
		"consent_id":  "K-88",
		"customer_id": "C000123",
		"recipient":   "partner:pds-one",
		"status":      "granted",
		"categories":  []any{"transactions", "merchant"},
		"window_from": "2026-01-01T00:00:00Z",
		"window_to":   nil,
		"expires_at":  "2027-01-01T00:00:00Z",
		"event_time":  "2026-10-01T12:00:00Z",
	}
}

func consentJSON(t *testing.T, change func(m map[string]any)) []byte {
	t.Helper()
	m := validConsent()
	if change != nil {
		change(m)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatalf("marshal test event: %v", err)
	}
	return b
}

func TestDecodeConsentEventAcceptsTheContractExample(t *testing.T) {
	value := []byte(`{"consent_id":"K-88","customer_id":"C000123","recipient":"partner:pds-one","status":"granted",
 "categories":["transactions","merchant"],"window_from":"2026-01-01T00:00:00Z",
 "window_to":null,"expires_at":"2027-01-01T00:00:00Z","event_time":"2026-10-01T12:00:00Z"}`)
	got, tombstone, err := schemas.DecodeConsentEvent([]byte(consentKey), value)
	if err != nil {
		t.Fatalf("DecodeConsentEvent: %v", err)
	}
	if tombstone {
		t.Fatal("tombstone = true for an event with a value")
	}
	want := schemas.ConsentEvent{
		ConsentID:  "K-88",
		CustomerID: "C000123",
		Recipient:  "partner:pds-one",
		Status:     schemas.ConsentGranted,
		Categories: schemas.Transactions | schemas.Merchant,
		WindowFrom: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		ExpiresAt:  time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC),
		EventTime:  time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC),
	}
	if got != want {
		t.Errorf("DecodeConsentEvent =\n%+v\nwant\n%+v", got, want)
	}
}

func TestDecodeConsentEventReadsATombstoneFromTheKey(t *testing.T) {
	for _, value := range [][]byte{nil, {}} {
		got, tombstone, err := schemas.DecodeConsentEvent([]byte("C000123|self"), value)
		if err != nil {
			t.Fatalf("DecodeConsentEvent(tombstone %q): %v", value, err)
		}
		if !tombstone {
			t.Errorf("tombstone = false for value %q", value)
		}
		if want := (schemas.ConsentEvent{CustomerID: "C000123", Recipient: "self"}); got != want {
			t.Errorf("event = %+v, want %+v", got, want)
		}
	}
}

func TestDecodeConsentEventAcceptsEveryValidVariant(t *testing.T) {
	tests := []struct {
		name   string
		key    string
		change func(m map[string]any)
		check  func(t *testing.T, got schemas.ConsentEvent)
	}{
		{"a self grant with all categories and no window", "C000123|self", func(m map[string]any) {
			m["recipient"] = "self"
			m["categories"] = []any{"transactions", "balances", "merchant"}
			delete(m, "window_from")
			delete(m, "window_to")
			delete(m, "expires_at")
		}, func(t *testing.T, got schemas.ConsentEvent) {
			if got.Categories != schemas.AllCategories || !got.WindowFrom.IsZero() || !got.WindowTo.IsZero() || !got.ExpiresAt.IsZero() {
				t.Errorf("event = %+v", got)
			}
		}},
		{"a revocation without categories", consentKey, func(m map[string]any) {
			m["status"] = "revoked"
			delete(m, "categories")
		}, func(t *testing.T, got schemas.ConsentEvent) {
			if got.Status != schemas.ConsentRevoked || got.Categories != 0 {
				t.Errorf("event = %+v", got)
			}
		}},
		{"null categories mean none", consentKey, func(m map[string]any) { m["categories"] = nil }, func(t *testing.T, got schemas.ConsentEvent) {
			if got.Categories != 0 {
				t.Errorf("Categories = %v", got.Categories)
			}
		}},
		{"a repeated category counts once", consentKey, func(m map[string]any) { m["categories"] = []any{"balances", "balances"} }, func(t *testing.T, got schemas.ConsentEvent) {
			if got.Categories != schemas.Balances {
				t.Errorf("Categories = %v", got.Categories)
			}
		}},
		{"a closed window with offsets is kept in UTC", consentKey, func(m map[string]any) {
			m["window_from"] = "2026-04-01T01:00:00+01:00"
			m["window_to"] = "2026-07-01T00:00:00Z"
		}, func(t *testing.T, got schemas.ConsentEvent) {
			if !got.WindowFrom.Equal(time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)) || got.WindowFrom.Location() != time.UTC {
				t.Errorf("WindowFrom = %v", got.WindowFrom)
			}
			if !got.WindowTo.Equal(time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)) {
				t.Errorf("WindowTo = %v", got.WindowTo)
			}
		}},
		{"an open-ended window from the start", consentKey, func(m map[string]any) { m["window_from"] = nil; m["window_to"] = "2026-07-01T00:00:00Z" }, nil},
		{"a partner id with dots, digits and dashes", "C1|partner:pds.one_2-b", func(m map[string]any) {
			m["customer_id"], m["recipient"] = "C1", "partner:pds.one_2-b"
		}, nil},
		{"unknown fields are ignored", consentKey, func(m map[string]any) { m["channel"] = "app" }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, tombstone, err := schemas.DecodeConsentEvent([]byte(tt.key), consentJSON(t, tt.change))
			if err != nil {
				t.Fatalf("DecodeConsentEvent: %v", err)
			}
			if tombstone {
				t.Error("tombstone = true")
			}
			if tt.check != nil {
				tt.check(t, got)
			}
		})
	}
}

func TestDecodeConsentEventRejectsEveryBrokenRule(t *testing.T) {
	tests := []struct {
		name      string
		key       string
		value     []byte
		change    func(m map[string]any)
		field     string
		inMessage string
	}{
		{name: "a key without a bar is invalid", key: "C000123", value: nil, field: "key", inMessage: "not customer_id|recipient"},
		{name: "a key with a bad customer id is invalid", key: "C 1|self", value: nil, field: "key", inMessage: "customer id"},
		{name: "a key with an empty customer id is invalid", key: "|self", value: nil, field: "key", inMessage: "customer id"},
		{name: "a key with an unknown recipient kind is invalid", key: "C000123|bank:x", value: nil, field: "key", inMessage: "recipient"},
		{name: "a key with an empty partner id is invalid", key: "C000123|partner:", value: nil, field: "key", inMessage: "recipient"},
		{name: "a key with an upper-case partner id is invalid", key: "C000123|partner:PDS", value: nil, field: "key", inMessage: "recipient"},
		{name: "a key with a 65-character partner id is invalid", key: "C000123|partner:" + strings.Repeat("p", 65), value: nil, field: "key", inMessage: "recipient"},
		{name: "a key with a second bar is invalid", key: "C000123|self|x", value: nil, field: "key", inMessage: "recipient"},

		{name: "a JSON null is invalid", key: consentKey, value: []byte("null"), field: "value", inMessage: "null"},
		{name: "non-JSON is invalid", key: consentKey, value: []byte("granted"), field: "value", inMessage: "not JSON"},

		{name: "a missing consent id is invalid", key: consentKey, change: func(m map[string]any) { delete(m, "consent_id") }, field: "consent_id", inMessage: "required"},
		{name: "a consent id of 65 characters is invalid", key: consentKey, change: func(m map[string]any) { m["consent_id"] = strings.Repeat("k", 65) }, field: "consent_id", inMessage: "longer than 64"},
		{name: "a missing customer id is invalid", key: consentKey, change: func(m map[string]any) { delete(m, "customer_id") }, field: "customer_id", inMessage: "required"},
		{name: "a customer id other than the key's is invalid", key: consentKey, change: func(m map[string]any) { m["customer_id"] = "C000999" }, field: "customer_id", inMessage: `"C000999" differs from the key's customer "C000123"`},
		{name: "a missing recipient is invalid", key: consentKey, change: func(m map[string]any) { delete(m, "recipient") }, field: "recipient", inMessage: "required"},
		{name: "a recipient other than the key's is invalid", key: consentKey, change: func(m map[string]any) { m["recipient"] = "partner:pds-two" }, field: "recipient", inMessage: "differs from the key's recipient"},
		{name: "a missing status is invalid", key: consentKey, change: func(m map[string]any) { delete(m, "status") }, field: "status", inMessage: "required"},
		{name: "an unknown status is invalid", key: consentKey, change: func(m map[string]any) { m["status"] = "paused" }, field: "status", inMessage: `not granted or revoked ("paused")`},
		{name: "an unknown category is invalid", key: consentKey, change: func(m map[string]any) { m["categories"] = []any{"transactions", "location"} }, field: "categories", inMessage: `unknown category "location"`},
		{name: "a category that is not a string is invalid", key: consentKey, change: func(m map[string]any) { m["categories"] = []any{1} }, field: "categories", inMessage: "wrong JSON type"},
		{name: "categories as one string are invalid", key: consentKey, change: func(m map[string]any) { m["categories"] = "transactions" }, field: "categories", inMessage: "wrong JSON type (string, want array)"},
		{name: "a null category is invalid", key: consentKey, change: func(m map[string]any) { m["categories"] = []any{nil} }, field: "categories", inMessage: "unknown category"},
		{name: "a bad window start is invalid", key: consentKey, change: func(m map[string]any) { m["window_from"] = "2026-01-01" }, field: "window_from", inMessage: "not RFC 3339"},
		{name: "a bad window end is invalid", key: consentKey, change: func(m map[string]any) { m["window_to"] = "soon" }, field: "window_to", inMessage: "not RFC 3339"},
		{name: "a window that ends before it starts is invalid", key: consentKey, change: func(m map[string]any) { m["window_to"] = "2025-12-31T00:00:00Z" }, field: "window_to", inMessage: "not after window_from"},
		{name: "an empty window is invalid", key: consentKey, change: func(m map[string]any) { m["window_to"] = "2026-01-01T00:00:00Z" }, field: "window_to", inMessage: "not after window_from"},
		{name: "a bad expiry is invalid", key: consentKey, change: func(m map[string]any) { m["expires_at"] = "2027-02-30T00:00:00Z" }, field: "expires_at", inMessage: "not RFC 3339"},
		{name: "a missing event time is invalid", key: consentKey, change: func(m map[string]any) { delete(m, "event_time") }, field: "event_time", inMessage: "required"},
		{name: "a null event time is invalid", key: consentKey, change: func(m map[string]any) { m["event_time"] = nil }, field: "event_time", inMessage: "required"},
		{name: "a bad event time is invalid", key: consentKey, change: func(m map[string]any) { m["event_time"] = "yesterday" }, field: "event_time", inMessage: "not RFC 3339"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			value := tt.value
			if tt.change != nil {
				value = consentJSON(t, tt.change)
			}
			_, tombstone, err := schemas.DecodeConsentEvent([]byte(tt.key), value)
			if tombstone {
				t.Error("tombstone = true for an invalid event")
			}
			assertInvalid(t, err, tt.field, tt.inMessage)
		})
	}
}
