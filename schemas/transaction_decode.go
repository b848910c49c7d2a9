package schemas

import (
	"errors"
	"unicode/utf8"
)

// Limits of the transaction event (the input contract, version 1).
const (
	maxDescription  = 500 // characters (runes)
	maxMerchantName = 200 // characters (runes)
	maxTypeLen      = 16  // bytes of [A-Z0-9_]
)

// transactionJSON is the wire shape of a transaction event. Every field is
// a plain string so that a JSON number or object where a string belongs is a
// type error; fields start as absent so that "missing or null" can be told
// apart from "". Unknown fields are ignored.
type transactionJSON struct {
	TransactionID string       `json:"transaction_id"`
	CustomerID    string       `json:"customer_id"`
	AccountID     string       `json:"account_id"`
	BookedAt      string       `json:"booked_at"`
	Amount        string       `json:"amount"`
	Currency      string       `json:"currency"`
	Status        string       `json:"status"`
	Type          string       `json:"type"`
	Description   string       `json:"description"`
	Merchant      merchantJSON `json:"merchant"`
	BalanceAfter  string       `json:"balance_after"`
}

type merchantJSON struct {
	Name         string `json:"name"`
	CategoryCode string `json:"category_code"`
}

// DecodeTransaction decodes and validates one message of the transactions
// topic against the input contract: key is the message key (the customer id)
// and value the JSON event. Unknown fields are ignored. BookedAt is returned
// in UTC, Status is StatusBooked when absent, Amount and BalanceAfter keep
// their exact text. Optional text fields (type, merchant.name,
// merchant.category_code) that are missing, null or "" are absent; a present
// balance_after must be a decimal string. Partition and Offset are left for
// the caller to set.
//
// Every violation is reported as an *InvalidError naming the first field
// that breaks a rule, in the order of the contract's table.
func DecodeTransaction(key, value []byte) (Transaction, error) {
	if err := checkValue(value); err != nil {
		return Transaction{}, err
	}
	in := newTransactionJSON()
	if !fastTransaction(value, &in) {
		if err := checkNames(value, transactionNames); err != nil {
			return Transaction{}, err
		}
		slow := newTransactionJSON()
		if err := decodeJSON(value, &slow); err != nil {
			return Transaction{}, err
		}
		in = slow
	}
	return validateTransaction(key, &in)
}

// newTransactionJSON returns the wire shape with every field absent.
func newTransactionJSON() transactionJSON {
	return transactionJSON{
		TransactionID: absent, CustomerID: absent, AccountID: absent,
		BookedAt: absent, Amount: absent, Currency: absent, Status: absent,
		Type: absent, Description: absent, BalanceAfter: absent,
	}
}

// validateTransaction applies the contract's rules to a decoded event.
func validateTransaction(key []byte, in *transactionJSON) (Transaction, error) {
	var t Transaction
	var err error
	if err = checkID("transaction_id", in.TransactionID); err != nil {
		return Transaction{}, err
	}
	t.TransactionID = in.TransactionID

	if in.CustomerID == absent {
		return Transaction{}, invalid("customer_id", "required")
	}
	if err = checkCustomerID("customer_id", in.CustomerID); err != nil {
		return Transaction{}, err
	}
	if string(key) != in.CustomerID {
		return Transaction{}, invalid("customer_id", "%s differs from the message key %s", shown(in.CustomerID), shown(string(key)))
	}
	t.CustomerID = in.CustomerID

	if err = checkID("account_id", in.AccountID); err != nil {
		return Transaction{}, err
	}
	t.AccountID = in.AccountID

	if in.BookedAt == absent {
		return Transaction{}, invalid("booked_at", "required")
	}
	if t.BookedAt, err = parseTime("booked_at", in.BookedAt); err != nil {
		return Transaction{}, err
	}

	// The currency decides the amount's scale, so it is checked first.
	if in.Currency == absent {
		return Transaction{}, invalid("currency", "required")
	}
	minor, ok := CurrencyMinorUnits(in.Currency)
	if !ok {
		return Transaction{}, invalid("currency", "not an active ISO 4217 code (%s)", shown(in.Currency))
	}
	t.Currency = in.Currency

	if in.Amount == absent {
		return Transaction{}, invalid("amount", "required")
	}
	if t.Amount, err = parseMoney("amount", in.Amount, in.Currency, minor); err != nil {
		return Transaction{}, err
	}

	switch in.Status {
	case absent, string(StatusBooked):
		t.Status = StatusBooked
	case string(StatusPending):
		t.Status = StatusPending
	default:
		return Transaction{}, invalid("status", "not booked or pending (%s)", shown(in.Status))
	}

	if in.Type != absent && in.Type != "" {
		if err = checkType(in.Type); err != nil {
			return Transaction{}, err
		}
		t.Type = in.Type
	}

	if in.Description == absent || in.Description == "" {
		return Transaction{}, invalid("description", "required")
	}
	if n := utf8.RuneCountInString(in.Description); n > maxDescription {
		// The text itself is personal data: only its length is shown.
		return Transaction{}, invalid("description", "longer than %d characters (%d)", maxDescription, n)
	}
	t.Description = in.Description

	if m := &in.Merchant; m.Name != "" || m.CategoryCode != "" {
		if m.Name != "" {
			if n := utf8.RuneCountInString(m.Name); n > maxMerchantName {
				return Transaction{}, invalid("merchant.name", "longer than %d characters (%d)", maxMerchantName, n)
			}
			t.MerchantName = m.Name
		}
		if m.CategoryCode != "" {
			if !isMCC(m.CategoryCode) {
				return Transaction{}, invalid("merchant.category_code", "not 4 digits (%s)", shown(m.CategoryCode))
			}
			t.MerchantCode = m.CategoryCode
		}
	}

	if in.BalanceAfter != absent {
		if t.BalanceAfter, err = parseMoney("balance_after", in.BalanceAfter, in.Currency, minor); err != nil {
			return Transaction{}, err
		}
		t.HasBalance = true
	}
	return t, nil
}

// parseMoney parses a decimal string whose scale may not exceed the
// currency's minor units.
func parseMoney(field, v, currency string, minor int) (Decimal, error) {
	d, err := ParseDecimal(v)
	if err != nil {
		if errors.Is(err, errNotDecimal) {
			return Decimal{}, invalid(field, "not a decimal string (%s)", shown(v))
		}
		return Decimal{}, invalid(field, "more than %d significant digits (%s)", MaxDigits, shown(v))
	}
	if int(d.Scale) > minor {
		return Decimal{}, invalid(field, "more than %d decimal places for %s (%s)", minor, currency, shown(v))
	}
	return d, nil
}

// checkType validates the optional type code: 1–16 characters of [A-Z0-9_].
func checkType(v string) error {
	if v == "" || len(v) > maxTypeLen {
		return invalid("type", "not 1-%d characters of A-Z, 0-9, _ (%s)", maxTypeLen, shown(v))
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return invalid("type", "not 1-%d characters of A-Z, 0-9, _ (%s)", maxTypeLen, shown(v))
		}
	}
	return nil
}

// isMCC reports whether v is a merchant category code: exactly four digits.
func isMCC(v string) bool {
	if len(v) != 4 {
		return false
	}
	for i := 0; i < 4; i++ {
		if v[i] < '0' || v[i] > '9' {
			return false
		}
	}
	return true
}
