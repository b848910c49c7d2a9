package schemas

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

const exampleTransaction = `{"transaction_id":"T000123-00042","customer_id":"C000123","account_id":"A000123-1","booked_at":"2026-03-04T10:15:00Z","amount":"-12.34","currency":"GBP","status":"booked","type":"POS","description":"TESCO STORES 1234","merchant":{"name":"Tesco","category_code":"5411"},"balance_after":"1234.56"}`

const exampleConsent = `{"consent_id":"K-88","customer_id":"C000123","recipient":"partner:pds-one","status":"granted","categories":["transactions","merchant"],"window_from":"2026-01-01T00:00:00Z","window_to":null,"expires_at":"2027-01-01T00:00:00Z","event_time":"2026-10-01T12:00:00Z"}`

// FuzzFastPathMatchesEncodingJSON holds the fast path to its promise: what
// it decodes, encoding/json decodes to exactly the same, without error.
func FuzzFastPathMatchesEncodingJSON(f *testing.F) {
	for _, seed := range []string{
		exampleTransaction, exampleConsent,
		`{"x":[1,{"y":[true,false,null,-0.5e+3,"\u00e9\n"]}],"amount":"3","merchant":{"name":"é","z":{}}}`,
		`{"merchant":{"name":"a"},"merchant":null,"merchant":{"category_code":"1"}}`,
		`{"categories":["a"],"categories":null}`, `{"categories":[]}`, `{"Amount":"1"}`, `{"amount":"\"x\""}`,
		` { "status" : null , "type" : "" } `,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, value []byte) {
		if !utf8.Valid(value) {
			return // refused before either path
		}
		fast := newTransactionJSON()
		if fastTransaction(value, &fast) {
			ref := newTransactionJSON()
			if err := decodeJSON(value, &ref); err != nil || firstNonSpace(value) != '{' {
				t.Fatalf("fast path accepted %q; encoding/json: %v", value, err)
			}
			if fast != ref {
				t.Fatalf("transaction %q:\nfast %+v\nref  %+v", value, fast, ref)
			}
		} else if fast != newTransactionJSON() {
			t.Fatalf("fast path refused %q but changed the struct: %+v", value, fast)
		}

		fastC := newConsentJSON()
		if fastConsent(value, &fastC) {
			ref := newConsentJSON()
			if err := decodeJSON(value, &ref); err != nil || firstNonSpace(value) != '{' {
				t.Fatalf("fast path accepted %q; encoding/json: %v", value, err)
			}
			if !reflect.DeepEqual(fastC, ref) {
				t.Fatalf("consent %q:\nfast %#v\nref  %#v", value, fastC, ref)
			}
		} else if !reflect.DeepEqual(fastC, newConsentJSON()) {
			t.Fatalf("fast path refused %q but changed the struct: %+v", value, fastC)
		}
	})
}

func TestFastPathTakesTheUsualShapes(t *testing.T) {
	tests := []struct{ name, value string }{
		{"the contract example", exampleTransaction},
		{"white space everywhere", " {\n\t\"amount\" : \"1\" ,\r\n \"merchant\" : { \"name\" : \"x\" } } \n"},
		{"null fields", `{"type":null,"merchant":null,"balance_after":null}`},
		{"an empty object", `{}`},
		{"unknown fields of every JSON type", `{"a":1,"b":-0.5e-7,"c":true,"d":false,"e":null,"f":"\u00e9\"\\\/\b\f\n\r\t","g":[],"h":{},"i":[{"j":[1,{"k":null}]}]}`},
		{"an unknown field inside merchant", `{"merchant":{"name":"Tesco","chain":{"id":7}}}`},
		{"raw Unicode in a value", `{"description":"Café ☕ 寿司 🍕"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := newTransactionJSON()
			if !fastTransaction([]byte(tt.value), &in) {
				t.Fatalf("fast path refused %s", tt.value)
			}
		})
	}
	in := newConsentJSON()
	if !fastConsent([]byte(exampleConsent), &in) || len(in.Categories) != 2 || in.WindowTo != absent {
		t.Fatalf("fast path on the consent example: %+v", in)
	}
}

func TestFastPathLeavesTheUnusualToEncodingJSON(t *testing.T) {
	tests := []struct{ name, value string }{
		{"an escape in a known field", `{"description":"say \"hi\""}`},
		{"a unicode escape in a known field", `{"description":"caf\u00e9"}`},
		{"an escape in a key", `{"\u0061mount":"1"}`},
		{"a key matching a field only by case", `{"AMOUNT":"1"}`},
		{"a non-ASCII key", `{"amoünt":"1"}`},
		{"a number where a string belongs", `{"amount":12.34}`},
		{"a string where merchant's object belongs", `{"merchant":"Tesco"}`},
		{"a JSON null value", `null`},
		{"an array value", `[]`},
		{"trailing data", `{} {}`},
		{"a leading zero in an unknown number", `{"x":01}`},
		{"a bad literal", `{"x":nul}`},
		{"a bad escape in an unknown string", `{"x":"\q"}`},
		{"a raw control character", "{\"description\":\"a\tb\"}"},
		{"a missing colon", `{"amount" "1"}`},
		{"a trailing comma", `{"amount":"1",}`},
		{"deep nesting", `{"x":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`},
		{"too many fields", `{` + strings.Repeat(`"amount":"1",`, maxSpans) + `"amount":"1"}`},
		{"truncated input", `{"amount":"1`},
		{"a repeated field", `{"amount":"1","amount":"2"}`},
		{"a repeated merchant", `{"merchant":null,"merchant":{"name":"x"}}`},
		{"a repeated unknown name", `{"x":1,"x":2}`},
		{"a repeated unknown name inside merchant", `{"merchant":{"x":1,"x":2}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := newTransactionJSON()
			if fastTransaction([]byte(tt.value), &in) {
				t.Fatalf("fast path took %s", tt.value)
			}
			if in != newTransactionJSON() {
				t.Errorf("fast path changed the struct before giving up: %+v", in)
			}
		})
	}
	for _, v := range []string{`{"categories":[],"categories":[]}`, `{"actor":"ops","actor":"customer"}`, `{"Actor":"ops"}`, `{"categories":[null]}`, `{"categories":"transactions"}`, `{"categories":["a","b","c","d","e","f","g","h","i"]}`} {
		in := newConsentJSON()
		if fastConsent([]byte(v), &in) {
			t.Errorf("fast path took consent %s", v)
		}
	}
}

// BenchmarkDecodeTransactionPaths compares the fast path with the
// encoding/json path it falls back to, on the contract example.
func BenchmarkDecodeTransactionPaths(b *testing.B) {
	key, value := []byte("C000123"), []byte(exampleTransaction)
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			in := newTransactionJSON()
			if !fastTransaction(value, &in) {
				b.Fatal("fast path refused the example")
			}
			if _, err := validateTransaction(key, &in); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			in := newTransactionJSON()
			if err := decodeJSON(value, &in); err != nil {
				b.Fatal(err)
			}
			if _, err := validateTransaction(key, &in); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	})
}
