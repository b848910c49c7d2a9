package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/midata/midata/pipeline/api/custody"
	"github.com/midata/midata/pipeline/api/wire"
	"github.com/midata/midata/pipeline/partners"
)

// The categories a customer may grant, with what they mean.
var categories = []struct{ Name, Label, Means string }{
	{"transactions", "Transactions", "dates, amounts and descriptions of your payments"},
	{"balances", "Balances", "your running account balance"},
	{"merchant", "Merchants", "who you paid: merchant names and categories"},
}

// formats a customer may ask for, with their labels.
var formats = []struct{ Name, Label string }{
	{"html", "Summary page (HTML)"}, {"midata-csv", "midata CSV"}, {"csv", "CSV"}, {"ndjson", "NDJSON"}, {"json", "JSON (Open Banking shape)"}, {"parquet", "Parquet"},
}

// recipientView is one recipient on the dashboard: self or a partner,
// with the customer's grant to it.
type recipientView struct {
	Recipient string
	Name      string
	Explains  string // in plain words, what it receives
	Allowed   []string
	Grant     *wire.Grant
}

type dashboard struct {
	Customer   string
	Recipients []recipientView
	Categories any
	Formats    any
	Runs       []wire.RunView
}

func (w *Web) customerRoutes() {
	m, c := w.mux, w.guard
	m.HandleFunc("GET /web/me", c(isCustomer, w.dashboard))
	m.HandleFunc("POST /web/me/grants", c(isCustomer, w.setGrant))
	m.HandleFunc("POST /web/me/releases", c(isCustomer, w.askRelease))
	m.HandleFunc("GET /web/me/releases/{release}", c(isCustomer, w.releasePage))
	m.HandleFunc("POST /web/me/releases/{release}/links", c(isCustomer, w.mintLinks))
	m.HandleFunc("POST /web/me/releases/{release}/delete", c(isCustomer, w.deleteRelease))
	m.HandleFunc("POST /web/me/links/{link}/revoke", c(isCustomer, w.revokeLink))
}

func (w *Web) dashboard(rw http.ResponseWriter, r *http.Request, s session) {
	ctx, id := r.Context(), s.ID()
	var grants wire.GrantList
	var runs wire.RunList
	err := w.get(ctx, s, "/v1/customers/"+id+"/grants", &grants)
	if err == nil {
		err = w.get(ctx, s, "/v1/customers/"+id+"/releases?limit=50", &runs)
	}
	if err != nil {
		w.failed(rw, r, s, err)
		return
	}
	d := dashboard{Customer: id, Categories: categories, Formats: formats, Runs: runs.Runs}
	byRecipient := map[string]*wire.Grant{}
	for i := range grants.Grants {
		byRecipient[string(grants.Grants[i].Recipient)] = &grants.Grants[i]
	}
	d.Recipients = append(d.Recipients, recipientView{Recipient: "self", Name: "You", Grant: byRecipient["self"],
		Explains: "Releases you ask for, or that are made for you on a schedule, hold what you grant here; only you can download them."})
	for _, p := range w.cfg.Partners {
		allowed := p.Categories
		if len(allowed) == 0 {
			allowed = []string{"transactions", "balances", "merchant"}
		}
		rv := recipientView{Recipient: string(p.Recipient()), Name: p.Name, Allowed: allowed, Grant: byRecipient[string(p.Recipient())]}
		rv.Explains = explain(p.Name, allowed, p.Formats, rv.Grant)
		d.Recipients = append(d.Recipients, rv)
	}
	w.render(rw, r, http.StatusOK, "me", s, "Your data and who receives it", d)
}

// explain says in plain words what a partner receives.
func explain(name string, allowed, fmts []string, g *wire.Grant) string {
	if g == nil || !g.InForce {
		return fmt.Sprintf("%s receives nothing of yours: you have not granted it anything, or your grant has ended.", name)
	}
	var gets []string
	for _, c := range categories {
		if slices.Contains(g.Categories, c.Name) && slices.Contains(allowed, c.Name) {
			gets = append(gets, c.Means)
		}
	}
	if len(gets) == 0 {
		return fmt.Sprintf("%s receives nothing: it may not ask for what you granted.", name)
	}
	out := fmt.Sprintf("%s receives %s", name, strings.Join(gets, "; "))
	if g.WindowFrom != nil || g.WindowTo != nil {
		out += ", only for the dates you chose"
	}
	if len(fmts) > 0 {
		out += " (as " + strings.Join(fmts, ", ") + ")"
	}
	out += ", signed by us, in a bundle only it can open. Switch it off here and it stops at once; it is asked to delete what it already has."
	return out
}

func (w *Web) setGrant(rw http.ResponseWriter, r *http.Request, s session) {
	id, rcpt := s.ID(), r.PostFormValue("recipient")
	if rcpt != "self" && !slices.ContainsFunc(w.cfg.Partners, func(p partners.Partner) bool { return string(p.Recipient()) == rcpt }) {
		back(rw, r, Prefix+"me", fmt.Errorf("no such recipient: %s", rcpt), "")
		return
	}
	path := "/v1/customers/" + id + "/grants/" + url.PathEscape(rcpt)
	var code int
	var body []byte
	cats := r.PostForm["category"]
	if r.PostFormValue("action") == "revoke" || len(cats) == 0 {
		code, body = w.call(r.Context(), s, http.MethodDelete, path, nil)
	} else {
		code, body = w.call(r.Context(), s, http.MethodPut, path, wire.GrantChange{Categories: cats,
			WindowFrom: r.PostFormValue("window_from"), WindowTo: r.PostFormValue("window_to"), ExpiresAt: r.PostFormValue("expires_at")})
	}
	if code != http.StatusOK {
		back(rw, r, Prefix+"me", &apiError{code, errorText(body, "not changed")}, "")
		return
	}
	back(rw, r, Prefix+"me", nil, "Saved: in force now.")
}

func (w *Web) askRelease(rw http.ResponseWriter, r *http.Request, s session) {
	code, body := w.call(r.Context(), s, http.MethodPost, "/v1/customers/"+s.ID()+"/releases", wire.CustomerReleaseRequest{
		From: r.PostFormValue("from"), To: r.PostFormValue("to"), Formats: r.PostForm["format"], IdempotencyKey: r.PostFormValue("key")})
	if code != http.StatusAccepted && code != http.StatusOK {
		back(rw, r, Prefix+"me", &apiError{code, errorText(body, "not asked")}, "")
		return
	}
	back(rw, r, Prefix+"me", nil, "Asked: your release is being made; it appears below when ready.")
}

// releaseInfo is the release page.
type releaseInfo struct {
	Release   wire.ReleaseView
	Run       wire.RunView
	Links     []custody.LinkInfo
	Downloads []any
	Minted    []struct{ Path, URL string }
}

// release finds the customer's release id among their runs.
func (w *Web) release(ctx context.Context, s session, id string) (releaseInfo, error) {
	var runs wire.RunList
	if err := w.get(ctx, s, "/v1/customers/"+s.ID()+"/releases?limit=100", &runs); err != nil {
		return releaseInfo{}, err
	}
	for _, run := range runs.Runs {
		for _, rel := range run.Releases {
			if rel.ReleaseID == id {
				return releaseInfo{Release: rel, Run: run}, nil
			}
		}
	}
	return releaseInfo{}, &apiError{http.StatusNotFound, "no such release of yours"}
}

func (w *Web) releasePage(rw http.ResponseWriter, r *http.Request, s session) {
	w.showRelease(rw, r, s, nil)
}

func (w *Web) showRelease(rw http.ResponseWriter, r *http.Request, s session, minted []struct{ Path, URL string }) {
	ctx, rel := r.Context(), r.PathValue("release")
	info, err := w.release(ctx, s, rel)
	var links custody.LinkList
	var dls struct {
		Downloads []map[string]any `json:"downloads"`
	}
	if err == nil {
		err = w.get(ctx, s, "/v1/customers/"+s.ID()+"/links", &links)
	}
	if err == nil {
		err = w.get(ctx, s, "/v1/customers/"+s.ID()+"/downloads", &dls)
	}
	if err != nil {
		w.failed(rw, r, s, err)
		return
	}
	for _, l := range links.Links {
		if l.ReleaseID == rel {
			info.Links = append(info.Links, l)
		}
	}
	for _, d := range dls.Downloads {
		if d["release_id"] == rel {
			info.Downloads = append(info.Downloads, d)
		}
	}
	info.Minted = minted
	w.render(rw, r, http.StatusOK, "release", s, "Release "+rel, info)
}

func (w *Web) mintLinks(rw http.ResponseWriter, r *http.Request, s session) {
	var out wire.ReleaseLinks
	if err := w.get(r.Context(), s, "/v1/customers/"+s.ID()+"/releases/"+url.PathEscape(r.PathValue("release"))+"/links", &out); err != nil {
		w.failed(rw, r, s, err)
		return
	}
	var minted []struct{ Path, URL string }
	for _, l := range out.Links {
		minted = append(minted, struct{ Path, URL string }{l.Path, l.URL})
	}
	w.showRelease(rw, r, s, minted)
}

func (w *Web) deleteRelease(rw http.ResponseWriter, r *http.Request, s session) {
	rel := r.PathValue("release")
	code, body := w.call(r.Context(), s, http.MethodDelete, "/v1/customers/"+s.ID()+"/releases/"+url.PathEscape(rel), nil)
	if code != http.StatusOK {
		back(rw, r, Prefix+"me/releases/"+url.PathEscape(rel), &apiError{code, errorText(body, "not deleted")}, "")
		return
	}
	back(rw, r, Prefix+"me", nil, "Deleted: the files of "+rel+" are gone; the record that it existed stays.")
}

func (w *Web) revokeLink(rw http.ResponseWriter, r *http.Request, s session) {
	rel := r.PostFormValue("release")
	code, body := w.call(r.Context(), s, http.MethodDelete, "/v1/customers/"+s.ID()+"/links/"+url.PathEscape(r.PathValue("link")), nil)
	var err error
	if code != http.StatusOK {
		err = &apiError{code, errorText(body, "not revoked")}
	}
	back(rw, r, Prefix+"me/releases/"+url.PathEscape(rel), err, "Revoked: that link no longer works.")
}

// failed shows an API error as a page.
func (w *Web) failed(rw http.ResponseWriter, r *http.Request, s session, err error) {
	code := http.StatusInternalServerError
	if e, ok := err.(*apiError); ok {
		code = e.Code
	}
	w.render(rw, r, code, "failed", s, "That did not work", err.Error())
}
