package pipeline_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/segmentio/kafka-go"

	"github.com/midata/midata/pipeline"
	"github.com/midata/midata/pipeline/bycustomer"
	"github.com/midata/midata/schemas/release"
	"github.com/midata/midata/sinks"
)

func bulk(id string) pipeline.Bulk {
	return pipeline.Bulk{ID: id, Recipient: "self", From: from, To: to, Formats: []string{"ndjson", "midata-csv"}}
}

// runBulk plans a bulk request and runs every task, as the workers would.
func runBulk(t *testing.T, r *pipeline.Runner, b pipeline.Bulk) ([]int, map[string]*pipeline.Result) {
	t.Helper()
	snap, tasks, err := r.PlanBulk(t.Context(), b)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]*pipeline.Result{}
	for _, p := range tasks {
		results, err := r.RunTask(t.Context(), b, snap, p, nil)
		if err != nil {
			t.Fatalf("task %d: %v", p, err)
		}
		for _, res := range results {
			if _, dup := byID[res.ReleaseID]; dup {
				t.Fatalf("release %s made by two tasks", res.ReleaseID)
			}
			byID[res.ReleaseID] = res
		}
	}
	return tasks, byID
}

func TestBulkReleasesEveryConsentingCustomerOnce(t *testing.T) {
	for _, tt := range []struct {
		name      string
		balancer  kafka.Balancer
		wantTasks int
	}{
		{"a topic keyed by murmur2 runs one task per partition", kafka.Murmur2Balancer{}, 4},
		{"a topic of another partitioner runs one task over every partition", &kafka.Hash{}, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := newBench(t, 4)
			seedData(t, b, tt.balancer)
			r := b.runner(t, "murmur2", nil)
			tasks, results := runBulk(t, r, bulk("bulk-1"))
			if len(tasks) != tt.wantTasks {
				t.Fatalf("%d tasks, want %d", len(tasks), tt.wantTasks)
			}
			// C1 and C3 consent to self; C2 revoked.
			if len(results) != 2 {
				t.Fatalf("%d releases, want 2 (C1 and C3)", len(results))
			}
			rows := map[int64]bool{}
			for id, res := range results {
				if res.Status != release.StatusCommitted {
					t.Errorf("%s: %s %s", id, res.Status, res.Reason)
				}
				rows[res.Stats.Released] = true
				body := b.file(t, id, "transactions.ndjson")
				var ids []string
				sc := bufio.NewScanner(bytes.NewReader(body))
				for sc.Scan() {
					var rec struct {
						ID       string `json:"transaction_id"`
						Customer string `json:"customer_id"`
					}
					if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
						t.Fatal(err)
					}
					ids = append(ids, rec.ID)
				}
				if len(ids) == len(released) && !slices.Equal(ids, released) {
					t.Errorf("C1's bulk release holds %v, want %v", ids, released)
				}
			}
			if !rows[int64(len(released))] || !rows[1] {
				t.Errorf("released rows %v, want C1's %d and C3's 1", rows, len(released))
			}

			// The same request handled again (a redelivery) makes nothing new.
			_, again := runBulk(t, r, bulk("bulk-1"))
			for id, res := range again {
				if res.Status != release.StatusAlreadyCommitted || results[id] == nil {
					t.Errorf("re-run %s: %s, want already_committed of the same release", id, res.Status)
				}
			}
		})
	}
}

func TestBulkWithoutRecordsGivesEmptyReleases(t *testing.T) {
	b := newBench(t, 2)
	seedData(t, b, kafka.Murmur2Balancer{})
	r := b.runner(t, "murmur2", nil)
	req := bulk("bulk-empty")
	req.From, req.To = from.AddDate(-1, 0, 0), from.AddDate(-1, 1, 0)
	_, results := runBulk(t, r, req)
	if len(results) != 2 {
		t.Fatalf("%d releases, want one for each consenting customer", len(results))
	}
	for id, res := range results {
		if res.Status != release.StatusEmpty {
			t.Errorf("%s: %s, want empty", id, res.Status)
		}
	}
}

func TestARevocationDuringABulkTaskCancelsOnlyThatCustomer(t *testing.T) {
	b := newBench(t, 1)
	seedData(t, b, kafka.Murmur2Balancer{})
	// C1's release is staged first (customers go in id order): its consent
	// is revoked right then, before its commit.
	sink := &revokingSink{Sink: b.sink, revoke: func() error {
		produce(t, b.brokers, b.consent, &kafka.Hash{}, consentEvent("K-1r", "C1", "self", "revoked", "transactions"))
		return nil
	}}
	r := b.runner(t, "murmur2", sink)
	req := bulk("bulk-revoke")
	snap, tasks, err := r.PlanBulk(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	var results []*pipeline.Result
	for _, p := range tasks {
		res, err := r.RunTask(t.Context(), req, snap, p, nil)
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, res...)
	}
	got := map[string]release.Status{}
	for _, res := range results {
		got[res.CustomerID] = res.Status
		if res.CustomerID == "C1" {
			if keys := b.keys(t, pipeline.Prefix(res.ReleaseID)); len(keys) != 0 {
				t.Errorf("the revoked customer's release left %v", keys)
			}
		}
	}
	if got["C1"] != release.StatusCancelled || got["C3"] != release.StatusCommitted {
		t.Fatalf("statuses = %v, want C1 cancelled by the revocation and C3 committed", got)
	}
}

func TestBulkTaskGivesTheSameReleasesAtAnyCommitDepthAndBuffer(t *testing.T) {
	b := newBench(t, 1)
	seedData(t, b, kafka.Murmur2Balancer{})
	var want []string // customer and data file bytes of each release, in order
	for i, tt := range []struct {
		name          string
		depth, buffer int
	}{
		{"one release at a time", 1, 0},
		{"four at once, every customer streaming beyond a buffer of one record", 4, 1},
		{"sixteen at once, a buffer of two records", 16, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := b.runnerWith(t, func(c *pipeline.Config) { c.CommitDepth, c.CommitBuffer = tt.depth, tt.buffer })
			req := bulk(fmt.Sprintf("bulk-depth-%d", i))
			snap, tasks, err := r.PlanBulk(t.Context(), req)
			if err != nil || len(tasks) != 1 {
				t.Fatalf("plan: %v, %v", tasks, err)
			}
			results, err := r.RunTask(t.Context(), req, snap, tasks[0], nil)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, res := range results {
				if res.Status != release.StatusCommitted {
					t.Errorf("%s: %s %s", res.CustomerID, res.Status, res.Reason)
				}
				got = append(got, res.CustomerID+"\n"+string(b.file(t, res.ReleaseID, "transactions.ndjson"))+string(b.file(t, res.ReleaseID, "transactions.midata.csv")))
			}
			if len(got) != 2 {
				t.Fatalf("%d releases, want C1's and C3's", len(got))
			}
			if want == nil {
				want = got
			} else if !slices.Equal(got, want) {
				t.Errorf("releases differ from those made one at a time:\n%q\nwant\n%q", got, want)
			}
		})
	}
}

// lookupSink counts how a runner asks the store about releases: reads of
// manifests and listings.
type lookupSink struct {
	sinks.Sink
	manifests, lists, creates atomic.Int64
}

func (s *lookupSink) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if strings.HasSuffix(key, "/"+release.ManifestFile) {
		s.manifests.Add(1)
	}
	return s.Sink.Open(ctx, key)
}

func (s *lookupSink) Create(ctx context.Context, key string) (sinks.ObjectWriter, error) {
	s.creates.Add(1)
	return s.Sink.Create(ctx, key)
}

func (s *lookupSink) List(ctx context.Context, prefix string, fn func(string) error) error {
	s.lists.Add(1)
	return s.Sink.(sinks.Lister).List(ctx, prefix, fn)
}

func (s *lookupSink) Delete(ctx context.Context, key string) error {
	return s.Sink.(sinks.Deleter).Delete(ctx, key)
}

func TestABulkTaskAsksTheStoreOnceWhichReleasesExist(t *testing.T) {
	b := newBench(t, 1)
	seedData(t, b, kafka.Murmur2Balancer{})
	// A customer's release committed before the task, by a request of its own.
	s := &lookupSink{Sink: b.sink}
	r := b.runner(t, "murmur2", s)
	req := bulk("bulk-lookups")
	single := pipeline.Request{ID: req.ID, CustomerID: "C3", Recipient: req.Recipient, From: req.From, To: req.To, Formats: req.Formats}
	if res, err := r.Release(t.Context(), single); err != nil || res.Status != release.StatusCommitted {
		t.Fatalf("release of C3 alone: %+v, %v", res, err)
	}
	s.manifests.Store(0)
	snap, tasks, err := r.PlanBulk(t.Context(), req)
	if err != nil || len(tasks) != 1 {
		t.Fatalf("plan: %v, %v", tasks, err)
	}
	results, err := r.RunTask(t.Context(), req, snap, tasks[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]release.Status{}
	for _, res := range results {
		got[res.CustomerID] = res.Status
	}
	if got["C1"] != release.StatusCommitted || got["C3"] != release.StatusAlreadyCommitted {
		t.Fatalf("statuses %v, want C1 committed and C3 already committed", got)
	}
	// One listing; a manifest read only for the release found committed.
	if s.lists.Load() != 1 || s.manifests.Load() != 1 {
		t.Errorf("the task listed %d times and read %d manifests, want 1 listing and C3's manifest", s.lists.Load(), s.manifests.Load())
	}
}

// A first attempt of a task finds nothing committed: it neither lists the
// store nor reads a manifest. Run again, the first commit that finds its
// release committed lists the store once, and the releases listed are not
// staged again: at most the releases in flight before the listing are.
func TestABulkTaskListsTheStoreOnlyOnceItFindsAReleaseCommitted(t *testing.T) {
	b := newBench(t, 1)
	seedData(t, b, kafka.Murmur2Balancer{})
	var txs, grants []kafka.Message
	for i := range 10 {
		c := fmt.Sprintf("C%d", 100+i)
		txs = append(txs, tx{id: "T-" + c, customer: c, booked: "2026-03-05T12:00:00Z", amount: "-8.00"}.message())
		grants = append(grants, consentEvent("K-"+c, c, "self", "granted", "transactions"))
	}
	produce(t, b.brokers, b.topic, kafka.Murmur2Balancer{}, txs...)
	produce(t, b.brokers, b.consent, &kafka.Hash{}, grants...)
	s := &lookupSink{Sink: b.sink}
	const depth = 2
	r := b.runnerWith(t, func(c *pipeline.Config) { c.Sink, c.CommitDepth = s, depth })
	req := bulk("bulk-first-attempt")
	snap, tasks, err := r.PlanBulk(t.Context(), req)
	if err != nil || len(tasks) != 1 {
		t.Fatalf("plan: %v, %v", tasks, err)
	}
	first, err := r.RunTask(t.Context(), req, snap, tasks[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.lists.Load() != 0 || s.manifests.Load() != 0 {
		t.Errorf("a first attempt listed %d times and read %d manifests, want none", s.lists.Load(), s.manifests.Load())
	}
	made := s.creates.Load()
	if made == 0 || len(first) < 12 {
		t.Fatalf("the first attempt made %d results and created %d files: the data set is too small for this test", len(first), made)
	}
	s.creates.Store(0)
	again, err := r.RunTask(t.Context(), req, snap, tasks[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, res := range again {
		if res.Status != release.StatusAlreadyCommitted || res.ReleaseID != first[i].ReleaseID {
			t.Errorf("again: %s is %s (%s), want already committed as %s", res.CustomerID, res.Status, res.ReleaseID, first[i].ReleaseID)
		}
	}
	if s.lists.Load() != 1 {
		t.Errorf("the second attempt listed %d times, want once", s.lists.Load())
	}
	// Files per release: the formats and the readme. Before the listing at
	// most depth + 1 releases were staged (those in flight, and the next
	// one taken).
	perRelease := made / int64(len(first))
	if got := s.creates.Load(); got > (depth+1)*perRelease {
		t.Errorf("the second attempt created %d files, want at most %d (releases in flight before the listing)", got, (depth+1)*perRelease)
	}
}

// cutStream is a sorted stream that ends after its first n records: with
// err when it fails, or silently (a stream cut short).
type cutStream struct {
	bycustomer.Stream
	n, i int
	err  error
	fail bool
}

func (s *cutStream) Next() bool {
	if s.i >= s.n {
		if s.fail {
			s.err = errors.New("spill read failed")
		}
		return false
	}
	s.i++
	return s.Stream.Next()
}

func (s *cutStream) Err() error {
	if s.err != nil {
		return s.err
	}
	return s.Stream.Err()
}

func TestABulkTaskWhoseSortedRecordsEndEarlyCommitsNothingAfter(t *testing.T) {
	b := newBench(t, 1)
	seedData(t, b, kafka.Murmur2Balancer{})
	for i, tt := range []struct {
		name   string
		fail   bool
		buffer int
	}{
		{"a read error inside C1's run, taken into memory", true, 0},
		{"a read error inside C1's run, streamed", true, 1},
		{"a stream cut short without an error", false, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// C1's six released records come first, then C3's one: the
			// stream ends after three.
			before := map[string]bool{} // those of earlier cases
			for _, key := range b.keys(t, "") {
				before[key] = true
			}
			r := b.runnerWith(t, func(c *pipeline.Config) { c.CommitBuffer = tt.buffer })
			pipeline.WrapSortedStream(r, func(s bycustomer.Stream) bycustomer.Stream {
				return &cutStream{Stream: s, n: 3, fail: tt.fail}
			})
			req := bulk(fmt.Sprintf("bulk-cut-%d", i))
			snap, tasks, err := r.PlanBulk(t.Context(), req)
			if err != nil || len(tasks) != 1 {
				t.Fatalf("plan: %v, %v", tasks, err)
			}
			results, err := r.RunTask(t.Context(), req, snap, tasks[0], nil)
			if err == nil {
				t.Error("the task succeeded")
			}
			for _, res := range results {
				t.Errorf("%s released as %s with %d records", res.CustomerID, res.Status, res.Stats.Released)
			}
			for _, key := range b.keys(t, "") {
				if strings.HasSuffix(key, "/"+release.ManifestFile) && !before[key] {
					t.Errorf("committed %s", key)
				}
			}
		})
	}
}

// Trust issue, finding 5: a bulk manifest counted only the customer's
// own valid records as scanned and always said quarantined 0; a single
// release counts every record it read (other customers' as excluded
// other_customer) and the customer's invalid ones as quarantined. The
// same customer, period and partition now give the same counts both ways.
func TestBulkAndSingleReleasesCountAlike(t *testing.T) {
	b := newBench(t, 1)
	seedData(t, b, kafka.Murmur2Balancer{}) // C1 has two invalid records
	r := b.runner(t, "murmur2", nil)
	req := request("C1", "ndjson", "midata-csv")
	single, err := r.Release(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	_, results := runBulk(t, r, bulk("bulk-counts"))
	var inBulk *pipeline.Result
	for _, res := range results {
		if res.CustomerID == "C1" {
			inBulk = res
		}
	}
	if inBulk == nil {
		t.Fatal("no bulk release of C1")
	}
	if single.Stats.Quarantined != 2 {
		t.Fatalf("single release of C1: quarantined %d, want the 2 invalid records", single.Stats.Quarantined)
	}
	if !reflect.DeepEqual(single.Stats, inBulk.Stats) {
		t.Errorf("counts differ:\nsingle %+v\nbulk   %+v", single.Stats, inBulk.Stats)
	}
	s := inBulk.Stats
	var excluded int64
	for _, n := range s.Excluded {
		excluded += n
	}
	if s.Scanned != s.Released+excluded+s.Quarantined {
		t.Errorf("bulk counts %+v: scanned is not released + excluded + quarantined", s)
	}
}
