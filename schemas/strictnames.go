package schemas

import (
	"bytes"
	"encoding/json"
	"strings"
)

// Strict names (the input contract, version 2): names match exactly, as
// every JSON reader but encoding/json v1 does. An object of the contract
// that has the same name twice, or a name that differs from one of its
// fields only by case or Unicode folding ("Status", "ſtatus"), is invalid:
// readers that keep the first or the last of two names, or that fold case
// or not, would read different records from the same bytes. (encoding/json
// v1 folds names and keeps the last: {"status":"revoked","Status":"granted"}
// was read as granted.)
//
// The fast path refuses every such object (a repeated field, a repeated
// unknown name, a name that folds onto a field, an escaped or non-ASCII
// name); checkNames, on the slow path, says which rule it breaks.

// objectNames are the field names of one object of the contract, and the
// objects nested in it by field name.
type objectNames struct {
	fields []string
	nested map[string]*objectNames
}

var (
	merchantNames    = &objectNames{fields: []string{"name", "category_code"}}
	transactionNames = &objectNames{
		fields: []string{"transaction_id", "customer_id", "account_id", "booked_at", "amount",
			"currency", "status", "type", "description", "merchant", "balance_after"},
		nested: map[string]*objectNames{"merchant": merchantNames},
	}
	consentNames = &objectNames{fields: []string{"consent_id", "customer_id", "recipient", "status",
		"categories", "window_from", "window_to", "expires_at", "event_time", "actor"}}
)

// checkNames checks the names of the object in value and of its nested
// contract objects: an *InvalidError for a repeated name or one that folds
// onto a field, else nil. Invalid JSON is not its business (nil): the
// decoder that follows reports it.
func checkNames(value []byte, names *objectNames) error {
	dec := json.NewDecoder(bytes.NewReader(value))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil
	}
	return checkObject(dec, names, "")
}

// checkObject checks the names of the object whose '{' dec just read, up
// to and including its '}'. path is the object's field path ("" at the top,
// "merchant.").
func checkObject(dec *json.Decoder, names *objectNames, path string) error {
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		name, _ := tok.(string)
		if seen[name] {
			return invalid(fieldOf(path, name, names), "the name %s appears twice", shown(name))
		}
		seen[name] = true
		for _, f := range names.fields {
			if name != f && strings.EqualFold(name, f) {
				return invalid(path+f, "the name %s differs from the field's only by case", shown(name))
			}
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil
		}
		if nested := names.nested[name]; nested != nil && firstNonSpace(raw) == '{' {
			inner := json.NewDecoder(bytes.NewReader(raw))
			if _, err := inner.Token(); err != nil {
				return nil
			}
			if err := checkObject(inner, nested, path+name+"."); err != nil {
				return err
			}
		}
	}
	return nil
}

// fieldOf names the field of a repeated name: the field itself when the
// name is one, else the object ("value" at the top).
func fieldOf(path, name string, names *objectNames) string {
	for _, f := range names.fields {
		if f == name {
			return path + f
		}
	}
	if path == "" {
		return "value"
	}
	return strings.TrimSuffix(path, ".")
}
