package schemas_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/midata/midata/schemas"
)

// The seed corpus lives in testdata/fuzz/<target>; these add the contract
// examples so the targets start from valid events even without it.

func FuzzDecodeTransaction(f *testing.F) {
	f.Add([]byte("C000123"), []byte(`{"transaction_id":"T000123-00042","customer_id":"C000123","account_id":"A000123-1","booked_at":"2026-03-04T10:15:00Z","amount":"-12.34","currency":"GBP","status":"booked","type":"POS","description":"TESCO STORES 1234","merchant":{"name":"Tesco","category_code":"5411"},"balance_after":"1234.56"}`))
	f.Add([]byte("C1"), []byte(`{"transaction_id":"T","customer_id":"C1","account_id":"A","booked_at":"2026-03-04T10:15:00.5+05:30","amount":"1.250","currency":"BHD","description":"\u00e9\u2603"}`))
	f.Add([]byte("C1"), []byte(`{"amount":12.34}`))
	f.Fuzz(func(t *testing.T, key, value []byte) {
		tx, err := schemas.DecodeTransaction(key, value)
		if err != nil {
			checkInvalidError(t, err)
			return
		}
		checkTransaction(t, key, tx)

		// What is accepted survives a round trip through the contract.
		again, err := schemas.DecodeTransaction(key, encodeTransaction(t, tx))
		if err != nil {
			t.Fatalf("re-decode accepted transaction %+v: %v", tx, err)
		}
		if again != tx {
			t.Fatalf("round trip changed the transaction:\n%+v\n%+v", tx, again)
		}
	})
}

func FuzzDecodeConsentEvent(f *testing.F) {
	f.Add([]byte("C000123|partner:pds-one"), []byte(`{"consent_id":"K-88","customer_id":"C000123","recipient":"partner:pds-one","status":"granted","categories":["transactions","merchant"],"window_from":"2026-01-01T00:00:00Z","window_to":null,"expires_at":"2027-01-01T00:00:00Z","event_time":"2026-10-01T12:00:00Z"}`))
	f.Add([]byte("C1|self"), []byte(nil))
	f.Add([]byte("C1|self"), []byte(`{"consent_id":"K-1","customer_id":"C1","recipient":"self","status":"revoked","event_time":"2026-10-01T12:00:00+02:00"}`))
	f.Fuzz(func(t *testing.T, key, value []byte) {
		ev, tombstone, err := schemas.DecodeConsentEvent(key, value)
		if err != nil {
			checkInvalidError(t, err)
			if tombstone {
				t.Fatal("tombstone = true with an error")
			}
			return
		}
		if got := schemas.ConsentKey(ev.CustomerID, ev.Recipient); got != string(key) {
			t.Fatalf("key %q decoded as %q", key, got)
		}
		if err := ev.Recipient.Validate(); err != nil {
			t.Fatalf("accepted recipient: %v", err)
		}
		if tombstone {
			if len(value) != 0 {
				t.Fatalf("tombstone for a %d-byte value", len(value))
			}
			return
		}
		if ev.ConsentID == "" || utf8.RuneCountInString(ev.ConsentID) > 64 {
			t.Fatalf("accepted consent id %q", ev.ConsentID)
		}
		if ev.Status != schemas.ConsentGranted && ev.Status != schemas.ConsentRevoked {
			t.Fatalf("accepted status %q", ev.Status)
		}
		if ev.Categories&^schemas.AllCategories != 0 {
			t.Fatalf("accepted categories %b", ev.Categories)
		}
		if ev.EventTime.IsZero() {
			t.Fatal("accepted an event without event time")
		}
		for name, tm := range map[string]time.Time{"window_from": ev.WindowFrom, "window_to": ev.WindowTo, "expires_at": ev.ExpiresAt, "event_time": ev.EventTime} {
			if !tm.IsZero() && tm.Location() != time.UTC {
				t.Fatalf("%s %v is not UTC", name, tm)
			}
		}
		if !ev.WindowFrom.IsZero() && !ev.WindowTo.IsZero() && !ev.WindowFrom.Before(ev.WindowTo) {
			t.Fatalf("accepted window [%v, %v)", ev.WindowFrom, ev.WindowTo)
		}
	})
}

// checkInvalidError checks the shape every rejection must have: an
// *InvalidError naming a field, whose message is one bounded line.
func checkInvalidError(t *testing.T, err error) {
	t.Helper()
	var inv *schemas.InvalidError
	if !errors.As(err, &inv) {
		t.Fatalf("error %v is %T, want *schemas.InvalidError", err, err)
	}
	msg := err.Error()
	if inv.Field == "" || inv.Reason == "" {
		t.Fatalf("error %q lacks field or reason", msg)
	}
	if strings.ContainsAny(msg, "\n\r") || !utf8.ValidString(msg) {
		t.Fatalf("error %q is not one valid line", msg)
	}
	if len(msg) > 600 {
		t.Fatalf("error is %d bytes long: %q", len(msg), msg)
	}
}

// checkTransaction re-validates every rule of the contract on an accepted
// transaction.
func checkTransaction(t *testing.T, key []byte, tx schemas.Transaction) {
	t.Helper()
	if tx.CustomerID != string(key) {
		t.Fatalf("customer_id %q accepted for key %q", tx.CustomerID, key)
	}
	for _, c := range []byte(tx.CustomerID) {
		if !strings.ContainsRune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", rune(c)) {
			t.Fatalf("customer_id %q accepted", tx.CustomerID)
		}
	}
	for name, id := range map[string]string{"transaction_id": tx.TransactionID, "customer_id": tx.CustomerID, "account_id": tx.AccountID} {
		if id == "" || utf8.RuneCountInString(id) > 64 {
			t.Fatalf("%s %q accepted", name, id)
		}
	}
	if tx.BookedAt.IsZero() || tx.BookedAt.Location() != time.UTC {
		t.Fatalf("booked_at %v accepted (want UTC)", tx.BookedAt)
	}
	minor, ok := schemas.CurrencyMinorUnits(tx.Currency)
	if !ok {
		t.Fatalf("currency %q accepted", tx.Currency)
	}
	if int(tx.Amount.Scale) > minor {
		t.Fatalf("amount %s accepted for %s", tx.Amount, tx.Currency)
	}
	if back, err := schemas.ParseDecimal(tx.Amount.Text); err != nil || back != tx.Amount {
		t.Fatalf("amount text %q does not parse back: %v", tx.Amount.Text, err)
	}
	if tx.HasBalance && int(tx.BalanceAfter.Scale) > minor {
		t.Fatalf("balance %s accepted for %s", tx.BalanceAfter, tx.Currency)
	}
	if !tx.HasBalance && tx.BalanceAfter != (schemas.Decimal{}) {
		t.Fatalf("balance %+v set without HasBalance", tx.BalanceAfter)
	}
	if tx.Status != schemas.StatusBooked && tx.Status != schemas.StatusPending {
		t.Fatalf("status %q accepted", tx.Status)
	}
	if len(tx.Type) > 16 || strings.Trim(tx.Type, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != "" {
		t.Fatalf("type %q accepted", tx.Type)
	}
	if tx.Description == "" || utf8.RuneCountInString(tx.Description) > 500 || !utf8.ValidString(tx.Description) {
		t.Fatalf("description of %d bytes accepted", len(tx.Description))
	}
	if utf8.RuneCountInString(tx.MerchantName) > 200 {
		t.Fatalf("merchant name of %d bytes accepted", len(tx.MerchantName))
	}
	if tx.MerchantCode != "" && (len(tx.MerchantCode) != 4 || strings.Trim(tx.MerchantCode, "0123456789") != "") {
		t.Fatalf("category code %q accepted", tx.MerchantCode)
	}
}

// encodeTransaction writes tx back in the input contract.
func encodeTransaction(t *testing.T, tx schemas.Transaction) []byte {
	t.Helper()
	m := map[string]any{
		"transaction_id": tx.TransactionID,
		"customer_id":    tx.CustomerID,
		"account_id":     tx.AccountID,
		"booked_at":      tx.BookedAt.Format(time.RFC3339Nano),
		"amount":         tx.Amount.Text,
		"currency":       tx.Currency,
		"status":         string(tx.Status),
		"description":    tx.Description,
	}
	if tx.Type != "" {
		m["type"] = tx.Type
	}
	merchant := map[string]any{}
	if tx.MerchantName != "" {
		merchant["name"] = tx.MerchantName
	}
	if tx.MerchantCode != "" {
		merchant["category_code"] = tx.MerchantCode
	}
	if len(merchant) > 0 {
		m["merchant"] = merchant
	}
	if tx.HasBalance {
		m["balance_after"] = tx.BalanceAfter.Text
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatalf("encode transaction: %v", err)
	}
	return b
}
