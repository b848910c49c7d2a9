// Package signing holds the organisation's signing keys and signs what
// midata hands to partners in minisign's format, so a partner checks a
// signature with the standard `minisign -V` (or `midata verify`) and the
// public key served at /.well-known/midata-signing-key.
//
// Why minisign rather than SSH signatures: its signature file is one small
// text file next to the signed one; its public key is one line a partner
// pastes; every signature names the id of its key, so keys rotate with the
// old public keys still served; and it is Ed25519 over a BLAKE2b-512
// prehash, so a large file is signed without holding it. SSH signatures
// need an allowed-signers file and a namespace, more to get right for a
// partner who is not an SSH user.
//
// A key file is minisign's secret key format, unencrypted: like the API's
// tokens it is a secret mounted for the service (a Kubernetes Secret, mode
// 0600), and a password to open it would be one more secret in the same
// place. Load never logs or returns key material in errors.
package signing

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"aead.dev/minisign"
)

// Keys are the organisation's current signing key and every public key a
// partner may still meet in a signature: the current one first, then the
// old ones (rotated out, still served).
type Keys struct {
	current minisign.PrivateKey
	public  []minisign.PublicKey
}

// Load reads the secret key at keyFile and the old public keys, one file
// each.
func Load(keyFile string, oldPublic []string) (*Keys, error) {
	b, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	var k Keys
	if minisign.IsEncrypted(b) {
		return nil, fmt.Errorf("signing key %s is encrypted with a password: give midata an unencrypted key, mounted as a secret (midata keys generate writes one)", keyFile)
	}
	if err := k.current.UnmarshalText(bytes.TrimSpace(b)); err != nil {
		return nil, fmt.Errorf("signing key %s: not a minisign secret key", keyFile)
	}
	k.public = []minisign.PublicKey{k.current.Public().(minisign.PublicKey)}
	for _, path := range oldPublic {
		pub, err := minisign.PublicKeyFromFile(path)
		if err != nil {
			return nil, fmt.Errorf("old public key %s: %w", path, err)
		}
		if pub.ID() == k.public[0].ID() {
			return nil, fmt.Errorf("old public key %s has the current key's id %X", path, pub.ID())
		}
		k.public = append(k.public, pub)
	}
	return &k, nil
}

// ID is the id of the current key, as minisign prints it.
func (k *Keys) ID() string { return fmt.Sprintf("%016X", k.current.ID()) }

// Sign signs message with the current key; trusted is the signature's
// trusted comment (signed too), e.g. the release id and file name.
func (k *Keys) Sign(message []byte, trusted string) []byte {
	return minisign.SignWithComments(k.current, message, trusted, "signed by midata, key "+k.ID())
}

// Secret is secret material from the current key, for keys derived from
// it (package links derives the key of download links): it changes when
// the signing key is rotated, which ends the links minted before.
func (k *Keys) Secret() []byte {
	b, _ := k.current.MarshalText()
	return b
}

// Public returns every public key, the current first.
func (k *Keys) Public() []minisign.PublicKey { return k.public }

// WellKnown is the body of /.well-known/midata-signing-key: each public key
// in minisign's public key file form, the current first, then the old
// ones, so a signature of any key still served can be checked.
func (k *Keys) WellKnown() []byte {
	var b bytes.Buffer
	for i, pub := range k.public {
		role := "current"
		if i > 0 {
			role = "previous"
		}
		fmt.Fprintf(&b, "untrusted comment: midata signing key %016X (%s)\n%s\n", pub.ID(), role, keyLine(pub))
	}
	return b.Bytes()
}

// keyLine is the base64 line of pub, what `minisign -P` takes.
func keyLine(pub minisign.PublicKey) string {
	text, _ := pub.MarshalText()
	s := strings.TrimSpace(string(text))
	return s[strings.LastIndexByte(s, '\n')+1:]
}

// ErrBadSignature means a signature does not match its message under any
// key given.
var ErrBadSignature = errors.New("bad signature")

// Verify checks signature (minisign's file form) over message with the key
// of the id it names, among pubs; it returns that key's id and the
// signature's trusted comment.
func Verify(pubs []minisign.PublicKey, message, signature []byte) (id string, trusted string, err error) {
	var sig minisign.Signature
	if err := sig.UnmarshalText(signature); err != nil {
		return "", "", fmt.Errorf("%w: not a minisign signature: %v", ErrBadSignature, err)
	}
	for _, pub := range pubs {
		if pub.ID() != sig.KeyID {
			continue
		}
		if !minisign.Verify(pub, message, signature) {
			return "", "", fmt.Errorf("%w: key %016X does not sign this content", ErrBadSignature, sig.KeyID)
		}
		return fmt.Sprintf("%016X", pub.ID()), sig.TrustedComment, nil
	}
	return "", "", fmt.Errorf("%w: signed by key %016X, which is not among the public keys given", ErrBadSignature, sig.KeyID)
}

// ParsePublicKeys reads public keys in minisign's forms: a bare key line,
// a .pub file, or the well-known document with several.
func ParsePublicKeys(text []byte) ([]minisign.PublicKey, error) {
	var out []minisign.PublicKey
	for _, line := range strings.Split(string(text), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "untrusted comment:") {
			continue
		}
		var pub minisign.PublicKey
		if err := pub.UnmarshalText([]byte(line)); err != nil {
			return nil, fmt.Errorf("public key %q: not a minisign public key", line)
		}
		out = append(out, pub)
	}
	if len(out) == 0 {
		return nil, errors.New("no minisign public key in it")
	}
	return out, nil
}

// Generate writes a new key pair into dir: signing.key (the secret key,
// mode 0600) and signing.pub. It refuses to overwrite either.
func Generate(dir string) (pubPath string, err error) {
	pub, priv, err := minisign.GenerateKey(rand.Reader)
	if err != nil {
		return "", err
	}
	secret, err := priv.MarshalText()
	if err != nil {
		return "", err
	}
	keyPath, pubPath := filepath.Join(dir, "signing.key"), filepath.Join(dir, "signing.pub")
	for _, p := range []string{keyPath, pubPath} {
		if _, err := os.Stat(p); err == nil {
			return "", fmt.Errorf("%s exists: move it away first (an old key stays valid only while its public key is served)", p)
		}
	}
	if err := os.WriteFile(keyPath, append(secret, '\n'), 0o600); err != nil {
		return "", err
	}
	pubFile := fmt.Sprintf("untrusted comment: minisign public key %016X\n%s\n", pub.ID(), keyLine(pub))
	return pubPath, os.WriteFile(pubPath, []byte(pubFile), 0o644)
}
