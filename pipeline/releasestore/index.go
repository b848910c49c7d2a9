package releasestore

import (
	"context"
	"log/slog"
	"sync"

	"github.com/midata/midata/sinks"
)

// Index says which releases of a bulk task may be committed already. A
// first attempt of a task finds none, and listing the store up front cost
// a listing of every release of the period per task (at 100,000
// customers, hundreds of pages each, most of the S3 server's work): so it
// assumes none until a commit finds its release committed by an earlier
// attempt (the commit is conditional, so that release is reported as
// already committed and its staged copy removed) and says so (Conflict).
// Then it lists the store once (Committed), and the releases it lists are
// not made again. A store that cannot list is asked per release from then
// on. It is safe for concurrent use.
type Index struct {
	sink   sinks.Sink
	ids    []string
	logger *slog.Logger

	mu     sync.Mutex
	listed bool            // a conflict was seen and the store listed
	known  map[string]bool // the listing; nil when listed: ask the store
}

// NewIndex returns the Index of the releases ids in s.
func NewIndex(s sinks.Sink, ids []string, logger *slog.Logger) *Index {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Index{sink: s, ids: ids, logger: logger}
}

// MayBeCommitted reports whether release id may be committed: false until
// a conflict; then what the listing says (true when the store cannot list).
func (x *Index) MayBeCommitted(id string) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.listed {
		return false
	}
	return x.known == nil || x.known[id]
}

// Conflict records that a commit found its release committed by another
// writer: the first one lists the store.
func (x *Index) Conflict(ctx context.Context) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.listed {
		return
	}
	x.listed = true
	known, err := Committed(ctx, x.sink, x.ids)
	if err != nil {
		x.logger.Warn("committed releases not listed: each release asks the store", "err", err)
		return
	}
	x.known = known
}
