// Package store keeps the schedules of `midata serve`: those declared in the
// config file (read-only) and those made through the API, which are events
// on the compacted midata.schedules topic (key: schedule id; a tombstone
// deletes), rebuilt from the topic at start and re-read periodically so every
// instance converges. It feeds the schedule Scheduler (schedule.Source), serves
// the API (api.Schedules) and turns firings into queued requests.
//
// It does not decide when schedules fire (package schedule) or run releases.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/midata/midata/pipeline/api"
	"github.com/midata/midata/pipeline/jobs"
	"github.com/midata/midata/pipeline/kafkasource"
	"github.com/midata/midata/pipeline/schedule"
	"github.com/midata/midata/schemas"
)

// Submitter queues a request (the jobs queue).
type Submitter interface {
	Submit(ctx context.Context, req jobs.Request) (jobs.Run, error)
}

// Config wires a Store.
type Config struct {
	Declared []schedule.Schedule   // from the config file; validated by the caller
	Source   *kafkasource.Source   // reads the schedules topic
	Producer *kafkasource.Producer // writes it
	Topic    string                // default jobs.DefaultSchedulesTopic
	Queue    Submitter
	Now      func() time.Time
	Logger   *slog.Logger
}

// Store is the set of schedules. It is safe for concurrent use.
type Store struct {
	cfg      Config
	mu       sync.Mutex
	declared map[string]schedule.Schedule
	dynamic  map[string]schedule.Schedule
	last     map[string]time.Time // last fire time seen by this instance
	changed  chan struct{}
}

var (
	_ api.Schedules   = (*Store)(nil)
	_ schedule.Source = (*Store)(nil)
)

// Open rebuilds the store from the topic.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Source == nil || cfg.Producer == nil || cfg.Queue == nil {
		return nil, errors.New("open schedule store: Source, Producer and Queue are required")
	}
	if cfg.Topic == "" {
		cfg.Topic = jobs.DefaultSchedulesTopic
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Store{cfg: cfg, declared: map[string]schedule.Schedule{}, last: map[string]time.Time{}, changed: make(chan struct{}, 1)}
	for _, d := range cfg.Declared {
		s.declared[d.ID] = d
	}
	if err := s.Refresh(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Refresh re-reads the topic, taking other instances' changes.
func (s *Store) Refresh(ctx context.Context) error {
	dynamic := map[string]schedule.Schedule{}
	err := s.cfg.Source.ReadTopic(ctx, s.cfg.Topic, func(m kafkasource.Message) error {
		if m.Value == nil {
			delete(dynamic, string(m.Key))
			return nil
		}
		var sc schedule.Schedule
		if err := json.Unmarshal(m.Value, &sc); err != nil || sc.Validate() != nil {
			s.cfg.Logger.Warn("schedule event skipped", "topic", s.cfg.Topic, "partition", m.Partition, "offset", m.Offset)
			return nil
		}
		dynamic[sc.ID] = sc
		return nil
	})
	if err != nil && !errors.Is(err, kafkasource.ErrTopicNotFound) {
		return fmt.Errorf("read schedules: %w", err)
	}
	s.mu.Lock()
	same := mapsEqual(s.dynamic, dynamic)
	s.dynamic = dynamic
	s.mu.Unlock()
	if !same {
		s.notify()
	}
	return nil
}

// Watch refreshes the store every interval until ctx ends.
func (s *Store) Watch(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := s.Refresh(ctx); err != nil && ctx.Err() == nil {
				s.cfg.Logger.Warn("schedules not refreshed", "err", err)
			}
		}
	}
}

func mapsEqual(a, b map[string]schedule.Schedule) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || !slices.Equal(v.Formats, w.Formats) || v.Spec != w.Spec || v.Paused != w.Paused || v.Period != w.Period ||
			v.Recipient != w.Recipient || v.Scope.All != w.Scope.All || !slices.Equal(v.Scope.Customers, w.Scope.Customers) {
			return false
		}
	}
	return true
}

func (s *Store) notify() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// Schedules returns every schedule, declared ones first (schedule.Source).
func (s *Store) Schedules() []schedule.Schedule {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]schedule.Schedule, 0, len(s.declared)+len(s.dynamic))
	for _, sc := range s.declared {
		out = append(out, sc)
	}
	for id, sc := range s.dynamic {
		if _, shadowed := s.declared[id]; !shadowed {
			out = append(out, sc)
		}
	}
	slices.SortFunc(out, func(a, b schedule.Schedule) int { return cmpString(a.ID, b.ID) })
	return out
}

// Changed is signalled when the schedules change (schedule.Source).
func (s *Store) Changed() <-chan struct{} { return s.changed }

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Get returns one schedule as the API shows it.
func (s *Store) Get(id string) (api.Schedule, bool) {
	for _, sc := range s.Schedules() {
		if sc.ID == id {
			return s.view(sc), true
		}
	}
	return api.Schedule{}, false
}

// List returns every schedule as the API shows it, sorted by id.
func (s *Store) List() []api.Schedule {
	all := s.Schedules()
	out := make([]api.Schedule, 0, len(all))
	for _, sc := range all {
		out = append(out, s.view(sc))
	}
	return out
}

func (s *Store) view(sc schedule.Schedule) api.Schedule {
	s.mu.Lock()
	_, declared := s.declared[sc.ID]
	last := s.last[sc.ID]
	s.mu.Unlock()
	v := api.Schedule{ID: sc.ID, Cron: sc.Spec, Recipient: sc.Recipient, Customers: sc.Scope.Customers, All: sc.Scope.All,
		Period: string(sc.Period), Formats: sc.Formats, Paused: sc.Paused, Source: "api", LastFire: last}
	if declared {
		v.Source = "config"
	}
	if !sc.Paused {
		v.NextFire = sc.Next(s.cfg.Now())
	}
	return v
}

// Put creates or replaces a schedule made through the API.
func (s *Store) Put(ctx context.Context, v api.Schedule) (api.Schedule, error) {
	s.mu.Lock()
	_, declared := s.declared[v.ID]
	old, existed := s.dynamic[v.ID]
	s.mu.Unlock()
	if declared {
		return api.Schedule{}, fmt.Errorf("%w: schedule %q is declared in the config file; change it there", api.ErrConflict, v.ID)
	}
	now := s.cfg.Now().UTC()
	sc := schedule.Schedule{ID: v.ID, Spec: v.Cron, Recipient: v.Recipient, Scope: schemas.Scope{Customers: v.Customers, All: v.All},
		Period: schedule.Period(v.Period), Formats: v.Formats, Paused: v.Paused, CreatedAt: now, UpdatedAt: now}
	if existed {
		sc.CreatedAt = old.CreatedAt
	}
	if err := sc.Validate(); err != nil {
		return api.Schedule{}, fmt.Errorf("%w: %w", api.ErrInvalid, err)
	}
	if err := s.publish(ctx, sc.ID, sc); err != nil {
		return api.Schedule{}, err
	}
	s.mu.Lock()
	s.dynamic[sc.ID] = sc
	s.mu.Unlock()
	s.notify()
	return s.view(sc), nil
}

// Delete removes a schedule made through the API.
func (s *Store) Delete(ctx context.Context, id string) error {
	s.mu.Lock()
	_, declared := s.declared[id]
	_, exists := s.dynamic[id]
	s.mu.Unlock()
	switch {
	case declared:
		return fmt.Errorf("%w: schedule %q is declared in the config file; remove it there", api.ErrConflict, id)
	case !exists:
		return fmt.Errorf("schedule %q: %w", id, api.ErrNotFound)
	}
	if err := s.cfg.Producer.Publish(ctx, s.cfg.Topic, []byte(id), nil); err != nil {
		return fmt.Errorf("%w: delete schedule %q: %w", api.ErrUnavailable, id, err)
	}
	s.mu.Lock()
	delete(s.dynamic, id)
	s.mu.Unlock()
	s.notify()
	return nil
}

// SetPaused pauses or resumes a schedule made through the API.
func (s *Store) SetPaused(ctx context.Context, id string, paused bool) (api.Schedule, error) {
	v, ok := s.Get(id)
	if !ok {
		return api.Schedule{}, fmt.Errorf("schedule %q: %w", id, api.ErrNotFound)
	}
	v.Paused = paused
	return s.Put(ctx, v)
}

func (s *Store) publish(ctx context.Context, id string, sc schedule.Schedule) error {
	body, err := json.Marshal(sc)
	if err != nil {
		return fmt.Errorf("encode schedule %q: %w", id, err)
	}
	if err := s.cfg.Producer.Publish(ctx, s.cfg.Topic, []byte(id), body); err != nil {
		return fmt.Errorf("%w: store schedule %q: %w", api.ErrUnavailable, id, err)
	}
	return nil
}

// RunNow queues a firing of the schedule now.
func (s *Store) RunNow(ctx context.Context, id string) (jobs.Run, error) {
	for _, sc := range s.Schedules() {
		if sc.ID != id {
			continue
		}
		f, err := schedule.RunNow(sc, s.cfg.Now())
		if err != nil {
			return jobs.Run{}, fmt.Errorf("%w: %w", api.ErrInvalid, err)
		}
		return s.submit(ctx, f)
	}
	return jobs.Run{}, fmt.Errorf("schedule %q: %w", id, api.ErrNotFound)
}

// Fire queues the request of one firing: its id is the firing's, the same
// on every instance, so the firing makes one release however many
// instances fire it.
func (s *Store) Fire(ctx context.Context, f schedule.Firing) error {
	_, err := s.submit(ctx, f)
	return err
}

func (s *Store) submit(ctx context.Context, f schedule.Firing) (jobs.Run, error) {
	kind := jobs.KindRelease
	if f.Scope.All {
		kind = jobs.KindBulk
	}
	req := jobs.Request{ID: f.ID, Kind: kind, Recipient: f.Recipient, Scope: f.Scope, From: f.From, To: f.To,
		Formats: f.Formats, ScheduleID: f.ScheduleID, FireTime: f.At, RequestedBy: "schedule:" + f.ScheduleID}
	run, err := s.cfg.Queue.Submit(ctx, req)
	if err != nil {
		return run, fmt.Errorf("queue firing %s: %w", f.ID, err)
	}
	s.mu.Lock()
	if f.At.After(s.last[f.ScheduleID]) {
		s.last[f.ScheduleID] = f.At
	}
	s.mu.Unlock()
	return run, nil
}
