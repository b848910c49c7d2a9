package bearer

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/midata/midata/schemas"
)

// FuzzStaticAndFileTokens holds the tokens file to its format (one
// token=role a line, the role after the last "=", blank lines and # lines
// ignored, every token at least MinTokenBytes, every role valid, no token
// twice) on any file: no panic; parseTokens and OpenFile accept exactly
// the files that follow it; an accepted file gives each of its tokens its
// role and any other token ErrUnknown, through Static and File alike; a
// refused file keeps the tokens read before (File.Reload) and no error
// shows a token.
//
// The seed corpus is in testdata/fuzz/FuzzStaticAndFileTokens.
func FuzzStaticAndFileTokens(f *testing.F) {
	for _, seed := range []struct{ file, token string }{
		{"# ops team\nops-token-0123456789=ops\n\ncust-token-0123456789 = customer:C1\r\npartner-token-0123456789=partner:pds-one\n", "ops-token-0123456789"},
		{"a=b=c=d-token-0123456789=ops", "a=b=c=d-token-0123456789"},
		{"  tab\tinside-token-0123456789\t=\tcustomer:C.1_-x  ", "tab\tinside-token-0123456789"},
		{"ops-token-0123456789=ops\nops-token-0123456789=customer:C1\n", "ops-token-0123456789"},
		{"short=ops\n", "short"},
		{"long-enough-token-0123=root\n", "long-enough-token-0123"},
		{"long-enough-token-0123=partner:PDS\n", "long-enough-token-0123"},
		{"just-a-token-0123456789\n", "just-a-token-0123456789"},
		{"=ops\n", ""},
		{"token-without-role-0123=\n", "token-without-role-0123"},
		{"#=ops\n \u00a0\u0085\n", "#"},
		{"caf\xe9-token-0123456789=ops\n", "caf\xe9-token-0123456789"},
		{"", "any-token-at-all-0123"},
	} {
		f.Add([]byte(seed.file), seed.token)
	}
	dir := f.TempDir()
	const before = "before-token-0123456789=ops\n"
	f.Fuzz(func(t *testing.T, file []byte, token string) {
		ctx := context.Background()
		want, wantOK := tokensOf(file)
		s, err := parseTokens(file)
		if len(file) > 60000 {
			return // bufio.Scanner's line limit is another matter
		}
		if (err == nil) != wantOK {
			t.Fatalf("parseTokens(%q) = %v, want ok %v", file, err, wantOK)
		}
		if err != nil {
			checkNoToken(t, err, file)
		} else {
			checkTable(t, "Static", s, want, token)
		}

		// The same file through File: OpenFile, and Reload over a file
		// that read before.
		path := filepath.Join(dir, "tokens")
		write := func(b []byte, at time.Time) {
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(path, at, at); err != nil { // Reload looks at size and time
				t.Fatal(err)
			}
		}
		write(file, time.Unix(1e9, 0))
		tf, err := OpenFile(path)
		if (err == nil) != wantOK {
			t.Fatalf("OpenFile of %q = %v, want ok %v", file, err, wantOK)
		}
		if err != nil {
			checkNoToken(t, err, file)
		} else {
			checkTable(t, "File", tf, want, token)
		}

		write([]byte(before), time.Unix(1e9, 0))
		tf, err = OpenFile(path)
		if err != nil {
			t.Fatal(err)
		}
		write(file, time.Unix(2e9, 0))
		changed, err := tf.Reload()
		switch {
		case wantOK && (err != nil || !changed):
			t.Fatalf("Reload to %q = %v, %v", file, changed, err)
		case wantOK:
			checkTable(t, "File after Reload", tf, want, token)
		case err == nil || changed:
			t.Fatalf("Reload to the broken %q = %v, %v", file, changed, err)
		default:
			checkNoToken(t, err, file)
			if role, err := tf.Role(ctx, "before-token-0123456789"); role != "ops" || err != nil {
				t.Fatalf("a broken file dropped the tokens read before: %q, %v", role, err)
			}
		}
	})
}

// tokensOf reads a tokens file as its format says, on its own: the table
// and whether the file is valid.
func tokensOf(file []byte) (map[string]string, bool) {
	table := map[string]string{}
	text := string(file)
	text = strings.TrimSuffix(text, "\n") // no line after the last line end
	if text == "" {
		return table, true
	}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		eq := strings.LastIndex(line, "=")
		tok, role := strings.TrimSpace(line[:max(eq, 0)]), strings.TrimSpace(line[eq+1:])
		if eq < 0 || tok == "" || role == "" {
			return nil, false
		}
		if _, dup := table[tok]; dup || len(tok) < MinTokenBytes || schemas.CheckRole(role) != nil {
			return nil, false
		}
		table[tok] = role
	}
	return table, true
}

// checkTable wants every token of want to give its role, and token (when
// not in want) and variants of the tokens ErrUnknown.
func checkTable(t *testing.T, what string, a Authenticator, want map[string]string, token string) {
	t.Helper()
	ctx := context.Background()
	if s, ok := a.(*Static); ok && s.Len() != len(want) {
		t.Fatalf("%s holds %d tokens, want %d", what, s.Len(), len(want))
	}
	for tok, role := range want {
		if got, err := a.Role(ctx, tok); got != role || err != nil {
			t.Fatalf("%s: token %q gives %q, %v; want %q", what, tok, got, err, role)
		}
		for _, other := range []string{tok + " ", tok[1:], strings.ToUpper(tok), tok + "=" + role} {
			if _, known := want[other]; known {
				continue
			}
			if got, err := a.Role(ctx, other); got != "" || !errors.Is(err, ErrUnknown) {
				t.Fatalf("%s: token %q (a variant of %q) gives %q, %v; want ErrUnknown", what, other, tok, got, err)
			}
		}
	}
	got, err := a.Role(ctx, token)
	if role, known := want[token]; known != (err == nil) || got != role || (!known && !errors.Is(err, ErrUnknown)) {
		t.Fatalf("%s: token %q gives %q, %v; want %q (known %v)", what, token, got, err, role, known)
	}
}

// checkNoToken wants err to show no token of file: the left side of a
// line, when it is long enough to be a token and is not also part of a
// role, which the error may name.
func checkNoToken(t *testing.T, err error, file []byte) {
	t.Helper()
	msg := err.Error()
	lines := strings.Split(string(file), "\n")
	var roles []string
	for _, line := range lines {
		if eq := strings.LastIndex(line, "="); eq >= 0 {
			roles = append(roles, line[eq+1:])
		}
	}
	for _, line := range lines {
		eq := strings.LastIndex(line, "=")
		if eq < 0 {
			eq = len(line)
		}
		tok := strings.TrimSpace(line[:eq])
		if len(tok) < MinTokenBytes || slices.ContainsFunc(roles, func(r string) bool { return strings.Contains(r, tok) }) {
			continue
		}
		if strings.Contains(msg, tok) {
			t.Fatalf("the error %q shows the token %q", msg, tok)
		}
	}
}

// The JWT fuzz target's issuer: a fixed Ed25519 key (deterministic
// signatures, so the seed corpus in testdata holds tokens it signed).
const (
	fuzzIssuer   = "https://idp.example"
	fuzzAudience = "midata-api"
	fuzzKeySeed  = "6d69646174612062656172657220667a7a206b657920736565642030313233ab" // 32 bytes
	fuzzExpiry   = 4102444800                                                         // 2100-01-01
)

func fuzzKey() ed25519.PrivateKey {
	seed, err := hex.DecodeString(fuzzKeySeed)
	if err != nil {
		panic(err)
	}
	return ed25519.NewKeyFromSeed(seed)
}

// fuzzToken signs claims (the standard ones of the fuzz issuer, replaced
// or, when nil, removed by extra) with key under alg.
func fuzzToken(tb testing.TB, alg jose.SignatureAlgorithm, key any, extra map[string]any) string {
	tb.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		tb.Fatal(err)
	}
	claims := map[string]any{"iss": fuzzIssuer, "aud": fuzzAudience, "sub": "u1", "exp": fuzzExpiry, "midata_role": "customer:C1"}
	for k, v := range extra {
		if v == nil {
			delete(claims, k)
		} else {
			claims[k] = v
		}
	}
	raw, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		tb.Fatal(err)
	}
	return raw
}

// FuzzJWT feeds any string as a bearer token to a JWT authenticator that
// trusts one static Ed25519 public key (auth.oidc.public_key_file): no
// panic; what does not look like a JWT is ErrUnknown (for the next
// authenticator), a JWT it refuses is a reason, never ErrUnknown, and
// never shows the token; and it accepts only a token whose signature the
// key makes over its header and claims (checked here with crypto/ed25519
// directly), for this issuer and audience, unexpired, with a valid role
// claim that is the role it answers.
//
// The seed corpus (testdata/fuzz/FuzzJWT) has tokens the key signed, as
// f.Add does here, and tokens it refuses.
func FuzzJWT(f *testing.F) {
	key := fuzzKey()
	pub := key.Public().(ed25519.PublicKey)
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		f.Fatal(err)
	}
	path := filepath.Join(f.TempDir(), "signing.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		f.Fatal(err)
	}
	j, err := NewJWT(context.Background(), JWTSettings{Issuer: fuzzIssuer, PublicKeyFile: path, Audience: fuzzAudience}, nil)
	if err != nil {
		f.Fatal(err)
	}

	good := fuzzToken(f, jose.EdDSA, key, nil)
	// The target checks acceptances: make sure it meets some.
	if role, err := j.Role(context.Background(), good); role != "customer:C1" || err != nil {
		f.Fatalf("a token the key signed: %q, %v", role, err)
	}
	for _, role := range []string{"ops", "customer:C1", "partner:pds-one"} {
		f.Add(fuzzToken(f, jose.EdDSA, key, map[string]any{"midata_role": role}))
	}
	f.Add(fuzzToken(f, jose.EdDSA, key, map[string]any{"aud": []string{"other", fuzzAudience}, "nbf": 1e9, "iat": 1e9}))
	f.Add(fuzzToken(f, jose.EdDSA, key, map[string]any{"exp": 1e9}))                     // expired
	f.Add(fuzzToken(f, jose.EdDSA, key, map[string]any{"aud": "another-app"}))           // other audience
	f.Add(fuzzToken(f, jose.EdDSA, key, map[string]any{"iss": "https://evil.example"}))  // other issuer
	f.Add(fuzzToken(f, jose.EdDSA, key, map[string]any{"nbf": fuzzExpiry - 1}))          // not yet
	f.Add(fuzzToken(f, jose.EdDSA, key, map[string]any{"midata_role": "admin"}))         // unknown role
	f.Add(fuzzToken(f, jose.EdDSA, key, map[string]any{"midata_role": nil}))             // no role
	f.Add(fuzzToken(f, jose.EdDSA, key, map[string]any{"midata_role": []string{"ops"}})) // not a string
	f.Add(fuzzToken(f, jose.EdDSA, key, map[string]any{"exp": nil}))                     // no expiry
	f.Add(fuzzToken(f, jose.EdDSA, ed25519.NewKeyFromSeed(make([]byte, 32)), nil))       // another key
	f.Add(fuzzToken(f, jose.HS256, []byte(pub), map[string]any{"midata_role": "ops"}))   // the public key as an HMAC secret
	f.Add(algNone(map[string]any{"iss": fuzzIssuer, "aud": fuzzAudience, "exp": fuzzExpiry, "midata_role": "ops"}))
	f.Add(swapClaims(good, "customer:C1", "ops"))
	f.Add(good[:strings.LastIndexByte(good, '.')+1])
	f.Add(strings.Replace(good, ".", "\n.", 1))     // accepted: white space is dropped
	f.Add(strings.Replace(good, ".", ".\u2028", 1)) // (Unicode's too)
	f.Add("a-static-token-0123456789")
	f.Add("..")
	f.Add("e30.e30.")
	f.Fuzz(func(t *testing.T, token string) {
		role, err := j.Role(context.Background(), token)
		if !looksLikeJWT(token) {
			if role != "" || !errors.Is(err, ErrUnknown) {
				t.Fatalf("Role(%q), not a JWT, = %q, %v; want ErrUnknown", token, role, err)
			}
			return
		}
		if err != nil {
			if role != "" || errors.Is(err, ErrUnknown) {
				t.Fatalf("Role(%q) = %q, %v; want a refusal with its reason", token, role, err)
			}
			if len(token) >= MinTokenBytes && strings.Contains(err.Error(), token) {
				t.Fatalf("the refusal %q shows the token", err)
			}
			return
		}
		checkSigned(t, pub, token, role)
	})
}

// checkSigned checks independently of go-oidc and go-jose that an
// accepted token is one the key signed, with the claims Role must want.
// The parts are read as go-jose reads them (it drops every Unicode white
// space from a token, and Go's base64 decoder ignores unused bits; the
// fuzzer found "\v" inside a signed token accepted), so the signature is
// checked over the canonical encoding of what was read: that is what was
// signed.
func checkSigned(t *testing.T, pub ed25519.PublicKey, token, role string) {
	t.Helper()
	noSpace := func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}
	parts := strings.Split(strings.Map(noSpace, token), ".")
	var dec [3][]byte
	for i, p := range parts {
		b, err := base64.RawURLEncoding.DecodeString(p)
		if err != nil {
			t.Fatalf("accepted %q, whose part %d is not base64url: %v", token, i, err)
		}
		dec[i] = b
	}
	var header struct {
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(dec[0], &header); err != nil || header.Alg != "EdDSA" {
		t.Fatalf("accepted %q with the header %s", token, dec[0])
	}
	input := base64.RawURLEncoding.EncodeToString(dec[0]) + "." + base64.RawURLEncoding.EncodeToString(dec[1])
	if !ed25519.Verify(pub, []byte(input), dec[2]) {
		t.Fatalf("accepted %q, which the key did not sign", token)
	}
	var claims map[string]any
	if err := json.Unmarshal(dec[1], &claims); err != nil {
		t.Fatalf("accepted %q with the claims %s: %v", token, dec[1], err)
	}
	now := float64(time.Now().Unix())
	exp, _ := claims["exp"].(float64)
	nbf, hasNbf := claims["nbf"].(float64)
	var aud []string
	switch a := claims["aud"].(type) {
	case string:
		aud = []string{a}
	case []any:
		for _, x := range a {
			s, _ := x.(string)
			aud = append(aud, s)
		}
	}
	switch {
	case claims["iss"] != fuzzIssuer:
		t.Fatalf("accepted %q of the issuer %v", token, claims["iss"])
	case !slices.Contains(aud, fuzzAudience):
		t.Fatalf("accepted %q for the audience %v", token, claims["aud"])
	case exp <= now:
		t.Fatalf("accepted %q, expired (exp %v)", token, claims["exp"])
	case hasNbf && nbf > now+5*60:
		t.Fatalf("accepted %q before its nbf %v", token, nbf)
	case claims["midata_role"] != role || schemas.CheckRole(role) != nil:
		t.Fatalf("accepted %q as %q; its role claim is %v", token, role, claims["midata_role"])
	}
}

// algNone returns an unsigned token (alg none) with claims.
func algNone(claims map[string]any) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(map[string]string{"alg": "none", "typ": "JWT"}) + "." + enc(claims) + "."
}

// swapClaims replaces old with new in the claims of tok and keeps its
// signature.
func swapClaims(tok, old, new string) string {
	parts := strings.Split(tok, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), old, new, 1)))
	return strings.Join(parts, ".")
}
