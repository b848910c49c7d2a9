package api

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"

	"github.com/midata/midata/pipeline"
	"github.com/midata/midata/pipeline/api/jsonbody"
	"github.com/midata/midata/pipeline/api/wire"
	"github.com/midata/midata/pipeline/jobs"
	"github.com/midata/midata/schemas"
)

// createCustomerRelease records the customer's request as a self consent
// event, then queues it.
func (a *API) createCustomerRelease(w http.ResponseWriter, r *http.Request) {
	const op = "ask for a release"
	id := r.PathValue("id")
	req, err := a.customerRequest(w, r, id)
	if err != nil {
		a.failErr(w, r, op, err)
		return
	}
	a.submit(w, r, op, req,
		func(ctx context.Context) error {
			if _, err := a.consent.RecordRequest(ctx, id, req.From, req.To); err != nil {
				return fmt.Errorf("record the request as consent: %w", err)
			}
			return nil
		},
		func(ctx context.Context, run jobs.Run) RunView { return a.customerView(ctx, run, id) })
}

func (a *API) customerRequest(w http.ResponseWriter, r *http.Request, id string) (jobs.Request, error) {
	if err := schemas.CustomerID(id).Validate(); err != nil {
		return jobs.Request{}, badRequest("%v", err)
	}
	var body CustomerReleaseRequest
	if err := decode(w, r, &body); err != nil {
		return jobs.Request{}, err
	}
	from, to, err := wire.Period(body.From, body.To, a.loc)
	if err != nil {
		return jobs.Request{}, err
	}
	// "~" is in neither a customer id nor a key: C1's key k-x and customer
	// C1-k's key x are two requests (with "-" they were one id, and 409).
	reqID, err := requestID("cust-"+id+"~", body.IdempotencyKey)
	if err != nil {
		return jobs.Request{}, err
	}
	req := jobs.Request{
		ID: reqID, Kind: jobs.KindRelease, Recipient: schemas.RecipientSelf,
		Scope: schemas.Scope{Customers: []string{id}}, From: from, To: to, Formats: body.Formats,
		RequestedBy: roleOf(r.Context()), CreatedAt: a.now().UTC(),
	}
	return req, a.check(req)
}

// createRelease queues an operator's release for customers, or a bulk
// release for everyone with consent. Consent must exist already: nothing
// is recorded on the customers' behalf.
func (a *API) createRelease(w http.ResponseWriter, r *http.Request) {
	const op = "start a release"
	req, err := a.opsRequest(w, r)
	if err != nil {
		a.failErr(w, r, op, err)
		return
	}
	a.submit(w, r, op, req, nil, func(ctx context.Context, run jobs.Run) RunView { return a.opsView(ctx, run) })
}

func (a *API) opsRequest(w http.ResponseWriter, r *http.Request) (jobs.Request, error) {
	var body ReleaseRequest
	if err := decode(w, r, &body); err != nil {
		return jobs.Request{}, err
	}
	from, to, err := wire.Period(body.From, body.To, a.loc)
	if err != nil {
		return jobs.Request{}, err
	}
	reqID, err := requestID("ops-", body.IdempotencyKey)
	if err != nil {
		return jobs.Request{}, err
	}
	kind := jobs.KindRelease
	if body.All {
		kind = jobs.KindBulk
	}
	req := jobs.Request{
		ID: reqID, Kind: kind, Recipient: body.Recipient,
		Scope: schemas.Scope{Customers: dedupe(body.Customers), All: body.All}, From: from, To: to, Formats: body.Formats,
		RequestedBy: roleOf(r.Context()), CreatedAt: a.now().UTC(),
	}
	return req, a.check(req)
}

// requestID is prefix+key for an idempotency key, else prefix+random.
func requestID(prefix, key string) (string, error) {
	if key == "" {
		return prefix + wire.RandomHex(12), nil
	}
	if !keyPattern.MatchString(key) {
		return "", badRequest("idempotency_key %q: want 1-64 of A-Z a-z 0-9 . _ -", key)
	}
	return prefix + key, nil
}

// check runs the Validate hook, after the ledger's bounds; whatever it
// returns is the caller's mistake.
func (a *API) check(req jobs.Request) error {
	if len(req.Scope.Customers) > jobs.MaxCustomers {
		return badRequest("customers: %d given, at most %d: for more, ask for everyone with consent (\"all\": true)", len(req.Scope.Customers), jobs.MaxCustomers)
	}
	if err := a.validate(req); err != nil {
		if _, ok := jsonbody.As(err); ok {
			return err
		}
		return badRequest("%v", err)
	}
	return nil
}

// submit queues req and answers 202 with the run. A request id already
// known (the same idempotency key) answers the run it has, without doing
// before or queueing again, if the request is the same; 409 if not. before,
// when given, runs first and must succeed.
func (a *API) submit(w http.ResponseWriter, r *http.Request, op string, req jobs.Request,
	before func(context.Context) error, view func(context.Context, jobs.Run) RunView) {
	ctx := r.Context()
	if prev, ok := a.runs.Get(req.ID); ok {
		if !sameRequest(prev.Request, req) {
			a.fail(w, r, http.StatusConflict, op+": the idempotency key of "+req.ID+" was used for another request: use a new key")
			return
		}
		w.Header().Set("Idempotent-Replayed", "true")
		a.writeJSON(w, r, http.StatusAccepted, view(ctx, prev))
		return
	}
	if before != nil {
		if err := before(ctx); err != nil {
			a.failErr(w, r, op, err)
			return
		}
	}
	run, err := a.runs.Submit(ctx, req)
	if err != nil {
		a.failErr(w, r, op, fmt.Errorf("queue %s: %w", req.ID, err))
		return
	}
	a.log.InfoContext(ctx, "request queued", "request_id", requestIDOf(ctx), "run", run.ID, "kind", req.Kind, "recipient", req.Recipient, "role", roleOf(ctx))
	a.writeJSON(w, r, http.StatusAccepted, view(ctx, run))
}

// sameRequest reports whether a and b ask for the same thing.
func sameRequest(a, b jobs.Request) bool {
	return a.Kind == b.Kind && a.Recipient == b.Recipient &&
		a.Scope.All == b.Scope.All && slices.Equal(a.Scope.Customers, b.Scope.Customers) &&
		a.From.Equal(b.From) && a.To.Equal(b.To) && slices.Equal(a.Formats, b.Formats)
}

func dedupe(ids []string) []string {
	var out []string
	for _, id := range ids {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// listCustomerReleases lists the customer's own releases (recipient self).
func (a *API) listCustomerReleases(w http.ResponseWriter, r *http.Request) {
	const op = "list releases"
	id := r.PathValue("id")
	if err := schemas.CustomerID(id).Validate(); err != nil {
		a.failErr(w, r, op, badRequest("%v", err))
		return
	}
	f, err := runFilter(r, "status", "limit", "cursor")
	if err != nil {
		a.failErr(w, r, op, err)
		return
	}
	f.Customer, f.Recipient = id, schemas.RecipientSelf
	a.writePage(w, r, f, func(run jobs.Run) RunView { return a.customerView(r.Context(), run, id) })
}

// listPartnerReleases lists the releases made for the partner.
func (a *API) listPartnerReleases(w http.ResponseWriter, r *http.Request) {
	const op = "list releases"
	id := r.PathValue("id")
	if !schemas.ValidPartnerID(id) {
		a.failErr(w, r, op, badRequest("partner %q: want 1-64 of a-z 0-9 . _ -", id))
		return
	}
	f, err := runFilter(r, "status", "customer", "limit", "cursor")
	if err != nil {
		a.failErr(w, r, op, err)
		return
	}
	f.Recipient = schemas.PartnerRecipient(id)
	a.writePage(w, r, f, func(run jobs.Run) RunView { return a.partnerView(r.Context(), run) })
}

// customerReleaseLinks signs the links of one of the customer's releases
// to self.
func (a *API) customerReleaseLinks(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := schemas.CustomerID(id).Validate(); err != nil {
		a.failErr(w, r, "links", badRequest("%v", err))
		return
	}
	a.releaseLinks(w, r, pipeline.Owner{CustomerID: id, Recipient: schemas.RecipientSelf})
}

// partnerReleaseLinks signs the links of one release made for the partner.
func (a *API) partnerReleaseLinks(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !schemas.ValidPartnerID(id) {
		a.failErr(w, r, "links", badRequest("partner %q: want 1-64 of a-z 0-9 . _ -", id))
		return
	}
	a.releaseLinks(w, r, pipeline.Owner{Recipient: schemas.PartnerRecipient(id)})
}

// releaseLinks answers the links of release {release} for owner: 404 when
// it is not the owner's (as when there is none), 410 when its consent was
// withdrawn.
func (a *API) releaseLinks(w http.ResponseWriter, r *http.Request, owner pipeline.Owner) {
	const op = "links"
	rel := r.PathValue("release")
	if !releaseIDPattern.MatchString(rel) {
		a.failErr(w, r, op, badRequest("release %q: not a release id", rel))
		return
	}
	links, err := a.links.Links(r.Context(), rel, owner)
	if err != nil {
		a.failErr(w, r, op, err)
		return
	}
	a.writeJSON(w, r, http.StatusOK, ReleaseLinks{ReleaseID: rel, Links: links})
}

// releaseIDPattern is the shape of a release id.
var releaseIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)

// listBundles lists the bundles delivered to the partner, to pull.
func (a *API) listBundles(w http.ResponseWriter, r *http.Request) {
	const op = "list bundles"
	id, ok := a.bundlesOf(w, r, op)
	if !ok {
		return
	}
	list, err := a.bundles.List(r.Context(), id)
	if err != nil {
		a.failErr(w, r, op, err)
		return
	}
	for i := range list {
		list[i].LinkPath = "/v1/partners/" + id + "/bundles/" + list[i].ReleaseID
	}
	a.writeJSON(w, r, http.StatusOK, wire.BundleList{Bundles: append([]wire.Bundle{}, list...)})
}

// bundleLink signs a fresh link to one of the partner's bundles.
func (a *API) bundleLink(w http.ResponseWriter, r *http.Request) {
	const op = "bundle link"
	id, ok := a.bundlesOf(w, r, op)
	if !ok {
		return
	}
	rel := r.PathValue("release")
	if !releaseIDPattern.MatchString(rel) {
		a.failErr(w, r, op, badRequest("release %q: not a release id", rel))
		return
	}
	link, err := a.bundles.Link(r.Context(), id, rel)
	if err != nil {
		a.failErr(w, r, op, err)
		return
	}
	a.writeJSON(w, r, http.StatusOK, wire.BundleLink{ReleaseID: rel, Link: link})
}

// bundlesOf returns the partner id of the path once it is valid and
// bundles are served here; otherwise it answered.
func (a *API) bundlesOf(w http.ResponseWriter, r *http.Request, op string) (string, bool) {
	id := r.PathValue("id")
	if !schemas.ValidPartnerID(id) {
		a.failErr(w, r, op, badRequest("partner %q: want 1-64 of a-z 0-9 . _ -", id))
	} else if a.bundles == nil {
		a.fail(w, r, http.StatusNotFound, op+": no partner bundles are delivered here (no partners are configured)")
	}
	return id, schemas.ValidPartnerID(id) && a.bundles != nil
}
