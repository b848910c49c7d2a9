package links_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/midata/midata/pipeline/links"
)

var (
	secret = []byte("a long-lived secret that is not the links key itself")
	now    = time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	testID = "0123456789abcdef0123456789abcdef"
	hexRE  = regexp.MustCompile(`^[0-9a-f]{32}$`)
)

func newSigner(t testing.TB, key []byte) *links.Signer {
	t.Helper()
	s, err := links.NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sign computes the token's mac here, with crypto/hmac, rather than with
// the package.
func sign(key []byte, payload string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func insert(s string, i int, extra string) string { return s[:i] + extra + s[i:] }

func mint(t testing.TB, s *links.Signer, id string, exp time.Time) string {
	t.Helper()
	tok, err := s.Mint(id, exp)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestDeriveKeyIsHMACOfTheLabel(t *testing.T) {
	key := links.DeriveKey(secret)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("midata download links v1"))
	if want := m.Sum(nil); !bytes.Equal(key, want) || len(key) != 32 {
		t.Fatalf("DeriveKey = %x, want %x (32 bytes)", key, want)
	}
	if bytes.Contains(key, secret) || bytes.Equal(key, links.DeriveKey([]byte("another secret"))) {
		t.Fatal("DeriveKey gives the secret back, or the same key for two secrets")
	}
}

func TestMintThenCheckGivesTheIDAndExpiry(t *testing.T) {
	s := newSigner(t, links.DeriveKey(secret))
	exp := now.Add(72*time.Hour + 500*time.Millisecond)
	tok := mint(t, s, testID, exp)
	if len(tok) > links.MaxTokenLen {
		t.Fatalf("token is %d bytes, over %d", len(tok), links.MaxTokenLen)
	}
	id, got, err := s.Check(tok, now)
	if err != nil || id != testID || !got.Equal(exp.Truncate(time.Second)) {
		t.Fatalf("Check = %q, %v, %v; want %q, %v, nil", id, got, err, testID, exp.Truncate(time.Second))
	}
	// The last second before the expiry still works.
	if _, _, err := s.Check(tok, exp.Truncate(time.Second).Add(-time.Nanosecond)); err != nil {
		t.Fatalf("a nanosecond before the expiry: %v", err)
	}
	fresh := links.NewID()
	if id, _, err := s.Check(mint(t, s, fresh, exp), now); err != nil || id != fresh {
		t.Fatalf("a NewID: %q, %v", id, err)
	}
}

func TestTheMACIsHMACSHA256OfIDAndExpiry(t *testing.T) {
	key := links.DeriveKey(secret)
	exp := now.Add(time.Hour)
	tok := mint(t, newSigner(t, key), testID, exp)
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not three parts", tok)
	}
	wantExp := strconv.FormatInt(exp.Unix(), 10)
	if parts[0] != testID || parts[1] != wantExp {
		t.Fatalf("token %q, want %s.%s.<mac>", tok, testID, wantExp)
	}
	if want := sign(key, testID+"."+wantExp); parts[2] != want {
		t.Fatalf("mac %q, want HMAC-SHA256 %q", parts[2], want)
	}
	// The mac is keyed by the derived key, not by the secret.
	if sign(secret, testID+"."+wantExp) == parts[2] {
		t.Fatal("the token is signed with the secret itself")
	}
}

func TestEverySingleByteChangeIsRefused(t *testing.T) {
	s := newSigner(t, links.DeriveKey(secret))
	tok := mint(t, s, testID, now.Add(time.Hour))
	const allowed = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_."
	tried := 0
	for i := 0; i < len(tok); i++ {
		for _, c := range []byte(allowed) {
			if c == tok[i] {
				continue
			}
			b := []byte(tok)
			b[i] = c
			tried++
			_, _, err := s.Check(string(b), now)
			if !errors.Is(err, links.ErrBadSignature) && !errors.Is(err, links.ErrMalformed) {
				t.Fatalf("byte %d changed to %q: %q gives %v, want refused", i, c, b, err)
			}
		}
	}
	if tried < len(tok)*60 {
		t.Fatalf("tried only %d changes", tried)
	}
}

func TestRefusals(t *testing.T) {
	key := links.DeriveKey(secret)
	s := newSigner(t, key)
	tok := mint(t, s, testID, now.Add(time.Hour))

	other := newSigner(t, links.DeriveKey([]byte("another secret")))
	if _, _, err := other.Check(tok, now); !errors.Is(err, links.ErrBadSignature) {
		t.Errorf("another key: %v, want ErrBadSignature", err)
	}

	exp := now.Add(-time.Minute)
	old := mint(t, s, testID, exp)
	id, got, err := s.Check(old, now)
	if !errors.Is(err, links.ErrExpired) || id != testID || !got.Equal(exp) {
		t.Errorf("expired: %q, %v, %v; want %q, %v, ErrExpired", id, got, err, testID, exp)
	}
	if _, _, err := s.Check(tok, now.Add(time.Hour)); !errors.Is(err, links.ErrExpired) {
		t.Errorf("at the expiry itself: %v, want ErrExpired", err)
	}
	// An expired token pushed into the future, or with its mac changed,
	// is a bad signature, not an expired link.
	later := strings.Replace(old, "."+strconv.FormatInt(exp.Unix(), 10)+".", "."+strconv.FormatInt(now.Add(time.Hour).Unix(), 10)+".", 1)
	if later == old {
		t.Fatal("could not tamper with the expiry")
	}
	flipped := []byte(old)
	if flipped[len(flipped)-2] == 'A' {
		flipped[len(flipped)-2] = 'B'
	} else {
		flipped[len(flipped)-2] = 'A'
	}
	for _, bad := range []string{later, string(flipped)} {
		if id, _, err := s.Check(bad, now); !errors.Is(err, links.ErrBadSignature) || errors.Is(err, links.ErrExpired) || id != "" {
			t.Errorf("tampered expired token %q: %q, %v; want ErrBadSignature", bad, id, err)
		}
	}

	// Each of these is signed here with the right key, so only its shape
	// can refuse it.
	signed := func(id, exp string) string { return id + "." + exp + "." + sign(key, id+"."+exp) }
	expNow := strconv.FormatInt(now.Add(time.Hour).Unix(), 10)
	malformed := map[string]string{
		"empty":             "",
		"10 KB":             strings.Repeat("a", 10<<10),
		"129 bytes":         signed(testID, strings.Repeat("1", 129-32-2-43)),
		"two parts":         testID + "." + expNow,
		"two signed parts":  testID + "." + sign(key, testID),
		"four parts":        tok + ".x",
		"four signed parts": signed(testID, expNow+".1"),
		"trailing dot":      tok + ".",
		"uppercase id":      signed(strings.ToUpper(testID), expNow),
		"non-hex id":        signed("0123456789abcdef0123456789abcdeg", expNow),
		"short id":          signed(testID[1:], expNow),
		"long id":           signed(testID+"0", expNow),
		"negative expiry":   signed(testID, "-"+expNow),
		"plus expiry":       signed(testID, "+"+expNow),
		"zero expiry":       signed(testID, "0"),
		"leading zero":      signed(testID, "0"+expNow),
		"overflow expiry":   signed(testID, "9223372036854775808"),
		"huge expiry":       signed(testID, "99999999999999999999"),
		"empty expiry":      signed(testID, ""),
		"hex expiry":        signed(testID, "0x1f"),
		"short mac":         testID + "." + expNow + "." + sign(key, testID+"."+expNow)[1:],
		"padded mac":        testID + "." + expNow + "." + sign(key, testID+"."+expNow) + "=",
		"std base64 mac":    testID + "." + expNow + "." + strings.Repeat("+/", 21) + "A",
		"empty mac":         testID + "." + expNow + ".",
		"newline in mac":    testID + "." + expNow + "." + insert(sign(key, testID+"."+expNow), 20, "\n"),
		"CR in mac":         testID + "." + expNow + "." + insert(sign(key, testID+"."+expNow), 42, "\r"),
		"space in mac":      testID + "." + expNow + "." + insert(sign(key, testID+"."+expNow), 0, " "),
	}
	for name, bad := range malformed {
		if id, exp, err := s.Check(bad, now); !errors.Is(err, links.ErrMalformed) || id != "" || !exp.IsZero() {
			t.Errorf("%s: Check(%.60q) = %q, %v, %v; want ErrMalformed", name, bad, id, exp, err)
		}
	}
	// The cap comes before any parsing, and the error says so.
	for _, long := range []string{malformed["10 KB"], malformed["129 bytes"], strings.Repeat(".", 10<<10)} {
		if _, _, err := s.Check(long, now); !errors.Is(err, links.ErrMalformed) || !strings.Contains(err.Error(), "longer than 128 bytes") {
			t.Errorf("a %d-byte token: %v, want ErrMalformed for its length", len(long), err)
		}
	}
	if len(malformed["129 bytes"]) != 129 {
		t.Fatalf("the 129-byte token is %d bytes", len(malformed["129 bytes"]))
	}
}

func TestNewSignerMintAndNewIDRefuseBadInput(t *testing.T) {
	if _, err := links.NewSigner(make([]byte, 31)); err == nil || !strings.Contains(err.Error(), "DeriveKey") {
		t.Errorf("a 31-byte key: %v, want an error pointing to DeriveKey", err)
	}
	if _, err := links.NewSigner(nil); err == nil {
		t.Error("no key accepted")
	}
	s := newSigner(t, make([]byte, 32))
	for _, id := range []string{"", "abc", strings.ToUpper(testID), testID[1:], testID + "0", testID[1:] + ".", testID[1:] + "g", "C1234 jane@example.com"} {
		if tok, err := s.Mint(id, now); err == nil {
			t.Errorf("Mint(%q) = %q, want an error", id, tok)
		}
	}
	for _, exp := range []time.Time{time.Unix(0, 0), time.Unix(-1, 0), {}} {
		if tok, err := s.Mint(testID, exp); err == nil {
			t.Errorf("Mint with expiry %v = %q, want an error", exp, tok)
		}
	}
	var zero links.Signer
	if _, err := zero.Mint(testID, now); err == nil {
		t.Error("a zero Signer mints")
	}
	if _, _, err := zero.Check(mint(t, s, testID, now.Add(time.Hour)), now); err == nil {
		t.Error("a zero Signer accepts a token")
	}
	seen := map[string]bool{}
	for range 1000 {
		id := links.NewID()
		if !hexRE.MatchString(id) {
			t.Fatalf("NewID = %q, want 32 lowercase hex characters", id)
		}
		if seen[id] {
			t.Fatalf("NewID repeated %q", id)
		}
		seen[id] = true
	}
}

func FuzzCheck(f *testing.F) {
	key := links.DeriveKey(secret)
	s := newSigner(f, key)
	f.Add(mint(f, s, testID, now.Add(time.Hour)))
	f.Add(mint(f, s, testID, now.Add(-time.Hour)))
	f.Add("")
	f.Add("..")
	f.Add(testID + ".1." + sign(key, testID+".1"))
	f.Add(testID + ".-1." + sign(key, testID+".-1"))
	f.Add(testID + ".99999999999999999999.AAAA")
	f.Add(strings.Repeat(".", 200))
	// The fuzzer found that the base64 decoder skips newlines.
	f.Add(testID + ".1." + insert(sign(key, testID+".1"), 25, "\n"))
	f.Fuzz(func(t *testing.T, tok string) {
		id, exp, err := s.Check(tok, now)
		if err != nil && !errors.Is(err, links.ErrExpired) {
			if !errors.Is(err, links.ErrMalformed) && !errors.Is(err, links.ErrBadSignature) {
				t.Fatalf("Check(%q): %v wraps no sentinel", tok, err)
			}
			if id != "" || !exp.IsZero() {
				t.Fatalf("Check(%q) refused it but gave %q, %v", tok, id, exp)
			}
			return
		}
		// Accepted, or expired and so genuine: the Signer must have minted
		// exactly this token, and its mac must check independently.
		again, merr := s.Mint(id, exp)
		if merr != nil || again != tok {
			t.Fatalf("Check accepted %q (%q, %v, %v), but Mint gives %q, %v", tok, id, exp, err, again, merr)
		}
		parts := strings.Split(tok, ".")
		if sign(key, parts[0]+"."+parts[1]) != parts[2] {
			t.Fatalf("Check accepted %q with a mac that does not check", tok)
		}
	})
}

// htmlPage parses a page and returns its elements by tag name and its text.
func htmlPage(t *testing.T, body string) (map[string][]*html.Node, string) {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	els := map[string][]*html.Node{}
	var text strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		switch n.Type {
		case html.ElementNode:
			els[n.Data] = append(els[n.Data], n)
		case html.TextNode:
			if n.Parent == nil || n.Parent.Data != "style" {
				text.WriteString(n.Data)
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return els, strings.Join(strings.Fields(text.String()), " ")
}

func textOf(n *html.Node) string {
	var b strings.Builder
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		} else {
			b.WriteString(textOf(c))
		}
	}
	return strings.TrimSpace(b.String())
}

func attr(n *html.Node, name string) string {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

func TestPages(t *testing.T) {
	want := []struct {
		r      links.Reason
		status int
		words  string // Words the page must say, in lower case.
	}{
		{links.Expired, http.StatusGone, "expired"},
		{links.Revoked, http.StatusGone, "revoked"},
		{links.Withdrawn, http.StatusGone, "grant your consent again"},
		{links.Deleted, http.StatusGone, "request a new release"},
		{links.Invalid, http.StatusNotFound, "not valid"},
		{links.Unavailable, http.StatusServiceUnavailable, "try again in a minute"},
	}
	headings := map[string]links.Reason{}
	for _, c := range want {
		if got := links.Status(c.r); got != c.status {
			t.Errorf("Status(%d) = %d, want %d", c.r, got, c.status)
		}
		rec := httptest.NewRecorder()
		links.WritePage(rec, c.r, time.Time{})
		res := rec.Result()
		body := rec.Body.String()
		if res.StatusCode != c.status {
			t.Errorf("reason %d: status %d, want %d", c.r, res.StatusCode, c.status)
		}
		for k, v := range map[string]string{
			"Content-Type":            "text/html; charset=utf-8",
			"Cache-Control":           "no-store",
			"Referrer-Policy":         "no-referrer",
			"X-Content-Type-Options":  "nosniff",
			"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
		} {
			if got := res.Header.Get(k); got != v {
				t.Errorf("reason %d: %s %q, want %q", c.r, k, got, v)
			}
		}
		if got, wantRetry := res.Header.Get("Retry-After"), c.r == links.Unavailable; (got == "60") != wantRetry || (!wantRetry && got != "") {
			t.Errorf("reason %d: Retry-After %q", c.r, got)
		}
		if !strings.HasPrefix(body, "<!doctype html>") || strings.Contains(strings.ToLower(body), "<script") {
			t.Errorf("reason %d: no doctype, or a script:\n%s", c.r, body)
		}
		els, text := htmlPage(t, body)
		if len(els["html"]) != 1 || attr(els["html"][0], "lang") != "en" {
			t.Errorf("reason %d: no <html lang=\"en\">", c.r)
		}
		if len(els["h1"]) != 1 || len(els["main"]) != 1 || len(els["title"]) != 1 || len(els["style"]) != 1 {
			t.Fatalf("reason %d: want one h1, main, title and style:\n%s", c.r, body)
		}
		if !hasAncestor(els["h1"][0], "main") {
			t.Errorf("reason %d: the h1 is not in the main", c.r)
		}
		h1 := textOf(els["h1"][0])
		if h1 == "" || !strings.Contains(textOf(els["title"][0]), h1) {
			t.Errorf("reason %d: h1 %q, title %q", c.r, h1, textOf(els["title"][0]))
		}
		if prev, dup := headings[h1]; dup {
			t.Errorf("reasons %d and %d share the heading %q", prev, c.r, h1)
		}
		headings[h1] = c.r
		if !strings.Contains(strings.ToLower(text), c.words) {
			t.Errorf("reason %d: the page does not say %q: %s", c.r, c.words, text)
		}
		if len(els["p"]) < 2 || strings.Contains(text, "UTC") || len(els["time"]) != 0 {
			t.Errorf("reason %d: want an explanation and how to ask again, and no time: %s", c.r, text)
		}
		for _, tag := range []string{"script", "img", "link", "iframe", "object", "embed", "form", "svg", "base"} {
			if len(els[tag]) != 0 {
				t.Errorf("reason %d: a <%s> element", c.r, tag)
			}
		}
		for _, list := range els {
			for _, n := range list {
				for _, a := range n.Attr {
					if a.Key == "src" || a.Key == "href" || strings.HasPrefix(a.Key, "on") {
						t.Errorf("reason %d: <%s %s=%q>", c.r, n.Data, a.Key, a.Val)
					}
				}
			}
		}
		if strings.Contains(body, "url(") || strings.Contains(body, "@import") {
			t.Errorf("reason %d: the style fetches something", c.r)
		}
	}
}

func hasAncestor(n *html.Node, tag string) bool {
	for p := n.Parent; p != nil; p = p.Parent {
		if p.Type == html.ElementNode && p.Data == tag {
			return true
		}
	}
	return false
}

func TestPageSaysWhen(t *testing.T) {
	when := time.Date(2026, 1, 2, 16, 4, 0, 0, time.FixedZone("CET", 3600))
	rec := httptest.NewRecorder()
	links.WritePage(rec, links.Expired, when)
	els, text := htmlPage(t, rec.Body.String())
	if !strings.Contains(text, "2 January 2026 at 15:04 UTC") {
		t.Errorf("the page does not say when, in UTC: %s", text)
	}
	if len(els["time"]) != 1 || attr(els["time"][0], "datetime") != "2026-01-02T15:04:00Z" {
		t.Errorf("want one <time datetime=\"2026-01-02T15:04:00Z\">: %s", rec.Body.String())
	}
}

func TestAnUnknownReasonIsInvalid(t *testing.T) {
	for _, r := range []links.Reason{0, 99, -1} {
		rec := httptest.NewRecorder()
		links.WritePage(rec, r, time.Time{})
		if rec.Code != http.StatusNotFound || links.Status(r) != http.StatusNotFound {
			t.Errorf("reason %d: status %d, Status %d; want 404", r, rec.Code, links.Status(r))
		}
		els, _ := htmlPage(t, rec.Body.String())
		if len(els["h1"]) != 1 {
			t.Errorf("reason %d: no page", r)
		}
	}
}
