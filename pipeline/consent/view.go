package consent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/schemas"
	"github.com/midata/midata/schemas/consentscan"
)

// Quarantiner keeps invalid records with the reason they are invalid.
// *topics.Producer implements it.
type Quarantiner interface {
	// Quarantine queues m, read from sourceTopic, for topic with reason.
	Quarantine(ctx context.Context, topic string, m topics.Message, sourceTopic, reason string) error
	// Flush returns once every queued record is written.
	Flush(ctx context.Context) error
}

// ViewConfig configures a consent View.
type ViewConfig struct {
	Kafka topics.Connection
	// Topic is the consent topic. Required; it must exist.
	Topic string
	// Quarantine keeps the invalid consent events; required.
	Quarantine Quarantiner
	// QuarantineTopic is where they go; default topics.DefaultQuarantine.
	QuarantineTopic string
	Logger          *slog.Logger  // default: discard
	MaxWait         time.Duration // of each fetch; default topics.DefaultViewMaxWait
}

// View is the consent view: the state of every customer|recipient key of
// the consent topic, built when it opens, tailed live, and brought to the
// topic's current end by Sync, so no release reads the topic. Per key it
// holds the latest event in offset order; a tombstone means no consent; a
// garbled latest event erases the key's grant and goes to quarantine once
// (at the next Sync); a key whose events are on two partitions grants
// nothing. It is compact (about 100 bytes per key with a short consent
// id: see docs/architecture.md) and safe for concurrent use.
type View struct {
	cfg   ViewConfig
	store *store
	view  *topics.View[state]

	mu      sync.Mutex
	pending []invalidEvent // to quarantine at the next Sync
}

// invalidEvent is a consent record that did not decode, and why.
type invalidEvent struct {
	m   topics.Message
	err error
}

// errEmpty is the decode "error" of an empty value: a tombstone.
var errEmpty = errors.New("empty value")

// OpenView starts the consent View of cfg.Topic. It reads until ctx ends
// or Close; call Close in any case. It returns before the View has read
// the topic: Sync waits for that.
func OpenView(ctx context.Context, cfg ViewConfig) (*View, error) {
	if cfg.Quarantine == nil {
		return nil, fmt.Errorf("open consent view of %s: no quarantine", cfg.Topic)
	}
	if cfg.QuarantineTopic == "" {
		cfg.QuarantineTopic = topics.DefaultQuarantine
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	v := &View{cfg: cfg, store: newStore()}
	v.store.invalid = v.keep
	var err error
	v.view, err = topics.OpenView(ctx, cfg.Kafka, topics.ViewConfig[state]{
		Topic:  cfg.Topic,
		Decode: decodeState,
		Invalid: func(m topics.Message, err error) bool {
			if !errors.Is(err, errEmpty) {
				v.keep(m, err)
			}
			return true // a garbled latest event must not leave the grant before it in force
		},
		Store:     v.store,
		Transient: true, // the store copies what it keeps; keep clones
		Logger:    cfg.Logger,
		MaxWait:   cfg.MaxWait,
	})
	if err != nil {
		return nil, fmt.Errorf("open consent view: %w", err)
	}
	return v, nil
}

// decodeState decodes a consent event that is not a tombstone: on the fast
// path (consentscan, no allocation) when the event is of the usual shape,
// else with schemas.DecodeConsentEvent, which decides the rest and says
// why it refuses an event.
func decodeState(m topics.Message) (state, error) {
	var sc consentscan.Event
	if consentscan.Scan(m.Key, m.Value, &sc) {
		return state{
			Event: schemas.ConsentEvent{Status: sc.Status, Categories: sc.Categories, WindowFrom: sc.WindowFrom,
				WindowTo: sc.WindowTo, ExpiresAt: sc.ExpiresAt, EventTime: sc.EventTime, Partition: m.Partition, Offset: m.Offset},
			scanned: true, consentID: sc.ConsentID, customerLen: sc.CustomerLen,
		}, nil
	}
	ev, tombstone, err := schemas.DecodeConsentEvent(m.Key, m.Value)
	if err != nil {
		return state{}, err
	}
	if tombstone {
		return state{}, errEmpty
	}
	ev.Partition, ev.Offset = m.Partition, m.Offset
	return state{Event: ev}, nil
}

// keep queues a copy of an invalid record for quarantine (the View reuses
// the memory of the record it was given).
func (v *View) keep(m topics.Message, err error) {
	m.Key, m.Value = bytes.Clone(m.Key), bytes.Clone(m.Value)
	m.Headers = slices.Clone(m.Headers)
	for i, h := range m.Headers {
		m.Headers[i].Value = bytes.Clone(h.Value)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.pending = append(v.pending, invalidEvent{m: m, err: err})
}

// Sync returns once the View holds every event written to the topic
// before the call (one offsets request, then the new records), and the
// invalid events read so far are quarantined.
func (v *View) Sync(ctx context.Context) error {
	if err := v.view.Sync(ctx); err != nil {
		return fmt.Errorf("read consent topic: %w", err)
	}
	v.mu.Lock()
	pending := v.pending
	v.pending = nil
	v.mu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	for i, p := range pending {
		if err := v.quarantine(ctx, p); err != nil {
			v.mu.Lock()
			v.pending = append(pending[i:], v.pending...)
			v.mu.Unlock()
			return err
		}
	}
	if err := v.cfg.Quarantine.Flush(ctx); err != nil {
		return fmt.Errorf("quarantine invalid consent events: %w", err)
	}
	return nil
}

// quarantine keeps an invalid event with its reason. The log says where
// it is and which field was wrong, never the value.
func (v *View) quarantine(ctx context.Context, p invalidEvent) error {
	if err := v.cfg.Quarantine.Quarantine(ctx, v.cfg.QuarantineTopic, p.m, v.cfg.Topic, p.err.Error()); err != nil {
		return fmt.Errorf("quarantine %s/%d/%d: %w", v.cfg.Topic, p.m.Partition, p.m.Offset, err)
	}
	field := "value"
	var invalid *schemas.InvalidError
	if errors.As(p.err, &invalid) {
		field = invalid.Field
	}
	v.cfg.Logger.Warn("record quarantined", "topic", v.cfg.Topic, "partition", p.m.Partition, "offset", p.m.Offset, "field", field)
	return nil
}

// Grant returns the grant that lets records of customerID go to recipient
// at now, or an error wrapping ErrNoConsent that says why not. It answers
// from what the View has read: Sync first to include every event written
// so far.
func (v *View) Grant(customerID string, recipient schemas.Recipient, now time.Time) (Grant, error) {
	return v.store.grant(customerID, recipient, now)
}

// Granted returns the grant of every customer whose consent lets records
// go to recipient at now, by customer id.
func (v *View) Granted(recipient schemas.Recipient, now time.Time) map[string]Grant {
	return v.store.granted(recipient, now, nil)
}

// GrantedWhere is Granted for the customers keep keeps only: keep sees
// each customer id with such a grant before its grant is built, so a bulk
// task asking for its own customers does not build everyone's.
func (v *View) GrantedWhere(recipient schemas.Recipient, now time.Time, keep func(customerID string) bool) map[string]Grant {
	return v.store.granted(recipient, now, keep)
}

// EventsOf returns the current consent event of customerID for each
// recipient it has one for (granted or revoked, expired or not), from
// what the View has read.
func (v *View) EventsOf(customerID string) []schemas.ConsentEvent {
	return v.store.eventsOf(customerID)
}

// Len returns the number of keys with a consent state.
func (v *View) Len() int { return v.store.Len() }

// Ready reports whether the View has read every event that was on the
// topic when it opened.
func (v *View) Ready() bool { return v.view.Ready() }

// Records returns how many consent records the View has read since it
// opened: each once, however many releases asked.
func (v *View) Records() int64 { return v.view.Records() }

// Topic returns the consent topic.
func (v *View) Topic() string { return v.cfg.Topic }

// Close stops reading and waits for the readers to end.
func (v *View) Close() error { return v.view.Close() }
