package topics_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/pipeline/topics/topicstest"
)

// entry is what the test views keep: a value and where it was read.
type entry struct {
	value  string
	offset int64
}

// decodeEntry refuses values that start with "bad".
func decodeEntry(m topics.Message) (entry, error) {
	if strings.HasPrefix(string(m.Value), "bad") {
		return entry{}, fmt.Errorf("value %q: bad", m.Value)
	}
	return entry{value: string(m.Value), offset: m.Offset}, nil
}

// compacted creates a fresh compacted topic with 3 partitions.
func compacted(t *testing.T, conn topics.Connection) string {
	t.Helper()
	name := testbench.UniqueName(t, "view")
	if err := topics.Ensure(t.Context(), conn, topics.Spec{Name: name, Partitions: 3, Compacted: true}); err != nil {
		t.Fatal(err)
	}
	return name
}

// openView opens a view of topic, closed at cleanup.
func openView(t *testing.T, conn topics.Connection, cfg topics.ViewConfig[entry]) *topics.View[entry] {
	t.Helper()
	if cfg.Decode == nil {
		cfg.Decode = decodeEntry
	}
	cfg.MaxWait = 250 * time.Millisecond
	v, err := topics.OpenView(t.Context(), conn, cfg)
	if err != nil {
		t.Fatalf("OpenView: %v", err)
	}
	t.Cleanup(func() {
		if err := v.Close(); err != nil {
			t.Errorf("View.Close: %v", err)
		}
	})
	return v
}

// contents returns the view as key → value.
func contents(v *topics.View[entry]) map[string]string {
	out := map[string]string{}
	v.Range(func(k string, e entry) bool {
		out[k] = e.value
		return true
	})
	return out
}

func TestAViewRebuildsTheTopicAtStart(t *testing.T) {
	conn := topicstest.Connect(t)
	topic := compacted(t, conn)
	p := topicstest.NewProducer(t, conn)
	for _, r := range []struct{ key, value string }{
		{"a", "1"}, {"b", "1"}, {"c", "1"}, {"a", "2"}, // a overwritten
		{"b", ""},    // b deleted by a tombstone
		{"c", "bad"}, // undecodable: c keeps its entry
		{"d", "bad"}, // undecodable: d never appears
	} {
		var v []byte
		if r.value != "" {
			v = []byte(r.value)
		}
		topicstest.Publish(t, p, topic, r.key, v)
	}
	v := openView(t, conn, topics.ViewConfig[entry]{Topic: topic})
	if err := v.Sync(t.Context()); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if !v.Ready() {
		t.Error("not Ready after a Sync")
	}
	got := contents(v)
	if len(got) != 2 || got["a"] != "2" || got["c"] != "1" {
		t.Errorf("view = %v, want a=2 c=1 (b deleted, undecodable records skipped)", got)
	}
	if v.Len() != 2 {
		t.Errorf("Len = %d, want 2", v.Len())
	}
}

func TestAViewOfAnEmptyTopicIsReadyAtOnce(t *testing.T) {
	conn := topicstest.Connect(t)
	v := openView(t, conn, topics.ViewConfig[entry]{Topic: compacted(t, conn)})
	if !v.Ready() || v.Len() != 0 {
		t.Errorf("Ready %v with %d keys, want ready and empty", v.Ready(), v.Len())
	}
}

func TestAViewTailsTheTopicAndSyncSeesAWriteJustMade(t *testing.T) {
	conn := topicstest.Connect(t)
	topic := compacted(t, conn)
	p := topicstest.NewProducer(t, conn)
	var mu sync.Mutex
	var changes []string
	v := openView(t, conn, topics.ViewConfig[entry]{Topic: topic, OnChange: func(key string) {
		mu.Lock()
		defer mu.Unlock()
		changes = append(changes, key)
	}})
	eventually(t, "view ready", v.Ready)

	// Sync is read-your-writes: no waiting needed after it.
	topicstest.Publish(t, p, topic, "k", []byte("v1"))
	if err := v.Sync(t.Context()); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if e, ok := v.Get("k"); !ok || e.value != "v1" {
		t.Fatalf("after Sync: Get(k) = %+v, %v; want v1", e, ok)
	}

	// Without Sync, a record reaches the view by itself: Wait sees it.
	done := make(chan entry, 1)
	go func() {
		e, err := v.Wait(t.Context(), "k", func(e entry) bool { return e.value == "v2" })
		if err != nil {
			t.Errorf("Wait: %v", err)
		}
		done <- e
	}()
	topicstest.Publish(t, p, topic, "k", []byte("v2"))
	select {
	case e := <-done:
		if e.value != "v2" {
			t.Errorf("Wait returned %+v", e)
		}
	case <-time.After(testTimeout):
		t.Fatal("Wait did not return")
	}

	// A tombstone deletes the key.
	topicstest.Publish(t, p, topic, "k", nil)
	if err := v.Sync(t.Context()); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if e, ok := v.Get("k"); ok {
		t.Fatalf("after a tombstone: Get(k) = %+v, want no entry", e)
	}
	// OnChange runs just after the record is applied: poll for the last.
	eventually(t, "OnChange for two writes and the delete", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return strings.Join(changes, ",") == "k,k,k"
	})
}

// Concurrent Syncs share offsets requests; each must still see the write
// its caller made just before calling (a Sync may not join a request that
// started before it was called).
func TestConcurrentSyncsEachSeeTheirOwnWrite(t *testing.T) {
	conn := topicstest.Connect(t)
	topic := compacted(t, conn)
	p := topicstest.NewProducer(t, conn)
	v := openView(t, conn, topics.ViewConfig[entry]{Topic: topic})
	eventually(t, "view ready", v.Ready)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 12 {
				key := fmt.Sprintf("k%d-%d", g, i)
				if err := p.Publish(t.Context(), topic, []byte(key), []byte(key)); err != nil {
					t.Errorf("Publish %s: %v", key, err)
					return
				}
				if err := v.Sync(t.Context()); err != nil {
					t.Errorf("Sync: %v", err)
					return
				}
				if e, ok := v.Get(key); !ok || e.value != key {
					t.Errorf("after its writer's Sync: Get(%s) = %+v, %v", key, e, ok)
				}
			}
		})
	}
	wg.Wait()
}

func TestAViewMergesWithItsMergeFunction(t *testing.T) {
	conn := topicstest.Connect(t)
	topic := compacted(t, conn)
	p := topicstest.NewProducer(t, conn)
	// Keep the first value of each key: later records change nothing.
	keepFirst := func(cur entry, ok bool, next entry) (entry, bool) {
		if ok {
			return cur, false
		}
		return next, true
	}
	var calls atomic.Int32
	v := openView(t, conn, topics.ViewConfig[entry]{Topic: topic, Merge: keepFirst, OnChange: func(string) { calls.Add(1) }})
	topicstest.Publish(t, p, topic, "k", []byte("first"))
	topicstest.Publish(t, p, topic, "k", []byte("second"))
	if err := v.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The second record changed nothing, so OnChange ran once, for the
	// first, before the second was applied.
	if e, _ := v.Get("k"); e.value != "first" || calls.Load() != 1 {
		t.Errorf("Get(k) = %+v after %d changes, want first after 1", e, calls.Load())
	}
}

// gets is a map Store that counts its Gets.
type gets struct {
	m map[string]entry
	n atomic.Int32
}

func (s *gets) Put(m topics.Message, e entry) { s.m[string(m.Key)] = e }
func (s *gets) Delete(m topics.Message) bool {
	_, ok := s.m[string(m.Key)]
	delete(s.m, string(m.Key))
	return ok
}
func (s *gets) Get(key string) (entry, bool) { s.n.Add(1); e, ok := s.m[key]; return e, ok }
func (s *gets) Len() int                     { return len(s.m) }
func (s *gets) Range(fn func(string, entry) bool) {
	for k, e := range s.m {
		if !fn(k, e) {
			return
		}
	}
}

func TestKeysThatReplaceSkipMergeAndTheStoresGet(t *testing.T) {
	conn := topicstest.Connect(t)
	topic := compacted(t, conn)
	p := topicstest.NewProducer(t, conn)
	keepFirst := func(cur entry, ok bool, next entry) (entry, bool) {
		if ok {
			return cur, false
		}
		return next, true
	}
	store := &gets{m: map[string]entry{}}
	v := openView(t, conn, topics.ViewConfig[entry]{Topic: topic, Merge: keepFirst, Store: store,
		Replace: func(key []byte) bool { return strings.HasPrefix(string(key), "r/") }})
	for _, kv := range [][2]string{{"k", "first"}, {"k", "second"}, {"r/k", "first"}, {"r/k", "second"}} {
		topicstest.Publish(t, p, topic, kv[0], []byte(kv[1]))
	}
	if err := v.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	merged, _ := v.Get("k")
	replaced, _ := v.Get("r/k")
	if merged.value != "first" || replaced.value != "second" {
		t.Errorf("k = %q, r/k = %q; want first (merged), second (replaced)", merged.value, replaced.value)
	}
	// Two Gets to merge k's records, two of this test's: none for r/k's.
	if n := store.n.Load(); n != 4 {
		t.Errorf("the store was asked %d times, want 4: records of keys that replace ask nothing", n)
	}
}

func TestWaitEndsWithItsContextAndWithTheView(t *testing.T) {
	conn := topicstest.Connect(t)
	v := openView(t, conn, topics.ViewConfig[entry]{Topic: compacted(t, conn)})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := v.Wait(ctx, "never", func(entry) bool { return true }); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait with a cancelled context: %v, want context.Canceled", err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := v.Wait(t.Context(), "never", func(entry) bool { return true })
		errc <- err
	}()
	if err := v.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, topics.ErrViewClosed) {
			t.Errorf("Wait on a closed view: %v, want ErrViewClosed", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("Wait did not return when the view closed")
	}
}

func TestOpenViewOfAMissingTopicSaysHowToCreateIt(t *testing.T) {
	conn := topicstest.Connect(t)
	_, err := topics.OpenView(t.Context(), conn, topics.ViewConfig[entry]{Topic: testbench.UniqueName(t, "missing"), Decode: decodeEntry})
	if !errors.Is(err, topics.ErrTopicNotFound) || !strings.Contains(err.Error(), "create it with topics.Ensure") {
		t.Fatalf("OpenView of a missing topic: %v; want ErrTopicNotFound saying how to create it", err)
	}
}

func TestOpenViewRefusesAConfigWithoutTopicOrDecode(t *testing.T) {
	_, err := topics.OpenView(t.Context(), topics.Connection{}, topics.ViewConfig[entry]{})
	for _, want := range []string{"no brokers", "no topic", "no decode function"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("OpenView of an empty config: %v; want it to say %q", err, want)
		}
	}
}

// preparing is a map Store that is a Preparer: it logs the keys it is told
// and the keys it is then given.
type preparing struct {
	gets
	prepared []string // told, not given yet
	log      []string // "prepare k", "put k", "delete k"
	wrong    []string // given, not told first
}

func (s *preparing) Prepare(keys iter.Seq[[]byte]) {
	if len(s.prepared) > 0 {
		s.wrong = append(s.wrong, fmt.Sprintf("prepare while %q wait", s.prepared))
	}
	for k := range keys {
		s.prepared = append(s.prepared, string(k))
		s.log = append(s.log, "prepare "+string(k))
	}
}

// given checks that key is the next told key or follows it.
func (s *preparing) given(what string, key []byte) {
	s.log = append(s.log, what+" "+string(key))
	i := slices.Index(s.prepared, string(key))
	if i < 0 {
		s.wrong = append(s.wrong, what+" "+string(key))
		return
	}
	s.prepared = s.prepared[i+1:]
}

func (s *preparing) Put(m topics.Message, e entry) { s.given("put", m.Key); s.gets.Put(m, e) }
func (s *preparing) Delete(m topics.Message) bool  { s.given("delete", m.Key); return s.gets.Delete(m) }

func TestAPreparerIsToldEachFetchsKeysBeforeItsRecordsApply(t *testing.T) {
	conn := topicstest.Connect(t)
	topic := compacted(t, conn)
	p := topicstest.NewProducer(t, conn)
	for _, kv := range [][2]string{{"a", "1"}, {"b", "1"}, {"a", "bad"}, {"c", "1"}, {"b", ""}, {"a", "2"}} {
		var value []byte
		if kv[1] != "" {
			value = []byte(kv[1])
		}
		topicstest.Publish(t, p, topic, kv[0], value)
	}
	store := &preparing{gets: gets{m: map[string]entry{}}}
	v := openView(t, conn, topics.ViewConfig[entry]{Topic: topic, Store: store})
	if err := v.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	topicstest.Publish(t, p, topic, "d", []byte("1")) // read live, after the backlog
	if err := v.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	v.Range(func(string, entry) bool { return true }) // the View's lock: the store is not written meanwhile
	var puts, deletes, prepares int
	for _, l := range store.log {
		switch {
		case strings.HasPrefix(l, "put "):
			puts++
		case strings.HasPrefix(l, "delete "):
			deletes++
		default:
			prepares++
		}
	}
	if len(store.wrong) > 0 || puts != 5 || deletes != 1 || prepares != 7 || len(store.prepared) != 0 {
		t.Fatalf("the store's calls: %q; out of order: %q", store.log, store.wrong)
	}
	if got := contents(v); fmt.Sprint(got) != fmt.Sprint(map[string]string{"a": "2", "c": "1", "d": "1"}) {
		t.Fatalf("view %v", got)
	}
}
