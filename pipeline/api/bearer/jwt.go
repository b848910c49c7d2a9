package bearer

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/midata/midata/schemas"
)

// DefaultRoleClaim is the claim of a JWT that names the caller's role.
const DefaultRoleClaim = "midata_role"

// JWTSettings configure bearer JWTs: who issues them, with which keys, for
// which audience, and which claim holds the role. Off while Issuer is
// empty.
type JWTSettings struct {
	// Issuer is the iss every token must carry (an OIDC issuer URL). With
	// neither JWKSURL nor PublicKeyFile, the keys are found by OIDC
	// discovery at start (Issuer/.well-known/openid-configuration).
	Issuer string `yaml:"issuer"`
	// JWKSURL is where the issuer's signing keys are (fetched when a
	// token names a key not seen yet, so the issuer can rotate them).
	JWKSURL string `yaml:"jwks_url"`
	// PublicKeyFile is a PEM public key (RSA, ECDSA or Ed25519) that
	// signs the tokens, instead of a JWKS.
	PublicKeyFile string `yaml:"public_key_file"`
	// Audience is what every token's aud must hold (the API's client id).
	Audience string `yaml:"audience"`
	// RoleClaim names the claim holding the role: "ops",
	// "customer:<id>" or "partner:<id>". Default midata_role.
	RoleClaim string `yaml:"role_claim"`
}

// Enabled says whether JWTs are accepted.
func (s JWTSettings) Enabled() bool { return s.Issuer != "" }

// Validate reports what is wrong, all at once, without fetching anything.
func (s JWTSettings) Validate() error {
	if !s.Enabled() {
		if s.JWKSURL != "" || s.PublicKeyFile != "" || s.Audience != "" {
			return errors.New("JWT keys or an audience are set but no issuer: set auth.oidc.issuer")
		}
		return nil
	}
	var errs []error
	if !isURL(s.Issuer) {
		errs = append(errs, fmt.Errorf("issuer %q: want an http(s) URL", s.Issuer))
	}
	if s.JWKSURL != "" && !isURL(s.JWKSURL) {
		errs = append(errs, fmt.Errorf("jwks_url %q: want an http(s) URL", s.JWKSURL))
	}
	if s.JWKSURL != "" && s.PublicKeyFile != "" {
		errs = append(errs, errors.New("give auth.oidc.jwks_url or auth.oidc.public_key_file, not both"))
	}
	if s.Audience == "" {
		errs = append(errs, errors.New("auth.oidc.audience is required: tokens for other applications must not pass"))
	}
	return errors.Join(errs...)
}

func isURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// JWT checks bearer JWTs: signature (RS256, RS384, RS512, PS256, ES256,
// ES384, EdDSA), issuer, audience, expiry and not-before, then reads the
// role claim.
type JWT struct {
	verifier  *oidc.IDTokenVerifier
	roleClaim string
}

// NewJWT builds the checker; with discovery it asks the issuer at once, so
// a wrong issuer stops serve at start. client fetches keys (nil: one with
// a 10 s timeout).
func NewJWT(ctx context.Context, s JWTSettings, client *http.Client) (*JWT, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	// The key set outlives ctx: it fetches with its own context.
	keyCtx := oidc.ClientContext(context.Background(), client)
	cfg := &oidc.Config{ClientID: s.Audience, SupportedSigningAlgs: []string{
		oidc.RS256, oidc.RS384, oidc.RS512, oidc.PS256, oidc.ES256, oidc.ES384, oidc.EdDSA}}
	var v *oidc.IDTokenVerifier
	switch {
	case s.PublicKeyFile != "":
		key, err := readPublicKey(s.PublicKeyFile)
		if err != nil {
			return nil, err
		}
		v = oidc.NewVerifier(s.Issuer, &oidc.StaticKeySet{PublicKeys: []crypto.PublicKey{key}}, cfg)
	case s.JWKSURL != "":
		v = oidc.NewVerifier(s.Issuer, oidc.NewRemoteKeySet(keyCtx, s.JWKSURL), cfg)
	default:
		p, err := oidc.NewProvider(oidc.ClientContext(ctx, client), s.Issuer)
		if err != nil {
			return nil, fmt.Errorf("OIDC discovery of %s: %w", s.Issuer, err)
		}
		v = p.VerifierContext(keyCtx, cfg)
	}
	claim := s.RoleClaim
	if claim == "" {
		claim = DefaultRoleClaim
	}
	return &JWT{verifier: v, roleClaim: claim}, nil
}

func readPublicKey(path string) (crypto.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auth.oidc.public_key_file: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("auth.oidc.public_key_file %s: no PEM block", path)
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("auth.oidc.public_key_file %s: want a PEM PUBLIC KEY: %w", path, err)
	}
	return key, nil
}

// looksLikeJWT is true for three dot-separated base64url parts.
func looksLikeJWT(token string) bool {
	return strings.Count(token, ".") == 2 && !strings.ContainsAny(token, " =+/")
}

// Role implements Authenticator. A token that is not a JWT is ErrUnknown;
// a JWT that fails a check is refused with the reason.
func (j *JWT) Role(ctx context.Context, token string) (string, error) {
	if !looksLikeJWT(token) {
		return "", ErrUnknown
	}
	tok, err := j.verifier.Verify(ctx, token)
	if err != nil {
		return "", fmt.Errorf("bearer JWT refused: %w", err)
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return "", fmt.Errorf("bearer JWT refused: claims: %w", err)
	}
	role, ok := claims[j.roleClaim].(string)
	if !ok {
		return "", fmt.Errorf("bearer JWT refused: no string claim %q naming the role (ops, customer:<id> or partner:<id>)", j.roleClaim)
	}
	if err := schemas.CheckRole(role); err != nil {
		return "", fmt.Errorf("bearer JWT refused: claim %q: %w", j.roleClaim, err)
	}
	return role, nil
}
