package web_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/midata/midata/pipeline/web"
)

// fakeAPI answers the dashboard's reads and records the changes.
type fakeAPI struct {
	mu    sync.Mutex
	calls []string
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.calls = append(f.calls, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch {
	case strings.HasSuffix(r.URL.Path, "/grants"):
		w.Write([]byte(`{"grants":[]}`))
	case strings.HasSuffix(r.URL.Path, "/releases"):
		w.Write([]byte(`{"runs":[]}`))
	default:
		w.Write([]byte(`{}`))
	}
}

func (f *fakeAPI) changed() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		if !strings.HasPrefix(c, "GET ") {
			out = append(out, c)
		}
	}
	return out
}

func newWeb(t *testing.T, now *time.Time) (*web.Web, *fakeAPI) {
	t.Helper()
	api := &fakeAPI{}
	w, err := web.New(web.Config{API: api, Secret: []byte("0123456789abcdef0123456789abcdef"), Organisation: "Test Bank",
		Role: func(_ context.Context, tok string) (string, error) {
			if tok == "tok-customer" {
				return "customer:C1", nil
			}
			return "", errors.New("unknown token")
		}, Now: func() time.Time { return *now }})
	if err != nil {
		t.Fatal(err)
	}
	return w, api
}

func hit(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

var csrfField = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

func TestSessionsAreSealedCookiesAndEveryFormNeedsItsCSRFToken(t *testing.T) {
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	w, api := newWeb(t, &now)

	// Sign in: a sealed cookie, HttpOnly, SameSite=Lax, Secure but on
	// plain localhost.
	for _, host := range []string{"127.0.0.1:8080", "localhost:8080", "midata.bank.example"} {
		r := httptest.NewRequest("POST", "http://"+host+"/web/signin", strings.NewReader(url.Values{"token": {"tok-customer"}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := hit(w, r)
		cookies := rec.Result().Cookies()
		if rec.Code != http.StatusSeeOther || len(cookies) != 1 {
			t.Fatalf("sign in on %s = %d, cookies %v", host, rec.Code, cookies)
		}
		c := cookies[0]
		wantSecure := host == "midata.bank.example"
		if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure != wantSecure || c.Path != "/web/" || strings.Contains(c.Value, "tok-customer") {
			t.Errorf("cookie on %s = %+v, want HttpOnly, Lax, Secure %v, path /web/, the token not in clear", host, c, wantSecure)
		}
	}
	r := httptest.NewRequest("POST", "http://127.0.0.1/web/signin", strings.NewReader("token=nope"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if rec := hit(w, r); rec.Code != http.StatusUnauthorized || len(rec.Result().Cookies()) != 0 {
		t.Errorf("a refused token = %d with cookies %v", rec.Code, rec.Result().Cookies())
	}

	r = httptest.NewRequest("POST", "http://127.0.0.1/web/signin", strings.NewReader("token=tok-customer"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	cookie := hit(w, r).Result().Cookies()[0]
	get := func(c *http.Cookie, header string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "http://127.0.0.1/web/me", nil)
		if c != nil {
			r.AddCookie(c)
		}
		if header != "" {
			r.Header.Set("Authorization", "Bearer "+header)
		}
		return hit(w, r)
	}
	page := get(cookie, "")
	m := csrfField.FindStringSubmatch(page.Body.String())
	if page.Code != 200 || m == nil {
		t.Fatalf("the dashboard with the cookie = %d, csrf %v", page.Code, m)
	}
	post := func(c *http.Cookie, header, csrf string) int {
		form := url.Values{"recipient": {"self"}, "category": {"transactions"}}
		if csrf != "" {
			form.Set("csrf", csrf)
		}
		r := httptest.NewRequest("POST", "http://127.0.0.1/web/me/grants", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if c != nil {
			r.AddCookie(c)
		}
		if header != "" {
			r.Header.Set("Authorization", "Bearer "+header)
		}
		return hit(w, r).Code
	}
	if code := post(cookie, "", ""); code != http.StatusForbidden {
		t.Errorf("a form without its CSRF token = %d, want 403", code)
	}
	if code := post(cookie, "", strings.Repeat("0", 32)); code != http.StatusForbidden {
		t.Errorf("a form with another CSRF token = %d, want 403", code)
	}
	if n := len(api.changed()); n != 0 {
		t.Fatalf("refused forms reached the API: %v", api.changed())
	}
	if code := post(cookie, "", m[1]); code != http.StatusSeeOther || len(api.changed()) != 1 || api.changed()[0] != "PUT /v1/customers/C1/grants/self Bearer tok-customer" {
		t.Errorf("the form with its token = %d, API calls %v", code, api.changed())
	}

	// A tampered cookie, or an expired session, signs nobody in.
	bad := *cookie
	bad.Value = bad.Value[:len(bad.Value)-2] + "AA"
	if rec := get(&bad, ""); rec.Code != http.StatusSeeOther || !strings.Contains(rec.Header().Get("Location"), "/web/signin") {
		t.Errorf("a tampered cookie = %d → %s", rec.Code, rec.Header().Get("Location"))
	}
	now = now.Add(web.SessionTTL + time.Minute)
	if rec := get(cookie, ""); rec.Code != http.StatusSeeOther {
		t.Errorf("an expired session = %d, want a redirect to sign in", rec.Code)
	}

	// An OIDC proxy's header signs in per request; its forms need the
	// CSRF token the page gives too.
	page = get(nil, "tok-customer")
	m = csrfField.FindStringSubmatch(page.Body.String())
	if page.Code != 200 || m == nil {
		t.Fatalf("the dashboard with a bearer header = %d", page.Code)
	}
	before := len(api.changed())
	if code := post(nil, "tok-customer", ""); code != http.StatusForbidden || len(api.changed()) != before {
		t.Errorf("a header-signed form without its CSRF token = %d", code)
	}
	if code := post(nil, "tok-customer", m[1]); code != http.StatusSeeOther || len(api.changed()) != before+1 {
		t.Errorf("a header-signed form with its CSRF token = %d", code)
	}
	if rec := get(nil, "nope"); rec.Code != http.StatusSeeOther {
		t.Errorf("an unknown bearer header = %d, want a redirect to sign in", rec.Code)
	}
}
