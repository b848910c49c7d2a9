// Package links mints and checks the tokens in midata's stable download
// links, /v1/downloads/{token}, and writes the readable page a visitor gets
// when a link cannot be followed.
//
// A token has three parts separated by dots:
//
//	<id>.<expiry>.<mac>
//
// The id is 32 lowercase hex characters (16 random bytes, from NewID), the
// expiry is the moment the link stops working in Unix seconds (decimal, no
// sign, no leading zero), and the mac is HMAC-SHA256 over "<id>.<expiry>",
// in unpadded base64url. A token is at most 128 bytes; Check refuses a
// longer one before it parses anything.
//
// The token carries no personal data: the release, the file and the
// customer a link is for are on the ledger, looked up by the id. So a link
// pasted in a chat, kept in a browser's history or written to a proxy's log
// tells nobody whose data it is, and revoking a link, withdrawing consent or
// deleting a release takes effect on the ledger without touching the token.
// Check proves only that midata minted the token and it has not expired.
//
// The links key is derived from a longer-lived secret with DeriveKey, so
// the key that signs links is never the secret itself.
package links

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

const (
	// MaxTokenLen is the longest token Check reads. A minted one is at most
	// 96 bytes: a 32-byte id, a 19-digit expiry, a 43-byte mac, two dots.
	MaxTokenLen = 128
	// KeySize is the size of DeriveKey's key and the least NewSigner takes.
	KeySize = 32
	idLen   = 32 // An id is 16 bytes in lowercase hex.
	macLen  = 43 // A mac is 32 bytes in unpadded base64url.
	// derivationLabel is what DeriveKey signs; a new one retires all links.
	derivationLabel = "midata download links v1"
	hexDigits       = "0123456789abcdef"
	base64URL       = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
)

// The errors Check wraps. Test them with errors.Is.
var (
	// ErrMalformed is a token of the wrong shape: too long, not three
	// parts, or a bad id, expiry or mac.
	ErrMalformed = errors.New("download link: malformed token")
	// ErrBadSignature is a well-formed token whose mac does not match.
	ErrBadSignature = errors.New("download link: bad signature")
	// ErrExpired is a genuine token whose expiry has passed.
	ErrExpired = errors.New("download link: expired")
)

// DeriveKey returns the 32-byte links key derived from secret: HMAC-SHA256
// keyed by secret over the label "midata download links v1".
func DeriveKey(secret []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(derivationLabel))
	return m.Sum(nil)
}

// A Signer mints and checks tokens with one key, safe for concurrent use.
type Signer struct{ key []byte }

// NewSigner returns a Signer for key, which must be at least 32 bytes (use
// DeriveKey). The Signer keeps a copy of key.
func NewSigner(key []byte) (*Signer, error) {
	if len(key) < KeySize {
		return nil, fmt.Errorf("download link: the key is %d bytes, want at least %d: derive it from the secret with DeriveKey", len(key), KeySize)
	}
	return &Signer{key: append([]byte(nil), key...)}, nil
}

// NewID returns a fresh link id: 16 bytes from crypto/rand, in hex.
func NewID() string {
	var b [idLen / 2]byte
	rand.Read(b[:]) // crypto/rand.Read never returns an error.
	return hex.EncodeToString(b[:])
}

// Mint returns the token for the link id that stops working at expires
// (truncated to the second). The id must be 32 lowercase hex characters,
// as NewID makes, and expires must be after 1 January 1970.
func (s *Signer) Mint(id string, expires time.Time) (string, error) {
	if err := s.usable(); err != nil {
		return "", err
	}
	if !only(id, idLen, hexDigits) {
		return "", fmt.Errorf("download link: the id is not %d lowercase hex characters: make it with NewID", idLen)
	}
	exp := expires.Unix()
	if exp < 1 {
		return "", fmt.Errorf("download link: the expiry %s is not after 1970", expires.UTC().Format(time.RFC3339))
	}
	payload := id + "." + strconv.FormatInt(exp, 10)
	return payload + "." + base64.RawURLEncoding.EncodeToString(s.mac(payload)), nil
}

// Check reads token and returns its link id and expiry. It checks the
// shape, then the signature, then the expiry: an error wraps ErrMalformed,
// ErrBadSignature or ErrExpired. A token is expired when now is at or after
// its expiry; Check then still returns the id and the expiry, so the caller
// can say when the link expired. For any other error they are empty.
func (s *Signer) Check(token string, now time.Time) (id string, expires time.Time, err error) {
	if err := s.usable(); err != nil {
		return "", time.Time{}, err
	}
	if len(token) > MaxTokenLen {
		return "", time.Time{}, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, MaxTokenLen)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", time.Time{}, fmt.Errorf("%w: want three parts separated by dots", ErrMalformed)
	}
	id, expText, macText := parts[0], parts[1], parts[2]
	if !only(id, idLen, hexDigits) {
		return "", time.Time{}, fmt.Errorf("%w: the id is not %d lowercase hex characters", ErrMalformed, idLen)
	}
	exp, ok := parseExpiry(expText)
	if !ok {
		return "", time.Time{}, fmt.Errorf("%w: the expiry is not a positive number of Unix seconds", ErrMalformed)
	}
	// The decoder skips newlines and, unless strict, allows stray low bits
	// in the last character: checking the alphabet first and decoding
	// strictly gives each mac exactly one spelling.
	got, err := base64.RawURLEncoding.Strict().DecodeString(macText)
	if !only(macText, macLen, base64URL) || err != nil || len(got) != sha256.Size {
		return "", time.Time{}, fmt.Errorf("%w: the signature is not %d bytes of unpadded base64url", ErrMalformed, sha256.Size)
	}
	if !hmac.Equal(got, s.mac(id+"."+expText)) {
		return "", time.Time{}, fmt.Errorf("%w: the link was altered or signed with another key", ErrBadSignature)
	}
	expires = time.Unix(exp, 0).UTC()
	if !now.Before(expires) {
		return id, expires, fmt.Errorf("%w at %s: ask for a fresh link", ErrExpired, expires.Format(time.RFC3339))
	}
	return id, expires, nil
}

// usable refuses a Signer that was not made with NewSigner.
func (s *Signer) usable() error {
	if s == nil || len(s.key) < KeySize {
		return errors.New("download link: the signer has no key: make it with NewSigner")
	}
	return nil
}

func (s *Signer) mac(payload string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// only reports whether s is n bytes long, each one in set.
func only(s string, n int, set string) bool {
	return len(s) == n && strings.Trim(s, set) == ""
}

// parseExpiry reads a positive decimal number with no sign and no leading
// zero, so each expiry has exactly one spelling.
func parseExpiry(s string) (int64, bool) {
	if !only(s, len(s), "0123456789") || s == "" || s[0] == '0' {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}
