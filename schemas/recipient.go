package schemas

import (
	"errors"
	"fmt"
	"strings"
)

// Recipient is who a release is for: RecipientSelf, the customer
// themself, or "partner:<id>", a personal data store the customer shares
// with, where id is 1–64 characters of [a-z0-9._-]. It is a string on the
// wire (JSON, YAML, Kafka keys) and is checked by Validate, the one rule
// for recipients.
type Recipient string

// RecipientSelf is the recipient that is the customer themself.
const RecipientSelf Recipient = "self"

// partnerPrefix starts every partner recipient: "partner:<id>".
const partnerPrefix = "partner:"

// PartnerRecipient returns the recipient "partner:<id>"; Validate checks it.
func PartnerRecipient(id string) Recipient { return Recipient(partnerPrefix + id) }

// ParseRecipient returns s as a Recipient, or the error of Validate.
func ParseRecipient(s string) (Recipient, error) {
	r := Recipient(s)
	return r, r.Validate()
}

// Validate reports whether r is self or partner:<id> with a valid id. Its
// error reads `recipient "bob": want self or partner:<id> (id: 1-64 of a-z 0-9 . _ -)`.
func (r Recipient) Validate() error {
	if r.IsSelf() {
		return nil
	}
	if id, ok := r.PartnerID(); ok && ValidPartnerID(id) {
		return nil
	}
	return fmt.Errorf("recipient %s: want self or partner:<id> (id: 1-64 of a-z 0-9 . _ -)", shown(string(r)))
}

// IsSelf reports whether r is the customer themself.
func (r Recipient) IsSelf() bool { return r == RecipientSelf }

// PartnerID returns the id of a partner recipient "partner:<id>", unchecked,
// and false for any other recipient.
func (r Recipient) PartnerID() (string, bool) {
	id, ok := strings.CutPrefix(string(r), partnerPrefix)
	if !ok {
		return "", false
	}
	return id, true
}

// String returns r as it is written on the wire.
func (r Recipient) String() string { return string(r) }

// ValidPartnerID reports whether id is a partner id: 1–64 characters of
// [a-z0-9._-] (lower case only).
func ValidPartnerID(id string) bool {
	if id == "" || len(id) > maxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// CustomerID names a customer: 1–64 characters of [A-Za-z0-9._-]. It is
// the key of the customer's transactions and the first half of their
// consent keys; Validate is the one rule for customer ids.
type CustomerID string

// ParseCustomerID returns s as a CustomerID, or the error of Validate.
func ParseCustomerID(s string) (CustomerID, error) {
	c := CustomerID(s)
	return c, c.Validate()
}

// Validate reports whether c is a valid customer id. Its error reads
// `customer "C 1": want 1-64 of A-Z a-z 0-9 . _ -`.
func (c CustomerID) Validate() error {
	if customerIDProblem(string(c)) != "" {
		return fmt.Errorf("customer %s: want 1-64 of A-Z a-z 0-9 . _ -", shown(string(c)))
	}
	return nil
}

// String returns the id.
func (c CustomerID) String() string { return string(c) }

// customerIDProblem says what is wrong with v as a customer id, or "".
func customerIDProblem(v string) string {
	if v == "" {
		return "required"
	}
	if len(v) > maxIDLen {
		return fmt.Sprintf("longer than %d characters", maxIDLen)
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return "not [A-Za-z0-9._-]"
		}
	}
	return ""
}

// CheckRole checks a caller's role, as a bearer token names it: "ops",
// "customer:<id>" (a CustomerID) or "partner:<id>" (a partner id). It is
// the one rule for roles: the configuration and the API's token table use
// it.
func CheckRole(role string) error {
	switch {
	case role == "ops":
		return nil
	case strings.HasPrefix(role, "customer:"):
		if CustomerID(strings.TrimPrefix(role, "customer:")).Validate() != nil {
			return errors.New("customer id: want 1-64 of A-Z a-z 0-9 . _ -")
		}
		return nil
	case strings.HasPrefix(role, "partner:"):
		if !ValidPartnerID(strings.TrimPrefix(role, "partner:")) {
			return errors.New("partner id: want 1-64 of a-z 0-9 . _ -")
		}
		return nil
	}
	return errors.New("unknown role: want ops, customer:<id> or partner:<id>")
}
