package schemas_test

import (
	"strings"
	"testing"

	"github.com/midata/midata/schemas"
)

func TestRecipientValidate(t *testing.T) {
	tests := []struct {
		name      string
		recipient string
		ok        bool
	}{
		{"self is valid", "self", true},
		{"a partner with a short id is valid", "partner:a", true},
		{"a partner id of dots, digits, underscores and dashes is valid", "partner:pds.one_2-b", true},
		{"a partner id of 64 characters is valid", "partner:" + strings.Repeat("z", 64), true},
		{"a partner id of 65 characters is refused", "partner:" + strings.Repeat("z", 65), false},
		{"an empty recipient is refused", "", false},
		{"self in capitals is refused", "Self", false},
		{"self with a space is refused", "self ", false},
		{"partner without an id is refused", "partner", false},
		{"partner with an empty id is refused", "partner:", false},
		{"a partner id in capitals is refused", "partner:PDS", false},
		{"a partner id with a space is refused", "partner:a b", false},
		{"a partner id with a colon is refused", "partner:a:b", false},
		{"a partner id with a bar is refused", "partner:a|b", false},
		{"a partner id with non-ASCII letters is refused", "partner:café", false},
		{"an unknown kind of recipient is refused", "bank:x", false},
		{"a bare word is refused", "bob", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := schemas.ParseRecipient(tt.recipient)
			if (err == nil) != tt.ok {
				t.Fatalf("ParseRecipient(%q) = %v, want ok %v", tt.recipient, err, tt.ok)
			}
			if string(r) != tt.recipient {
				t.Errorf("ParseRecipient(%q) = %q", tt.recipient, r)
			}
			if err != nil && !strings.Contains(err.Error(), "want self or partner:<id>") {
				t.Errorf("error %q does not say what is wanted", err)
			}
			if err := schemas.Recipient(tt.recipient).Validate(); (err == nil) != tt.ok {
				t.Errorf("Validate(%q) = %v, want ok %v", tt.recipient, err, tt.ok)
			}
		})
	}
}

func TestRecipientErrorQuotesTheValue(t *testing.T) {
	err := schemas.Recipient("bob").Validate()
	if err == nil || !strings.HasPrefix(err.Error(), `recipient "bob": want self or partner:<id>`) {
		t.Errorf("Validate(bob) = %v", err)
	}
	long := schemas.Recipient(strings.Repeat("x", 500)).Validate()
	if long == nil || len(long.Error()) > 200 {
		t.Errorf("the error of a long recipient is not cut: %v", long)
	}
}

func TestRecipientParts(t *testing.T) {
	tests := []struct {
		name    string
		r       schemas.Recipient
		self    bool
		partner string
		isPart  bool
	}{
		{"self is self and no partner", schemas.RecipientSelf, true, "", false},
		{"a partner is not self and has its id", "partner:pds-1", false, "pds-1", true},
		{"PartnerRecipient builds the same recipient", schemas.PartnerRecipient("pds-1"), false, "pds-1", true},
		{"an invalid word is neither", "bob", false, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.r.IsSelf(); got != tt.self {
				t.Errorf("IsSelf(%q) = %v", tt.r, got)
			}
			id, ok := tt.r.PartnerID()
			if id != tt.partner || ok != tt.isPart {
				t.Errorf("PartnerID(%q) = %q, %v; want %q, %v", tt.r, id, ok, tt.partner, tt.isPart)
			}
		})
	}
}

func TestCustomerIDValidate(t *testing.T) {
	tests := []struct {
		name string
		id   string
		ok   bool
	}{
		{"a usual id is valid", "C000123", true},
		{"one character is valid", "c", true},
		{"lower and upper case are both valid", "cUsT", true},
		{"dots, underscores and dashes are valid", "a.b_c-d", true},
		{"64 characters are valid", strings.Repeat("C", 64), true},
		{"65 characters are refused", strings.Repeat("C", 65), false},
		{"an empty id is refused", "", false},
		{"a space is refused", "C 1", false},
		{"a bar (the consent key separator) is refused", "C|1", false},
		{"a colon is refused", "customer:C1", false},
		{"a star is refused", "C*1", false},
		{"a slash is refused", "C/1", false},
		{"non-ASCII letters are refused", "Cé", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := schemas.ParseCustomerID(tt.id)
			if (err == nil) != tt.ok {
				t.Fatalf("ParseCustomerID(%q) = %v, want ok %v", tt.id, err, tt.ok)
			}
			if string(c) != tt.id {
				t.Errorf("ParseCustomerID(%q) = %q", tt.id, c)
			}
			if err != nil && !strings.Contains(err.Error(), "want 1-64 of A-Z a-z 0-9 . _ -") {
				t.Errorf("error %q does not say what is wanted", err)
			}
		})
	}
}

func TestCustomerIDErrorQuotesTheValue(t *testing.T) {
	err := schemas.CustomerID("C*1").Validate()
	if err == nil || !strings.HasPrefix(err.Error(), `customer "C*1": `) {
		t.Errorf("Validate(C*1) = %v", err)
	}
}

func TestScopeValidate(t *testing.T) {
	tests := []struct {
		name  string
		scope schemas.Scope
		want  string // in the error; "" for valid
	}{
		{"everyone is valid", schemas.Scope{All: true}, ""},
		{"a list of customers is valid", schemas.Scope{Customers: []string{"C1", "C2"}}, ""},
		{"both kinds are refused", schemas.Scope{All: true, Customers: []string{"C1"}}, `both "all" and "customers"`},
		{"neither kind is refused", schemas.Scope{}, `neither "all" nor "customers"`},
		{"a bad customer id is refused", schemas.Scope{Customers: []string{"C 1"}}, `customer "C 1"`},
		{"a customer listed twice is refused", schemas.Scope{Customers: []string{"C1", "C1"}}, `customer "C1" twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.scope.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v, want %q", err, tt.want)
			}
		})
	}
}
