package jobs_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/midata/midata/pipeline/jobs"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/schemas"
)

// openViewIn opens a ready view of the runs topic that keeps its outcomes
// in dir, closed at cleanup.
func (b bench) openViewIn(t *testing.T, dir string) *jobs.View {
	t.Helper()
	v, err := jobs.OpenView(t.Context(), jobs.ViewConfig{Kafka: b.kafka(), Topic: b.topics.Runs, MaxWait: 250 * time.Millisecond, Dir: dir})
	if err != nil {
		t.Fatalf("OpenView: %v", err)
	}
	t.Cleanup(func() { v.Close() })
	eventually(t, "view ready", v.Ready)
	return v
}

// publishOutcomes writes one committed outcome of run runID per customer.
func publishOutcomes(t *testing.T, l *jobs.Ledger, runID string, customers ...string) {
	t.Helper()
	rels := make([]jobs.Release, len(customers))
	for i, c := range customers {
		rels[i] = jobs.Release{RunID: runID, ReleaseID: "rel-" + runID + "-" + c, CustomerID: c, Status: "committed", Rows: 1}
	}
	if err := l.PublishReleases(t.Context(), rels); err != nil {
		t.Fatal(err)
	}
}

// dropOutcome writes a tombstone for customer's outcome in run runID.
func dropOutcome(t *testing.T, b bench, runID, customer string) {
	t.Helper()
	p := topics.NewProducer(b.kafka(), nil)
	defer p.Close()
	if err := p.Publish(t.Context(), b.topics.Runs, []byte(jobs.ReleaseKey(runID, customer)), nil); err != nil {
		t.Fatal(err)
	}
}

// customersOf returns the customers of run runID's outcomes on v, page by
// page of limit.
func customersOf(t *testing.T, v *jobs.View, runID string, limit int) []string {
	t.Helper()
	var out []string
	after := ""
	for range 100_000 {
		page, next := v.Releases(runID, after, limit)
		for _, r := range page {
			if r.RunID != runID {
				t.Fatalf("page of run %s holds an outcome of run %s", runID, r.RunID)
			}
			out = append(out, r.CustomerID)
		}
		if next == "" {
			return out
		}
		after = next
	}
	t.Fatal("paging does not end")
	return nil
}

// runIDs returns the ids of runs.
func runIDs(runs []jobs.Run) []string {
	var ids []string
	for _, r := range runs {
		ids = append(ids, r.ID)
	}
	return ids
}

// publishRun writes a finished run record naming no customer in its scope:
// only its outcomes tie it to customers.
func publishRun(t *testing.T, l *jobs.Ledger, id string) {
	t.Helper()
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	if _, err := l.Publish(t.Context(), jobs.Run{ID: id, Status: jobs.StatusSucceeded, CreatedAt: at,
		Request: jobs.Request{ID: id, Kind: jobs.KindBulk, Recipient: "self", Scope: schemas.Scope{All: true}, CreatedAt: at}}); err != nil {
		t.Fatal(err)
	}
}

func TestARestartedViewRebuildsItsOutcomesFromTheTopic(t *testing.T) {
	b := newBench(t)
	inst := b.newInstance(t)
	dir := filepath.Join(t.TempDir(), "runs-view")
	publishOutcomes(t, inst.ledger, "r", "C1", "C2", "C3")
	first := b.openViewIn(t, dir)
	if got := customersOf(t, first, "r", 10); !slices.Equal(got, []string{"C1", "C2", "C3"}) {
		t.Fatalf("first view: outcomes of %v", got)
	}
	// A second view cannot share the folder.
	if _, err := jobs.OpenView(t.Context(), jobs.ViewConfig{Kafka: b.kafka(), Topic: b.topics.Runs, Dir: dir}); err == nil || !strings.Contains(err.Error(), "another process") {
		t.Errorf("a second view in the same folder: %v, want refused", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	left, _ := os.ReadDir(dir)
	if len(left) > 1 || len(left) == 1 && left[0].Name() != "LOCK" {
		t.Errorf("the folder holds %v after Close, want at most the lock", left)
	}

	// Meanwhile C2's outcome is dropped and C4's written; and the folder
	// holds a store that is not the topic's (a crash's, another
	// version's): the next view empties it and reads the topic.
	dropOutcome(t, b, "r", "C2")
	publishOutcomes(t, inst.ledger, "r", "C4")
	for name, content := range map[string]string{"CURRENT": "MANIFEST-000404\n", "000404.sst": "not a table"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	again := b.openViewIn(t, dir)
	if err := again.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := customersOf(t, again, "r", 10); !slices.Equal(got, []string{"C1", "C3", "C4"}) {
		t.Errorf("restarted view: outcomes of %v, want C1 C3 C4", got)
	}
	if _, ok := again.Release("r", "C2"); ok {
		t.Error("the restarted view finds C2's dropped outcome")
	}
}

func TestAViewKeepsItsOutcomesInAFolderOfItsOwnRemovedAtClose(t *testing.T) {
	b := newBench(t)
	temp := t.TempDir()
	v, err := jobs.OpenView(t.Context(), jobs.ViewConfig{Kafka: b.kafka(), Topic: b.topics.Runs, TempDir: temp})
	if err != nil {
		t.Fatal(err)
	}
	if made, _ := os.ReadDir(temp); len(made) != 1 {
		t.Errorf("the temporary folder holds %v while the view is open, want the view's folder", made)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(temp); len(left) != 0 {
		t.Errorf("the temporary folder holds %v after Close, want nothing", left)
	}
	if _, ok := v.Release("r", "C1"); ok {
		t.Error("a closed view finds an outcome")
	}
}

func TestATombstoneDeletesAnOutcome(t *testing.T) {
	b := newBench(t)
	inst := b.newInstance(t)
	publishRun(t, inst.ledger, "t")
	publishOutcomes(t, inst.ledger, "t", "C1", "C2", "C3")
	v := b.openView(t)
	if got := runIDs(v.List(jobs.RunFilter{Customer: "C2"})); !slices.Equal(got, []string{"t"}) {
		t.Fatalf("runs of C2 before the tombstone: %v", got)
	}
	dropOutcome(t, b, "t", "C2")
	if err := v.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if r, ok := v.Release("t", "C2"); ok {
		t.Errorf("Release(t, C2) = %+v after its tombstone", r)
	}
	if got := customersOf(t, v, "t", 1); !slices.Equal(got, []string{"C1", "C3"}) {
		t.Errorf("outcomes of %v after the tombstone, want C1 C3", got)
	}
	if got := runIDs(v.List(jobs.RunFilter{Customer: "C2"})); len(got) != 0 {
		t.Errorf("runs of C2 after the tombstone: %v, want none", got)
	}
	if got := runIDs(v.List(jobs.RunFilter{Customer: "C3"})); !slices.Equal(got, []string{"t"}) {
		t.Errorf("runs of C3: %v, want t", got)
	}
}

func TestReleasesPageByCustomerInOrderAcrossTheStore(t *testing.T) {
	b := newBench(t)
	inst := b.newInstance(t)
	// Customer ids that are prefixes of one another (C1, C10, C100), in
	// two runs whose ids are too, written out of order: half before the
	// store writes a table to disk, half after, with rewrites of
	// outcomes already on disk.
	const n = 3000
	var customers []string
	for i := range n {
		customers = append(customers, fmt.Sprintf("C%d", i))
	}
	shuffled := slices.Clone(customers)
	rand.New(rand.NewPCG(1, 2)).Shuffle(n, func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	runs := []string{"m", "m1"}
	write := func(part []string) {
		for i := 0; i < len(part); i += 500 {
			for _, r := range runs {
				publishOutcomes(t, inst.ledger, r, part[i:min(i+500, len(part))]...)
			}
		}
	}
	v := inst.view
	write(shuffled[:n/2])
	if err := v.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if tables, err := jobs.FlushOutcomes(v); err != nil || tables == 0 {
		t.Fatalf("flush: %d tables on disk, %v", tables, err)
	}
	write(shuffled[n/2:])
	write(shuffled[:100]) // again: the same outcomes, once more
	if err := v.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(customers)
	slices.Sort(want)
	for _, r := range runs {
		for _, limit := range []int{1, 7, 1000, n} {
			if got := customersOf(t, v, r, limit); !slices.Equal(got, want) {
				t.Errorf("run %s by pages of %d: %d outcomes (first %v), want %d in order (first %v)", r, limit, len(got), got[:min(5, len(got))], len(want), want[:5])
			}
		}
	}
	// A page starts after the customer given, whether it has an outcome
	// or not.
	if page, next := v.Releases("m", "C1", 2); len(page) != 2 || page[0].CustomerID != "C10" || page[1].CustomerID != "C100" || next != "C100" {
		t.Errorf("Releases(m, after C1, 2) = %v, next %q; want C10 C100, next C100", page, next)
	}
	if page, _ := v.Releases("m", "C0a", 1); len(page) != 1 || page[0].CustomerID != "C1" {
		t.Errorf("Releases(m, after C0a, 1) = %v, want C1", page)
	}
	if page, next := v.Releases("m", "C999", 5); len(page) != 0 || next != "" {
		t.Errorf("Releases(m, after the last, 5) = %v, %q; want nothing", page, next)
	}
	if page, _ := v.Releases("m0", "", 5); len(page) != 0 {
		t.Errorf("Releases of a run without outcomes = %v", page)
	}
}

func TestSyncShowsOutcomesJustWrittenByAnotherInstance(t *testing.T) {
	b := newBench(t)
	writer := b.newInstance(t)
	reader := b.openView(t)
	publishRun(t, writer.ledger, "w")
	for i := range 5 {
		c := fmt.Sprintf("C%d", i)
		publishOutcomes(t, writer.ledger, "w", c)
		// No waiting after Sync: what was written before it is there.
		if err := reader.Sync(t.Context()); err != nil {
			t.Fatal(err)
		}
		if r, ok := reader.Release("w", c); !ok || r.ReleaseID != "rel-w-"+c {
			t.Fatalf("after Sync: Release(w, %s) = %+v, %v", c, r, ok)
		}
		if got := customersOf(t, reader, "w", 2); len(got) != i+1 || got[i] != c {
			t.Fatalf("after Sync: outcomes of %v, want %d ending with %s", got, i+1, c)
		}
		if got := runIDs(reader.List(jobs.RunFilter{Customer: c})); !slices.Equal(got, []string{"w"}) {
			t.Fatalf("after Sync: runs of %s = %v, want w", c, got)
		}
	}
}
