package consentscan

import (
	"strings"
	"testing"
	"time"

	"github.com/midata/midata/schemas"
)

const (
	exampleKey = "C000123|partner:pds-one"
	// example is the contract's example event.
	example = `{"consent_id":"K-88","customer_id":"C000123","recipient":"partner:pds-one","status":"granted","categories":["transactions","merchant"],"window_from":"2026-01-01T00:00:00Z","window_to":null,"expires_at":"2027-01-01T00:00:00Z","event_time":"2026-10-01T12:00:00Z"}`
	// benchShape is an event as the consent view's benchmark writes them.
	benchShape = `{"consent_id":"K-000123","customer_id":"C000123","recipient":"partner:pds-one","status":"granted","categories":["transactions","balances","merchant"],"window_from":"2025-01-01T00:00:00Z","window_to":"2027-01-01T00:00:00Z","expires_at":"2026-12-31T23:59:59Z","event_time":"2026-01-15T12:02:03Z"}`
)

// sameEvent compares an event of Scan with one of DecodeConsentEvent, times
// as instants in UTC, zero or not alike.
func sameEvent(a, b schemas.ConsentEvent) bool {
	sameTime := func(x, y time.Time) bool {
		return x.Equal(y) && x.IsZero() == y.IsZero() && x.Location() == time.UTC && y.Location() == time.UTC
	}
	return a.ConsentID == b.ConsentID && a.CustomerID == b.CustomerID && a.Recipient == b.Recipient &&
		a.Status == b.Status && a.Categories == b.Categories &&
		sameTime(a.WindowFrom, b.WindowFrom) && sameTime(a.WindowTo, b.WindowTo) &&
		sameTime(a.ExpiresAt, b.ExpiresAt) && sameTime(a.EventTime, b.EventTime)
}

// checkAgainstStrict fails t when Scan takes key and value and
// schemas.DecodeConsentEvent does not decode them to the same event; it
// reports whether Scan took them.
func checkAgainstStrict(t *testing.T, key, value []byte) bool {
	t.Helper()
	var ev Event
	if !Scan(key, value, &ev) {
		return false
	}
	want, tombstone, err := schemas.DecodeConsentEvent(key, value)
	if err != nil || tombstone {
		t.Fatalf("Scan took %q %q; DecodeConsentEvent: tombstone %v, %v", key, value, tombstone, err)
	}
	if got := ev.ConsentEvent(key); !sameEvent(got, want) {
		t.Fatalf("%q %q:\nScan                %+v\nDecodeConsentEvent  %+v", key, value, got, want)
	}
	return true
}

// usual are events of the shapes the fast path is for.
var usual = []struct{ name, key, value string }{
	{"the contract example", exampleKey, example},
	{"the benchmark's shape", exampleKey, benchShape},
	{"self, revoked, no categories", "C1|self", `{"consent_id":"K","customer_id":"C1","recipient":"self","status":"revoked","event_time":"2026-10-01T12:00:00Z"}`},
	{"null categories and times", "C1|self", `{"consent_id":"K","customer_id":"C1","recipient":"self","status":"granted","categories":null,"window_from":null,"window_to":null,"expires_at":null,"event_time":"2026-10-01T12:00:00Z"}`},
	{"empty categories", "C1|self", `{"consent_id":"K","customer_id":"C1","recipient":"self","status":"granted","categories":[],"event_time":"2026-10-01T12:00:00Z"}`},
	{"a category twice", "C1|self", `{"consent_id":"K","customer_id":"C1","recipient":"self","status":"granted","categories":["transactions","transactions"],"event_time":"2026-10-01T12:00:00Z"}`},
	{"fractions of a second", "a.b_c-D|partner:x.y_z-0", `{"consent_id":"K","customer_id":"a.b_c-D","recipient":"partner:x.y_z-0","status":"granted","window_from":"2026-01-01T00:00:00.000000001Z","window_to":"2026-01-01T00:00:00.1Z","event_time":"2026-10-01T12:00:00.123456789Z"}`},
	{"white space, fields in another order", exampleKey, " {\n\t\"event_time\" : \"2026-10-01T12:00:00Z\" ,\r\n \"status\":\"granted\", \"recipient\":\"partner:pds-one\",\"customer_id\":\"C000123\",\"consent_id\":\"K\" , \"categories\" : [ \"balances\" , \"merchant\" ] } \n"},
	{"unknown fields and an actor", exampleKey, `{"x":1,"y":{"z":[true,null,"\u00e9"]},"actor":{"who":"customer"},"consent_id":"K","customer_id":"C000123","recipient":"partner:pds-one","status":"granted","event_time":"2026-10-01T12:00:00Z"}`},
	{"a unicode consent id of 64 characters", exampleKey, `{"consent_id":"` + strings.Repeat("é", 64) + `","customer_id":"C000123","recipient":"partner:pds-one","status":"granted","event_time":"2026-10-01T12:00:00Z"}`},
	{"leap day, the first and last instants", exampleKey, `{"consent_id":"K","customer_id":"C000123","recipient":"partner:pds-one","status":"granted","window_from":"0001-01-01T00:00:00Z","window_to":"2024-02-29T23:59:59Z","expires_at":"9999-12-31T23:59:59.999999999Z","event_time":"2000-02-29T00:00:00Z"}`},
	{"before 1970", exampleKey, `{"consent_id":"K","customer_id":"C000123","recipient":"partner:pds-one","status":"granted","window_from":"1969-12-31T23:59:59.5Z","window_to":"1970-01-01T00:00:00Z","event_time":"1900-03-01T00:00:00Z"}`},
}

func TestScanTakesTheUsualShapes(t *testing.T) {
	for _, tt := range usual {
		t.Run(tt.name, func(t *testing.T) {
			if !checkAgainstStrict(t, []byte(tt.key), []byte(tt.value)) {
				t.Fatalf("Scan refused %s", tt.value)
			}
		})
	}
}

func TestScanReadsTheExample(t *testing.T) {
	var ev Event
	if !Scan([]byte(exampleKey), []byte(example), &ev) {
		t.Fatal("Scan refused the contract example")
	}
	want := Event{ConsentID: []byte("K-88"), CustomerLen: len("C000123"), Status: schemas.ConsentGranted,
		Categories: schemas.Transactions | schemas.Merchant, WindowFrom: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		ExpiresAt: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), EventTime: time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)}
	if string(ev.ConsentID) != string(want.ConsentID) || ev.CustomerLen != want.CustomerLen || ev.Status != want.Status ||
		ev.Categories != want.Categories || !ev.WindowFrom.Equal(want.WindowFrom) || !ev.WindowTo.IsZero() ||
		!ev.ExpiresAt.Equal(want.ExpiresAt) || !ev.EventTime.Equal(want.EventTime) {
		t.Fatalf("Scan read %+v, want %+v", ev, want)
	}
}

// unusual are inputs the fast path leaves to schemas: invalid events,
// tombstones, and valid events of a shape it does not read.
var unusual = []struct{ name, key, value string }{
	{"a tombstone", exampleKey, ""},
	{"null", exampleKey, "null"},
	{"an array", exampleKey, "[]"},
	{"no separator in the key", "C000123", example},
	{"an empty customer id", "|self", example},
	{"a customer id of 65 characters", strings.Repeat("C", 65) + "|self", example},
	{"a customer id with a space", "C 1|self", example},
	{"an upper-case partner", "C000123|partner:PDS", example},
	{"an empty partner", "C000123|partner:", example},
	{"another recipient", "C000123|bob", example},
	{"the key's customer differs", "C000124|partner:pds-one", example},
	{"the key's recipient differs", "C000123|self", example},
	{"invalid UTF-8", exampleKey, strings.Replace(example, "K-88", "K-\xff", 1)},
	{"an escaped consent id", exampleKey, strings.Replace(example, "K-88", `K-\u0038`, 1)},
	{"an escaped name", exampleKey, strings.Replace(example, `"status"`, `"st\u0061tus"`, 1)},
	{"a name folded onto a field", exampleKey, strings.Replace(example, `{`, `{"Status":"revoked",`, 1)},
	{"a non-ASCII name", exampleKey, strings.Replace(example, `{`, `{"ſtatus":"revoked",`, 1)},
	{"a repeated field", exampleKey, strings.Replace(example, `{`, `{"status":"revoked",`, 1)},
	{"a repeated unknown name", exampleKey, strings.Replace(example, `{`, `{"x":1,"x":2,`, 1)},
	{"a repeated actor", exampleKey, strings.Replace(example, `{`, `{"actor":1,"actor":2,`, 1)},
	{"no consent id", exampleKey, strings.Replace(example, `"consent_id":"K-88"`, `"consent_id":null`, 1)},
	{"an empty consent id", exampleKey, strings.Replace(example, `"K-88"`, `""`, 1)},
	{"a consent id of 65 characters", exampleKey, strings.Replace(example, `"K-88"`, `"`+strings.Repeat("é", 65)+`"`, 1)},
	{"no status", exampleKey, strings.Replace(example, `"status":"granted",`, ``, 1)},
	{"another status", exampleKey, strings.Replace(example, `"granted"`, `"Granted"`, 1)},
	{"a number status", exampleKey, strings.Replace(example, `"granted"`, `1`, 1)},
	{"an unknown category", exampleKey, strings.Replace(example, `"merchant"]`, `"merchants"]`, 1)},
	{"a category of another type", exampleKey, strings.Replace(example, `"merchant"]`, `1]`, 1)},
	{"categories not an array", exampleKey, strings.Replace(example, `["transactions","merchant"]`, `"transactions"`, 1)},
	{"no event time", exampleKey, strings.Replace(example, `,"event_time":"2026-10-01T12:00:00Z"`, ``, 1)},
	{"an offset", exampleKey, strings.Replace(example, `2026-10-01T12:00:00Z`, `2026-10-01T12:00:00+02:00`, 1)},
	{"a lower-case z", exampleKey, strings.Replace(example, `2026-10-01T12:00:00Z`, `2026-10-01T12:00:00z`, 1)},
	{"a one-digit hour", exampleKey, strings.Replace(example, `2026-10-01T12:00:00Z`, `2026-10-01T1:00:00Z`, 1)},
	{"February 29 of a common year", exampleKey, strings.Replace(example, `2026-10-01T12:00:00Z`, `2026-02-29T12:00:00Z`, 1)},
	{"a leap second", exampleKey, strings.Replace(example, `2026-10-01T12:00:00Z`, `2026-12-31T23:59:60Z`, 1)},
	{"hour 24", exampleKey, strings.Replace(example, `2026-10-01T12:00:00Z`, `2026-10-01T24:00:00Z`, 1)},
	{"year 0", exampleKey, strings.Replace(example, `2026-10-01T12:00:00Z`, `0000-10-01T12:00:00Z`, 1)},
	{"ten digits of fraction", exampleKey, strings.Replace(example, `2026-10-01T12:00:00Z`, `2026-10-01T12:00:00.1234567890Z`, 1)},
	{"an empty fraction", exampleKey, strings.Replace(example, `2026-10-01T12:00:00Z`, `2026-10-01T12:00:00.Z`, 1)},
	{"an empty window", exampleKey, strings.Replace(example, `"window_to":null`, `"window_to":"2026-01-01T00:00:00Z"`, 1)},
	{"text after the object", exampleKey, example + "{}"},
	{"a trailing comma", exampleKey, strings.Replace(example, `}`, `,}`, 1)},
	{"a byte order mark", exampleKey, "\uFEFF" + example},
}

func TestScanLeavesTheUnusualToSchemas(t *testing.T) {
	for _, tt := range unusual {
		t.Run(tt.name, func(t *testing.T) {
			if checkAgainstStrict(t, []byte(tt.key), []byte(tt.value)) {
				t.Fatalf("Scan took %q %q", tt.key, tt.value)
			}
		})
	}
}

func TestScanDoesNotAllocate(t *testing.T) {
	key, value := []byte(exampleKey), []byte(benchShape)
	var ev Event
	allocs := testing.AllocsPerRun(100, func() {
		if !Scan(key, value, &ev) {
			t.Fatal("Scan refused the benchmark's shape")
		}
	})
	if allocs != 0 {
		t.Fatalf("Scan allocates %v times per event", allocs)
	}
}

// FuzzScanMatchesDecodeConsentEvent holds Scan to its promise: what it
// takes, schemas.DecodeConsentEvent accepts and decodes to the same event.
// The seed corpus is in testdata/fuzz/FuzzScanMatchesDecodeConsentEvent,
// with the usual and unusual cases of the tests above.
func FuzzScanMatchesDecodeConsentEvent(f *testing.F) {
	for _, tt := range usual {
		f.Add([]byte(tt.key), []byte(tt.value))
	}
	for _, tt := range unusual {
		f.Add([]byte(tt.key), []byte(tt.value))
	}
	f.Fuzz(func(t *testing.T, key, value []byte) {
		checkAgainstStrict(t, key, value)
	})
}

func BenchmarkScan(b *testing.B) {
	key, value := []byte(exampleKey), []byte(benchShape)
	var ev Event
	for b.Loop() {
		Scan(key, value, &ev)
	}
}

func BenchmarkDecodeConsentEvent(b *testing.B) {
	key, value := []byte(exampleKey), []byte(benchShape)
	for b.Loop() {
		_, _, _ = schemas.DecodeConsentEvent(key, value)
	}
}
