package release

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/midata/midata/schemas"
	"github.com/midata/midata/schemas/release/format/formattest"
)

// The Open Banking v3.1 rules the validator applies (Account and
// Transaction API, OBReadTransaction6 / OBTransaction6).
var (
	// Open Banking's own amount pattern, not the encoder's (which allows 18
	// integer digits: see TestJSONWritesEveryValidAmountExactly).
	obAmountRe   = regexp.MustCompile(`^\d{1,13}(\.\d{1,5})?$`)
	obCurrencyRe = regexp.MustCompile(obCurrencyPattern)
	// ISODateTime with the offset every response date-time must carry.
	obDateTimeRe = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$`)

	obTransactionKeys = []string{
		"AccountId", "TransactionId", "TransactionReference", "StatementReference",
		"CreditDebitIndicator", "Status", "TransactionMutability", "BookingDateTime",
		"ValueDateTime", "TransactionInformation", "AddressLine", "Amount", "ChargeAmount",
		"CurrencyExchange", "BankTransactionCode", "ProprietaryBankTransactionCode",
		"Balance", "MerchantDetails", "CreditorAgent", "CreditorAccount", "DebtorAgent",
		"DebtorAccount", "CardInstrument", "SupplementaryData",
	}
	obBalanceTypes = []string{
		"ClosingAvailable", "ClosingBooked", "ClosingCleared", "Expected", "ForwardAvailable",
		"Information", "InterimAvailable", "InterimBooked", "InterimCleared", "OpeningAvailable",
		"OpeningBooked", "OpeningCleared", "PreviouslyClosedBooked",
	}
)

// obValidator collects the rule violations of one document.
type obValidator struct{ problems []string }

func (v *obValidator) fail(path, format string, args ...any) {
	v.problems = append(v.problems, path+": "+fmt.Sprintf(format, args...))
}

// object checks that x is an object whose keys are all in allowed and which
// has every key in required.
func (v *obValidator) object(path string, x any, allowed, required []string) (map[string]any, bool) {
	m, ok := x.(map[string]any)
	if !ok {
		v.fail(path, "not an object")
		return nil, false
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if !slices.Contains(allowed, k) {
			v.fail(path, "unknown key %s", k)
		}
	}
	for _, k := range required {
		if _, ok := m[k]; !ok {
			v.fail(path, "required %s is missing", k)
		}
	}
	return m, true
}

// text checks an optional string of 1..max characters.
func (v *obValidator) text(path string, m map[string]any, key string, max int) {
	x, ok := m[key]
	if !ok {
		return
	}
	s, ok := x.(string)
	if n := utf8.RuneCountInString(s); !ok || n < 1 || n > max {
		v.fail(path+"."+key, "not a string of 1-%d characters: %v", max, x)
	}
}

// oneOf checks an optional string from a code list.
func (v *obValidator) oneOf(path string, m map[string]any, key string, codes ...string) {
	if x, ok := m[key]; ok {
		if s, _ := x.(string); !slices.Contains(codes, s) {
			v.fail(path+"."+key, "%v is not one of %v", x, codes)
		}
	}
}

// dateTime checks an optional ISODateTime with an offset.
func (v *obValidator) dateTime(path string, m map[string]any, key string) {
	if x, ok := m[key]; ok {
		s, _ := x.(string)
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil || !obDateTimeRe.MatchString(s) {
			v.fail(path+"."+key, "%v is not a date-time with an offset", x)
		}
	}
}

// amount checks an OBActiveOrHistoricCurrencyAndAmount.
func (v *obValidator) amount(path string, x any) {
	m, ok := v.object(path, x, []string{"Amount", "Currency"}, []string{"Amount", "Currency"})
	if !ok {
		return
	}
	if s, ok := m["Amount"].(string); !ok || !obAmountRe.MatchString(s) {
		v.fail(path+".Amount", "%v does not match %s", m["Amount"], obAmountPattern)
	}
	if s, ok := m["Currency"].(string); !ok || !obCurrencyRe.MatchString(s) {
		v.fail(path+".Currency", "%v does not match %s", m["Currency"], obCurrencyPattern)
	}
}

// transaction checks one OBTransaction6.
func (v *obValidator) transaction(path string, x any) {
	m, ok := v.object(path, x, obTransactionKeys, []string{"AccountId", "CreditDebitIndicator", "Status", "BookingDateTime", "Amount"})
	if !ok {
		return
	}
	v.text(path, m, "AccountId", 40)
	v.text(path, m, "TransactionId", 210)
	v.text(path, m, "TransactionReference", 35)
	v.oneOf(path, m, "CreditDebitIndicator", "Credit", "Debit")
	v.oneOf(path, m, "Status", "Booked", "Pending")
	v.dateTime(path, m, "BookingDateTime")
	v.dateTime(path, m, "ValueDateTime")
	v.text(path, m, "TransactionInformation", 500)
	if a, ok := m["Amount"]; ok {
		v.amount(path+".Amount", a)
	}
	if c, ok := m["ProprietaryBankTransactionCode"]; ok {
		p := path + ".ProprietaryBankTransactionCode"
		if cm, ok := v.object(p, c, []string{"Code", "Issuer"}, []string{"Code"}); ok {
			v.text(p, cm, "Code", 35)
			v.text(p, cm, "Issuer", 35)
		}
	}
	if b, ok := m["Balance"]; ok {
		p := path + ".Balance"
		if bm, ok := v.object(p, b, []string{"Amount", "CreditDebitIndicator", "Type"}, []string{"Amount", "CreditDebitIndicator", "Type"}); ok {
			if a, ok := bm["Amount"]; ok {
				v.amount(p+".Amount", a)
			}
			v.oneOf(p, bm, "CreditDebitIndicator", "Credit", "Debit")
			v.oneOf(p, bm, "Type", obBalanceTypes...)
		}
	}
	if md, ok := m["MerchantDetails"]; ok {
		p := path + ".MerchantDetails"
		if mm, ok := v.object(p, md, []string{"MerchantName", "MerchantCategoryCode"}, nil); ok {
			v.text(p, mm, "MerchantName", 350)
			if c, ok := mm["MerchantCategoryCode"]; ok {
				if s, _ := c.(string); len(s) < 3 || len(s) > 4 {
					v.fail(p+".MerchantCategoryCode", "%v is not 3-4 characters", c)
				}
			}
		}
	}
	if sd, ok := m["SupplementaryData"]; ok {
		if _, ok := sd.(map[string]any); !ok {
			v.fail(path+".SupplementaryData", "not an object")
		}
	}
}

// validateOB checks a whole document against the Open Banking rules for an
// OBReadTransaction6 body and returns the violations (none: valid).
func validateOB(doc []byte) []string {
	var v obValidator
	var top any
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	if err := dec.Decode(&top); err != nil {
		return []string{"document: " + err.Error()}
	}
	if dec.More() {
		return []string{"document: more than one JSON value"}
	}
	m, ok := v.object("$", top, []string{"Data", "Links", "Meta"}, []string{"Data", "Meta"})
	if !ok {
		return v.problems
	}
	if d, ok := v.object("$.Data", m["Data"], []string{"Transaction"}, nil); ok {
		if tx, ok := d["Transaction"]; ok {
			list, ok := tx.([]any)
			if !ok {
				v.fail("$.Data.Transaction", "not an array")
			}
			for i, x := range list {
				v.transaction(fmt.Sprintf("$.Data.Transaction[%d]", i), x)
			}
		}
	}
	if meta, ok := v.object("$.Meta", m["Meta"], []string{"TotalPages", "FirstAvailableDateTime", "LastAvailableDateTime"}, nil); ok {
		if tp, ok := meta["TotalPages"]; ok {
			if n, ok := tp.(json.Number); !ok || strings.ContainsAny(n.String(), ".eE-") {
				v.fail("$.Meta.TotalPages", "%v is not a non-negative integer", tp)
			}
		}
		v.dateTime("$.Meta", meta, "FirstAvailableDateTime")
		v.dateTime("$.Meta", meta, "LastAvailableDateTime")
	}
	return v.problems
}

func TestTheOpenBankingValidatorRejectsBrokenDocuments(t *testing.T) {
	t.Parallel()
	const good = `{"AccountId":"A1","CreditDebitIndicator":"Debit","Status":"Booked","BookingDateTime":"2026-03-04T10:15:00+00:00","Amount":{"Amount":"12.34","Currency":"GBP"}}`
	wrap := func(tx string) string { return `{"Data":{"Transaction":[` + tx + `]},"Meta":{"TotalPages":1}}` }
	if p := validateOB([]byte(wrap(good))); len(p) != 0 {
		t.Fatalf("a valid document is rejected: %v", p)
	}
	tests := []struct{ name, doc, want string }{
		{"a signed amount", wrap(strings.Replace(good, `"12.34"`, `"-12.34"`, 1)), "Amount.Amount"},
		{"fourteen integer digits", wrap(strings.Replace(good, `"12.34"`, `"12345678901234"`, 1)), "Amount.Amount"},
		{"six decimal places", wrap(strings.Replace(good, `"12.34"`, `"1.123456"`, 1)), "Amount.Amount"},
		{"an amount as a JSON number", wrap(strings.Replace(good, `"12.34"`, `12.34`, 1)), "Amount.Amount"},
		{"a lower-case currency", wrap(strings.Replace(good, `"GBP"`, `"gbp"`, 1)), "Amount.Currency"},
		{"no account id", wrap(strings.Replace(good, `"AccountId":"A1",`, ``, 1)), "required AccountId"},
		{"no status", wrap(strings.Replace(good, `"Status":"Booked",`, ``, 1)), "required Status"},
		{"no amount", wrap(strings.Replace(good, `,"Amount":{"Amount":"12.34","Currency":"GBP"}`, ``, 1)), "required Amount"},
		{"a lower-case indicator", wrap(strings.Replace(good, `"Debit"`, `"debit"`, 1)), "CreditDebitIndicator"},
		{"a booking time without an offset", wrap(strings.Replace(good, `+00:00`, ``, 1)), "BookingDateTime"},
		{"an unknown key", wrap(strings.Replace(good, `{"AccountId"`, `{"Customer":"C1","AccountId"`, 1)), "unknown key Customer"},
		{"a balance without a type", wrap(strings.Replace(good, `}}`, `},"Balance":{"Amount":{"Amount":"1.00","Currency":"GBP"},"CreditDebitIndicator":"Credit"}}`, 1)), "required Type"},
		{"no Meta", `{"Data":{"Transaction":[]}}`, "required Meta"},
		{"two documents", wrap(good) + wrap(good), "more than one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := validateOB([]byte(tt.doc))
			if !strings.Contains(strings.Join(p, "\n"), tt.want) {
				t.Errorf("problems %q, want one mentioning %q", p, tt.want)
			}
		})
	}
}

func TestJSONGoldenFilesValidateAgainstOpenBanking(t *testing.T) {
	t.Parallel()
	paths, err := filepath.Glob(filepath.Join("testdata", "json.*.golden"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no json golden files: %v", err)
	}
	for _, path := range paths {
		doc, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if p := validateOB(doc); len(p) != 0 {
			t.Errorf("%s breaks the Open Banking rules:\n%s", path, strings.Join(p, "\n"))
		}
	}
}

// obDocument is the JSON format decoded with encoding/json; pointers tell
// absent fields from empty ones.
type obDocument struct {
	Data struct {
		Transaction []obTransaction
	}
	Meta struct {
		TotalPages             int
		FirstAvailableDateTime *string
		LastAvailableDateTime  *string
	}
}

type obAmount struct{ Amount, Currency string }

type obTransaction struct {
	AccountId                      string
	TransactionId                  string
	CreditDebitIndicator           string
	Status                         string
	BookingDateTime                string
	TransactionInformation         string
	Amount                         obAmount
	ProprietaryBankTransactionCode *struct{ Code, Issuer string }
	Balance                        *struct {
		Amount               obAmount
		CreditDebitIndicator string
		Type                 string
	}
	MerchantDetails *struct {
		MerchantName         *string
		MerchantCategoryCode *string
	}
	SupplementaryData struct{ CustomerId string }
}

// signedValueIs reports whether an Open Banking amount and indicator stand
// for the signed amount want, with the currency's places.
func signedValueIs(t *testing.T, a obAmount, indicator string, want schemas.Decimal, currency string) bool {
	t.Helper()
	places, _ := schemas.CurrencyMinorUnits(currency)
	signed := a.Amount
	if indicator == "Debit" {
		signed = "-" + signed
	}
	return a.Currency == currency && (indicator == "Debit") == (want.Sign() < 0) && sameValue(t, signed, want, places)
}

func TestJSONDecodesBackToTheRecordsForEveryGrant(t *testing.T) {
	t.Parallel()
	recs := formattest.InOrder(formattest.Fixtures(t), OldestFirst)
	for g := range schemas.AllCategories + 1 {
		granted := schemas.Category(g)
		if !granted.Has(schemas.Transactions) {
			continue
		}
		t.Run("granted "+granted.String(), func(t *testing.T) {
			t.Parallel()
			out := formattest.EncodeAll(t, JSON, granted, recs)
			if p := validateOB(out); len(p) != 0 {
				t.Fatalf("output breaks the Open Banking rules:\n%s", strings.Join(p, "\n"))
			}
			if lines := bytes.Count(out, []byte("\n")); lines != len(recs)+2 || !bytes.HasSuffix(out, []byte("}}\n")) {
				t.Errorf("output has %d lines, want one per transaction plus two, ending in }}\\n", lines)
			}
			var doc obDocument
			dec := json.NewDecoder(bytes.NewReader(out))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&doc); err != nil {
				t.Fatalf("decode: %v", err)
			}
			if len(doc.Data.Transaction) != len(recs) {
				t.Fatalf("got %d transactions, want %d", len(doc.Data.Transaction), len(recs))
			}
			first, last := recs[0].BookedAt, recs[0].BookedAt
			for i, r := range recs {
				got := doc.Data.Transaction[i]
				first, last = minTime(first, r.BookedAt), maxTime(last, r.BookedAt)
				checks := []struct{ field, got, want string }{
					{"AccountId", got.AccountId, r.AccountID},
					{"TransactionId", got.TransactionId, r.TransactionID},
					{"Status", got.Status, "Booked"},
					{"TransactionInformation", got.TransactionInformation, r.Description},
					{"SupplementaryData.CustomerId", got.SupplementaryData.CustomerId, r.CustomerID},
				}
				for _, c := range checks {
					if c.got != c.want {
						t.Errorf("transaction %d %s = %q, want %q", i, c.field, c.got, c.want)
					}
				}
				booked, err := time.Parse(time.RFC3339Nano, got.BookingDateTime)
				if err != nil || !booked.Equal(r.BookedAt) || !strings.HasSuffix(got.BookingDateTime, "+00:00") {
					t.Errorf("transaction %d BookingDateTime = %q, want %v with +00:00 (%v)", i, got.BookingDateTime, r.BookedAt, err)
				}
				if !signedValueIs(t, got.Amount, got.CreditDebitIndicator, r.Amount, r.Currency) {
					t.Errorf("transaction %d Amount %+v %s, want %s %s", i, got.Amount, got.CreditDebitIndicator, r.Amount, r.Currency)
				}
				if c := got.ProprietaryBankTransactionCode; (c != nil) != (r.Type != "") || (c != nil && (c.Code != r.Type || c.Issuer != "midata")) {
					t.Errorf("transaction %d ProprietaryBankTransactionCode = %+v, want code %q (absent when empty)", i, c, r.Type)
				}
				hasBalance := granted.Has(schemas.Balances) && r.HasBalance
				if b := got.Balance; (b != nil) != hasBalance {
					t.Errorf("transaction %d Balance present = %v, want %v", i, b != nil, hasBalance)
				} else if hasBalance && (b.Type != "InterimBooked" || !signedValueIs(t, b.Amount, b.CreditDebitIndicator, r.BalanceAfter, r.Currency)) {
					t.Errorf("transaction %d Balance = %+v, want %s %s InterimBooked", i, *b, r.BalanceAfter, r.Currency)
				}
				hasMerchant := granted.Has(schemas.Merchant) && (r.MerchantName != "" || r.MerchantCode != "")
				if md := got.MerchantDetails; (md != nil) != hasMerchant {
					t.Errorf("transaction %d MerchantDetails present = %v, want %v", i, md != nil, hasMerchant)
				} else if hasMerchant {
					if n := md.MerchantName; (n != nil) != (r.MerchantName != "") || (n != nil && *n != r.MerchantName) {
						t.Errorf("transaction %d MerchantName = %v, want %q", i, n, r.MerchantName)
					}
					if c := md.MerchantCategoryCode; (c != nil) != (r.MerchantCode != "") || (c != nil && *c != r.MerchantCode) {
						t.Errorf("transaction %d MerchantCategoryCode = %v, want %q", i, c, r.MerchantCode)
					}
				}
			}
			wantFirst, wantLast := first.Format(obDateTime), last.Format(obDateTime)
			if m := doc.Meta; m.TotalPages != 1 || m.FirstAvailableDateTime == nil || *m.FirstAvailableDateTime != wantFirst ||
				m.LastAvailableDateTime == nil || *m.LastAvailableDateTime != wantLast {
				t.Errorf("Meta = %+v, want TotalPages 1, first %s, last %s", m, wantFirst, wantLast)
			}
		})
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// obDateTime is the layout appendOBDateTime promises.
const obDateTime = "2006-01-02T15:04:05.999999999-07:00"

func TestOpenBankingDateTimesAreUTCWithANumericOffset(t *testing.T) {
	t.Parallel()
	paris := time.FixedZone("CET", 3600)
	tests := []struct {
		name string
		in   time.Time
		want string
	}{
		{"whole seconds have no fraction", time.Date(2026, 3, 4, 10, 15, 0, 0, time.UTC), "2026-03-04T10:15:00+00:00"},
		{"trailing zeros of a fraction are dropped", time.Date(2026, 3, 4, 10, 15, 0, 120_000_000, time.UTC), "2026-03-04T10:15:00.12+00:00"},
		{"nanoseconds are kept", time.Date(2026, 4, 2, 3, 4, 5, 123456789, time.UTC), "2026-04-02T03:04:05.123456789+00:00"},
		{"another zone is converted to UTC", time.Date(2026, 1, 1, 0, 30, 0, 0, paris), "2025-12-31T23:30:00+00:00"},
		{"the first year", time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), "0001-01-01T00:00:00+00:00"},
		{"the last year of RFC 3339", time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), "9999-12-31T23:59:59.999999999+00:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := string(appendOBDateTime([]byte("x"), tt.in))
			if got != "x"+tt.want || got[1:] != tt.in.UTC().Format(obDateTime) {
				t.Errorf("appendOBDateTime(%v) = %q, want %q (layout %s)", tt.in, got[1:], tt.want, obDateTime)
			}
		})
	}
}

func TestJSONOfNoRecordsIsAnEmptyTransactionList(t *testing.T) {
	t.Parallel()
	got := formattest.EncodeAll(t, JSON, schemas.AllCategories, nil)
	if want := "{\"Data\":{\"Transaction\":[\n]},\"Meta\":{\"TotalPages\":1}}\n"; string(got) != want {
		t.Errorf("empty release = %q, want %q", got, want)
	}
	if p := validateOB(got); len(p) != 0 {
		t.Errorf("empty release breaks the Open Banking rules: %v", p)
	}
}

func TestJSONMetaSpansTheBookingTimesWhateverTheOrder(t *testing.T) {
	t.Parallel()
	recs := formattest.Fixtures(t) // not in order: first and last are still min and max
	slices.Reverse(recs)
	var doc obDocument
	if err := json.Unmarshal(formattest.EncodeAll(t, JSON, schemas.Transactions, recs), &doc); err != nil {
		t.Fatal(err)
	}
	const wantFirst, wantLast = "2026-01-14T23:30:00+00:00", "2026-07-14T23:30:00+00:00"
	if f, l := doc.Meta.FirstAvailableDateTime, doc.Meta.LastAvailableDateTime; f == nil || *f != wantFirst || l == nil || *l != wantLast {
		t.Errorf("Meta = %+v, want first %s and last %s", doc.Meta, wantFirst, wantLast)
	}
}

// TestJSONWritesEveryValidAmountExactly: amounts of 14 to 18 integer
// digits are valid input; version 1 refused them (Open Banking's pattern
// allows 13) and the release left the record out of every file (trust
// issue, finding 12). They are written exactly, beyond OB's pattern.
func TestJSONWritesEveryValidAmountExactly(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ amount, currency, balance, want, wantBalance string }{
		{"-10000000000000", "GBP", "99999999999999", `"10000000000000.00"`, `"99999999999999.00"`},
		{"999999999999999999", "JPY", "-999999999999999999", `"999999999999999999"`, `"999999999999999999"`},
		{"-12345678901234.5678", "CLF", "1", `"12345678901234.5678"`, `"1.0000"`},
	} {
		tr := schemas.Transaction{TransactionID: "T1", CustomerID: "C1", AccountID: "A1", BookedAt: time.Date(2026, 3, 4, 10, 15, 0, 0, time.UTC),
			Amount: formattest.MustDecimal(t, tc.amount), Currency: tc.currency, Description: "X", Status: schemas.StatusBooked,
			BalanceAfter: formattest.MustDecimal(t, tc.balance), HasBalance: true}
		var buf bytes.Buffer
		enc := JSON.New(&buf, Options{Granted: schemas.AllCategories})
		if err := enc.Encode(&tr); err != nil {
			t.Fatalf("%s %s: %v", tc.amount, tc.currency, err)
		}
		if err := enc.Close(); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		if !strings.Contains(out, `"Amount":{"Amount":`+tc.want+`,"Currency":"`+tc.currency+`"}`) ||
			!strings.Contains(out, `"Balance":{"Amount":{"Amount":`+tc.wantBalance) {
			t.Errorf("%s %s: %s; want amount %s and balance %s", tc.amount, tc.currency, out, tc.want, tc.wantBalance)
		}
		if JSON.Fits != nil && JSON.Fits(&tr, schemas.AllCategories) != nil {
			t.Errorf("%s %s: Fits refuses a valid record", tc.amount, tc.currency)
		}
	}
}

func TestJSONRefusesRecordsOpenBankingCannotCarry(t *testing.T) {
	t.Parallel()
	ok := schemas.Transaction{TransactionID: "T1", CustomerID: "C1", AccountID: "A1", BookedAt: time.Date(2026, 3, 4, 10, 15, 0, 0, time.UTC),
		Amount: formattest.MustDecimal(t, "-1.00"), Currency: "GBP", Description: "X", Status: schemas.StatusBooked}
	tests := []struct {
		name    string
		edit    func(*schemas.Transaction)
		wantErr bool
	}{
		{"thirteen integer digits are fine", func(tr *schemas.Transaction) { tr.Amount = formattest.MustDecimal(t, "-9999999999999.99") }, false},
		{"a pending record is written as Pending", func(tr *schemas.Transaction) { tr.Status = schemas.StatusPending }, false},
		{"six decimal places are refused", func(tr *schemas.Transaction) { tr.Amount = formattest.MustDecimal(t, "0.000001") }, true},
		{"a lower-case currency is refused", func(tr *schemas.Transaction) { tr.Currency = "gbp" }, true},
		{"an unknown status is refused", func(tr *schemas.Transaction) { tr.Status = "cancelled" }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			bad := ok
			tt.edit(&bad)
			var buf bytes.Buffer
			enc := JSON.New(&buf, Options{Granted: schemas.AllCategories})
			first := ok
			if err := enc.Encode(&first); err != nil {
				t.Fatal(err)
			}
			err := enc.Encode(&bad)
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("Encode = %v, want no error", err)
				}
				if err := enc.Close(); err != nil {
					t.Fatal(err)
				}
				if p := validateOB(buf.Bytes()); len(p) != 0 {
					t.Errorf("output breaks the Open Banking rules: %v", p)
				}
				return
			}
			if !errors.Is(err, ErrNotOpenBanking) || !strings.Contains(err.Error(), "T1") {
				t.Fatalf("Encode = %v, want an error naming the transaction and wrapping ErrNotOpenBanking", err)
			}
			if err2 := enc.Encode(&first); !errors.Is(err2, ErrNotOpenBanking) {
				t.Errorf("Encode after a refusal = %v, want the same error", err2)
			}
			if err2 := enc.Close(); !errors.Is(err2, ErrNotOpenBanking) {
				t.Errorf("Close after a refusal = %v, want the same error", err2)
			}
		})
	}
}

func TestJSONClosedTwiceWritesOneTrailer(t *testing.T) {
	t.Parallel()
	recs := formattest.Fixtures(t)
	var buf bytes.Buffer
	enc := JSON.New(&buf, Options{Granted: schemas.Transactions})
	if err := enc.Encode(&recs[0]); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := enc.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	if n := bytes.Count(buf.Bytes(), []byte(`"Meta"`)); n != 1 {
		t.Errorf("Meta written %d times, want once", n)
	}
	if err := enc.Encode(&recs[1]); err == nil {
		t.Error("Encode after Close succeeded, want an error")
	}
}
