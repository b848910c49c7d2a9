// Package store keeps the schedules of `midata serve`: those declared in the
// config file (read-only) and those made through the API, which are events
// on the compacted midata.schedules topic (key: schedule id; a tombstone
// deletes), held in a topics.View: rebuilt from the topic at start, then
// kept current by tailing it, so every instance converges as soon as a
// change reaches it. It feeds the schedule Scheduler (schedule.Source), serves
// the API (schedule.Entry values and the schedule package's errors) and
// turns firings into queued requests.
//
// It does not decide when schedules fire (package schedule), answer HTTP
// (package api, which maps its errors to statuses) or run releases.
package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/midata/midata/pipeline/jobs"
	"github.com/midata/midata/pipeline/schedule"
	"github.com/midata/midata/pipeline/topics"
)

// Submitter queues a request (the jobs queue).
type Submitter interface {
	Submit(ctx context.Context, req jobs.Request) (jobs.Run, error)
}

// Config wires a Store.
type Config struct {
	Declared []schedule.Schedule // from the config file; validated by the caller
	Kafka    topics.Connection   // reads the schedules topic
	Producer *topics.Producer    // writes it
	Topic    string              // default topics.DefaultSchedules; it must exist
	Queue    Submitter
	Now      func() time.Time
	Logger   *slog.Logger
}

// Store is the set of schedules. It is safe for concurrent use. Close it
// when done.
type Store struct {
	cfg      Config
	declared map[string]schedule.Schedule
	dynamic  *topics.View[schedule.Schedule]
	changed  chan struct{}

	mu   sync.Mutex
	last map[string]time.Time // last fire time seen by this instance
}

var _ schedule.Source = (*Store)(nil)

// Open rebuilds the store from the topic and keeps it current until ctx
// ends or Close.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Producer == nil || cfg.Queue == nil {
		return nil, errors.New("open schedule store: Producer and Queue are required")
	}
	cfg.Topic = cmp.Or(cfg.Topic, topics.DefaultSchedules)
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
	v, err := topics.OpenView(ctx, cfg.Kafka, topics.ViewConfig[schedule.Schedule]{
		Topic:    cfg.Topic,
		Decode:   decodeSchedule,
		Merge:    mergeSchedule,
		OnChange: func(string) { s.notify() },
		Logger:   cfg.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("open schedule store: %w", err)
	}
	if err := v.Sync(ctx); err != nil {
		v.Close()
		return nil, fmt.Errorf("open schedule store: read schedules: %w", err)
	}
	s.dynamic = v
	return s, nil
}

// Close stops following the topic.
func (s *Store) Close() error { return s.dynamic.Close() }

// decodeSchedule decodes an event of the schedules topic; an invalid one
// is skipped.
func decodeSchedule(m topics.Message) (schedule.Schedule, error) {
	var sc schedule.Schedule
	if err := json.Unmarshal(m.Value, &sc); err != nil {
		return schedule.Schedule{}, err
	}
	if err := sc.Validate(); err != nil {
		return schedule.Schedule{}, err
	}
	if sc.ID != string(m.Key) {
		return schedule.Schedule{}, fmt.Errorf("schedule id %q under key %q", sc.ID, m.Key)
	}
	return sc, nil
}

// mergeSchedule takes the latest event of a key, and says it changed
// nothing when only its times differ, so the Runner is not woken for it.
func mergeSchedule(cur schedule.Schedule, ok bool, next schedule.Schedule) (schedule.Schedule, bool) {
	return next, !ok || !sameSchedule(cur, next)
}

func sameSchedule(v, w schedule.Schedule) bool {
	return slices.Equal(v.Formats, w.Formats) && v.Spec == w.Spec && v.Paused == w.Paused && v.Period == w.Period &&
		v.Recipient == w.Recipient && v.Scope.All == w.Scope.All && slices.Equal(v.Scope.Customers, w.Scope.Customers)
}

func (s *Store) notify() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// Schedules returns every schedule, sorted by id; a declared schedule
// hides one of the topic with its id (schedule.Source).
func (s *Store) Schedules() []schedule.Schedule {
	out := make([]schedule.Schedule, 0, len(s.declared)+s.dynamic.Len())
	for _, sc := range s.declared {
		out = append(out, sc)
	}
	s.dynamic.Range(func(id string, sc schedule.Schedule) bool {
		if _, shadowed := s.declared[id]; !shadowed {
			out = append(out, sc)
		}
		return true
	})
	slices.SortFunc(out, func(a, b schedule.Schedule) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Changed is signalled when the schedules change (schedule.Source).
func (s *Store) Changed() <-chan struct{} { return s.changed }

// lookup returns the schedule id and whether it is declared.
func (s *Store) lookup(id string) (sc schedule.Schedule, declared, ok bool) {
	if sc, ok := s.declared[id]; ok {
		return sc, true, true
	}
	sc, ok = s.dynamic.Get(id)
	return sc, false, ok
}

// Get returns one schedule with its fire times.
func (s *Store) Get(id string) (schedule.Entry, bool) {
	sc, declared, ok := s.lookup(id)
	if !ok {
		return schedule.Entry{}, false
	}
	return s.entry(sc, declared), true
}

// List returns every schedule with its fire times, sorted by id.
func (s *Store) List() []schedule.Entry {
	all := s.Schedules()
	out := make([]schedule.Entry, 0, len(all))
	for _, sc := range all {
		_, declared := s.declared[sc.ID]
		out = append(out, s.entry(sc, declared))
	}
	return out
}

func (s *Store) entry(sc schedule.Schedule, declared bool) schedule.Entry {
	s.mu.Lock()
	last := s.last[sc.ID]
	s.mu.Unlock()
	e := schedule.Entry{Schedule: sc, Declared: declared, LastFire: last}
	if !sc.Paused {
		e.NextFire = sc.Next(s.cfg.Now())
	}
	return e
}

// Put creates or replaces a schedule made through the API: the store sets
// CreatedAt and UpdatedAt. The error wraps schedule.ErrReadOnly for a
// declared id, schedule.ErrInvalid for a schedule that can never work and
// schedule.ErrUnavailable when the topic did not take it.
func (s *Store) Put(ctx context.Context, sc schedule.Schedule) (schedule.Entry, error) {
	old, declared, existed := s.lookup(sc.ID)
	if declared {
		return schedule.Entry{}, fmt.Errorf("schedule %q is declared in the config file; change it there: %w", sc.ID, schedule.ErrReadOnly)
	}
	now := s.cfg.Now().UTC()
	sc.CreatedAt, sc.UpdatedAt = now, now
	if existed {
		sc.CreatedAt = old.CreatedAt
	}
	if err := sc.Validate(); err != nil {
		return schedule.Entry{}, err
	}
	body, err := json.Marshal(sc)
	if err != nil {
		return schedule.Entry{}, fmt.Errorf("encode schedule %q: %w", sc.ID, err)
	}
	if err := s.write(ctx, "store", sc.ID, body); err != nil {
		return schedule.Entry{}, err
	}
	return s.entry(sc, false), nil
}

// Delete removes a schedule made through the API. The error wraps
// schedule.ErrNotFound, schedule.ErrReadOnly or schedule.ErrUnavailable.
func (s *Store) Delete(ctx context.Context, id string) error {
	_, declared, exists := s.lookup(id)
	switch {
	case declared:
		return fmt.Errorf("schedule %q is declared in the config file; remove it there: %w", id, schedule.ErrReadOnly)
	case !exists:
		return fmt.Errorf("schedule %q: %w", id, schedule.ErrNotFound)
	}
	return s.write(ctx, "delete", id, nil)
}

// write publishes the event of schedule id (nil: a tombstone) and brings
// the view up to it, so this instance's next read sees it.
func (s *Store) write(ctx context.Context, op, id string, body []byte) error {
	if err := s.cfg.Producer.Publish(ctx, s.cfg.Topic, []byte(id), body); err != nil {
		return fmt.Errorf("%s schedule %q: %w: %w", op, id, schedule.ErrUnavailable, err)
	}
	if err := s.dynamic.Sync(ctx); err != nil {
		s.cfg.Logger.Warn("schedule written; this instance sees it once its view catches up", "schedule", id, "err", err)
	}
	return nil
}

// SetPaused pauses or resumes a schedule made through the API.
func (s *Store) SetPaused(ctx context.Context, id string, paused bool) (schedule.Entry, error) {
	sc, _, ok := s.lookup(id)
	if !ok {
		return schedule.Entry{}, fmt.Errorf("schedule %q: %w", id, schedule.ErrNotFound)
	}
	sc.Paused = paused
	return s.Put(ctx, sc)
}

// RunNow queues a firing of the schedule now.
func (s *Store) RunNow(ctx context.Context, id string) (jobs.Run, error) {
	sc, _, ok := s.lookup(id)
	if !ok {
		return jobs.Run{}, fmt.Errorf("schedule %q: %w", id, schedule.ErrNotFound)
	}
	f, err := schedule.RunNow(sc, s.cfg.Now())
	if err != nil {
		return jobs.Run{}, err
	}
	return s.submit(ctx, f)
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
