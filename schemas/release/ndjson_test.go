package release

import (
	"bytes"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/midata/midata/schemas"
	"github.com/midata/midata/schemas/release/format/formattest"
)

// ndjsonLine is one NDJSON line decoded with encoding/json; pointers tell
// absent fields from empty ones.
type ndjsonLine struct {
	TransactionID string  `json:"transaction_id"`
	CustomerID    string  `json:"customer_id"`
	AccountID     string  `json:"account_id"`
	BookedAt      string  `json:"booked_at"`
	Amount        string  `json:"amount"`
	Currency      string  `json:"currency"`
	Status        string  `json:"status"`
	Type          *string `json:"type"`
	Description   string  `json:"description"`
	Merchant      *struct {
		Name *string `json:"name"`
		Code *string `json:"category_code"`
	} `json:"merchant"`
	BalanceAfter *string `json:"balance_after"`
}

// keysOf returns the top-level keys of one JSON object, in order.
func keysOf(t *testing.T, line []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("line does not start an object: %v %v", tok, err)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func TestNDJSONDecodesToTheInputExactly(t *testing.T) {
	t.Parallel()
	recs := formattest.InOrder(formattest.Fixtures(t), OldestFirst)
	for g := range schemas.AllCategories + 1 {
		granted := schemas.Category(g)
		if !granted.Has(schemas.Transactions) {
			continue
		}
		t.Run("granted "+granted.String(), func(t *testing.T) {
			t.Parallel()
			out := formattest.EncodeAll(t, NDJSON, granted, recs)
			if !bytes.HasSuffix(out, []byte("}\n")) || bytes.Contains(out, []byte("\r")) {
				t.Fatalf("output does not end with }\\n or has a CR")
			}
			lines := bytes.Split(bytes.TrimSuffix(out, []byte("\n")), []byte("\n"))
			if len(lines) != len(recs) {
				t.Fatalf("got %d lines, want %d", len(lines), len(recs))
			}
			for i, line := range lines {
				r := recs[i]
				var got ndjsonLine
				dec := json.NewDecoder(bytes.NewReader(line))
				dec.DisallowUnknownFields()
				if err := dec.Decode(&got); err != nil {
					t.Fatalf("line %d does not decode: %v\n%s", i, err, line)
				}
				if _, err := dec.Token(); err != io.EOF {
					t.Fatalf("line %d has more than one value", i)
				}
				wantStatus := string(r.Status)
				if wantStatus == "" {
					wantStatus = "booked"
				}
				checks := []struct{ field, got, want string }{
					{"transaction_id", got.TransactionID, r.TransactionID},
					{"customer_id", got.CustomerID, r.CustomerID},
					{"account_id", got.AccountID, r.AccountID},
					{"amount", got.Amount, r.Amount.Text},
					{"currency", got.Currency, r.Currency},
					{"status", got.Status, wantStatus},
					{"description", got.Description, r.Description},
				}
				for _, c := range checks {
					if c.got != c.want {
						t.Errorf("line %d %s = %q, want %q", i, c.field, c.got, c.want)
					}
				}
				booked, err := time.Parse(time.RFC3339Nano, got.BookedAt)
				if err != nil || !booked.Equal(r.BookedAt) || !strings.HasSuffix(got.BookedAt, "Z") {
					t.Errorf("line %d booked_at = %q, want %v in UTC (%v)", i, got.BookedAt, r.BookedAt, err)
				}
				if (got.Type != nil) != (r.Type != "") || (got.Type != nil && *got.Type != r.Type) {
					t.Errorf("line %d type = %v, want %q (absent when empty)", i, got.Type, r.Type)
				}
				hasMerchant := granted.Has(schemas.Merchant) && (r.MerchantName != "" || r.MerchantCode != "")
				if (got.Merchant != nil) != hasMerchant {
					t.Errorf("line %d merchant present = %v, want %v", i, got.Merchant != nil, hasMerchant)
				} else if hasMerchant {
					if n := got.Merchant.Name; (n != nil) != (r.MerchantName != "") || (n != nil && *n != r.MerchantName) {
						t.Errorf("line %d merchant.name = %v, want %q", i, n, r.MerchantName)
					}
					if c := got.Merchant.Code; (c != nil) != (r.MerchantCode != "") || (c != nil && *c != r.MerchantCode) {
						t.Errorf("line %d merchant.category_code = %v, want %q", i, c, r.MerchantCode)
					}
				}
				hasBalance := granted.Has(schemas.Balances) && r.HasBalance
				if (got.BalanceAfter != nil) != hasBalance || (hasBalance && *got.BalanceAfter != r.BalanceAfter.Text) {
					t.Errorf("line %d balance_after = %v, want %q (present: %v)", i, got.BalanceAfter, r.BalanceAfter.Text, hasBalance)
				}
				keys := keysOf(t, line)
				order := []string{"transaction_id", "customer_id", "account_id", "booked_at", "amount", "currency", "status", "type", "description", "merchant", "balance_after"}
				if !slices.IsSortedFunc(keys, func(a, b string) int { return slices.Index(order, a) - slices.Index(order, b) }) {
					t.Errorf("line %d keys %v are not in the documented order", i, keys)
				}
			}
		})
	}
}

// jsonStringCases are strings whose JSON encoding is easy to get wrong.
var jsonStringCases = []string{
	"", "plain", `quote " and backslash \`, "\\u00e9 is not an escape here",
	"<script>alert('x')</script> & more", "\x00\x01\x07\x08\x0b\x0c\x1f\x7f",
	"tab\tnew\nline\rcr", "line\u2028sep\u2029para", "Café Müller", "東京 🍜",
	"\xff invalid", "\xe2\x82 truncated", "\xed\xa0\x80 surrogate", "\xf4\x90\x80\x80 too big",
	"\u00a0nbsp", "\ufeffbom", "\ufffd replacement", "end\xe2",
}

func TestJSONStringsMatchEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, s := range jsonStringCases {
		checkJSONString(t, s)
	}
}

func FuzzJSONStringMatchesEncodingJSON(f *testing.F) {
	for _, s := range jsonStringCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkJSONString(t, s) })
}

// checkJSONString checks appendJSONString against encoding/json with HTML
// escaping off, and that valid UTF-8 decodes back to itself.
func checkJSONString(t *testing.T, s string) {
	t.Helper()
	var want bytes.Buffer
	enc := json.NewEncoder(&want)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	got := appendJSONString(nil, s)
	if string(got) != strings.TrimSuffix(want.String(), "\n") {
		t.Errorf("appendJSONString(%q) = %s, want %s", s, got, want.String())
	}
	var back string
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatalf("%s does not decode: %v", got, err)
	}
	if utf8.ValidString(s) && back != s {
		t.Errorf("%q decodes back as %q", s, back)
	}
	if bytes.ContainsAny(got, "\n\r") {
		t.Errorf("%s contains a raw line break", got)
	}
}
