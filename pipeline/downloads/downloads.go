// Package downloads keeps a customer's releases under the customer's
// control after they are made: it mints stable download links to
// midata's own endpoint (/v1/downloads/{token}), follows them, revokes
// them, lists the customer's download history and deletes a release when
// its customer asks.
//
// A link's token carries its id and expiry only, signed (package links);
// what it leads to is on the ledger (package activity). Each visit checks
// the token, the link and its release on the ledger (not revoked, not
// deleted), that the release is still in the store, and that the
// customer's grant to the release's recipient still stands, then records
// the download and redirects to a presigned URL that lives minutes. A
// link that cannot be followed gets a readable page saying why.
package downloads

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/midata/midata/pipeline"
	"github.com/midata/midata/pipeline/activity"
	"github.com/midata/midata/pipeline/consent"
	"github.com/midata/midata/pipeline/links"
	"github.com/midata/midata/pipeline/notify"
	"github.com/midata/midata/pipeline/releasestore"
	"github.com/midata/midata/schemas"
	"github.com/midata/midata/schemas/release"
	"github.com/midata/midata/sinks"
)

// Path is where links lead: Path + token.
const Path = "/v1/downloads/"

// DefaultRedirectTTL is how long the presigned URL of a visit lives.
const DefaultRedirectTTL = 5 * time.Minute

// Grants is the consent view: synced, then asked.
type Grants interface {
	Sync(ctx context.Context) error
	Grant(customerID string, recipient schemas.Recipient, now time.Time) (consent.Grant, error)
}

// Service mints, follows, revokes and deletes.
type Service struct {
	Store  sinks.Sink // the releases bucket: a Linker and a Deleter, a Lister for deletions
	Grants Grants
	Ledger *activity.Ledger
	View   *activity.View
	Signer *links.Signer
	// Notifier, when set, gets link.expiring events (SweepExpiring).
	Notifier *notify.Notifier
	// TTL is how long a minted link lives (links.ttl); default 7 days.
	TTL time.Duration
	// RedirectTTL is how long the presigned URL of a visit lives; default
	// DefaultRedirectTTL.
	RedirectTTL time.Duration
	// Fallback signs links for owners that are not a customer (partners
	// pull presigned links of their releases): pipeline.Runner's LinksFor.
	Fallback func(ctx context.Context, releaseID string, owner pipeline.Owner) ([]pipeline.Link, error)
	Logger   *slog.Logger
	Now      func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// owned returns the manifest of the customer's release releaseID: not
// found when it is not the owner's, deleted, or not there.
func (s *Service) owned(ctx context.Context, releaseID string, owner pipeline.Owner) (*release.Manifest, error) {
	if _, gone := s.View.Deletion(releaseID); gone {
		return nil, fmt.Errorf("release %s was deleted: %w", releaseID, sinks.ErrNotFound)
	}
	m, err := releasestore.Manifest(ctx, s.Store, releaseID)
	if err != nil {
		return nil, err
	}
	if m == nil || m.Midata.Recipient != owner.Recipient || m.Midata.CustomerID != owner.CustomerID {
		return nil, fmt.Errorf("release %s: %w", releaseID, sinks.ErrNotFound)
	}
	return m, nil
}

// Links mints a stable link to each file of the customer's release, after
// checking that it is the owner's and that the grant stands; the links
// are on the ledger before they are returned. Their URLs are paths
// (Path + token) on the API's own address. An owner without a customer (a
// partner) gets Fallback's presigned links.
func (s *Service) Links(ctx context.Context, releaseID string, owner pipeline.Owner) ([]pipeline.Link, error) {
	if owner.CustomerID == "" {
		if s.Fallback == nil {
			return nil, fmt.Errorf("release %s: %w", releaseID, sinks.ErrNotFound)
		}
		return s.Fallback(ctx, releaseID, owner)
	}
	m, err := s.owned(ctx, releaseID, owner)
	if err != nil {
		return nil, err
	}
	if err := s.Grants.Sync(ctx); err != nil {
		return nil, err
	}
	now := s.now()
	if _, err := s.Grants.Grant(owner.CustomerID, owner.Recipient, now); err != nil {
		return nil, fmt.Errorf("links of release %s: %w", releaseID, err)
	}
	ttl := s.TTL
	if ttl <= 0 {
		ttl = 7 * 24 * time.Hour
	}
	out := []pipeline.Link{}
	for _, rs := range m.Resources {
		l := activity.Link{ID: links.NewID(), ReleaseID: m.ID, CustomerID: owner.CustomerID, Recipient: string(owner.Recipient),
			File: rs.Path, Object: releasestore.Key(m.ID, rs), IssuedAt: now, ExpiresAt: now.Add(ttl).Truncate(time.Second)}
		token, err := s.Signer.Mint(l.ID, l.ExpiresAt)
		if err != nil {
			return nil, err
		}
		if err := s.Ledger.Link(ctx, l); err != nil {
			return nil, err
		}
		out = append(out, pipeline.Link{Path: rs.Path, Link: sinks.Link{URL: Path + token, ExpiresAt: l.ExpiresAt}})
	}
	return out, nil
}

// Refusal is why a visit is not redirected: the page to show and when it
// happened (zero when unknown).
type Refusal struct {
	Reason links.Reason
	When   time.Time
	Err    error
}

func (r *Refusal) Error() string { return "download refused: " + r.Err.Error() }

func (r *Refusal) Unwrap() error { return r.Err }

// Visit follows the link of token: on success it returns the presigned
// URL to redirect to, with the download on the ledger; otherwise a
// *Refusal.
func (s *Service) Visit(ctx context.Context, token string) (string, error) {
	now := s.now()
	id, exp, err := s.Signer.Check(token, now)
	switch {
	case errors.Is(err, links.ErrExpired):
		return "", &Refusal{links.Expired, exp, err}
	case err != nil:
		return "", &Refusal{links.Invalid, time.Time{}, err}
	}
	// The ledger as it is now: a revocation or deletion on another
	// instance a moment ago beats this visit.
	if err := s.View.Sync(ctx); err != nil {
		return "", &Refusal{links.Unavailable, time.Time{}, err}
	}
	l, ok := s.View.Link(id)
	if !ok {
		return "", &Refusal{links.Invalid, time.Time{}, fmt.Errorf("link %s is not on the ledger", id)}
	}
	if l.RevokedAt != nil {
		return "", &Refusal{links.Revoked, *l.RevokedAt, fmt.Errorf("link %s was revoked", id)}
	}
	if r, ok := s.View.Revocation(l.ReleaseID); ok && !l.IssuedAt.After(r.At) {
		return "", &Refusal{links.Revoked, r.At, fmt.Errorf("the links of release %s were revoked", l.ReleaseID)}
	}
	if d, ok := s.View.Deletion(l.ReleaseID); ok {
		return "", &Refusal{links.Deleted, d.At, fmt.Errorf("release %s was deleted", l.ReleaseID)}
	}
	m, err := releasestore.Manifest(ctx, s.Store, l.ReleaseID)
	switch {
	case err != nil:
		return "", &Refusal{links.Unavailable, time.Time{}, err}
	case m == nil:
		return "", &Refusal{links.Deleted, time.Time{}, fmt.Errorf("release %s is not in the store", l.ReleaseID)}
	}
	if err := s.Grants.Sync(ctx); err != nil {
		return "", &Refusal{links.Unavailable, time.Time{}, err}
	}
	if _, err := s.Grants.Grant(l.CustomerID, schemas.Recipient(l.Recipient), now); err != nil {
		return "", &Refusal{links.Withdrawn, time.Time{}, err}
	}
	// The download is on the ledger before the file is reachable.
	if err := s.Ledger.Download(ctx, activity.Download{LinkID: l.ID, ReleaseID: l.ReleaseID, CustomerID: l.CustomerID, File: l.File, At: now}); err != nil {
		return "", &Refusal{links.Unavailable, time.Time{}, err}
	}
	linker, ok := s.Store.(sinks.Linker)
	if !ok {
		return "", &Refusal{links.Unavailable, time.Time{}, errors.New("the store cannot sign links")}
	}
	ttl := s.RedirectTTL
	if ttl <= 0 {
		ttl = DefaultRedirectTTL
	}
	if s.TTL > 0 && ttl > s.TTL {
		ttl = s.TTL // the store signs nothing longer than links.ttl
	}
	u, err := linker.Link(ctx, l.Object, ttl)
	if err != nil {
		return "", &Refusal{links.Unavailable, time.Time{}, err}
	}
	return u.URL, nil
}

// ErrNotYours is the cause of a revocation of another customer's link.
var ErrNotYours = fmt.Errorf("no such link of the customer's: %w", sinks.ErrNotFound)

// RevokeLink revokes the customer's link id, as the customer's act.
func (s *Service) RevokeLink(ctx context.Context, customerID, id string) (activity.Link, error) {
	l, ok := s.View.Link(id)
	if !ok {
		if err := s.View.Sync(ctx); err != nil {
			return activity.Link{}, err
		}
		l, ok = s.View.Link(id)
	}
	if !ok || l.CustomerID != customerID {
		return activity.Link{}, ErrNotYours
	}
	if l.RevokedAt != nil {
		return l, nil
	}
	now := s.now()
	l.RevokedAt, l.RevokedBy = &now, "customer"
	if err := s.Ledger.Link(ctx, l); err != nil {
		return activity.Link{}, err
	}
	return l, s.View.Sync(ctx)
}

// RevokeRelease revokes every link of releaseID minted until now. A
// customer (customerID set) revokes only the links of its own releases;
// ops (customerID empty) revoke any release's, without seeing them.
func (s *Service) RevokeRelease(ctx context.Context, customerID, releaseID string) (activity.Revocation, error) {
	by := "ops"
	if customerID != "" {
		if _, err := s.owned(ctx, releaseID, pipeline.Owner{CustomerID: customerID, Recipient: schemas.RecipientSelf}); err != nil {
			return activity.Revocation{}, err
		}
		by = "customer"
	} else if m, err := releasestore.Manifest(ctx, s.Store, releaseID); err != nil {
		return activity.Revocation{}, err
	} else if m == nil {
		return activity.Revocation{}, fmt.Errorf("release %s: %w", releaseID, sinks.ErrNotFound)
	}
	r := activity.Revocation{ReleaseID: releaseID, CustomerID: customerID, By: by, At: s.now()}
	if err := s.Ledger.Revoke(ctx, r); err != nil {
		return activity.Revocation{}, err
	}
	return r, s.View.Sync(ctx)
}

// Delete deletes the customer's release releaseID: the fact goes on the
// ledger first, then the manifest (from then on it is no release), then
// every other object under its prefix. Deleting again finishes a deletion
// that stopped half way.
func (s *Service) Delete(ctx context.Context, customerID, releaseID string) (activity.Deletion, error) {
	owner := pipeline.Owner{CustomerID: customerID, Recipient: schemas.RecipientSelf}
	d, deleted := s.View.Deletion(releaseID)
	if deleted && d.CustomerID != customerID {
		return activity.Deletion{}, fmt.Errorf("release %s: %w", releaseID, sinks.ErrNotFound)
	}
	if !deleted {
		m, err := s.owned(ctx, releaseID, owner)
		if err != nil {
			return activity.Deletion{}, err
		}
		d = activity.Deletion{ReleaseID: m.ID, CustomerID: customerID, Recipient: string(m.Midata.Recipient), By: "customer", At: s.now()}
	}
	del, ok1 := s.Store.(sinks.Deleter)
	lister, ok2 := s.Store.(sinks.Lister)
	if !ok1 || !ok2 {
		return activity.Deletion{}, errors.New("delete: the store cannot list and delete objects")
	}
	prefix := pipeline.Prefix(releaseID)
	var keys []string
	if err := lister.List(ctx, prefix, func(key string) error { keys = append(keys, key); return nil }); err != nil {
		return activity.Deletion{}, fmt.Errorf("delete release %s: %w", releaseID, err)
	}
	d.Objects = max(d.Objects, len(keys))
	if err := s.Ledger.Deleted(ctx, d); err != nil {
		return activity.Deletion{}, err
	}
	if err := del.Delete(ctx, prefix+release.ManifestFile); err != nil {
		return activity.Deletion{}, fmt.Errorf("delete release %s: %w", releaseID, err)
	}
	for _, k := range keys {
		if err := del.Delete(ctx, k); err != nil {
			return activity.Deletion{}, fmt.Errorf("delete release %s: %w", releaseID, err)
		}
	}
	return d, s.View.Sync(ctx)
}

// SweepExpiring publishes a link.expiring notification for each link that
// expires within within of now and was not notified yet, and marks it
// notified on the ledger. It returns how many it notified.
func (s *Service) SweepExpiring(ctx context.Context, within time.Duration) (int, error) {
	if s.Notifier == nil {
		return 0, nil
	}
	// Every instance sweeps, and a notified link is written back whole: on
	// a view that has not read a revocation made elsewhere yet, that would
	// write the link back unrevoked. Read the ledger to its end first.
	if err := s.View.Sync(ctx); err != nil {
		return 0, err
	}
	now := s.now()
	n := 0
	for _, l := range s.View.Expiring(now, now.Add(within)) {
		if err := s.Notifier.Publish(ctx, notify.LinkExpiringEvent(now, l.CustomerID, l.ReleaseID, l.ID, l.ExpiresAt)); err != nil {
			return n, err
		}
		l.Notified = true
		if err := s.Ledger.Link(ctx, l); err != nil {
			return n, err
		}
		n++
	}
	return n, s.View.Sync(ctx)
}
