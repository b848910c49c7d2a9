package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/pipeline/jobs/outcomes"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/schemas"
)

// benchOutcomes is the number of release outcomes of the benchmarked
// ledger: one monthly bulk run of a bank's customers.
const benchOutcomes = 1_000_000

// benchRun is the bulk run the benchmark's outcomes belong to.
const benchRun = "monthly-self@2026-03-01T00:00:00Z"

// ledgerRecords holds the benchmark's records in one buffer, so the
// collector has no pointers of theirs to scan while the view is built.
type ledgerRecords struct {
	buf  []byte
	recs []struct{ key, value, end int32 }
}

func (r *ledgerRecords) len() int { return len(r.recs) }

// at returns record i, sharing the buffer.
func (r *ledgerRecords) at(i int) topics.Message {
	x := r.recs[i]
	return topics.Message{Partition: i % 3, Offset: int64(i / 3), Key: r.buf[x.key:x.value:x.value], Value: r.buf[x.value:x.end:x.end]}
}

// benchLedger returns the records of one bulk run's record and n release
// outcomes of its twelve tasks, as the worker's Reporter writes them.
func benchLedger(tb testing.TB, n int) *ledgerRecords {
	out := &ledgerRecords{recs: make([]struct{ key, value, end int32 }, 0, n+1), buf: make([]byte, 0, n*300)}
	add := func(key string, v any) {
		b, err := json.Marshal(v)
		if err != nil {
			tb.Fatal(err)
		}
		k := int32(len(out.buf))
		out.buf = append(out.buf, key...)
		val := int32(len(out.buf))
		out.buf = append(out.buf, b...)
		out.recs = append(out.recs, struct{ key, value, end int32 }{k, val, int32(len(out.buf))})
	}
	created := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	add(benchRun, Run{ID: benchRun, Status: StatusRunning, CreatedAt: created, UpdatedAt: created,
		Request: Request{ID: benchRun, Kind: KindBulk, Recipient: "self", Scope: schemas.Scope{All: true}, CreatedAt: created}})
	for i := range n {
		c := fmt.Sprintf("C%07d", i)
		rel := fmt.Sprintf("r20260201-%024x", uint64(i)*0x9e3779b97f4a7c15)
		add(ReleaseKey(benchRun, c), Release{RunID: benchRun, TaskID: fmt.Sprintf("%s/p%d", benchRun, i%12), ReleaseID: rel,
			CustomerID: c, Status: "committed", Rows: int64(20 + i%100), Manifest: "releases/" + rel + "/manifest.json"})
	}
	return out
}

// applyRecord applies m to s as a topics.View applies a record of its
// topic: decode, merge with the key's entry, put; a tombstone deletes. The
// record's key and value are copied first, as a reader allocates them.
func applyRecord(tb testing.TB, c topics.ViewConfig[entry], s topics.Store[entry], m topics.Message) {
	m.Key, m.Value = bytes.Clone(m.Key), bytes.Clone(m.Value)
	if m.Value == nil {
		s.Delete(m)
		return
	}
	e, err := c.Decode(m)
	if err != nil {
		tb.Fatal(err)
	}
	if c.Merge == nil || c.Replace != nil && c.Replace(m.Key) {
		s.Put(m, e)
		return
	}
	cur, ok := s.Get(string(m.Key))
	if next, changed := c.Merge(cur, ok, e); changed {
		s.Put(m, next)
	}
}

// heap returns the live heap after a collection.
func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// cpu returns the CPU time the process has used.
func cpu() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportBuild reports the build rate (by the clock, and per second of
// CPU, which a machine shared with other work does not skew) and the Go
// heap per outcome of one build.
func reportBuild(b *testing.B, n int, took, cpuTook time.Duration, before, after uint64) {
	b.ReportMetric(float64(n)/took.Seconds(), "outcomes/s")
	b.ReportMetric(float64(n)/cpuTook.Seconds(), "outcomes/cpu-s")
	b.ReportMetric(float64(int64(after)-int64(before))/float64(n), "heap-B/outcome")
	b.ReportMetric(0, "ns/op") // one op is one build of every outcome: outcomes/s says it
}

// reportStore reports what s holds outside the Go heap and on disk, per
// outcome.
func reportStore(b *testing.B, s *outcomes.Store) {
	offHeap, disk := s.Memory()
	b.ReportMetric(float64(offHeap)/(1<<20), "offheap-MiB")
	b.ReportMetric(float64(disk)/benchOutcomes, "disk-B/outcome")
}

// mapStore is topics.View's default store: a map of the decoded entries.
type mapStore map[string]entry

func (s mapStore) Put(m topics.Message, e entry) { s[string(m.Key)] = e }
func (s mapStore) Delete(m topics.Message) bool {
	_, ok := s[string(m.Key)]
	delete(s, string(m.Key))
	return ok
}
func (s mapStore) Get(key string) (entry, bool) { e, ok := s[key]; return e, ok }
func (s mapStore) Len() int                     { return len(s) }
func (s mapStore) Range(fn func(string, entry) bool) {
	for k, e := range s {
		if !fn(k, e) {
			return
		}
	}
}

// BenchmarkRunView measures the run view's memory and build rate for
// 1,000,000 release outcomes of one bulk run: Go heap after GC per
// outcome, what the outcome store holds outside the heap (Pebble's cache
// and memtables: bounded) and on disk, and outcomes applied per second,
// for the apply path (decode, merge, store) and for a build from the real
// Kafka of the bench (the records produced once). apply/map is the same
// apply into topics.View's default map, all in memory, as a baseline of
// the same run.
//
//	go test ./pipeline/jobs -run '^$' -bench RunView -benchtime 1x
func BenchmarkRunView(b *testing.B) {
	recs := benchLedger(b, benchOutcomes)
	c := viewConfig(ViewConfig{Now: time.Now}, newIndex())
	b.Run("apply/map", func(b *testing.B) {
		for b.Loop() {
			before := heap()
			start, cpuStart := time.Now(), cpu()
			s := mapStore{}
			for i := range recs.len() {
				applyRecord(b, c, s, recs.at(i))
			}
			took, cpuTook := time.Since(start), cpu()-cpuStart
			reportBuild(b, benchOutcomes, took, cpuTook, before, heap())
			if s.Len() != recs.len() {
				b.Fatalf("%d keys", s.Len())
			}
			runtime.KeepAlive(s)
		}
	})
	b.Run("apply/store", func(b *testing.B) {
		for b.Loop() {
			before := heap()
			start, cpuStart := time.Now(), cpu()
			store, err := outcomes.Open(outcomes.Config{TempDir: b.TempDir()})
			if err != nil {
				b.Fatal(err)
			}
			s := &ledgerStore{mem: map[string]entry{}, outcomes: store}
			for i := range recs.len() {
				applyRecord(b, c, s, recs.at(i))
			}
			took, cpuTook := time.Since(start), cpu()-cpuStart
			reportBuild(b, benchOutcomes, took, cpuTook, before, heap())
			reportStore(b, store)
			if s.Len() != recs.len() {
				b.Fatalf("%d keys", s.Len())
			}
			if err := store.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})

	var topic string
	var conn topics.Connection
	produced := func(b *testing.B) {
		if topic != "" {
			return
		}
		conn = topics.Connection{Brokers: testbench.Kafka(b)}
		name := testbench.UniqueName(b, "bench-runs")
		testbench.CreateTopic(b, conn.Brokers, name, topics.RunsPartitions)
		tr := conn.Transport()
		defer tr.CloseIdleConnections()
		w := &kafka.Writer{Addr: conn.Addr(), Topic: name, Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll,
			BatchSize: 2000, BatchBytes: 900_000, BatchTimeout: 10 * time.Millisecond, Transport: tr}
		defer w.Close()
		msgs := make([]kafka.Message, 0, 50_000)
		for i := range recs.len() {
			m := recs.at(i)
			msgs = append(msgs, kafka.Message{Key: m.Key, Value: m.Value})
			if len(msgs) == cap(msgs) || i == recs.len()-1 {
				if err := w.WriteMessages(context.Background(), msgs...); err != nil {
					b.Fatalf("produce ledger records: %.300v", err)
				}
				msgs = msgs[:0]
			}
		}
		topic = name
	}
	b.Run("kafka/map", func(b *testing.B) {
		produced(b)
		for b.Loop() {
			before := heap()
			start, cpuStart := time.Now(), cpu()
			vc := viewConfig(ViewConfig{Now: time.Now}, newIndex()) // no Store: topics.View's map
			vc.Topic = topic
			v, err := topics.OpenView(b.Context(), conn, vc)
			if err != nil {
				b.Fatal(err)
			}
			if err := v.Sync(b.Context()); err != nil {
				b.Fatal(err)
			}
			took, cpuTook := time.Since(start), cpu()-cpuStart
			if err := v.Close(); err != nil { // the readers' buffers go: what stays is the state
				b.Fatal(err)
			}
			if v.Len() != recs.len() {
				b.Fatalf("%d keys", v.Len())
			}
			reportBuild(b, benchOutcomes, took, cpuTook, before, heap())
			runtime.KeepAlive(v)
		}
	})
	b.Run("kafka/store", func(b *testing.B) {
		produced(b)
		for b.Loop() {
			before := heap()
			start, cpuStart := time.Now(), cpu()
			v, err := OpenView(b.Context(), ViewConfig{Kafka: conn, Topic: topic})
			if err != nil {
				b.Fatal(err)
			}
			if err := v.Sync(b.Context()); err != nil {
				b.Fatal(err)
			}
			if rels, _ := v.Releases(benchRun, "", 1); len(rels) != 1 {
				b.Fatalf("first page %v", rels)
			}
			took, cpuTook := time.Since(start), cpu()-cpuStart
			reportBuild(b, benchOutcomes, took, cpuTook, before, heap())
			reportStore(b, v.outcomes)
			if err := v.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
