package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/midata/midata/pipeline/config"
	"github.com/midata/midata/schemas"
)

// keyPattern is the shape of an idempotency key or a schedule id.
var keyPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// tokenTable finds the role of a bearer token. It keeps only SHA-256 sums
// of the tokens and compares the sum of a presented token with every one in
// constant time, so neither the time taken nor memory dumps give tokens away.
type tokenTable struct {
	entries []tokenEntry
}

type tokenEntry struct {
	sum  [sha256.Size]byte
	role string
}

func newTokenTable(tokens map[string]string) (tokenTable, error) {
	var t tokenTable
	// Sorted by role so that errors come out in the same order every time;
	// a token itself never goes into an error.
	type pair struct{ token, role string }
	pairs := make([]pair, 0, len(tokens))
	for tok, role := range tokens {
		pairs = append(pairs, pair{tok, role})
	}
	slices.SortFunc(pairs, func(a, b pair) int { return strings.Compare(a.role, b.role) })
	for _, p := range pairs {
		if err := schemas.CheckRole(p.role); err != nil {
			return tokenTable{}, fmt.Errorf("token with role %q: %w", p.role, err)
		}
		if len(p.token) < config.MinTokenBytes {
			return tokenTable{}, fmt.Errorf("token with role %q: shorter than %d bytes: use a long random token", p.role, config.MinTokenBytes)
		}
		t.entries = append(t.entries, tokenEntry{sha256.Sum256([]byte(p.token)), p.role})
	}
	return t, nil
}

// role returns the role of token, or false.
func (t tokenTable) role(token string) (string, bool) {
	sum := sha256.Sum256([]byte(token))
	found := -1
	for i := range t.entries {
		if subtle.ConstantTimeCompare(sum[:], t.entries[i].sum[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return "", false
	}
	return t.entries[found].role, true
}

// bearer returns the token of an "Authorization: Bearer <token>" header.
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// guard lets a request through to rt only with a token whose role rt
// allows: 401 without a token or with an unknown one, 403 with a role
// that may not call rt (or another customer's or partner's id).
func (a *API) guard(rt Route) http.Handler {
	if len(rt.Roles) == 0 {
		return rt.handle
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearer(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="midata"`)
			a.fail(w, r, http.StatusUnauthorized, "no bearer token: send Authorization: Bearer <token>")
			return
		}
		role, ok := a.tokens.role(token)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="midata", error="invalid_token"`)
			a.fail(w, r, http.StatusUnauthorized, "unknown bearer token: use a token from the midata configuration")
			return
		}
		setRole(r.Context(), role)
		if !allowed(rt.Roles, role, r.PathValue("id")) {
			a.fail(w, r, http.StatusForbidden, fmt.Sprintf("role %s may not %s %s: use a token of role %s", role, r.Method, r.URL.Path, roleList(rt.Roles, r.PathValue("id"))))
			return
		}
		rt.handle(w, r)
	})
}

func allowed(roles []Role, role, id string) bool {
	for _, want := range roles {
		switch want {
		case RoleCustomer:
			if role == "customer:"+id {
				return true
			}
		case RolePartner:
			if role == "partner:"+id {
				return true
			}
		default:
			if role == string(want) {
				return true
			}
		}
	}
	return false
}

func roleList(roles []Role, id string) string {
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = strings.ReplaceAll(string(r), "{id}", id)
	}
	return strings.Join(names, " or ")
}

// requestInfo is what the API learns about a request as it goes, for the
// request log and the handlers.
type requestInfo struct {
	id   string
	role string
}

type requestInfoKey struct{}

func withRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestInfoKey{}, &requestInfo{id: id})
}

func info(ctx context.Context) *requestInfo {
	if ri, ok := ctx.Value(requestInfoKey{}).(*requestInfo); ok {
		return ri
	}
	return &requestInfo{}
}

func setRole(ctx context.Context, role string) { info(ctx).role = role }

func roleOf(ctx context.Context) string { return info(ctx).role }

func requestIDOf(ctx context.Context) string { return info(ctx).id }
