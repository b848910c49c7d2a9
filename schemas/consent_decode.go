package schemas

import "bytes"

// consentJSON is the wire shape of a consent event; see transactionJSON.
type consentJSON struct {
	ConsentID  string   `json:"consent_id"`
	CustomerID string   `json:"customer_id"`
	Recipient  string   `json:"recipient"`
	Status     string   `json:"status"`
	Categories []string `json:"categories"`
	WindowFrom string   `json:"window_from"`
	WindowTo   string   `json:"window_to"`
	ExpiresAt  string   `json:"expires_at"`
	EventTime  string   `json:"event_time"`
}

// DecodeConsentEvent decodes and validates one message of the
// midata.consent topic. The key must be customer_id|recipient.
//
// An empty value (a Kafka tombstone: the key's consent was erased) gives
// tombstone true and an event with only CustomerID and Recipient, taken
// from the key. Otherwise the value must be a consent event whose
// customer_id and recipient match the key; status is granted or revoked;
// categories (optional, null or missing: none) are known category names;
// window_from, window_to and expires_at are optional RFC 3339 times (or
// null) and window_from < window_to when both are set; event_time is
// required. Times are returned in UTC. Unknown fields are ignored.
// Violations are *InvalidError values.
func DecodeConsentEvent(key, value []byte) (ev ConsentEvent, tombstone bool, err error) {
	customer, recipient, err := parseConsentKey(key)
	if err != nil {
		return ConsentEvent{}, false, err
	}
	if len(value) == 0 {
		return ConsentEvent{CustomerID: customer, Recipient: recipient}, true, nil
	}

	if err := checkValue(value); err != nil {
		return ConsentEvent{}, false, err
	}
	in := newConsentJSON()
	if !fastConsent(value, &in) {
		if err := checkNames(value, consentNames); err != nil {
			return ConsentEvent{}, false, err
		}
		slow := newConsentJSON()
		if err := decodeJSON(value, &slow); err != nil {
			return ConsentEvent{}, false, err
		}
		in = slow
	}

	if err := checkID("consent_id", in.ConsentID); err != nil {
		return ConsentEvent{}, false, err
	}
	ev.ConsentID = in.ConsentID

	if in.CustomerID == absent {
		return ConsentEvent{}, false, invalid("customer_id", "required")
	}
	if in.CustomerID != customer {
		return ConsentEvent{}, false, invalid("customer_id", "%s differs from the key's customer %s", shown(in.CustomerID), shown(customer))
	}
	ev.CustomerID = customer

	if in.Recipient == absent {
		return ConsentEvent{}, false, invalid("recipient", "required")
	}
	if in.Recipient != string(recipient) {
		return ConsentEvent{}, false, invalid("recipient", "%s differs from the key's recipient %s", shown(in.Recipient), shown(string(recipient)))
	}
	ev.Recipient = recipient

	switch in.Status {
	case string(ConsentGranted):
		ev.Status = ConsentGranted
	case string(ConsentRevoked):
		ev.Status = ConsentRevoked
	case absent:
		return ConsentEvent{}, false, invalid("status", "required")
	default:
		return ConsentEvent{}, false, invalid("status", "not granted or revoked (%s)", shown(in.Status))
	}

	for _, name := range in.Categories {
		c, err := ParseCategory(name)
		if err != nil {
			return ConsentEvent{}, false, invalid("categories", "unknown category %s (want transactions, balances or merchant)", shown(name))
		}
		ev.Categories |= c
	}

	if ev.WindowFrom, err = parseOptionalTime("window_from", in.WindowFrom); err != nil {
		return ConsentEvent{}, false, err
	}
	if ev.WindowTo, err = parseOptionalTime("window_to", in.WindowTo); err != nil {
		return ConsentEvent{}, false, err
	}
	if !ev.WindowFrom.IsZero() && !ev.WindowTo.IsZero() && !ev.WindowFrom.Before(ev.WindowTo) {
		return ConsentEvent{}, false, invalid("window_to", "not after window_from (%s)", shown(in.WindowTo))
	}
	if ev.ExpiresAt, err = parseOptionalTime("expires_at", in.ExpiresAt); err != nil {
		return ConsentEvent{}, false, err
	}
	if in.EventTime == absent {
		return ConsentEvent{}, false, invalid("event_time", "required")
	}
	if ev.EventTime, err = parseTime("event_time", in.EventTime); err != nil {
		return ConsentEvent{}, false, err
	}
	return ev, false, nil
}

// newConsentJSON returns the wire shape with every string field absent.
func newConsentJSON() consentJSON {
	return consentJSON{
		ConsentID: absent, CustomerID: absent, Recipient: absent, Status: absent,
		WindowFrom: absent, WindowTo: absent, ExpiresAt: absent, EventTime: absent,
	}
}

// parseConsentKey splits and validates a consent key customer_id|recipient.
func parseConsentKey(key []byte) (customer string, recipient Recipient, err error) {
	i := bytes.IndexByte(key, '|')
	if i < 0 {
		return "", "", invalid("key", "not customer_id|recipient (%s)", shown(string(key)))
	}
	customer, recipient = string(key[:i]), Recipient(key[i+1:])
	if err := checkCustomerID("key", customer); err != nil {
		return "", "", invalid("key", "customer id not [A-Za-z0-9._-]{1,64} (%s)", shown(customer))
	}
	if err := recipient.Validate(); err != nil {
		return "", "", invalid("key", "recipient not self or partner:<id> (%s)", shown(string(recipient)))
	}
	return customer, recipient, nil
}
