package activity

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/midata/midata/pipeline/jobs"
	"github.com/midata/midata/pipeline/topics"
)

// View holds the activity records of the runs topic, indexed by customer,
// partner and release, in memory: a few hundred bytes per record (a
// delivery per partner release, a link and a download per customer
// visit). It reads the topic to its end at start and tails it; Sync
// brings it to the topic's current end.
type View struct {
	v *topics.View[record]
	s *store
}

// OpenView starts a View of topic (default the runs topic), which must
// exist. It returns before the View is Ready.
func OpenView(ctx context.Context, conn topics.Connection, topic string, logger *slog.Logger) (*View, error) {
	if topic == "" {
		topic = topics.DefaultRuns
	}
	s := newStore()
	v, err := topics.OpenView(ctx, conn, topics.ViewConfig[record]{
		Topic:   topic,
		Decode:  decode,
		Store:   s,
		Replace: func([]byte) bool { return true },
		Logger:  logger,
	})
	if err != nil {
		return nil, fmt.Errorf("open activity view: %w", err)
	}
	return &View{v: v, s: s}, nil
}

// decode decodes an activity record; any other record of the runs topic
// is an empty one, which the store drops.
func decode(m topics.Message) (record, error) {
	if !bytes.HasPrefix(m.Key, []byte(jobs.ActivityPrefix)) {
		return record{}, nil
	}
	var r record
	if err := json.Unmarshal(m.Value, &r); err != nil {
		return record{}, err
	}
	k, err := keyOf(r)
	if err != nil {
		return record{}, err
	}
	if k != string(m.Key) {
		return record{}, fmt.Errorf("activity record of key %q under key %q", k, m.Key)
	}
	return r, nil
}

// Ready reports whether the View has read the topic to the end it had at
// start.
func (v *View) Ready() bool { return v.v.Ready() }

// Sync brings the View to the topic's current end.
func (v *View) Sync(ctx context.Context) error { return v.v.Sync(ctx) }

// Close stops the View.
func (v *View) Close() error { return v.v.Close() }

// Delivery returns the state of the delivery of releaseID to partner.
func (v *View) Delivery(partner, releaseID string) (Delivery, bool) {
	v.s.mu.RLock()
	defer v.s.mu.RUnlock()
	d, ok := v.s.deliveries[key(kindDelivery, partner, releaseID)]
	return d, ok
}

// DeliveryFilter selects deliveries; empty fields select all.
type DeliveryFilter struct {
	Partner    string
	CustomerID string
	Status     DeliveryStatus
	Limit      int // default 100
}

// Deliveries returns the deliveries f selects, the latest first.
func (v *View) Deliveries(f DeliveryFilter) []Delivery {
	v.s.mu.RLock()
	var out []Delivery
	each := func(d Delivery) {
		if (f.Partner == "" || d.Partner == f.Partner) && (f.CustomerID == "" || d.CustomerID == f.CustomerID) && (f.Status == "" || d.Status == f.Status) {
			out = append(out, d)
		}
	}
	if f.CustomerID != "" {
		for k := range v.s.byCustomer[f.CustomerID] {
			if d, ok := v.s.deliveries[k]; ok {
				each(d)
			}
		}
	} else {
		for _, d := range v.s.deliveries {
			each(d)
		}
	}
	v.s.mu.RUnlock()
	slices.SortFunc(out, func(a, b Delivery) int {
		return cmp.Or(b.At.Compare(a.At), cmp.Compare(a.Partner, b.Partner), cmp.Compare(a.ReleaseID, b.ReleaseID))
	})
	return limit(out, f.Limit)
}

func limit[T any](s []T, n int) []T {
	if n <= 0 {
		n = 100
	}
	if len(s) > n {
		s = s[:n]
	}
	return s
}

// Link returns the link id.
func (v *View) Link(id string) (Link, bool) {
	v.s.mu.RLock()
	defer v.s.mu.RUnlock()
	l, ok := v.s.links[id]
	return l, ok
}

// Revocation returns the revocation of every link of releaseID, if any.
func (v *View) Revocation(releaseID string) (Revocation, bool) {
	v.s.mu.RLock()
	defer v.s.mu.RUnlock()
	r, ok := v.s.revocations[releaseID]
	return r, ok
}

// Deletion returns the deletion of releaseID, if it was deleted.
func (v *View) Deletion(releaseID string) (Deletion, bool) {
	v.s.mu.RLock()
	defer v.s.mu.RUnlock()
	d, ok := v.s.deletions[releaseID]
	return d, ok
}

// Recall returns the recall id.
func (v *View) Recall(id string) (Recall, bool) {
	v.s.mu.RLock()
	defer v.s.mu.RUnlock()
	r, ok := v.s.recalls[id]
	return r, ok
}

// Customer is everything on the activity ledger about one customer.
type Customer struct {
	Deliveries []Delivery
	Links      []Link
	Downloads  []Download
	Deletions  []Deletion
	Recalls    []Recall
}

// Of returns everything about customerID, each list the latest first.
func (v *View) Of(customerID string) Customer {
	var c Customer
	v.s.mu.RLock()
	for k := range v.s.byCustomer[customerID] {
		kind, rest, _ := strings.Cut(strings.TrimPrefix(k, jobs.ActivityPrefix), "|")
		switch kind {
		case kindDelivery:
			c.Deliveries = append(c.Deliveries, v.s.deliveries[k])
		case kindLink:
			c.Links = append(c.Links, v.s.links[rest])
		case kindDownload:
			c.Downloads = append(c.Downloads, v.s.downloads[k])
		case kindDeletion:
			c.Deletions = append(c.Deletions, v.s.deletions[rest])
		case kindRecall:
			c.Recalls = append(c.Recalls, v.s.recalls[rest])
		}
	}
	v.s.mu.RUnlock()
	latest := func(a, b time.Time) int { return b.Compare(a) }
	slices.SortFunc(c.Deliveries, func(a, b Delivery) int { return cmp.Or(latest(a.At, b.At), cmp.Compare(a.ReleaseID, b.ReleaseID)) })
	slices.SortFunc(c.Links, func(a, b Link) int { return cmp.Or(latest(a.IssuedAt, b.IssuedAt), cmp.Compare(a.ID, b.ID)) })
	slices.SortFunc(c.Downloads, func(a, b Download) int { return cmp.Or(latest(a.At, b.At), cmp.Compare(a.LinkID, b.LinkID)) })
	slices.SortFunc(c.Deletions, func(a, b Deletion) int { return cmp.Or(latest(a.At, b.At), cmp.Compare(a.ReleaseID, b.ReleaseID)) })
	slices.SortFunc(c.Recalls, func(a, b Recall) int { return cmp.Or(latest(a.At, b.At), cmp.Compare(a.ID, b.ID)) })
	return c
}

// Effective returns l as it stands: revoked when every link of its
// release minted until then was revoked after it was minted (RevokedAt,
// RevokedBy of that revocation).
func (v *View) Effective(l Link) Link {
	v.s.mu.RLock()
	defer v.s.mu.RUnlock()
	return v.s.effective(l)
}

func (s *store) effective(l Link) Link {
	if r, ok := s.revocations[l.ReleaseID]; ok && l.RevokedAt == nil && !l.IssuedAt.After(r.At) {
		at := r.At
		l.RevokedAt, l.RevokedBy = &at, r.By
	}
	return l
}

// Expiring returns the links, neither revoked (alone or with their
// release) nor notified nor of a deleted release, that expire after now
// and before until.
func (v *View) Expiring(now, until time.Time) []Link {
	v.s.mu.RLock()
	var out []Link
	for _, l := range v.s.links {
		if _, deleted := v.s.deletions[l.ReleaseID]; deleted || v.s.effective(l).RevokedAt != nil {
			continue
		}
		if !l.Notified && l.ExpiresAt.After(now) && l.ExpiresAt.Before(until) {
			out = append(out, l)
		}
	}
	v.s.mu.RUnlock()
	slices.SortFunc(out, func(a, b Link) int { return cmp.Or(a.ExpiresAt.Compare(b.ExpiresAt), cmp.Compare(a.ID, b.ID)) })
	return out
}

// store is the View's topics.Store, with its own lock for the View's
// readers.
type store struct {
	mu          sync.RWMutex
	deliveries  map[string]Delivery // by key
	links       map[string]Link     // by link id
	downloads   map[string]Download // by key
	revocations map[string]Revocation
	deletions   map[string]Deletion
	recalls     map[string]Recall
	byCustomer  map[string]map[string]struct{} // customer id → keys
	n           int
}

func newStore() *store {
	return &store{deliveries: map[string]Delivery{}, links: map[string]Link{}, downloads: map[string]Download{},
		revocations: map[string]Revocation{}, deletions: map[string]Deletion{}, recalls: map[string]Recall{},
		byCustomer: map[string]map[string]struct{}{}}
}

func (s *store) index(customerID, k string) {
	if customerID == "" {
		return
	}
	set := s.byCustomer[customerID]
	if set == nil {
		set = map[string]struct{}{}
		s.byCustomer[customerID] = set
	}
	set[k] = struct{}{}
}

func (s *store) Put(m topics.Message, r record) {
	k := string(m.Key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, had := s.get(k); !had && r.Kind != "" {
		s.n++
	}
	switch {
	case r.Delivery != nil:
		s.deliveries[k] = *r.Delivery
		s.index(r.Delivery.CustomerID, k)
	case r.Link != nil:
		s.links[r.Link.ID] = *r.Link
		s.index(r.Link.CustomerID, k)
	case r.Download != nil:
		s.downloads[k] = *r.Download
		s.index(r.Download.CustomerID, k)
	case r.Revocation != nil:
		s.revocations[r.Revocation.ReleaseID] = *r.Revocation
	case r.Deletion != nil:
		s.deletions[r.Deletion.ReleaseID] = *r.Deletion
		s.index(r.Deletion.CustomerID, k)
	case r.Recall != nil:
		s.recalls[r.Recall.ID] = *r.Recall
		s.index(r.Recall.CustomerID, k)
	}
}

// get returns the record of key k; the caller holds the lock.
func (s *store) get(k string) (record, bool) {
	kind, rest, _ := strings.Cut(strings.TrimPrefix(k, jobs.ActivityPrefix), "|")
	if !strings.HasPrefix(k, jobs.ActivityPrefix) {
		return record{}, false
	}
	switch kind {
	case kindDelivery:
		d, ok := s.deliveries[k]
		return record{Kind: kind, Delivery: &d}, ok
	case kindLink:
		l, ok := s.links[rest]
		return record{Kind: kind, Link: &l}, ok
	case kindDownload:
		d, ok := s.downloads[k]
		return record{Kind: kind, Download: &d}, ok
	case kindRevocation:
		r, ok := s.revocations[rest]
		return record{Kind: kind, Revocation: &r}, ok
	case kindDeletion:
		d, ok := s.deletions[rest]
		return record{Kind: kind, Deletion: &d}, ok
	case kindRecall:
		r, ok := s.recalls[rest]
		return record{Kind: kind, Recall: &r}, ok
	}
	return record{}, false
}

func (s *store) Delete(m topics.Message) bool {
	k := string(m.Key)
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.get(k)
	if !ok {
		return false
	}
	s.n--
	kind, rest, _ := strings.Cut(strings.TrimPrefix(k, jobs.ActivityPrefix), "|")
	var customer string
	switch kind {
	case kindDelivery:
		customer = r.Delivery.CustomerID
		delete(s.deliveries, k)
	case kindLink:
		customer = r.Link.CustomerID
		delete(s.links, rest)
	case kindDownload:
		customer = r.Download.CustomerID
		delete(s.downloads, k)
	case kindRevocation:
		delete(s.revocations, rest)
	case kindDeletion:
		customer = r.Deletion.CustomerID
		delete(s.deletions, rest)
	case kindRecall:
		customer = r.Recall.CustomerID
		delete(s.recalls, rest)
	}
	if set := s.byCustomer[customer]; set != nil {
		delete(set, k)
		if len(set) == 0 {
			delete(s.byCustomer, customer)
		}
	}
	return true
}

func (s *store) Get(k string) (record, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.get(k)
}

func (s *store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.n
}

// Range visits every record; the View's readers use the indexes instead.
func (s *store) Range(fn func(key string, r record) bool) {
	s.mu.RLock()
	var keys []string
	for k := range s.deliveries {
		keys = append(keys, k)
	}
	for k := range s.downloads {
		keys = append(keys, k)
	}
	for kind, ids := range map[string][]string{kindLink: mapKeys(s.links), kindRevocation: mapKeys(s.revocations),
		kindDeletion: mapKeys(s.deletions), kindRecall: mapKeys(s.recalls)} {
		for _, id := range ids {
			keys = append(keys, key(kind, id))
		}
	}
	s.mu.RUnlock()
	for _, k := range keys {
		if r, ok := s.Get(k); ok && !fn(k, r) {
			return
		}
	}
}

func mapKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
