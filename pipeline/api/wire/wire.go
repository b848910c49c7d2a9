// Package wire holds the shapes of the API of midata serve on the wire:
// the JSON bodies it takes and answers, as pipeline/api/openapi.json
// describes them (a test keeps the two equal), and the query parameters
// of its lists (RunFilter, the page cursor). Package api names them too.
package wire

import (
	"time"

	"github.com/midata/midata/pipeline"
	"github.com/midata/midata/pipeline/consent"
	"github.com/midata/midata/pipeline/jobs"
	"github.com/midata/midata/schemas"
	"github.com/midata/midata/sinks"
)

// RunView is a run as the API shows it, with its counts and its first
// release outcomes (for customers and partners with signed download links
// to the files of each committed release).
type RunView struct {
	jobs.Run
	Releases []ReleaseView `json:"releases,omitempty"`
	// MoreReleases says the run has more outcomes than Releases shows.
	MoreReleases bool `json:"more_releases,omitempty"`
}

// ReleaseView is one release of a run. A listing signs no links (one
// listing signed one per release, each a manifest read: 40,000 reads for
// one partner GET): LinksPath is where the caller gets them, one release
// at a time, checked against its owner and its consent.
type ReleaseView struct {
	jobs.Release
	LinksPath string `json:"links_path,omitempty"`
}

// ReleaseLinks is the body of GET .../releases/{release}/links.
type ReleaseLinks struct {
	ReleaseID string          `json:"release_id"`
	Links     []pipeline.Link `json:"links"`
}

// RunList is the body of every list of runs.
type RunList struct {
	Runs []RunView `json:"runs"`
	// Next is the cursor parameter of the next page; "" on the last.
	Next string `json:"next,omitempty"`
}

// ReleaseList is the body of GET /v1/runs/{id}/releases: one page of a
// run's release outcomes, by customer id.
type ReleaseList struct {
	Releases []ReleaseView `json:"releases"`
	// Next is the after parameter of the next page; "" on the last.
	Next string `json:"next,omitempty"`
}

// CustomerReleaseRequest is the body of POST /v1/customers/{id}/releases.
type CustomerReleaseRequest struct {
	From           string   `json:"from"` // 2026-01-01 or 2026-01-01T00:00:00Z
	To             string   `json:"to"`   // exclusive
	Formats        []string `json:"formats"`
	IdempotencyKey string   `json:"idempotency_key,omitempty"` // the same key gives the same run
}

// ReleaseRequest is the body of POST /v1/releases.
type ReleaseRequest struct {
	Recipient      schemas.Recipient `json:"recipient"` // "self" or "partner:<id>"
	Customers      []string          `json:"customers,omitempty"`
	All            bool              `json:"all,omitempty"` // everyone whose consent covers the recipient
	From           string            `json:"from"`
	To             string            `json:"to"`
	Formats        []string          `json:"formats"`
	IdempotencyKey string            `json:"idempotency_key,omitempty"`
}

// ErrorBody is the body of every error response.
type ErrorBody struct {
	Error string `json:"error"`
}

// GrantChange is the body of PUT /v1/customers/{id}/grants/{recipient}:
// the categories granted (transactions, balances, merchant), and the
// window and expiry as dates (the organisation's time zone) or RFC 3339
// times; an omitted time is open (no start, no end, never expires).
type GrantChange struct {
	Categories []string `json:"categories"`
	WindowFrom string   `json:"window_from,omitempty"`
	WindowTo   string   `json:"window_to,omitempty"`
	ExpiresAt  string   `json:"expires_at,omitempty"`
}

// Grant is a customer's consent for one recipient, as the consent topic
// holds it now. InForce is whether records may go to the recipient now:
// granted and not expired.
type Grant struct {
	Recipient  schemas.Recipient `json:"recipient"`
	Status     string            `json:"status"`
	InForce    bool              `json:"in_force"`
	ConsentID  string            `json:"consent_id"`
	Categories []string          `json:"categories"`
	WindowFrom *time.Time        `json:"window_from,omitempty"`
	WindowTo   *time.Time        `json:"window_to,omitempty"`
	ExpiresAt  *time.Time        `json:"expires_at,omitempty"`
	EventTime  time.Time         `json:"event_time"`
}

// GrantList is the body of GET /v1/customers/{id}/grants.
type GrantList struct {
	Grants []Grant `json:"grants"`
}

// GrantOf shows ev at now.
func GrantOf(ev schemas.ConsentEvent, now time.Time) Grant {
	opt := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		return &t
	}
	_, err := consent.GrantOf(ev, now)
	return Grant{Recipient: ev.Recipient, Status: string(ev.Status), InForce: err == nil, ConsentID: ev.ConsentID,
		Categories: append([]string{}, ev.Categories.Names()...), WindowFrom: opt(ev.WindowFrom), WindowTo: opt(ev.WindowTo),
		ExpiresAt: opt(ev.ExpiresAt), EventTime: ev.EventTime}
}

// Bundle is one bundle delivered to a partner (GET /v1/partners/{id}/bundles).
type Bundle struct {
	ReleaseID string `json:"release_id"`
	Key       string `json:"key"`
	LinkPath  string `json:"link_path"` // where the partner gets a fresh link to it
}

// BundleList is the body of GET /v1/partners/{id}/bundles.
type BundleList struct {
	Bundles []Bundle `json:"bundles"`
}

// BundleLink is the body of GET /v1/partners/{id}/bundles/{release}.
type BundleLink struct {
	ReleaseID string     `json:"release_id"`
	Link      sinks.Link `json:"link"`
}
