// Package web is midata's own pages: the customers' privacy and
// preference dashboard (role customer), the operations console (role ops)
// and a partner's page (role partner), server-rendered with html/template,
// without scripts.
//
// The pages are a client of the API, in process: every page reads and
// every form changes through the API's own handler, with the signed-in
// user's bearer token, so the roles, checks and consent rules are the
// API's, once. A session is a cookie holding that token, encrypted and
// authenticated (AES-GCM with a key derived from the organisation's
// signing key), HttpOnly, SameSite=Lax, Secure except on plain localhost,
// and a CSRF token that every form carries back.
//
// Sign-in: with a bearer token (pasted into the sign-in form, or sent in an
// Authorization header by an OIDC proxy in front, whose JWTs the API
// checks), or in `midata dev` with the sign-in links it prints.
package web

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/midata/midata/pipeline/api/wire"
	"github.com/midata/midata/pipeline/partners"
)

// Prefix is where the pages are.
const Prefix = "/web/"

// SessionTTL is how long a session lasts.
const SessionTTL = 8 * time.Hour

const cookieName = "midata_session"

// Config is what the pages need.
type Config struct {
	// API is the API's handler: the pages read and change through it.
	API http.Handler
	// Role says whose a bearer token is, as the API would (its tokens,
	// tokens file and JWTs).
	Role func(ctx context.Context, token string) (string, error)
	// Secret is the key material of sessions and dev sign-in links (the
	// signing key's: signing.Keys.Secret).
	Secret []byte
	// Partners are shown to customers by name, with what each receives.
	Partners []partners.Partner
	// Organisation names the organisation on every page.
	Organisation string
	// Location is the organisation's time zone, for dates shown and read.
	Location *time.Location
	// DevTokens, in `midata dev` only, are the tokens of its sign-in
	// links, by role ("ops", "customer:C000001", "partner:pds-one").
	DevTokens map[string]string
	Logger    *slog.Logger
	Now       func() time.Time
}

// Web serves the pages.
type Web struct {
	cfg  Config
	aead cipher.AEAD
	mac  []byte
	tmpl *template.Template
	mux  *http.ServeMux
}

//go:embed templates/*.html
var templates embed.FS

// New returns the pages of cfg.
func New(cfg Config) (*Web, error) {
	if cfg.API == nil || cfg.Role == nil || len(cfg.Secret) < 16 {
		return nil, errors.New("web: an API handler, a Role and a secret of at least 16 bytes are required")
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	derive := func(label string) []byte {
		m := hmac.New(sha256.New, cfg.Secret)
		m.Write([]byte(label))
		return m.Sum(nil)
	}
	block, _ := aes.NewCipher(derive("midata web sessions v1"))
	aead, _ := cipher.NewGCM(block)
	w := &Web{cfg: cfg, aead: aead, mac: derive("midata dev sign-in v1")}
	tmpl, err := template.New("").Funcs(w.funcs()).ParseFS(templates, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("web: templates: %w", err)
	}
	w.tmpl = tmpl
	w.mux = http.NewServeMux()
	w.routes()
	return w, nil
}

// ServeHTTP serves the pages under Prefix.
func (w *Web) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	h := rw.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	w.mux.ServeHTTP(rw, r)
}

// session is what the cookie holds.
type session struct {
	Token   string    `json:"t"`
	Role    string    `json:"r"`
	CSRF    string    `json:"c"`
	Expires time.Time `json:"e"`
}

// ID is the customer or partner id of the session's role.
func (s session) ID() string {
	_, id, _ := strings.Cut(s.Role, ":")
	return id
}

func (w *Web) seal(s session) string {
	b, _ := json.Marshal(s)
	nonce := make([]byte, w.aead.NonceSize())
	rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(w.aead.Seal(nonce, nonce, b, []byte(cookieName)))
}

func (w *Web) open(v string) (session, bool) {
	b, err := base64.RawURLEncoding.DecodeString(v)
	n := w.aead.NonceSize()
	if err != nil || len(b) < n {
		return session{}, false
	}
	plain, err := w.aead.Open(nil, b[:n], b[n:], []byte(cookieName))
	var s session
	if err != nil || json.Unmarshal(plain, &s) != nil || !w.cfg.Now().Before(s.Expires) {
		return session{}, false
	}
	return s, true
}

// secure says whether the cookie is Secure: always but on plain
// http://localhost (and 127.0.0.1, ::1), where browsers would drop it.
func secure(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	host, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		host = r.Host
	}
	ip := net.ParseIP(host)
	return !(host == "localhost" || ip != nil && ip.IsLoopback())
}

// signIn checks token with the API, starts a session, and says the role.
func (w *Web) signIn(rw http.ResponseWriter, r *http.Request, token string) (string, error) {
	if token == "" {
		return "", errors.New("give a token")
	}
	role, err := w.cfg.Role(r.Context(), token)
	if err != nil {
		return "", err
	}
	s := session{Token: token, Role: role, CSRF: randomHex(16), Expires: w.cfg.Now().Add(SessionTTL)}
	http.SetCookie(rw, &http.Cookie{Name: cookieName, Value: w.seal(s), Path: Prefix, HttpOnly: true, Secure: secure(r),
		SameSite: http.SameSiteLaxMode, MaxAge: int(SessionTTL / time.Second)})
	return role, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// current is the request's session: its cookie, or a bearer token sent
// by a proxy in front.
func (w *Web) current(r *http.Request) (session, bool) {
	if c, err := r.Cookie(cookieName); err == nil {
		if s, ok := w.open(c.Value); ok {
			return s, true
		}
	}
	// An OIDC proxy in front (oauth2-proxy, say) sends the user's token
	// with every request: its forms carry a CSRF token derived from it,
	// since the proxy would add the header to a forged form's post too.
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && tok != "" {
		if role, err := w.cfg.Role(r.Context(), tok); err == nil {
			m := hmac.New(sha256.New, w.mac)
			m.Write([]byte("csrf " + tok))
			return session{Token: tok, Role: role, CSRF: hex.EncodeToString(m.Sum(nil))[:32]}, true
		}
	}
	return session{}, false
}

// DevSignInLink is the sign-in link of role in `midata dev` (base is the
// service's address).
func (w *Web) DevSignInLink(base, role string) string {
	return base + Prefix + "signin/dev?" + url.Values{"role": {role}, "code": {w.devCode(role)}}.Encode()
}

func (w *Web) devCode(role string) string {
	m := hmac.New(sha256.New, w.mac)
	m.Write([]byte(role))
	return hex.EncodeToString(m.Sum(nil))[:32]
}

// call makes one API request in process, as s.
func (w *Web) call(ctx context.Context, s session, method, path string, body any) (int, []byte) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequestWithContext(ctx, method, path, rd)
	req.RemoteAddr = "127.0.0.1:0"
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if s.Token != "" {
		req.Header.Set("Authorization", "Bearer "+s.Token)
	}
	rec := &recorder{header: http.Header{}, code: http.StatusOK}
	w.cfg.API.ServeHTTP(rec, req)
	return rec.code, rec.body.Bytes()
}

// get calls the API and decodes its answer into out; the error is the
// API's message.
func (w *Web) get(ctx context.Context, s session, path string, out any) error {
	code, body := w.call(ctx, s, http.MethodGet, path, nil)
	if code != http.StatusOK {
		return &apiError{code, errorText(body, http.StatusText(code))}
	}
	return json.Unmarshal(body, out)
}

type apiError struct {
	Code int
	Msg  string
}

func (e *apiError) Error() string { return e.Msg }

func errorText(body []byte, fallback string) string {
	var e wire.ErrorBody
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return e.Error
	}
	return fallback
}

// recorder is an in-process http.ResponseWriter.
type recorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
	wrote  bool
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.body.Write(b)
}
func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.code, r.wrote = code, true
	}
}

// page is what every template gets.
type page struct {
	Title, Org, Role, CSRF, Flash, Error string
	Refresh                              bool // the page reloads itself every 5 s (runs still going)
	Data                                 any
}

// render writes the page name with data, status code.
func (w *Web) render(rw http.ResponseWriter, r *http.Request, code int, name string, s session, title string, data any) {
	p := page{Title: title, Org: w.cfg.Organisation, Role: s.Role, CSRF: s.CSRF, Data: data,
		Flash: r.URL.Query().Get("done"), Error: r.URL.Query().Get("error")}
	if l, ok := data.(interface{ live() bool }); ok {
		p.Refresh = l.live()
	}
	var buf bytes.Buffer
	if err := w.tmpl.ExecuteTemplate(&buf, name, p); err != nil {
		w.cfg.Logger.ErrorContext(r.Context(), "render page", "page", name, "err", err)
		http.Error(rw, "the page could not be made: try again", http.StatusInternalServerError)
		return
	}
	rw.Header().Set("Content-Type", "text/html; charset=utf-8")
	rw.WriteHeader(code)
	rw.Write(buf.Bytes())
}

// back redirects to path after a form, with what happened.
func back(rw http.ResponseWriter, r *http.Request, path string, err error, done string) {
	q := url.Values{}
	if err != nil {
		q.Set("error", err.Error())
	} else if done != "" {
		q.Set("done", done)
	}
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	http.Redirect(rw, r, path, http.StatusSeeOther)
}

// guard runs h for a signed-in session of a role that want accepts; it
// checks the CSRF token of every POST.
func (w *Web) guard(want func(role string) bool, h func(http.ResponseWriter, *http.Request, session)) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		s, ok := w.current(r)
		if !ok {
			http.Redirect(rw, r, Prefix+"signin?"+url.Values{"next": {r.URL.Path}}.Encode(), http.StatusSeeOther)
			return
		}
		if !want(s.Role) {
			w.render(rw, r, http.StatusForbidden, "refused", s, "Not for your role", nil)
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(rw, r.Body, 64<<10)
			if subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(s.CSRF)) != 1 || s.CSRF == "" {
				w.render(rw, r, http.StatusForbidden, "refused", s, "The form has expired", "csrf")
				return
			}
		}
		h(rw, r, s)
	}
}

func isOps(role string) bool      { return role == "ops" }
func isCustomer(role string) bool { return strings.HasPrefix(role, "customer:") }
func isPartner(role string) bool  { return strings.HasPrefix(role, "partner:") }

// home is the first page of role.
func home(role string) string {
	switch {
	case isOps(role):
		return Prefix + "ops"
	case isCustomer(role):
		return Prefix + "me"
	case isPartner(role):
		return Prefix + "partner"
	}
	return Prefix + "signin"
}

func (w *Web) routes() {
	m := w.mux
	m.HandleFunc("GET /web/{$}", func(rw http.ResponseWriter, r *http.Request) {
		s, ok := w.current(r)
		if !ok {
			http.Redirect(rw, r, Prefix+"signin", http.StatusSeeOther)
			return
		}
		http.Redirect(rw, r, home(s.Role), http.StatusSeeOther)
	})
	m.HandleFunc("GET /web/style.css", func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "text/css; charset=utf-8")
		rw.Header().Set("Cache-Control", "max-age=3600")
		b, _ := templates.ReadFile("templates/style.html")
		rw.Write(b)
	})
	m.HandleFunc("GET /web/signin", func(rw http.ResponseWriter, r *http.Request) {
		w.render(rw, r, http.StatusOK, "signin", session{}, "Sign in", r.URL.Query().Get("next"))
	})
	m.HandleFunc("POST /web/signin", func(rw http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(rw, r.Body, 16<<10)
		role, err := w.signIn(rw, r, strings.TrimSpace(r.PostFormValue("token")))
		if err != nil {
			r.URL.RawQuery = url.Values{"error": {"Sign-in refused: " + err.Error()}}.Encode()
			w.render(rw, r, http.StatusUnauthorized, "signin", session{}, "Sign in", "")
			return
		}
		http.Redirect(rw, r, home(role), http.StatusSeeOther)
	})
	m.HandleFunc("GET /web/signin/dev", func(rw http.ResponseWriter, r *http.Request) {
		role, code := r.URL.Query().Get("role"), r.URL.Query().Get("code")
		token, ok := w.cfg.DevTokens[role]
		if !ok || subtle.ConstantTimeCompare([]byte(code), []byte(w.devCode(role))) != 1 {
			r.URL.RawQuery = url.Values{"error": {"That sign-in link is not valid here."}}.Encode()
			w.render(rw, r, http.StatusForbidden, "signin", session{}, "Sign in", "")
			return
		}
		if _, err := w.signIn(rw, r, token); err != nil {
			http.Error(rw, err.Error(), http.StatusInternalServerError)
			return
		}
		http.Redirect(rw, r, home(role), http.StatusSeeOther)
	})
	m.HandleFunc("POST /web/signout", w.guard(func(string) bool { return true }, func(rw http.ResponseWriter, r *http.Request, _ session) {
		http.SetCookie(rw, &http.Cookie{Name: cookieName, Path: Prefix, MaxAge: -1, HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteLaxMode})
		http.Redirect(rw, r, Prefix+"signin?done=Signed+out", http.StatusSeeOther)
	}))
	w.customerRoutes()
	w.opsRoutes()
}

// funcs are the templates' helpers.
func (w *Web) funcs() template.FuncMap {
	return template.FuncMap{
		"date": func(t any) string {
			switch v := t.(type) {
			case time.Time:
				if v.IsZero() {
					return ""
				}
				return v.In(w.cfg.Location).Format("2 Jan 2006")
			case *time.Time:
				if v == nil || v.IsZero() {
					return ""
				}
				return v.In(w.cfg.Location).Format("2 Jan 2006")
			}
			return ""
		},
		"datetime": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.In(w.cfg.Location).Format("2 Jan 2006 15:04")
		},
		"isodate": func(t *time.Time) string {
			if t == nil || t.IsZero() {
				return ""
			}
			return t.In(w.cfg.Location).Format(time.DateOnly)
		},
		"has": func(list []string, s string) bool {
			for _, v := range list {
				if v == s {
					return true
				}
			}
			return false
		},
		"join":      strings.Join,
		"hasPrefix": strings.HasPrefix,
		"list":      func(v ...string) []string { return v },
	}
}
