package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestACustomerReadsChangesAndRevokesTheirGrants(t *testing.T) {
	h := newHarness(t)
	if r := h.do(t, "GET", "/v1/customers/C1/grants", tokCustC1, nil); r.Code != http.StatusOK || strings.TrimSpace(r.Body.String()) != `{"grants":[]}` {
		t.Fatalf("no grants yet: %d %s", r.Code, r.Body)
	}
	r := h.do(t, "PUT", "/v1/customers/C1/grants/partner:pds-1", tokCustC1, map[string]any{
		"categories": []string{"transactions", "merchant"}, "window_from": "2026-01-01", "window_to": "2026-07-01T00:00:00Z", "expires_at": "2099-01-01"})
	if r.Code != http.StatusOK {
		t.Fatalf("PUT a partner grant: %d %s", r.Code, r.Body)
	}
	var g Grant
	if err := json.Unmarshal(r.Body.Bytes(), &g); err != nil {
		t.Fatal(err)
	}
	// 2026-01-01 is midnight in Europe/London by default: in January, UTC.
	if g.Recipient != "partner:pds-1" || g.Status != "granted" || !g.InForce || !slices.Equal(g.Categories, []string{"transactions", "merchant"}) ||
		g.WindowFrom == nil || !g.WindowFrom.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) || g.ExpiresAt == nil {
		t.Errorf("the grant answered: %+v", g)
	}
	if r := h.do(t, "DELETE", "/v1/customers/C1/grants/self", tokCustC1, nil); r.Code != http.StatusOK || !strings.Contains(r.Body.String(), `"status":"revoked"`) || !strings.Contains(r.Body.String(), `"in_force":false`) {
		t.Errorf("DELETE self: %d %s", r.Code, r.Body)
	}
	r = h.do(t, "GET", "/v1/customers/C1/grants", tokCustC1, nil)
	var list GrantList
	json.Unmarshal(r.Body.Bytes(), &list)
	if len(list.Grants) != 2 || list.Grants[0].Recipient != "partner:pds-1" || list.Grants[1].Status != "revoked" {
		t.Errorf("grants after both changes: %s", r.Body)
	}

	for name, c := range map[string]struct {
		path string
		body any
	}{
		"no category":          {"/v1/customers/C1/grants/self", map[string]any{"categories": []string{}}},
		"an unknown category":  {"/v1/customers/C1/grants/self", map[string]any{"categories": []string{"health"}}},
		"a bad date":           {"/v1/customers/C1/grants/self", map[string]any{"categories": []string{"transactions"}, "expires_at": "soon"}},
		"an unknown field":     {"/v1/customers/C1/grants/self", map[string]any{"categories": []string{"transactions"}, "recipient": "partner:x"}},
		"a case-variant field": {"/v1/customers/C1/grants/self", `{"categories":["transactions"],"Categories":[]}`},
		"a bad recipient":      {"/v1/customers/C1/grants/everyone", map[string]any{"categories": []string{"transactions"}}},
	} {
		if r := h.do(t, "PUT", c.path, tokCustC1, c.body); r.Code != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", name, r.Code, r.Body)
		}
	}
	// Another customer's grants, and ops, are refused (the auth matrix
	// covers every role); nothing was written for them.
	if r := h.do(t, "PUT", "/v1/customers/C2/grants/self", tokCustC1, map[string]any{"categories": []string{"transactions"}}); r.Code != http.StatusForbidden {
		t.Errorf("C1 changing C2's grant: %d", r.Code)
	}
	if r := h.do(t, "DELETE", "/v1/customers/C1/grants/self", tokOps, nil); r.Code != http.StatusForbidden {
		t.Errorf("ops revoking C1's grant: %d", r.Code)
	}
	for _, c := range h.calls.list() {
		if strings.Contains(c, "C2") {
			t.Errorf("a refused call reached the grants: %s", c)
		}
	}
}

func TestGrantsWithoutAConsentViewAnswer503(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Grants = nil })
	if r := h.do(t, "GET", "/v1/customers/C1/grants", tokCustC1, nil); r.Code != http.StatusServiceUnavailable {
		t.Errorf("GET grants without a backend: %d %s", r.Code, r.Body)
	}
}
