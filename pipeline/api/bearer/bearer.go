// Package bearer finds the role of a bearer token presented to the API:
// static tokens from the configuration (Static), a tokens file re-read when
// it changes, for rotation without a restart (File), and JWTs from an OIDC
// issuer or signed with a configured public key (JWT). Chain asks each in
// turn.
//
// A role is "ops", "customer:<id>" or "partner:<id>" (schemas.CheckRole).
// Static tokens are kept only as SHA-256 sums and compared in constant
// time; no token ever goes into an error or a log.
package bearer

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/midata/midata/schemas"
)

// MinTokenBytes is the shortest static token accepted.
const MinTokenBytes = 16

// ErrUnknown means that no authenticator knows the token. Other errors say
// why a token it recognised was refused (expired, wrong audience, …).
var ErrUnknown = errors.New("unknown bearer token: use a token from the midata configuration or from the configured OIDC issuer")

// Authenticator finds the role of a bearer token: ErrUnknown when it does
// not know the token, another error when it refuses it.
type Authenticator interface {
	Role(ctx context.Context, token string) (string, error)
}

// Chain asks each authenticator in turn; the first that knows the token
// answers. Nil entries are skipped.
type Chain []Authenticator

// Role implements Authenticator.
func (c Chain) Role(ctx context.Context, token string) (string, error) {
	for _, a := range c {
		if a == nil {
			continue
		}
		role, err := a.Role(ctx, token)
		if !errors.Is(err, ErrUnknown) {
			return role, err
		}
	}
	return "", ErrUnknown
}

// Static is a fixed table of tokens and their roles.
type Static struct {
	entries []entry
}

type entry struct {
	sum  [sha256.Size]byte
	role string
}

// NewStatic checks every token (at least MinTokenBytes) and role.
func NewStatic(tokens map[string]string) (*Static, error) {
	// Sorted by role so that errors come out in the same order every time.
	type pair struct{ token, role string }
	pairs := make([]pair, 0, len(tokens))
	for tok, role := range tokens {
		pairs = append(pairs, pair{tok, role})
	}
	slices.SortFunc(pairs, func(a, b pair) int { return strings.Compare(a.role, b.role) })
	s := &Static{}
	for _, p := range pairs {
		if err := schemas.CheckRole(p.role); err != nil {
			return nil, fmt.Errorf("token with role %q: %w", p.role, err)
		}
		if len(p.token) < MinTokenBytes {
			return nil, fmt.Errorf("token with role %q: shorter than %d bytes: use a long random token", p.role, MinTokenBytes)
		}
		s.entries = append(s.entries, entry{sha256.Sum256([]byte(p.token)), p.role})
	}
	return s, nil
}

// Len returns how many tokens the table holds.
func (s *Static) Len() int { return len(s.entries) }

// Role implements Authenticator. Every entry is compared, so the time
// taken does not say which matched.
func (s *Static) Role(_ context.Context, token string) (string, error) {
	sum := sha256.Sum256([]byte(token))
	found := -1
	for i := range s.entries {
		if subtle.ConstantTimeCompare(sum[:], s.entries[i].sum[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return "", ErrUnknown
	}
	return s.entries[found].role, nil
}
