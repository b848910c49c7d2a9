package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/midata/midata/pipeline/api/bearer"
	"github.com/midata/midata/pipeline/api/ports"
	"github.com/midata/midata/pipeline/jobs"
	"github.com/midata/midata/pipeline/schedule"
	"github.com/midata/midata/schemas"
)

// routeCase is how the auth test calls one route: a concrete path and a
// body that the allowed roles' call succeeds with.
type routeCase struct {
	path    string
	body    any
	allowed []string // the tokens that may call it; every other token gets 403
}

// authCases lists, by "METHOD pattern", who may call each route. It is
// written out by hand, not derived from Routes, so that a wrong role in
// Routes fails the test; TestEveryRouteHasAnAuthCase keeps it complete.
func authCases() map[string]routeCase {
	custBody := map[string]any{"from": "2026-01-01", "to": "2026-02-01", "formats": []string{"midata-csv"}}
	relBody := map[string]any{"recipient": "partner:px", "customers": []string{"C1"}, "from": "2026-01-01", "to": "2026-02-01", "formats": []string{"ndjson"}}
	schedBody := map[string]any{"id": "s2", "cron": "@monthly", "recipient": "self", "customers": []string{"C1"}, "period": "month", "formats": []string{"midata-csv"}}
	putBody := map[string]any{"cron": "@daily", "recipient": "self", "all": true, "period": "day", "formats": []string{"ndjson"}}
	ops := []string{tokOps}
	return map[string]routeCase{
		"GET /healthz":                        {path: "/healthz"},
		"GET /readyz":                         {path: "/readyz"},
		"GET /openapi.json":                   {path: "/openapi.json"},
		"GET /.well-known/midata-signing-key": {path: "/.well-known/midata-signing-key"},
		"GET /metrics":                        {path: "/metrics", allowed: ops},

		"POST /v1/customers/{id}/releases":                   {path: "/v1/customers/C1/releases", body: custBody, allowed: []string{tokCustC1}},
		"GET /v1/customers/{id}/releases":                    {path: "/v1/customers/C1/releases", allowed: []string{tokCustC1}},
		"GET /v1/partners/{id}/releases":                     {path: "/v1/partners/px/releases", allowed: []string{tokPartnerX}},
		"GET /v1/customers/{id}/releases/{release}/links":    {path: "/v1/customers/C1/releases/rel-1/links", allowed: []string{tokCustC1}},
		"GET /v1/partners/{id}/releases/{release}/links":     {path: "/v1/partners/px/releases/rel-p/links", allowed: []string{tokPartnerX}},
		"GET /v1/partners/{id}/bundles":                      {path: "/v1/partners/px/bundles", allowed: []string{tokPartnerX}},
		"GET /v1/partners/{id}/bundles/{release}":            {path: "/v1/partners/px/bundles/rel-p", allowed: []string{tokPartnerX}},
		"GET /v1/customers/{id}/grants":                      {path: "/v1/customers/C1/grants", allowed: []string{tokCustC1}},
		"PUT /v1/customers/{id}/grants/{recipient}":          {path: "/v1/customers/C1/grants/partner:px", body: map[string]any{"categories": []string{"transactions"}}, allowed: []string{tokCustC1}},
		"DELETE /v1/customers/{id}/grants/{recipient}":       {path: "/v1/customers/C1/grants/self", allowed: []string{tokCustC1}},
		"GET /v1/customers/{id}/links":                       {path: "/v1/customers/C1/links", allowed: []string{tokCustC1}},
		"DELETE /v1/customers/{id}/links/{link}":             {path: "/v1/customers/C1/links/0123456789abcdef0123456789abcdef", allowed: []string{tokCustC1}},
		"DELETE /v1/customers/{id}/releases/{release}/links": {path: "/v1/customers/C1/releases/rel-1/links", allowed: []string{tokCustC1}},
		"DELETE /v1/customers/{id}/releases/{release}":       {path: "/v1/customers/C1/releases/rel-1", allowed: []string{tokCustC1}},
		"GET /v1/customers/{id}/downloads":                   {path: "/v1/customers/C1/downloads", allowed: []string{tokCustC1}},
		"GET /v1/downloads/{token}":                          {path: "/v1/downloads/tok"},
		"GET /v1/partners/{id}/deliveries":                   {path: "/v1/partners/px/deliveries", allowed: []string{tokPartnerX}},
		"DELETE /v1/releases/{release}/links":                {path: "/v1/releases/rel-1/links", allowed: ops},
		"GET /v1/deliveries":                                 {path: "/v1/deliveries?status=failed", allowed: ops},
		"GET /v1/quarantine":                                 {path: "/v1/quarantine", allowed: ops},
		"GET /v1/audit/customers/{id}":                       {path: "/v1/audit/customers/C1?format=csv", allowed: ops},

		"POST /v1/releases":              {path: "/v1/releases", body: relBody, allowed: ops},
		"GET /v1/runs":                   {path: "/v1/runs?status=failed", allowed: ops},
		"GET /v1/runs/{id}":              {path: "/v1/runs/r1", allowed: ops},
		"GET /v1/runs/{id}/releases":     {path: "/v1/runs/r1/releases?limit=10", allowed: ops},
		"POST /v1/runs/{id}/cancel":      {path: "/v1/runs/r1/cancel", allowed: ops},
		"POST /v1/runs/{id}/retry":       {path: "/v1/runs/r1/retry", allowed: ops},
		"GET /v1/schedules":              {path: "/v1/schedules", allowed: ops},
		"POST /v1/schedules":             {path: "/v1/schedules", body: schedBody, allowed: ops},
		"GET /v1/schedules/{id}":         {path: "/v1/schedules/s1", allowed: ops},
		"PUT /v1/schedules/{id}":         {path: "/v1/schedules/s1", body: putBody, allowed: ops},
		"DELETE /v1/schedules/{id}":      {path: "/v1/schedules/s1", allowed: ops},
		"POST /v1/schedules/{id}/pause":  {path: "/v1/schedules/s1/pause", allowed: ops},
		"POST /v1/schedules/{id}/resume": {path: "/v1/schedules/s1/resume", allowed: ops},
		"POST /v1/schedules/{id}/run":    {path: "/v1/schedules/s1/run", allowed: ops},
	}
}

// seeded is a harness with run r1 and schedule s1.
func seeded(t *testing.T) *harness {
	t.Helper()
	h := newHarness(t)
	h.runs.put(jobs.Run{ID: "r1", Status: jobs.StatusFailed, Request: jobs.Request{ID: "r1", Kind: jobs.KindRelease, Recipient: "self",
		Scope: schemas.Scope{Customers: []string{"C1"}}}, CreatedAt: testNow},
		jobs.Run{ID: "p1", Status: jobs.StatusSucceeded, Request: jobs.Request{ID: "p1", Kind: jobs.KindRelease, Recipient: "partner:px",
			Scope: schemas.Scope{Customers: []string{"C1"}}}, CreatedAt: testNow})
	h.runs.putReleases(jobs.Release{RunID: "r1", ReleaseID: "rel-1", CustomerID: "C1", Status: "committed"},
		jobs.Release{RunID: "p1", ReleaseID: "rel-p", CustomerID: "C1", Status: "committed"})
	h.schedules.byID["s1"] = schedule.Entry{Schedule: schedule.Schedule{ID: "s1", Spec: "@monthly", Recipient: "self",
		Scope: schemas.Scope{Customers: []string{"C1"}}, Period: "month", Formats: []string{"midata-csv"}}}
	return h
}

func TestEveryRouteHasAnAuthCase(t *testing.T) {
	cases := authCases()
	seen := map[string]bool{}
	for _, rt := range newHarness(t).api.Routes() {
		key := rt.Method + " " + rt.Pattern
		seen[key] = true
		if _, ok := cases[key]; !ok {
			t.Errorf("route %s has no case in authCases: add one", key)
		}
	}
	for key := range cases {
		if !seen[key] {
			t.Errorf("authCases has %s, which is not a route", key)
		}
	}
}

func TestEveryRouteRefusesTheWrongCaller(t *testing.T) {
	tokens := []string{tokOps, tokCustC1, tokCustC2, tokPartnerX, tokPartnerY}
	for key, rc := range authCases() {
		method, _, _ := strings.Cut(key, " ")
		public := len(rc.allowed) == 0
		t.Run(key+" without a token", func(t *testing.T) {
			h := seeded(t)
			rec := h.do(t, method, rc.path, "", rc.body)
			if public {
				if rec.Code >= 300 {
					t.Fatalf("public route answered %d: %s", rec.Code, rec.Body)
				}
				return
			}
			errorOf(t, rec, 401)
			if got := rec.Header().Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
				t.Errorf("WWW-Authenticate %q, want Bearer …", got)
			}
			if c := h.calls.list(); len(c) > 0 {
				t.Errorf("a refused call reached the backends: %v", c)
			}
		})
		if public {
			continue
		}
		t.Run(key+" with an unknown token", func(t *testing.T) {
			h := seeded(t)
			rec := h.do(t, method, rc.path, "not-a-token-of-this-config", rc.body)
			errorOf(t, rec, 401)
			if got := rec.Header().Get("WWW-Authenticate"); !strings.Contains(got, "invalid_token") {
				t.Errorf("WWW-Authenticate %q, want error=\"invalid_token\"", got)
			}
		})
		t.Run(key+" with a Basic header", func(t *testing.T) {
			h := seeded(t)
			req := httptestRequest(t, method, rc.path, rc.body)
			req.Header.Set("Authorization", "Basic "+tokOps)
			rec := serve(h, req)
			errorOf(t, rec, 401)
		})
		for _, tok := range tokens {
			role := testTokens[tok]
			t.Run(key+" as "+role, func(t *testing.T) {
				h := seeded(t)
				rec := h.do(t, method, rc.path, tok, rc.body)
				if !contains(rc.allowed, tok) {
					msg := errorOf(t, rec, 403)
					if !strings.Contains(msg, role) {
						t.Errorf("403 message %q does not name the role %s", msg, role)
					}
					if c := h.calls.list(); len(c) > 0 {
						t.Errorf("a refused call reached the backends: %v", c)
					}
					return
				}
				if rec.Code < 200 || rec.Code >= 300 {
					t.Fatalf("allowed caller got %d: %s", rec.Code, rec.Body)
				}
			})
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestLogsNeverHoldTokens(t *testing.T) {
	h := seeded(t)
	h.do(t, "GET", "/v1/runs", tokOps, nil)
	h.do(t, "GET", "/v1/runs", "wrong-token-that-must-not-be-logged", nil)
	h.do(t, "POST", "/v1/customers/C1/releases", tokCustC1, map[string]any{"from": "2026-01-01", "to": "2026-02-01", "formats": []string{"midata-csv"}})
	logs := h.logs.String()
	for _, secret := range []string{tokOps, tokCustC1, "wrong-token-that-must-not-be-logged"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the logs hold a token: %s", logs)
		}
	}
	if !strings.Contains(logs, `"role":"customer:C1"`) {
		t.Errorf("the logs do not name the caller's role: %s", logs)
	}
}

func TestNewRefusesBadTokens(t *testing.T) {
	tests := []struct {
		name   string
		tokens map[string]string
		want   string
	}{
		{"a role that is not ops, customer or partner is refused", map[string]string{"token-0123456789abcdef": "admin"}, `role "admin"`},
		{"a customer role without an id is refused", map[string]string{"token-0123456789abcdef": "customer:"}, "customer id"},
		{"a partner id with capitals is refused", map[string]string{"token-0123456789abcdef": "partner:PX"}, "partner id"},
		{"a short token is refused without being named", map[string]string{"tiny1": "ops"}, "shorter than 16 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(Config{Runs: &fakeRuns{}, Control: &fakeControl{}, Schedules: &fakeSchedules{},
				Consent: ports.ConsentFunc(nil), Links: ports.LinksFunc(nil), Health: ports.HealthFunc(nil), Tokens: tt.tokens})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New: %v, want an error with %q", err, tt.want)
			}
			for tok := range tt.tokens {
				if strings.Contains(err.Error(), tok) {
					t.Errorf("the error names the token: %v", err)
				}
			}
		})
	}
}

func TestNewNamesMissingBackends(t *testing.T) {
	_, err := New(Config{Runs: &fakeRuns{}, Schedules: &fakeSchedules{}, Health: ports.HealthFunc(nil)})
	if err == nil || !strings.Contains(err.Error(), "missing Consent, Control, Links in Config") {
		t.Fatalf("New: %v, want it to name Consent, Control, Links", err)
	}
}

// roleFunc is an Authenticator for tests: a JWT issuer, say.
type roleFunc func(token string) (string, error)

func (f roleFunc) Role(_ context.Context, token string) (string, error) { return f(token) }

func TestTokensBeyondTheStaticOnesGoThroughConfigAuth(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Auth = roleFunc(func(tok string) (string, error) {
			switch tok {
			case "jwt-for-c2":
				return "customer:C2", nil
			case "jwt-expired":
				return "", errors.New("bearer JWT refused: oidc: token is expired")
			}
			return "", bearer.ErrUnknown
		})
	})
	if r := h.do(t, "GET", "/v1/customers/C2/releases", "jwt-for-c2", nil); r.Code != http.StatusOK {
		t.Errorf("C2's own JWT: %d, want 200", r.Code)
	}
	if r := h.do(t, "GET", "/v1/customers/C1/releases", "jwt-for-c2", nil); r.Code != http.StatusForbidden {
		t.Errorf("C2's JWT on C1's releases: %d, want 403", r.Code)
	}
	r := h.do(t, "GET", "/v1/customers/C2/releases", "jwt-expired", nil)
	if r.Code != http.StatusUnauthorized || !strings.Contains(r.Body.String(), "expired") {
		t.Errorf("an expired JWT: %d %s, want 401 saying it expired", r.Code, r.Body)
	}
	if r := h.do(t, "GET", "/v1/runs", tokOps, nil); r.Code != http.StatusOK {
		t.Errorf("a static token next to Auth: %d", r.Code)
	}
	if r := h.do(t, "GET", "/v1/runs", "nobody-knows-me-0123456789", nil); r.Code != http.StatusUnauthorized {
		t.Errorf("an unknown token: %d", r.Code)
	}
}
