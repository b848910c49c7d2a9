// Package outcomes owns the on-disk store of the run view's release
// outcomes (package jobs): one value per run id and customer id, paged by
// run in customer order and indexed by customer, in an embedded Pebble
// store whose memory is bounded whatever the number of outcomes.
//
// The store is a cache of the runs topic, which is the source of truth: it
// is emptied at every Open and rebuilt by its View, so it writes no log
// and syncs nothing. It does not decode outcomes (it keeps the bytes it is
// given) nor read Kafka.
package outcomes

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// The bounds of a store's memory: Pebble's block cache and its memtables
// (at most memTables of memTable bytes fill before writes wait for a
// flush): 24 MiB, outside the Go heap when cgo is on. Whatever the number
// of outcomes, a store holds no more than these in memory, plus Pebble's
// metadata of its tables on disk.
const (
	cacheSize = 8 << 20
	memTable  = 4 << 20
	memTables = 4
)

// l0Stop is the number of tables in Pebble's first level at which writes
// wait for compactions, far above Pebble's default of 12: the run view
// writes an outcome with its lock held, and a wait there holds up every
// reader of runs and leases (a worker's heartbeat checks its lease). On a
// loaded 2-core machine a build of a million outcomes reached 12 tables
// and waited half a second; more tables cost page reads a little, not the
// writes.
const l0Stop = 1000

// slowStall is how long a wait of writes must last to be logged as a
// warning (shorter ones are logged at debug level).
const slowStall = time.Second

// sep ends the first id of a key: a run id and a customer id never hold
// it (package jobs checks), so "<id>|" is a prefix no other id's keys
// share.
const sep = '|'

// The key spaces of a store: an outcome is kept under
// byRun + "<run id>|<customer id>", so a run's outcomes are next to each
// other in customer order; byCustomer + "<customer id>|<run id>" (no
// value) indexes the runs that released for a customer.
const (
	byRun      = 'r'
	byCustomer = 'c'
)

// Config says where a Store keeps its files.
type Config struct {
	// Dir is the Store's folder, of its own: it is locked while the Store
	// is open (a second Store on it fails to open, in this process or
	// another), created if needed, and emptied at Open and at Close.
	// Default: a new folder in TempDir, removed at Close.
	Dir string
	// TempDir is where the default Dir is made. Default: the system's
	// temporary folder.
	TempDir string
	// Logger receives Pebble's messages and the Store's errors. Default:
	// discard.
	Logger *slog.Logger
}

// Store keeps release outcomes on disk by run id and customer id. Put
// writes without looking the outcome up first (most records of a build
// are new outcomes, and a lookup that misses the block cache reads the
// disk), so the Store counts nothing as outcomes come: Len reads them. An
// I/O error is logged and kept (Err); the Store goes on. It is safe for
// concurrent use. After Close it finds nothing.
type Store struct {
	log  *slog.Logger
	dir  string
	temp bool // dir was made for the Store: removed at Close

	mu   sync.RWMutex // write: Close; read: every use of db
	db   *pebble.DB
	lock *pebble.Lock

	failMu sync.Mutex
	failed error
}

// Open opens an empty Store as cfg says.
func Open(cfg Config) (*Store, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Store{log: cfg.Logger, dir: cfg.Dir}
	if s.dir == "" {
		d, err := os.MkdirTemp(cfg.TempDir, "midata-runs-view-")
		if err != nil {
			return nil, fmt.Errorf("open outcome store: %w", err)
		}
		s.dir, s.temp = d, true
	} else if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return nil, fmt.Errorf("open outcome store: %w", err)
	}
	var err error
	if s.lock, err = pebble.LockDirectory(s.dir, vfs.Default); err != nil {
		s.removeDir()
		return nil, fmt.Errorf("open outcome store in %s: is another process using it? give each instance a folder of its own: %w", s.dir, err)
	}
	if err := s.empty(); err != nil {
		s.lock.Close()
		s.removeDir()
		return nil, fmt.Errorf("open outcome store in %s: %w", s.dir, err)
	}
	cache := pebble.NewCache(cacheSize)
	defer cache.Unref() // the store holds its own reference
	opts := &pebble.Options{
		Cache:                       cache,
		DisableWAL:                  true,
		MemTableSize:                memTable,
		MemTableStopWritesThreshold: memTables,
		L0StopWritesThreshold:       l0Stop,
		FormatMajorVersion:          pebble.FormatNewest,
		Lock:                        s.lock,
		Logger:                      pebbleLogger{s.log},
		EventListener:               stallLogger(s.log),
	}
	// Bloom filters answer a lookup of an outcome that is not there (a
	// customer's in each run) without reading a block; the other levels
	// take L0's.
	opts.Levels[0].FilterPolicy = bloom.FilterPolicy(10)
	if s.db, err = pebble.Open(s.dir, opts); err != nil {
		s.lock.Close()
		s.removeDir()
		return nil, fmt.Errorf("open outcome store in %s: %w", s.dir, err)
	}
	return s, nil
}

// Dir returns the Store's folder.
func (s *Store) Dir() string { return s.dir }

// empty removes everything in the Store's folder but its lock.
func (s *Store) empty() error {
	names, err := os.ReadDir(s.dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range names {
		if n.Name() != "LOCK" {
			errs = append(errs, os.RemoveAll(filepath.Join(s.dir, n.Name())))
		}
	}
	return errors.Join(errs...)
}

// removeDir removes the Store's folder if the Store made it.
func (s *Store) removeDir() {
	if s.temp {
		_ = os.RemoveAll(s.dir)
	}
}

// fail keeps err, the first error of the Store, and logs it.
func (s *Store) fail(op string, err error) {
	s.log.Error("run view: outcome store "+op, "dir", s.dir, "error", err)
	s.failMu.Lock()
	defer s.failMu.Unlock()
	if s.failed == nil {
		s.failed = fmt.Errorf("outcome store in %s: %s: %w", s.dir, op, err)
	}
}

// Err returns the first I/O error of the Store, nil if none: its answers
// may be wrong since.
func (s *Store) Err() error {
	s.failMu.Lock()
	defer s.failMu.Unlock()
	return s.failed
}

// key returns tag + a + sep + b.
func key(tag byte, a, b []byte) []byte {
	k := make([]byte, 0, 2+len(a)+len(b))
	return append(append(append(append(k, tag), a...), sep), b...)
}

// prefix returns the bounds of the keys that start with tag + id + sep.
func prefix(tag byte, id string) (lower, upper []byte) {
	lower = append(append([]byte{tag}, id...), sep)
	upper = append(lower[:len(lower)-1:len(lower)-1], sep+1)
	return lower, upper
}

// lookup returns a copy of the value under k. s.mu must be held.
func (s *Store) lookup(k []byte) ([]byte, bool) {
	v, closer, err := s.db.Get(k)
	if err != nil {
		if !errors.Is(err, pebble.ErrNotFound) {
			s.fail("read", err)
		}
		return nil, false
	}
	defer closer.Close()
	return bytes.Clone(v), true
}

// Put makes value the outcome of customerID in run runID.
func (s *Store) Put(runID, customerID, value []byte) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return
	}
	b := s.db.NewBatch()
	defer b.Close()
	_ = b.Set(key(byRun, runID, customerID), value, nil)
	_ = b.Set(key(byCustomer, customerID, runID), nil, nil)
	if err := b.Commit(pebble.NoSync); err != nil {
		s.fail("write", err)
	}
}

// Delete forgets the outcome of customerID in run runID and reports
// whether there was one.
func (s *Store) Delete(runID, customerID []byte) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return false
	}
	k := key(byRun, runID, customerID)
	if _, ok := s.lookup(k); !ok {
		return false
	}
	b := s.db.NewBatch()
	defer b.Close()
	_ = b.Delete(k, nil)
	_ = b.Delete(key(byCustomer, customerID, runID), nil)
	if err := b.Commit(pebble.NoSync); err != nil {
		s.fail("write", err)
		return false
	}
	return true
}

// Get returns a copy of the outcome of customerID in run runID.
func (s *Store) Get(runID, customerID string) ([]byte, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return nil, false
	}
	return s.lookup(key(byRun, []byte(runID), []byte(customerID)))
}

// scan calls fn for the keys (without their first tag + id + sep) and
// values under tag + id + sep that come after after, in order, until fn
// returns false. Key and value are valid during the call only.
func (s *Store) scan(tag byte, id, after string, fn func(rest, value []byte) bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return
	}
	lower, upper := prefix(tag, id)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		s.fail("read", err)
		return
	}
	ok := it.First()
	if after != "" {
		// Every key greater than lower+after, longer or not, is at least
		// lower+after+"\x00".
		ok = it.SeekGE(append(append(lower[:len(lower):len(lower)], after...), 0))
	}
	for ; ok; ok = it.Next() {
		if !fn(it.Key()[len(lower):], it.Value()) {
			break
		}
	}
	if err := it.Close(); err != nil {
		s.fail("read", err)
	}
}

// Page returns up to limit outcomes of run runID of customers after the
// customer id after ("": from the first), in customer id order (bytewise),
// each a copy, and whether more follow.
func (s *Store) Page(runID, after string, limit int) (values [][]byte, more bool) {
	s.scan(byRun, runID, after, func(_, value []byte) bool {
		if len(values) == limit {
			more = true
			return false
		}
		values = append(values, bytes.Clone(value))
		return true
	})
	return values, more
}

// RunsOf returns the ids of the runs with an outcome for customerID.
func (s *Store) RunsOf(customerID string) map[string]bool {
	runs := map[string]bool{}
	s.scan(byCustomer, customerID, "", func(runID, _ []byte) bool {
		runs[string(runID)] = true
		return true
	})
	return runs
}

// Each calls fn for every outcome, by run id and customer id, until fn
// returns false. The slices are valid during the call only.
func (s *Store) Each(fn func(runID, customerID, value []byte) bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{byRun}, UpperBound: []byte{byRun + 1}})
	if err != nil {
		s.fail("read", err)
		return
	}
	for ok := it.First(); ok; ok = it.Next() {
		runID, customerID, _ := bytes.Cut(it.Key()[1:], []byte{sep})
		if !fn(runID, customerID, it.Value()) {
			break
		}
	}
	if err := it.Close(); err != nil {
		s.fail("read", err)
	}
}

// Len returns the number of outcomes, reading them all.
func (s *Store) Len() int {
	n := 0
	s.Each(func(_, _, _ []byte) bool { n++; return true })
	return n
}

// Memory returns the bytes the Store holds outside the Go heap (Pebble's
// block cache and memtables) and its size on disk.
func (s *Store) Memory() (offHeap, disk uint64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return 0, 0
	}
	m := s.db.Metrics()
	return uint64(m.BlockCache.Size) + m.MemTable.Size, m.DiskSpaceUsage()
}

// Flush writes what the Store holds in memory to tables on disk and
// returns how many tables it has. Reads see the same either way; tests
// use it to read across both.
func (s *Store) Flush() (tables int64, err error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return 0, errors.New("flush outcome store: closed")
	}
	if err := s.db.Flush(); err != nil {
		return 0, fmt.Errorf("flush outcome store: %w", err)
	}
	for _, l := range s.db.Metrics().Levels {
		tables += l.TablesCount
	}
	return tables, nil
}

// Close closes the Store and removes what it holds on disk (its folder
// too when Open made it). The Store finds nothing afterwards.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return nil
	}
	err := s.db.Close()
	s.db = nil
	err = errors.Join(err, s.empty(), s.lock.Close())
	s.removeDir()
	if err != nil {
		return fmt.Errorf("close outcome store in %s: %w", s.dir, err)
	}
	return nil
}

// stallLogger logs the waits of writes for flushes and compactions.
func stallLogger(log *slog.Logger) *pebble.EventListener {
	var mu sync.Mutex
	var since time.Time
	var reason string
	return &pebble.EventListener{
		WriteStallBegin: func(info pebble.WriteStallBeginInfo) {
			mu.Lock()
			defer mu.Unlock()
			since, reason = time.Now(), info.Reason
		},
		WriteStallEnd: func() {
			mu.Lock()
			defer mu.Unlock()
			level, d := slog.LevelDebug, time.Since(since)
			if d >= slowStall {
				level = slog.LevelWarn
			}
			log.Log(context.Background(), level, "run view store: writes waited", "for", d, "reason", reason)
		},
	}
}

// pebbleLogger sends Pebble's messages to a slog.Logger: its chatter at
// debug level, its errors as warnings (it retries them), and a fatal
// error (a broken invariant or corrupt data) as an error and a panic.
type pebbleLogger struct{ log *slog.Logger }

func (l pebbleLogger) Infof(format string, args ...any) {
	l.log.Debug("run view store: " + fmt.Sprintf(format, args...))
}

func (l pebbleLogger) Errorf(format string, args ...any) {
	l.log.Warn("run view store: " + fmt.Sprintf(format, args...))
}

func (l pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.log.Error("run view store: " + msg)
	panic("run view store: " + msg)
}
