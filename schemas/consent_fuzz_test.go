package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzDecodeConsentEventStrict holds DecodeConsentEvent to what
// FuzzDecodeConsentEvent (the shape of an accepted event) leaves out:
//
//   - the two paths agree: the same value with an unknown field in front
//     that the fast path never takes (an escaped name) is accepted or
//     refused alike, refused on the same field, and decodes to the same
//     event; and what the fast path takes, the slow path's name check
//     passes and encoding/json reads alike;
//   - an accepted event has a valid key, recipient and status, and its
//     contract form (as the consent recorder writes events) decodes to
//     the same event;
//   - strict names: a value whose object has a name twice, or a name that
//     folds onto a contract field without equalling it, is never accepted;
//     and an accepted event written again with a field repeated or with a
//     field's name case-folded ("STATUS", "ſtatus") is refused as an
//     invalid value of that very field.
//
// The seed corpus is in testdata/fuzz/FuzzDecodeConsentEventStrict.
func FuzzDecodeConsentEventStrict(f *testing.F) {
	revoked := strings.Replace(exampleConsent, `"status":"granted"`, `"status":"revoked"`, 1)
	for _, seed := range []struct{ key, value string }{
		{"C000123|partner:pds-one", exampleConsent},
		{"C000123|partner:pds-one", revoked},
		{"C000123|partner:pds-one", strings.Replace(revoked, `"status":"revoked"`, `"status":"revoked","Status":"granted"`, 1)},
		{"C000123|partner:pds-one", strings.Replace(revoked, `"status":"revoked"`, `"status":"revoked","ſtatus":"granted"`, 1)},
		{"C000123|partner:pds-one", strings.Replace(revoked, `"status":"revoked"`, `"status":"revoked","st\u0061tus":"granted"`, 1)},
		{"C000123|partner:pds-one", strings.Replace(exampleConsent, `"categories"`, `"categories":[],"categories"`, 1)},
		{"C000123|partner:pds-one", strings.Replace(exampleConsent, `{`, `{"actor":"customer","Actor":"ops",`, 1)},
		{"C000123|partner:pds-one", strings.Replace(exampleConsent, `{`, `{"x":1,"x":{"y":[1,2]},`, 1)},
		{"C1|self", `{"consent_id":"K-1","customer_id":"C1","recipient":"self","status":"granted","categories":null,"actor":{"who":["customer"]},"event_time":"2026-10-01T12:00:00.123456789+05:30"}`},
		{"C1|self", ` {"consent_id":"K\u00e9","customer_id":"C1","recipient":"self","status":"revoked","event_time":"2026-03-29T01:30:00-00:00"} `},
		{"C1|self", `{"consent_id":"K","customer_id":"C1","recipient":"self","status":"granted","categories":["transactions","transactions"],"window_from":"2026-01-01T00:00:00Z","window_to":"2026-01-01T00:00:00.000000001Z","event_time":"2026-10-01T12:00:00Z"}`},
		{"C1|self", `{"consent_id":"K","customer_id":"C1","recipient":"self","status":"granted","event_time":"2026-10-01T12:00:00Z"}{}`},
		{"C1|self", `null`},
		{"C1|self", ``},
	} {
		f.Add([]byte(seed.key), []byte(seed.value))
	}
	f.Fuzz(func(t *testing.T, key, value []byte) {
		ev, tombstone, err := DecodeConsentEvent(key, value)
		if err != nil {
			var inv *InvalidError
			if !errors.As(err, &inv) {
				t.Fatalf("error %v is %T, want *InvalidError", err, err)
			}
		}
		if err == nil {
			if got := ConsentKey(ev.CustomerID, ev.Recipient); got != string(key) {
				t.Fatalf("key %q accepted as %q", key, got)
			}
			if err := ev.Recipient.Validate(); err != nil {
				t.Fatalf("accepted recipient: %v", err)
			}
			if err := CustomerID(ev.CustomerID).Validate(); err != nil {
				t.Fatalf("accepted customer id: %v", err)
			}
		}
		if tombstone || len(value) == 0 {
			return
		}
		if err == nil {
			if ev.Status != ConsentGranted && ev.Status != ConsentRevoked {
				t.Fatalf("accepted status %q", ev.Status)
			}
			again, _, err := DecodeConsentEvent(key, contractForm(ev).json())
			if err != nil || !sameConsent(again, ev) {
				t.Fatalf("the contract form of %+v decodes to %+v, %v", ev, again, err)
			}
			checkStrictVariants(t, key, ev, len(value))
		}

		names, isObject := topLevelNames(value)

		// Strict names, on the input itself.
		if err == nil && isObject {
			seen := map[string]bool{}
			for _, n := range names {
				if seen[n] {
					t.Fatalf("accepted %q, which has the name %q twice", value, n)
				}
				seen[n] = true
				for _, field := range consentNames.fields {
					if n != field && strings.EqualFold(n, field) {
						t.Fatalf("accepted %q, whose name %q folds onto %s", value, n, field)
					}
				}
			}
		}

		// The fast path only takes what the slow path reads alike.
		if utf8.Valid(value) {
			fast := newConsentJSON()
			if fastConsent(value, &fast) {
				if err := checkNames(value, consentNames); err != nil {
					t.Fatalf("fast path took %q, which strict names refuse: %v", value, err)
				}
			}
		}

		// The same value on the slow path.
		slowed, ok := onTheSlowPath(value)
		if !ok || hasName(names, slowName) {
			return
		}
		if in := newConsentJSON(); fastConsent(slowed, &in) {
			t.Fatalf("fast path took %q", slowed)
		}
		evSlow, _, errSlow := DecodeConsentEvent(key, slowed)
		switch {
		case (err == nil) != (errSlow == nil):
			t.Fatalf("%q: %v; on the slow path %v", value, err, errSlow)
		case err == nil && !sameConsent(ev, evSlow):
			t.Fatalf("%q decodes to\n%+v\non the slow path to\n%+v", value, ev, evSlow)
		case err != nil:
			var a, b *InvalidError
			errors.As(err, &a)
			errors.As(errSlow, &b)
			if a.Field != b.Field {
				t.Fatalf("%q refused on %s (%v); on the slow path on %s (%v)", value, a.Field, err, b.Field, errSlow)
			}
		}
	})
}

// slowName is the name of the field onTheSlowPath adds.
const slowName = "\x00slow path"

// onTheSlowPath returns value with a field named slowName, spelled with an
// escape, put first in its object: the fast path gives up on any escaped
// name, and the field changes nothing else (it is unknown). False when
// value is not an object.
func onTheSlowPath(value []byte) ([]byte, bool) {
	i := 0
	for i < len(value) && strings.IndexByte(" \t\r\n", value[i]) >= 0 {
		i++
	}
	if i == len(value) || value[i] != '{' {
		return nil, false
	}
	rest := value[i+1:]
	field := `"\u0000slow path":0`
	if firstNonSpace(rest) != '}' {
		field += ","
	}
	out := append([]byte{}, value[:i+1]...)
	out = append(out, field...)
	return append(out, rest...), true
}

// topLevelNames returns the names of the object value holds, in order, as
// encoding/json's tokenizer reads them (escapes decoded); isObject is
// false when value is not one whole JSON object.
func topLevelNames(value []byte) (names []string, isObject bool) {
	if !utf8.Valid(value) || !json.Valid(value) {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(value))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, false
		}
		name, _ := tok.(string)
		names = append(names, name)
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, false
		}
	}
	return names, true
}

func hasName(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// consentMember is one name and its JSON value, in the order written.
type consentMember struct{ name, raw string }

// consentObject is a JSON object as its members in order, so that a test
// can write a name twice or spell it otherwise.
type consentObject []consentMember

func (o consentObject) json() []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		name, _ := json.Marshal(m.name)
		b.Write(name)
		b.WriteByte(':')
		b.WriteString(m.raw)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// contractForm writes ev in the input contract, as the consent recorder
// does (pipeline/consent: eventJSON), with actor customer.
func contractForm(ev ConsentEvent) consentObject {
	str := func(s string) string {
		b, _ := json.Marshal(s)
		return string(b)
	}
	at := func(t time.Time) string {
		if t.IsZero() {
			return "null"
		}
		return str(t.UTC().Format(time.RFC3339Nano))
	}
	cats, _ := json.Marshal(ev.Categories.Names())
	return consentObject{
		{"consent_id", str(ev.ConsentID)},
		{"customer_id", str(ev.CustomerID)},
		{"recipient", str(string(ev.Recipient))},
		{"status", str(string(ev.Status))},
		{"categories", string(cats)},
		{"window_from", at(ev.WindowFrom)},
		{"window_to", at(ev.WindowTo)},
		{"expires_at", at(ev.ExpiresAt)},
		{"event_time", at(ev.EventTime)},
		{"actor", str("customer")},
	}
}

// checkStrictVariants writes the accepted ev again with one field (chosen
// by pick) repeated, repeated with its name spelled with an escape, and
// with its name folded, and wants each refused as an invalid value of that
// very field.
func checkStrictVariants(t *testing.T, key []byte, ev ConsentEvent, pick int) {
	t.Helper()
	o := contractForm(ev)
	m := o[pick%len(o)]
	variants := map[string][]byte{
		"repeated":           append(append(consentObject{}, o...), m).json(),
		"upper case":         replaceName(o, m.name, strings.ToUpper(m.name)).json(),
		"first letter upper": replaceName(o, m.name, strings.ToUpper(m.name[:1])+m.name[1:]).json(),
	}
	if strings.ContainsRune(m.name, 's') {
		variants["long s"] = replaceName(o, m.name, strings.Replace(m.name, "s", "ſ", 1)).json()
	}
	// {…,"\u0073tatus":…}: the same name, so a repeat.
	const hex = "0123456789abcdef"
	escaped := `"\u00` + string([]byte{hex[m.name[0]>>4], hex[m.name[0]&0xf]}) + m.name[1:] + `"`
	whole := o.json()
	variants["repeated with an escape"] = append(whole[:len(whole)-1:len(whole)-1], ","+escaped+":"+m.raw+"}"...)
	for what, value := range variants {
		_, _, err := DecodeConsentEvent(key, value)
		var inv *InvalidError
		if !errors.As(err, &inv) || inv.Field != m.name {
			t.Fatalf("%s %s: %s gives %v, want an invalid %s", what, m.name, value, err, m.name)
		}
	}
}

// replaceName returns o with the member named old renamed to name.
func replaceName(o consentObject, old, name string) consentObject {
	out := append(consentObject{}, o...)
	for i := range out {
		if out[i].name == old {
			out[i].name = name
		}
	}
	return out
}

// sameConsent compares two decoded events field by field, times as
// instants in UTC.
func sameConsent(a, b ConsentEvent) bool {
	sameTime := func(x, y time.Time) bool {
		return x.Equal(y) && x.IsZero() == y.IsZero() && x.Location() == time.UTC && y.Location() == time.UTC
	}
	return a.ConsentID == b.ConsentID && a.CustomerID == b.CustomerID && a.Recipient == b.Recipient &&
		a.Status == b.Status && a.Categories == b.Categories &&
		sameTime(a.WindowFrom, b.WindowFrom) && sameTime(a.WindowTo, b.WindowTo) &&
		sameTime(a.ExpiresAt, b.ExpiresAt) && sameTime(a.EventTime, b.EventTime)
}
