package api

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
)

// keyPattern is the shape of an idempotency key or a schedule id.
var keyPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// bearerToken returns the token of an "Authorization: Bearer <token>" header.
func bearerToken(r *http.Request) (string, bool) {
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
		token, ok := bearerToken(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="midata"`)
			a.fail(w, r, http.StatusUnauthorized, "no bearer token: send Authorization: Bearer <token>")
			return
		}
		role, err := a.auth.Role(r.Context(), token)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="midata", error="invalid_token"`)
			a.fail(w, r, http.StatusUnauthorized, err.Error())
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
