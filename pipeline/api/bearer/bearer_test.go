package bearer

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// issuer is a test OIDC issuer: an RSA key served as a JWKS (and a
// discovery document) by a real HTTP server on 127.0.0.1, and a signer of
// tokens with any claims.
type issuer struct {
	srv     *httptest.Server
	key     *rsa.PrivateKey
	kid     string
	fetches atomic.Int32
}

func newIssuer(t *testing.T) *issuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	is := &issuer{key: key, kid: "k1"}
	mux := http.NewServeMux()
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		is.fetches.Add(1)
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &is.key.PublicKey, KeyID: is.kid, Algorithm: "RS256", Use: "sig"}}})
	})
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"issuer": is.srv.URL, "jwks_uri": is.srv.URL + "/jwks",
			"authorization_endpoint": is.srv.URL + "/auth", "id_token_signing_alg_values_supported": []string{"RS256"}})
	})
	is.srv = httptest.NewServer(mux)
	t.Cleanup(is.srv.Close)
	return is
}

// sign returns a JWT with the standard claims (this issuer, audience
// "midata-api", valid for an hour) overridden by extra.
func (is *issuer) sign(t *testing.T, extra map[string]any) string {
	t.Helper()
	return signWith(t, jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: is.key, KeyID: is.kid}}, is.srv.URL, extra)
}

func signWith(t *testing.T, key jose.SigningKey, iss string, extra map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(key, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	claims := map[string]any{"iss": iss, "aud": "midata-api", "sub": "u1",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "midata_role": "customer:C1"}
	for k, v := range extra {
		if v == nil {
			delete(claims, k)
		} else {
			claims[k] = v
		}
	}
	raw, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestJWTFromAJWKSMapsTheRoleClaimAndRefusesEveryBadToken(t *testing.T) {
	is := newIssuer(t)
	j, err := NewJWT(t.Context(), JWTSettings{Issuer: is.srv.URL, JWKSURL: is.srv.URL + "/jwks", Audience: "midata-api"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, role := range []string{"ops", "customer:C1", "partner:pds-1"} {
		got, err := j.Role(t.Context(), is.sign(t, map[string]any{"midata_role": role}))
		if err != nil || got != role {
			t.Errorf("role %s: Role = %q, %v", role, got, err)
		}
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	bad := map[string]string{
		"expired":         is.sign(t, map[string]any{"exp": time.Now().Add(-time.Minute).Unix()}),
		"other audience":  is.sign(t, map[string]any{"aud": "another-app"}),
		"other issuer":    signWith(t, jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: is.key, KeyID: is.kid}}, "https://evil.example", nil),
		"other key":       signWith(t, jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: other, KeyID: is.kid}}, is.srv.URL, nil),
		"no role claim":   is.sign(t, map[string]any{"midata_role": nil}),
		"unknown role":    is.sign(t, map[string]any{"midata_role": "admin"}),
		"role not string": is.sign(t, map[string]any{"midata_role": []string{"ops"}}),
		"alg none":        unsigned(t, is.srv.URL),
		"tampered":        tamper(is.sign(t, nil)),
	}
	for name, tok := range bad {
		role, err := j.Role(t.Context(), tok)
		if err == nil || errors.Is(err, ErrUnknown) {
			t.Errorf("%s: Role = %q, %v; want a refusal with its reason", name, role, err)
		}
	}
	if _, err := j.Role(t.Context(), "a-static-token-0123456789"); !errors.Is(err, ErrUnknown) {
		t.Errorf("a non-JWT token: %v, want ErrUnknown (for the next authenticator)", err)
	}
}

// unsigned returns a token with alg none and an ops role.
func unsigned(t *testing.T, iss string) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(map[string]string{"alg": "none", "typ": "JWT"}) + "." +
		enc(map[string]any{"iss": iss, "aud": "midata-api", "exp": time.Now().Add(time.Hour).Unix(), "midata_role": "ops"}) + "."
}

// tamper swaps the payload of a signed token for one naming role ops.
func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	payload = []byte(strings.Replace(string(payload), "customer:C1", "ops", 1))
	parts[1] = base64.RawURLEncoding.EncodeToString(payload)
	return strings.Join(parts, ".")
}

func TestJWTByDiscoveryAndByAStaticPublicKey(t *testing.T) {
	is := newIssuer(t)
	j, err := NewJWT(t.Context(), JWTSettings{Issuer: is.srv.URL, Audience: "midata-api", RoleClaim: "role"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := j.Role(t.Context(), is.sign(t, map[string]any{"role": "ops"})); err != nil || got != "ops" {
		t.Errorf("discovered keys, claim role: %q, %v", got, err)
	}
	if _, err := NewJWT(t.Context(), JWTSettings{Issuer: is.srv.URL + "/nowhere", Audience: "a"}, nil); err == nil {
		t.Error("discovery of an issuer that does not answer: no error at start")
	}

	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	path := filepath.Join(t.TempDir(), "signing.pem")
	os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600)
	sj, err := NewJWT(t.Context(), JWTSettings{Issuer: "https://idp.example", PublicKeyFile: path, Audience: "midata-api"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok := signWith(t, jose.SigningKey{Algorithm: jose.ES256, Key: ec}, "https://idp.example", map[string]any{"midata_role": "partner:p1"})
	if got, err := sj.Role(t.Context(), tok); err != nil || got != "partner:p1" {
		t.Errorf("static ES256 key: %q, %v", got, err)
	}
	if _, err := sj.Role(t.Context(), is.sign(t, nil)); err == nil {
		t.Error("a token signed by another key passed the static key")
	}
}

func TestJWTSettingsValidate(t *testing.T) {
	for _, s := range []JWTSettings{
		{Issuer: "not a url", Audience: "a"},
		{Issuer: "https://i.example"},
		{Issuer: "https://i.example", Audience: "a", JWKSURL: "https://i.example/k", PublicKeyFile: "k.pem"},
		{Audience: "a"},
	} {
		if s.Validate() == nil {
			t.Errorf("%+v: valid", s)
		}
	}
	if err := (JWTSettings{Issuer: "https://i.example", Audience: "a"}).Validate(); err != nil {
		t.Error(err)
	}
}

func TestTheTokensFileRotatesAndABrokenFileKeepsTheOldTokens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("# ops team\nold-token-0123456789=ops\n\ncust-token-0123456789=customer:C1\n")
	f, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if r, err := f.Role(ctx, "old-token-0123456789"); err != nil || r != "ops" {
		t.Fatalf("old token: %q, %v", r, err)
	}
	write("new-token-0123456789xx=ops\ncust-token-0123456789=customer:C1\n")
	if changed, err := f.Reload(); !changed || err != nil {
		t.Fatalf("Reload after a rewrite = %v, %v", changed, err)
	}
	if _, err := f.Role(ctx, "old-token-0123456789"); !errors.Is(err, ErrUnknown) {
		t.Errorf("the rotated-out token still works: %v", err)
	}
	if r, _ := f.Role(ctx, "new-token-0123456789xx"); r != "ops" {
		t.Errorf("the new token: %q", r)
	}
	write("new-token-0123456789xx=ops\nshort=ops\n")
	if _, err := f.Reload(); err == nil || !strings.Contains(err.Error(), "shorter than") || strings.Contains(err.Error(), "short=") {
		t.Errorf("a broken file: %v, want a reason without the token", err)
	}
	if r, _ := f.Role(ctx, "new-token-0123456789xx"); r != "ops" {
		t.Error("a broken file dropped the tokens read before")
	}
	write("justatoken0123456789\n")
	if _, err := f.Reload(); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("a line without a role: %v", err)
	}
	if _, err := OpenFile(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("a missing tokens file opened")
	}
}

func TestChainAsksEachInTurnAndStopsAtARefusal(t *testing.T) {
	s, err := NewStatic(map[string]string{"static-token-0123456789": "ops"})
	if err != nil {
		t.Fatal(err)
	}
	is := newIssuer(t)
	j, _ := NewJWT(t.Context(), JWTSettings{Issuer: is.srv.URL, JWKSURL: is.srv.URL + "/jwks", Audience: "midata-api"}, nil)
	c := Chain{s, nil, j}
	if r, err := c.Role(t.Context(), "static-token-0123456789"); r != "ops" || err != nil {
		t.Errorf("static: %q, %v", r, err)
	}
	if r, err := c.Role(t.Context(), is.sign(t, nil)); r != "customer:C1" || err != nil {
		t.Errorf("jwt: %q, %v", r, err)
	}
	if _, err := c.Role(t.Context(), "nobody-knows-this-token"); !errors.Is(err, ErrUnknown) {
		t.Errorf("unknown: %v", err)
	}
	if _, err := NewStatic(map[string]string{"short": "ops"}); err == nil {
		t.Error("a short static token accepted")
	}
	if _, err := NewStatic(map[string]string{"long-enough-token-123": "root"}); err == nil {
		t.Error("an unknown role accepted")
	}
}
