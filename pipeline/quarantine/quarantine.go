// Package quarantine is the operations' view of the quarantine topic:
// how many records were quarantined for each reason, and where the last
// few came from, without their contents. It reads the topic to its end at
// start and tails it (the shared view mechanism of package topics), so a
// question is answered from memory, never by a scan.
//
// A reason is grouped by its kind, the text before its first colon
// ("customer_id: want 1-64 of …" is kind customer_id): the rest of a
// reason may quote the offending value, which is the record's content, so
// only the kind is shown, with counts. A record is shown by where it came
// from (topic, partition, offset), when, and its size: never its key or
// value.
package quarantine

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/midata/midata/pipeline/topics"
)

// Recent is how many records of each kind are kept to show.
const Recent = 5

// Record is one quarantined record as ops see it.
type Record struct {
	Source string    `json:"source"` // <topic>/<partition>/<offset> it was read from
	At     time.Time `json:"at"`     // when it was quarantined
	Bytes  int       `json:"bytes"`  // of its key and value (the original's, for a stub)
	Stub   bool      `json:"stub,omitempty"`
}

// Kind is the records of one kind of reason.
type Kind struct {
	Kind   string   `json:"kind"`
	Count  int64    `json:"count"`
	Recent []Record `json:"recent"` // the last ones, newest first
}

// Summary is the answer of GET /v1/quarantine.
type Summary struct {
	Total int64  `json:"total"`
	Kinds []Kind `json:"kinds"` // most records first
}

// View counts the quarantine topic by kind of reason.
type View struct {
	v *topics.View[entry]
	s *store
}

type entry struct {
	kind string
	rec  Record
}

// KindOf is the kind of reason: the text before its first colon, at most
// 64 bytes.
func KindOf(reason string) string {
	k, _, _ := strings.Cut(reason, ":")
	k = strings.TrimSpace(k)
	if len(k) > 64 {
		k = k[:64]
	}
	if k == "" {
		return "unknown"
	}
	return k
}

// Open starts a View of topic, which must exist; it returns before the
// View is Ready.
func Open(ctx context.Context, conn topics.Connection, topic string, logger *slog.Logger) (*View, error) {
	s := &store{kinds: map[string]*Kind{}}
	v, err := topics.OpenView(ctx, conn, topics.ViewConfig[entry]{
		Topic: cmp.Or(topic, topics.DefaultQuarantine),
		Decode: func(m topics.Message) (entry, error) {
			e := entry{kind: "unknown", rec: Record{Source: "?", At: m.Time, Bytes: len(m.Key) + len(m.Value)}}
			for _, h := range m.Headers {
				switch h.Key {
				case topics.HeaderReason:
					e.kind = KindOf(string(h.Value))
				case topics.HeaderSource:
					e.rec.Source = string(h.Value)
				case topics.HeaderStub:
					e.rec.Stub = true
				}
			}
			return e, nil
		},
		Store:  s,
		Logger: logger,
	})
	if err != nil {
		return nil, fmt.Errorf("open the quarantine view: %w", err)
	}
	return &View{v: v, s: s}, nil
}

// Ready reports whether the View has read the topic to its end at start.
func (v *View) Ready() bool { return v.v.Ready() }

// Sync brings the View to the topic's current end.
func (v *View) Sync(ctx context.Context) error { return v.v.Sync(ctx) }

// Close stops the View.
func (v *View) Close() error { return v.v.Close() }

// Summary returns the counts by kind, most first.
func (v *View) Summary() Summary {
	v.s.mu.Lock()
	defer v.s.mu.Unlock()
	out := Summary{Total: v.s.total, Kinds: []Kind{}}
	for _, k := range v.s.kinds {
		c := *k
		c.Recent = slices.Clone(k.Recent)
		slices.Reverse(c.Recent)
		out.Kinds = append(out.Kinds, c)
	}
	slices.SortFunc(out.Kinds, func(a, b Kind) int { return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Kind, b.Kind)) })
	return out
}

// store counts every record; it keeps no key (records of one key are
// counted each).
type store struct {
	mu    sync.Mutex
	total int64
	kinds map[string]*Kind
}

func (s *store) Put(_ topics.Message, e entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.kinds[e.kind]
	if k == nil {
		k = &Kind{Kind: e.kind}
		s.kinds[e.kind] = k
	}
	k.Count++
	s.total++
	k.Recent = append(k.Recent, e.rec)
	if len(k.Recent) > Recent {
		k.Recent = k.Recent[1:]
	}
}

func (s *store) Delete(topics.Message) bool     { return false }
func (s *store) Get(string) (entry, bool)       { return entry{}, false }
func (s *store) Len() int                       { s.mu.Lock(); defer s.mu.Unlock(); return int(s.total) }
func (s *store) Range(func(string, entry) bool) {}
