package schemas_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/midata/midata/schemas"
)

// validTransaction is the example event of the input contract, as a map that test
// cases change one field at a time.
func validTransaction() map[string]any {
	return map[string]any{
		"transaction_id": "T000123-00042",
		"customer_id":    "C000123",
		"account_id":     "A000123-1",
		"booked_at":      "2026-03-04T10:15:00Z",
		"amount":         "-12.34",
		"currency":       "GBP",
		"status":         "booked",
		"type":           "POS",
		"description":    "TESCO STORES 1234",
		"merchant":       map[string]any{"name": "Tesco", "category_code": "5411"},
		"balance_after":  "1234.56",
	}
}

func txJSON(t *testing.T, change func(m map[string]any)) []byte {
	t.Helper()
	m := validTransaction()
	if change != nil {
		change(m)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatalf("marshal test event: %v", err)
	}
	return b
}

func TestDecodeTransactionAcceptsTheContractExample(t *testing.T) {
	value := []byte(`{"transaction_id":"T000123-00042","customer_id":"C000123","account_id":"A000123-1",
 "booked_at":"2026-03-04T10:15:00Z","amount":"-12.34","currency":"GBP","status":"booked",
 "type":"POS","description":"TESCO STORES 1234",
 "merchant":{"name":"Tesco","category_code":"5411"},"balance_after":"1234.56"}`)
	got, err := schemas.DecodeTransaction([]byte("C000123"), value)
	if err != nil {
		t.Fatalf("DecodeTransaction: %v", err)
	}
	want := schemas.Transaction{
		TransactionID: "T000123-00042",
		CustomerID:    "C000123",
		AccountID:     "A000123-1",
		BookedAt:      time.Date(2026, 3, 4, 10, 15, 0, 0, time.UTC),
		Amount:        schemas.Decimal{Units: -1234, Scale: 2, Text: "-12.34"},
		Currency:      "GBP",
		Status:        schemas.StatusBooked,
		Type:          "POS",
		Description:   "TESCO STORES 1234",
		MerchantName:  "Tesco",
		MerchantCode:  "5411",
		BalanceAfter:  schemas.Decimal{Units: 123456, Scale: 2, Text: "1234.56"},
		HasBalance:    true,
	}
	if got != want {
		t.Errorf("DecodeTransaction =\n%+v\nwant\n%+v", got, want)
	}
	if got.BookedAt.Location() != time.UTC {
		t.Errorf("BookedAt location = %v, want UTC", got.BookedAt.Location())
	}
}

func TestDecodeTransactionAcceptsEveryValidVariant(t *testing.T) {
	tests := []struct {
		name   string
		change func(m map[string]any)
		check  func(t *testing.T, got schemas.Transaction)
	}{
		{"an offset booking time is normalised to UTC", func(m map[string]any) { m["booked_at"] = "2026-03-04T11:15:00+01:00" }, func(t *testing.T, got schemas.Transaction) {
			if want := time.Date(2026, 3, 4, 10, 15, 0, 0, time.UTC); !got.BookedAt.Equal(want) || got.BookedAt.Location() != time.UTC {
				t.Errorf("BookedAt = %v, want %v in UTC", got.BookedAt, want)
			}
		}},
		{"fractional seconds are kept", func(m map[string]any) { m["booked_at"] = "2026-03-04T10:15:00.123456789Z" }, func(t *testing.T, got schemas.Transaction) {
			if got.BookedAt.Nanosecond() != 123456789 {
				t.Errorf("BookedAt nanoseconds = %d", got.BookedAt.Nanosecond())
			}
		}},
		{"a missing status means booked", func(m map[string]any) { delete(m, "status") }, func(t *testing.T, got schemas.Transaction) {
			if got.Status != schemas.StatusBooked {
				t.Errorf("Status = %q", got.Status)
			}
		}},
		{"a null status means booked", func(m map[string]any) { m["status"] = nil }, func(t *testing.T, got schemas.Transaction) {
			if got.Status != schemas.StatusBooked {
				t.Errorf("Status = %q", got.Status)
			}
		}},
		{"a pending status is kept", func(m map[string]any) { m["status"] = "pending" }, func(t *testing.T, got schemas.Transaction) {
			if got.Status != schemas.StatusPending {
				t.Errorf("Status = %q", got.Status)
			}
		}},
		{"the optional fields may all be missing", func(m map[string]any) {
			delete(m, "type")
			delete(m, "merchant")
			delete(m, "balance_after")
		}, func(t *testing.T, got schemas.Transaction) {
			if got.Type != "" || got.MerchantName != "" || got.MerchantCode != "" || got.HasBalance {
				t.Errorf("optional fields set: %+v", got)
			}
		}},
		{"the optional fields may all be null", func(m map[string]any) {
			m["type"], m["merchant"], m["balance_after"] = nil, nil, nil
		}, func(t *testing.T, got schemas.Transaction) {
			if got.Type != "" || got.MerchantName != "" || got.HasBalance {
				t.Errorf("optional fields set: %+v", got)
			}
		}},
		{"empty optional text fields are absent", func(m map[string]any) {
			m["type"] = ""
			m["merchant"] = map[string]any{"name": "", "category_code": ""}
		}, func(t *testing.T, got schemas.Transaction) {
			if got.Type != "" || got.MerchantName != "" || got.MerchantCode != "" {
				t.Errorf("optional fields set: %+v", got)
			}
		}},
		{"a merchant may have a name only", func(m map[string]any) { m["merchant"] = map[string]any{"name": "Corner Shop"} }, func(t *testing.T, got schemas.Transaction) {
			if got.MerchantName != "Corner Shop" || got.MerchantCode != "" {
				t.Errorf("merchant = %q %q", got.MerchantName, got.MerchantCode)
			}
		}},
		{"unknown fields are ignored", func(m map[string]any) { m["channel"] = map[string]any{"x": []int{1}}; m["extra"] = 7 }, nil},
		{"a yen amount has no decimals", func(m map[string]any) { m["currency"], m["amount"], m["balance_after"] = "JPY", "-1200", "5000" }, func(t *testing.T, got schemas.Transaction) {
			if got.Amount.Units != -1200 || got.Amount.Scale != 0 {
				t.Errorf("Amount = %+v", got.Amount)
			}
		}},
		{"a dinar amount has three decimals", func(m map[string]any) { m["currency"], m["amount"] = "BHD", "1.250" }, func(t *testing.T, got schemas.Transaction) {
			if got.Amount.Units != 1250 || got.Amount.Scale != 3 {
				t.Errorf("Amount = %+v", got.Amount)
			}
		}},
		{"a CLF amount has four decimals", func(m map[string]any) { m["currency"], m["amount"] = "CLF", "0.0001" }, nil},
		{"fewer decimals than the currency's are fine", func(m map[string]any) { m["amount"] = "+5" }, func(t *testing.T, got schemas.Transaction) {
			if got.Amount.Text != "+5" || got.Amount.Units != 5 {
				t.Errorf("Amount = %+v, want exact text +5", got.Amount)
			}
		}},
		{"eighteen significant digits fit", func(m map[string]any) { m["amount"] = "-1234567890123456.78" }, nil},
		{"a negative balance is fine", func(m map[string]any) { m["balance_after"] = "-250.00" }, nil},
		{"the description keeps its exact Unicode text", func(m map[string]any) { m["description"] = "Café Nero — £3.20 ☕ \"quoted\"\nnext" }, func(t *testing.T, got schemas.Transaction) {
			if got.Description != "Café Nero — £3.20 ☕ \"quoted\"\nnext" {
				t.Errorf("Description = %q", got.Description)
			}
		}},
		{"a description of 500 characters fits", func(m map[string]any) { m["description"] = strings.Repeat("é", 500) }, nil},
		{"a merchant name of 200 characters fits", func(m map[string]any) { m["merchant"] = map[string]any{"name": strings.Repeat("ß", 200)} }, nil},
		{"ids of 64 characters fit", func(m map[string]any) {
			id := strings.Repeat("x", 64)
			m["transaction_id"], m["account_id"] = id, id
		}, nil},
		{"a type of 16 characters with digits and underscore fits", func(m map[string]any) { m["type"] = "CARD_PAYMENT_123" }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := schemas.DecodeTransaction([]byte("C000123"), txJSON(t, tt.change))
			if err != nil {
				t.Fatalf("DecodeTransaction: %v", err)
			}
			if tt.check != nil {
				tt.check(t, got)
			}
		})
	}
}

func TestDecodeTransactionRejectsEveryBrokenRule(t *testing.T) {
	tests := []struct {
		name      string
		key       string // default C000123
		value     []byte // overrides change when set
		change    func(m map[string]any)
		field     string
		inMessage string
	}{
		{name: "a Kafka null value is invalid", value: nil, field: "value", inMessage: "null"},
		{name: "a JSON null value is invalid", value: []byte(" null "), field: "value", inMessage: "null"},
		{name: "a JSON array is invalid", value: []byte(`[1,2]`), field: "value", inMessage: "array"},
		{name: "a JSON string is invalid", value: []byte(`"x"`), field: "value", inMessage: "string"},
		{name: "truncated JSON is invalid", value: []byte(`{"transaction_id":"T1"`), field: "value", inMessage: "not JSON"},
		{name: "trailing garbage is invalid", value: append(txJSON(t, nil), []byte(" x")...), field: "value", inMessage: "not JSON"},
		{name: "an empty value is invalid", value: []byte{}, field: "value", inMessage: "not JSON"},
		{name: "invalid UTF-8 is invalid", value: []byte("{\"description\":\"caf\xe9\"}"), field: "value", inMessage: "UTF-8"},

		{name: "a missing transaction id is invalid", change: func(m map[string]any) { delete(m, "transaction_id") }, field: "transaction_id", inMessage: "required"},
		{name: "an empty transaction id is invalid", change: func(m map[string]any) { m["transaction_id"] = "" }, field: "transaction_id", inMessage: "required"},
		{name: "a transaction id of 65 characters is invalid", change: func(m map[string]any) { m["transaction_id"] = strings.Repeat("t", 65) }, field: "transaction_id", inMessage: "longer than 64"},
		{name: "a numeric transaction id is invalid", change: func(m map[string]any) { m["transaction_id"] = 42 }, field: "transaction_id", inMessage: "wrong JSON type"},

		{name: "a missing customer id is invalid", change: func(m map[string]any) { delete(m, "customer_id") }, field: "customer_id", inMessage: "required"},
		{name: "a customer id other than the key is invalid", change: func(m map[string]any) { m["customer_id"] = "C000124" }, field: "customer_id", inMessage: `"C000124" differs from the message key "C000123"`},
		{name: "a customer id with a space is invalid", key: "C 1", change: func(m map[string]any) { m["customer_id"] = "C 1" }, field: "customer_id", inMessage: "not [A-Za-z0-9._-]"},
		{name: "a customer id of 65 characters is invalid", key: strings.Repeat("c", 65), change: func(m map[string]any) { m["customer_id"] = strings.Repeat("c", 65) }, field: "customer_id", inMessage: "longer than 64"},
		{name: "an empty customer id is invalid", change: func(m map[string]any) { m["customer_id"] = "" }, field: "customer_id", inMessage: "required"},

		{name: "a missing account id is invalid", change: func(m map[string]any) { delete(m, "account_id") }, field: "account_id", inMessage: "required"},
		{name: "an account id of 65 characters is invalid", change: func(m map[string]any) { m["account_id"] = strings.Repeat("a", 65) }, field: "account_id", inMessage: "longer than 64"},

		{name: "a missing booking time is invalid", change: func(m map[string]any) { delete(m, "booked_at") }, field: "booked_at", inMessage: "required"},
		{name: "month 13 is invalid", change: func(m map[string]any) { m["booked_at"] = "2026-13-01" }, field: "booked_at", inMessage: `not RFC 3339 ("2026-13-01")`},
		{name: "a booking time without offset is invalid", change: func(m map[string]any) { m["booked_at"] = "2026-03-04T10:15:00" }, field: "booked_at", inMessage: "not RFC 3339"},
		{name: "a UK-style date is invalid", change: func(m map[string]any) { m["booked_at"] = "04/03/2026 10:15" }, field: "booked_at", inMessage: "not RFC 3339"},
		{name: "a numeric booking time is invalid", change: func(m map[string]any) { m["booked_at"] = 1772619300 }, field: "booked_at", inMessage: "wrong JSON type"},

		{name: "a missing amount is invalid", change: func(m map[string]any) { delete(m, "amount") }, field: "amount", inMessage: "required"},
		{name: "an amount as a JSON number is invalid", change: func(m map[string]any) { m["amount"] = -12.34 }, field: "amount", inMessage: "wrong JSON type (number, want string)"},
		{name: "three decimals in pounds are invalid", change: func(m map[string]any) { m["amount"] = "12.345" }, field: "amount", inMessage: "more than 2 decimal places for GBP"},
		{name: "decimals in yen are invalid", change: func(m map[string]any) { m["currency"], m["amount"], m["balance_after"] = "JPY", "12.5", "1" }, field: "amount", inMessage: "more than 0 decimal places for JPY"},
		{name: "an exponent is invalid", change: func(m map[string]any) { m["amount"] = "1e3" }, field: "amount", inMessage: `not a decimal string ("1e3")`},
		{name: "a thousands separator is invalid", change: func(m map[string]any) { m["amount"] = "1,000.00" }, field: "amount", inMessage: "not a decimal string"},
		{name: "a currency symbol is invalid", change: func(m map[string]any) { m["amount"] = "£12.00" }, field: "amount", inMessage: "not a decimal string"},
		{name: "an empty amount is invalid", change: func(m map[string]any) { m["amount"] = "" }, field: "amount", inMessage: "not a decimal string"},
		{name: "a trailing dot is invalid", change: func(m map[string]any) { m["amount"] = "12." }, field: "amount", inMessage: "not a decimal string"},
		{name: "nineteen significant digits are invalid", change: func(m map[string]any) { m["amount"] = "12345678901234567.89" }, field: "amount", inMessage: "more than 18 significant digits"},

		{name: "a missing currency is invalid", change: func(m map[string]any) { delete(m, "currency") }, field: "currency", inMessage: "required"},
		{name: "an unknown currency is invalid", change: func(m map[string]any) { m["currency"] = "XYZ" }, field: "currency", inMessage: `not an active ISO 4217 code ("XYZ")`},
		{name: "a lower-case currency is invalid", change: func(m map[string]any) { m["currency"] = "gbp" }, field: "currency", inMessage: "ISO 4217"},
		{name: "a withdrawn currency is invalid", change: func(m map[string]any) { m["currency"] = "DEM" }, field: "currency", inMessage: "ISO 4217"},
		{name: "gold is not a currency", change: func(m map[string]any) { m["currency"] = "XAU" }, field: "currency", inMessage: "ISO 4217"},

		{name: "an unknown status is invalid", change: func(m map[string]any) { m["status"] = "settled" }, field: "status", inMessage: `not booked or pending ("settled")`},
		{name: "an empty status is invalid", change: func(m map[string]any) { m["status"] = "" }, field: "status", inMessage: "not booked or pending"},
		{name: "an upper-case status is invalid", change: func(m map[string]any) { m["status"] = "BOOKED" }, field: "status", inMessage: "not booked or pending"},

		{name: "a lower-case type is invalid", change: func(m map[string]any) { m["type"] = "pos" }, field: "type", inMessage: "A-Z"},
		{name: "a type of 17 characters is invalid", change: func(m map[string]any) { m["type"] = strings.Repeat("A", 17) }, field: "type", inMessage: "1-16"},
		{name: "a type with a space is invalid", change: func(m map[string]any) { m["type"] = "CARD PAY" }, field: "type", inMessage: "A-Z"},

		{name: "a missing description is invalid", change: func(m map[string]any) { delete(m, "description") }, field: "description", inMessage: "required"},
		{name: "an empty description is invalid", change: func(m map[string]any) { m["description"] = "" }, field: "description", inMessage: "required"},
		{name: "a description of 501 characters is invalid", change: func(m map[string]any) { m["description"] = strings.Repeat("é", 501) }, field: "description", inMessage: "longer than 500 characters (501)"},

		{name: "a merchant that is not an object is invalid", change: func(m map[string]any) { m["merchant"] = "Tesco" }, field: "merchant", inMessage: "wrong JSON type (string, want object)"},
		{name: "a merchant name of 201 characters is invalid", change: func(m map[string]any) { m["merchant"] = map[string]any{"name": strings.Repeat("n", 201)} }, field: "merchant.name", inMessage: "longer than 200"},
		{name: "a three-digit category code is invalid", change: func(m map[string]any) { m["merchant"] = map[string]any{"category_code": "541"} }, field: "merchant.category_code", inMessage: `not 4 digits ("541")`},
		{name: "a category code with a letter is invalid", change: func(m map[string]any) { m["merchant"] = map[string]any{"category_code": "54A1"} }, field: "merchant.category_code", inMessage: "not 4 digits"},
		{name: "a numeric category code is invalid", change: func(m map[string]any) { m["merchant"] = map[string]any{"category_code": 5411} }, field: "merchant.category_code", inMessage: "wrong JSON type"},

		{name: "a balance that is not a decimal is invalid", change: func(m map[string]any) { m["balance_after"] = "lots" }, field: "balance_after", inMessage: "not a decimal string"},
		{name: "an empty balance is invalid", change: func(m map[string]any) { m["balance_after"] = "" }, field: "balance_after", inMessage: "not a decimal string"},
		{name: "a balance with three decimals in pounds is invalid", change: func(m map[string]any) { m["balance_after"] = "1.001" }, field: "balance_after", inMessage: "more than 2 decimal places"},
		{name: "a numeric balance is invalid", change: func(m map[string]any) { m["balance_after"] = 1234.56 }, field: "balance_after", inMessage: "wrong JSON type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := "C000123"
			if tt.key != "" {
				key = tt.key
			}
			value := tt.value
			if tt.change != nil {
				value = txJSON(t, tt.change)
			}
			_, err := schemas.DecodeTransaction([]byte(key), value)
			assertInvalid(t, err, tt.field, tt.inMessage)
		})
	}
}

// assertInvalid checks that err is an *InvalidError on field whose one-line
// message contains inMessage.
func assertInvalid(t *testing.T, err error, field, inMessage string) {
	t.Helper()
	var inv *schemas.InvalidError
	if !errors.As(err, &inv) {
		t.Fatalf("error = %v (%T), want *schemas.InvalidError", err, err)
	}
	if inv.Field != field {
		t.Errorf("Field = %q, want %q (error %q)", inv.Field, field, err)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, field+": ") {
		t.Errorf("message %q does not start with %q", msg, field+": ")
	}
	if !strings.Contains(msg, inMessage) {
		t.Errorf("message %q does not contain %q", msg, inMessage)
	}
	if strings.ContainsAny(msg, "\n\r") {
		t.Errorf("message %q is not one line", msg)
	}
}

func TestInvalidErrorShowsAtMostFortyCharactersOfTheValue(t *testing.T) {
	long := strings.Repeat("ü", 30) + strings.Repeat("z", 100)
	value := txJSON(t, func(m map[string]any) { m["currency"] = long + "\nsecond line" })
	_, err := schemas.DecodeTransaction([]byte("C000123"), value)
	assertInvalid(t, err, "currency", `("`+strings.Repeat("ü", 30)+strings.Repeat("z", 10)+`"…)`)
	if strings.Contains(err.Error(), "second line") {
		t.Errorf("message %q shows more than 40 characters", err)
	}
}

func TestInvalidErrorNeverShowsTheDescription(t *testing.T) {
	secret := "PAYMENT TO DR SMITH CLINIC " + strings.Repeat("x", 500)
	_, err := schemas.DecodeTransaction([]byte("C000123"), txJSON(t, func(m map[string]any) { m["description"] = secret }))
	assertInvalid(t, err, "description", "longer than 500")
	if strings.Contains(err.Error(), "SMITH") {
		t.Errorf("message %q shows the description", err)
	}
}
