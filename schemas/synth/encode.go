package synth

import (
	"strconv"
	"time"
)

// txnFields is a transaction event as the text of its JSON fields. An empty
// optional field is left out; omit flags leave out required ones (for
// malformed records).
type txnFields struct {
	id                []byte
	customer, account string
	bookedAt          []byte
	amount            []byte
	currency          string
	status            string // "" leaves the field out (booked by default)
	typ               string
	description       string
	omitDescription   bool
	merchantName, mcc string
	balance           []byte // nil leaves the field out
}

// appendTxn appends the JSON of f to b, fields in the contract's order.
func appendTxn(b []byte, f *txnFields) []byte {
	b = append(b, `{"transaction_id":`...)
	b = appendJSONBytes(b, f.id)
	b = append(b, `,"customer_id":`...)
	b = appendJSONString(b, f.customer)
	b = append(b, `,"account_id":`...)
	b = appendJSONString(b, f.account)
	b = append(b, `,"booked_at":`...)
	b = appendJSONBytes(b, f.bookedAt)
	b = append(b, `,"amount":`...)
	b = appendJSONBytes(b, f.amount)
	b = append(b, `,"currency":`...)
	b = appendJSONString(b, f.currency)
	if f.status != "" {
		b = append(b, `,"status":`...)
		b = appendJSONString(b, f.status)
	}
	if f.typ != "" {
		b = append(b, `,"type":`...)
		b = appendJSONString(b, f.typ)
	}
	if !f.omitDescription {
		b = append(b, `,"description":`...)
		b = appendJSONString(b, f.description)
	}
	if f.merchantName != "" || f.mcc != "" {
		b = append(b, `,"merchant":{`...)
		sep := false
		if f.merchantName != "" {
			b = append(b, `"name":`...)
			b = appendJSONString(b, f.merchantName)
			sep = true
		}
		if f.mcc != "" {
			if sep {
				b = append(b, ',')
			}
			b = append(b, `"category_code":`...)
			b = appendJSONString(b, f.mcc)
		}
		b = append(b, '}')
	}
	if f.balance != nil {
		b = append(b, `,"balance_after":`...)
		b = appendJSONBytes(b, f.balance)
	}
	return append(b, '}')
}

// appendConsent appends the JSON of a consent event; zero times are null.
func appendConsent(b []byte, ev *consentEvent, customerID string) []byte {
	b = append(b, `{"consent_id":"K-`...)
	b = strconv.AppendInt(b, int64(ev.id), 10)
	b = append(b, `","customer_id":`...)
	b = appendJSONString(b, customerID)
	b = append(b, `,"recipient":`...)
	b = appendJSONString(b, string(ev.recipient))
	b = append(b, `,"status":`...)
	if ev.revoked {
		b = append(b, `"revoked"`...)
	} else {
		b = append(b, `"granted"`...)
	}
	b = append(b, `,"categories":[`...)
	for i, name := range ev.categories.Names() {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, name)
	}
	b = append(b, ']')
	b = appendOptionalTime(b, `,"window_from":`, ev.windowFrom)
	b = appendOptionalTime(b, `,"window_to":`, ev.windowTo)
	b = appendOptionalTime(b, `,"expires_at":`, ev.expiresAt)
	b = append(b, `,"event_time":"`...)
	b = ev.at.AppendFormat(b, time.RFC3339)
	return append(b, `"}`...)
}

func appendOptionalTime(b []byte, name string, t time.Time) []byte {
	b = append(b, name...)
	if t.IsZero() {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339)
	return append(b, '"')
}

// appendJSONBytes appends generated text that needs no escaping (ids,
// times, numbers) as a JSON string.
func appendJSONBytes(b, s []byte) []byte {
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. s must be valid UTF-8 (all
// text in this package is); control characters are escaped.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"':
			b = append(b, '\\', '"')
		case '\\':
			b = append(b, '\\', '\\')
		case '\n':
			b = append(b, '\\', 'n')
		case '\t':
			b = append(b, '\\', 't')
		case '\r':
			b = append(b, '\\', 'r')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendMoney appends units of a currency with scale decimals: "-12.34",
// "1200" (no plus sign, no thousands separator).
func appendMoney(b []byte, units int64, scale int) []byte {
	if units < 0 {
		b = append(b, '-')
		units = -units
	}
	if scale == 0 {
		return strconv.AppendInt(b, units, 10)
	}
	pow := int64(1)
	for range scale {
		pow *= 10
	}
	b = strconv.AppendInt(b, units/pow, 10)
	b = append(b, '.')
	frac := units % pow
	for p := pow / 10; p > 1 && frac < p; p /= 10 {
		b = append(b, '0')
	}
	return strconv.AppendInt(b, frac, 10)
}
