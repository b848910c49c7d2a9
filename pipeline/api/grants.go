package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/midata/midata/pipeline/api/wire"
	"github.com/midata/midata/pipeline/consent"
	"github.com/midata/midata/schemas"
)

// errNoGrants answers when the service has no consent view to serve them.
var errNoGrants = errors.Join(ErrUnavailable, errors.New("grants are not served by this instance"))

// grantsOf returns the customer id of the path, once it is valid and the
// grants are served here; otherwise it answered.
func (a *API) grantsOf(w http.ResponseWriter, r *http.Request, op string) (string, bool) {
	id := r.PathValue("id")
	err := schemas.CustomerID(id).Validate()
	switch {
	case err != nil:
		a.failErr(w, r, op, badRequest("%v", err))
	case a.grants == nil:
		a.failErr(w, r, op, errNoGrants)
	}
	return id, err == nil && a.grants != nil
}

// listGrants answers the customer's consent for every recipient they
// have one for: self and each partner.
func (a *API) listGrants(w http.ResponseWriter, r *http.Request) {
	const op = "list grants"
	id, ok := a.grantsOf(w, r, op)
	if !ok {
		return
	}
	evs, err := a.grants.CustomerGrants(r.Context(), id)
	if err != nil {
		a.failErr(w, r, op, errors.Join(ErrUnavailable, err))
		return
	}
	out := GrantList{Grants: []Grant{}}
	for _, ev := range evs {
		out.Grants = append(out.Grants, wire.GrantOf(ev, a.now()))
	}
	a.writeJSON(w, r, http.StatusOK, out)
}

// putGrant writes the customer's grant to {recipient}; deleteGrant
// revokes it. Both are in force when they answer.
func (a *API) putGrant(w http.ResponseWriter, r *http.Request)    { a.changeGrant(w, r, false) }
func (a *API) deleteGrant(w http.ResponseWriter, r *http.Request) { a.changeGrant(w, r, true) }

func (a *API) changeGrant(w http.ResponseWriter, r *http.Request, revoke bool) {
	op := "change a grant"
	if revoke {
		op = "revoke a grant"
	}
	id, ok := a.grantsOf(w, r, op)
	if !ok {
		return
	}
	rec, err := schemas.ParseRecipient(r.PathValue("recipient"))
	if err != nil {
		a.failErr(w, r, op, badRequest("recipient %q: want self or partner:<id>", r.PathValue("recipient")))
		return
	}
	ch := consent.Change{CustomerID: id, Recipient: rec, Revoke: revoke}
	if !revoke {
		if ch, err = a.grantChange(w, r, ch); err != nil {
			a.failErr(w, r, op, err)
			return
		}
	}
	ev, err := a.grants.SetGrant(r.Context(), ch)
	switch {
	case errors.Is(err, consent.ErrInvalidChange):
		a.failErr(w, r, op, badRequest("%v", err))
	case err != nil:
		a.failErr(w, r, op, errors.Join(ErrUnavailable, err))
	default:
		a.writeJSON(w, r, http.StatusOK, wire.GrantOf(ev, a.now()))
	}
}

// grantChange reads the body of a PUT into ch.
func (a *API) grantChange(w http.ResponseWriter, r *http.Request, ch consent.Change) (consent.Change, error) {
	var body GrantChange
	if err := decode(w, r, &body); err != nil {
		return ch, err
	}
	if len(body.Categories) == 0 {
		return ch, badRequest("\"categories\" is missing: grant one or more of transactions, balances, merchant (DELETE revokes)")
	}
	for _, name := range body.Categories {
		c, err := schemas.ParseCategory(name)
		if err != nil {
			return ch, badRequest("category %q: want transactions, balances or merchant", name)
		}
		ch.Categories |= c
	}
	for _, f := range []struct {
		name, value string
		to          *time.Time
	}{{"window_from", body.WindowFrom, &ch.WindowFrom}, {"window_to", body.WindowTo, &ch.WindowTo}, {"expires_at", body.ExpiresAt, &ch.ExpiresAt}} {
		if f.value == "" {
			continue
		}
		t, err := wire.ParseTime(f.name, f.value, a.loc)
		if err != nil {
			return ch, err
		}
		*f.to = t
	}
	return ch, nil
}
