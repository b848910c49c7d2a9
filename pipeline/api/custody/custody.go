// Package custody answers the routes of the API about releases after
// they are made: a customer's download links (follow, list, revoke), the
// customer's download history and the deletion of a release, the
// revocation of a release's links by ops, and the partner deliveries with
// their webhook outcomes. Package api guards the routes (roles) and
// documents them; Handlers gives their handlers by the names api.go uses.
package custody

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/midata/midata/pipeline/activity"
	"github.com/midata/midata/pipeline/api/jsonbody"
	"github.com/midata/midata/pipeline/api/ports"
	"github.com/midata/midata/pipeline/downloads"
	"github.com/midata/midata/pipeline/jobs"
	"github.com/midata/midata/pipeline/links"
	"github.com/midata/midata/schemas"
)

// LinkInfo is a customer's download link as the customer sees it in a
// listing: never its token, which only the minting answer gives.
type LinkInfo struct {
	ID        string     `json:"id"`
	ReleaseID string     `json:"release_id"`
	File      string     `json:"file"`
	IssuedAt  time.Time  `json:"issued_at"`
	ExpiresAt time.Time  `json:"expires_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	RevokedBy string     `json:"revoked_by,omitempty"`
}

// LinkList is the answer of GET /v1/customers/{id}/links.
type LinkList struct {
	Links []LinkInfo `json:"links"`
}

// DownloadList is the answer of GET /v1/customers/{id}/downloads.
type DownloadList struct {
	Downloads []activity.Download `json:"downloads"`
}

// DeliveryList is the answer of the deliveries routes.
type DeliveryList struct {
	Deliveries []activity.Delivery `json:"deliveries"`
}

// Backend is what the handlers need: package downloads' Service and the
// activity view.
type Backend struct {
	Service *downloads.Service
	View    *activity.View
	Logger  *slog.Logger
}

var (
	releaseID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)
	linkID    = regexp.MustCompile(`^[0-9a-f]{32}$`)
)

// Handlers returns the handlers by name, answering through resp.
func Handlers(b *Backend, resp ports.Responder) map[string]http.HandlerFunc {
	log := b.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	bad := func(w http.ResponseWriter, r *http.Request, op, format string, args ...any) {
		resp.Fail(w, r, op, jsonbody.BadRequest(format, args...))
	}
	customer := func(w http.ResponseWriter, r *http.Request, op string) (string, bool) {
		id := r.PathValue("id")
		if err := schemas.CustomerID(id).Validate(); err != nil {
			bad(w, r, op, "%v", err)
			return "", false
		}
		return id, true
	}
	release := func(w http.ResponseWriter, r *http.Request, op string) (string, bool) {
		rel := r.PathValue("release")
		if !releaseID.MatchString(rel) {
			bad(w, r, op, "release %q: not a release id", rel)
			return "", false
		}
		return rel, true
	}
	customerRelease := func(w http.ResponseWriter, r *http.Request, op string) (string, string, bool) {
		id, ok := customer(w, r, op)
		if !ok {
			return "", "", false
		}
		rel, ok := release(w, r, op)
		return id, rel, ok
	}
	synced := func(w http.ResponseWriter, r *http.Request, op string) bool {
		if err := b.View.Sync(r.Context()); err != nil {
			resp.Fail(w, r, op, unavailable(err))
			return false
		}
		return true
	}
	return map[string]http.HandlerFunc{
		"download": func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodHead { // a link preview: no download
				w.Header().Set("Allow", "GET")
				w.WriteHeader(http.StatusMethodNotAllowed)
				return
			}
			to, err := b.Service.Visit(r.Context(), r.PathValue("token"))
			var refused *downloads.Refusal
			if errors.As(err, &refused) {
				level := slog.LevelInfo
				if refused.Reason == links.Unavailable {
					level = slog.LevelWarn
				}
				log.Log(r.Context(), level, "download refused", "status", links.Status(refused.Reason), "err", refused.Err)
				links.WritePage(w, refused.Reason, refused.When)
				return
			}
			if err != nil {
				links.WritePage(w, links.Unavailable, time.Time{})
				return
			}
			w.Header().Set("Cache-Control", "no-store")
			w.Header().Set("Referrer-Policy", "no-referrer")
			http.Redirect(w, r, to, http.StatusFound)
		},
		"links": func(w http.ResponseWriter, r *http.Request) {
			id, ok := customer(w, r, "links")
			if !ok || !synced(w, r, "links") {
				return
			}
			out := LinkList{Links: []LinkInfo{}}
			for _, l := range b.View.Of(id).Links {
				l = b.View.Effective(l) // revoked with its release, too
				out.Links = append(out.Links, LinkInfo{ID: l.ID, ReleaseID: l.ReleaseID, File: l.File, IssuedAt: l.IssuedAt,
					ExpiresAt: l.ExpiresAt, RevokedAt: l.RevokedAt, RevokedBy: l.RevokedBy})
			}
			resp.JSON(w, r, http.StatusOK, out)
		},
		"revoke-link": func(w http.ResponseWriter, r *http.Request) {
			const op = "revoke link"
			id, ok := customer(w, r, op)
			if !ok {
				return
			}
			lid := r.PathValue("link")
			if !linkID.MatchString(lid) {
				bad(w, r, op, "link %q: a link id is 32 hex digits", lid)
				return
			}
			l, err := b.Service.RevokeLink(r.Context(), id, lid)
			if err != nil {
				resp.Fail(w, r, op, err)
				return
			}
			resp.JSON(w, r, http.StatusOK, LinkInfo{ID: l.ID, ReleaseID: l.ReleaseID, File: l.File, IssuedAt: l.IssuedAt,
				ExpiresAt: l.ExpiresAt, RevokedAt: l.RevokedAt, RevokedBy: l.RevokedBy})
		},
		"revoke-release-links": func(w http.ResponseWriter, r *http.Request) {
			const op = "revoke links"
			id, rel, ok := customerRelease(w, r, op)
			if !ok {
				return
			}
			rv, err := b.Service.RevokeRelease(r.Context(), id, rel)
			answer(w, r, resp, op, rv, err)
		},
		"ops-revoke-release-links": func(w http.ResponseWriter, r *http.Request) {
			const op = "revoke links"
			rel, ok := release(w, r, op)
			if !ok {
				return
			}
			rv, err := b.Service.RevokeRelease(r.Context(), "", rel)
			answer(w, r, resp, op, rv, err)
		},
		"delete-release": func(w http.ResponseWriter, r *http.Request) {
			const op = "delete release"
			id, rel, ok := customerRelease(w, r, op)
			if !ok {
				return
			}
			d, err := b.Service.Delete(r.Context(), id, rel)
			answer(w, r, resp, op, d, err)
		},
		"downloads": func(w http.ResponseWriter, r *http.Request) {
			id, ok := customer(w, r, "downloads")
			if !ok || !synced(w, r, "downloads") {
				return
			}
			out := DownloadList{Downloads: b.View.Of(id).Downloads}
			if out.Downloads == nil {
				out.Downloads = []activity.Download{}
			}
			resp.JSON(w, r, http.StatusOK, out)
		},
		"deliveries": func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			f := activity.DeliveryFilter{Partner: q.Get("partner"), Status: activity.DeliveryStatus(q.Get("status"))}
			switch f.Status {
			case "", activity.DeliveryStarted, activity.DeliveryReady, activity.DeliveryDelivered, activity.DeliveryFailed:
			default:
				bad(w, r, "deliveries", "status %q: want started, ready, delivered or failed", f.Status)
				return
			}
			if s := q.Get("limit"); s != "" {
				n, err := strconv.Atoi(s)
				if err != nil || n < 1 || n > 1000 {
					bad(w, r, "deliveries", "limit %q: want 1 to 1000", s)
					return
				}
				f.Limit = n
			}
			deliveries(w, r, resp, b, f, synced)
		},
		"partner-deliveries": func(w http.ResponseWriter, r *http.Request) {
			id := r.PathValue("id")
			if !schemas.ValidPartnerID(id) {
				bad(w, r, "deliveries", "partner %q: want 1-64 of a-z 0-9 . _ -", id)
				return
			}
			deliveries(w, r, resp, b, activity.DeliveryFilter{Partner: id, Limit: 1000}, synced)
		},
	}
}

func deliveries(w http.ResponseWriter, r *http.Request, resp ports.Responder, b *Backend, f activity.DeliveryFilter,
	synced func(http.ResponseWriter, *http.Request, string) bool) {
	if !synced(w, r, "deliveries") {
		return
	}
	out := DeliveryList{Deliveries: b.View.Deliveries(f)}
	if out.Deliveries == nil {
		out.Deliveries = []activity.Delivery{}
	}
	resp.JSON(w, r, http.StatusOK, out)
}

func answer(w http.ResponseWriter, r *http.Request, resp ports.Responder, op string, v any, err error) {
	if err != nil {
		resp.Fail(w, r, op, err)
		return
	}
	resp.JSON(w, r, http.StatusOK, v)
}

// unavailable marks a view that did not sync: the API answers 503.
func unavailable(err error) error {
	return errors.Join(fmt.Errorf("the ledger did not answer: %w", err), jobs.ErrTransient)
}
