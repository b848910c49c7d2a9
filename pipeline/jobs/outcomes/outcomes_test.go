package outcomes_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/midata/midata/pipeline/jobs/outcomes"
)

// Every Store is closed by its test, and with it Pebble's goroutines.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// open opens a Store in a folder of the test, closed at cleanup.
func open(t *testing.T, dir string) *outcomes.Store {
	t.Helper()
	s, err := outcomes.Open(outcomes.Config{Dir: dir})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// put stores the outcome "<run>/<customer>" of each customer in run.
func put(s *outcomes.Store, run string, customers ...string) {
	for _, c := range customers {
		s.Put([]byte(run), []byte(c), []byte(run+"/"+c))
	}
}

// page returns the values of run's page after after.
func page(s *outcomes.Store, run, after string, limit int) ([]string, bool) {
	values, more := s.Page(run, after, limit)
	var out []string
	for _, v := range values {
		out = append(out, string(v))
	}
	return out, more
}

func TestAPageListsOneRunsOutcomesInCustomerOrderAfterTheCustomerGiven(t *testing.T) {
	s := open(t, t.TempDir())
	// Ids that are prefixes of one another, runs and customers alike.
	put(s, "m", "C10", "C1", "C2", "C100")
	put(s, "m1", "C1", "C3")
	put(s, "", "C9") // no run id: its own prefix "|" still
	if _, err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	put(s, "m", "C0", "C11")
	put(s, "m", "C1") // again: once in the page
	tests := []struct {
		name, run, after string
		limit            int
		want             []string
		more             bool
	}{
		{"the first page", "m", "", 3, []string{"m/C0", "m/C1", "m/C10"}, true},
		{"after a customer with an outcome", "m", "C1", 2, []string{"m/C10", "m/C100"}, true},
		{"after a customer without one", "m", "C05", 10, []string{"m/C1", "m/C10", "m/C100", "m/C11", "m/C2"}, false},
		{"the last page, exactly full", "m", "C100", 2, []string{"m/C11", "m/C2"}, false},
		{"after the last customer", "m", "C2", 5, nil, false},
		{"a run whose id another's starts with", "m1", "", 5, []string{"m1/C1", "m1/C3"}, false},
		{"a run without outcomes", "m0", "", 5, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, more := page(s, tt.run, tt.after, tt.limit)
			if !slices.Equal(got, tt.want) || more != tt.more {
				t.Errorf("Page(%q, %q, %d) = %v, more %v; want %v, more %v", tt.run, tt.after, tt.limit, got, more, tt.want, tt.more)
			}
		})
	}
}

func TestDeleteForgetsAnOutcomeAndItsCustomersRun(t *testing.T) {
	s := open(t, t.TempDir())
	put(s, "a", "C1", "C2")
	put(s, "b", "C1")
	if _, err := s.Flush(); err != nil { // the outcomes are on disk, the deletes in memory
		t.Fatal(err)
	}
	if !s.Delete([]byte("a"), []byte("C1")) {
		t.Error("Delete of an outcome reports none")
	}
	if s.Delete([]byte("a"), []byte("C1")) || s.Delete([]byte("c"), []byte("C1")) {
		t.Error("Delete of no outcome reports one")
	}
	if v, ok := s.Get("a", "C1"); ok {
		t.Errorf("Get after Delete = %q", v)
	}
	if v, ok := s.Get("a", "C2"); !ok || string(v) != "a/C2" {
		t.Errorf("Get(a, C2) = %q, %v", v, ok)
	}
	if got := s.RunsOf("C1"); len(got) != 1 || !got["b"] {
		t.Errorf("RunsOf(C1) = %v, want b alone", got)
	}
	if got := s.RunsOf("C2"); len(got) != 1 || !got["a"] {
		t.Errorf("RunsOf(C2) = %v, want a alone", got)
	}
	if n := s.Len(); n != 2 {
		t.Errorf("Len = %d, want 2", n)
	}
	var each []string
	s.Each(func(run, customer, value []byte) bool {
		each = append(each, fmt.Sprintf("%s %s %s", run, customer, value))
		return true
	})
	if want := []string{"a C2 a/C2", "b C1 b/C1"}; !slices.Equal(each, want) {
		t.Errorf("Each: %v, want %v", each, want)
	}
}

func TestOpenEmptiesItsFolderAndLocksIt(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "view")
	first := open(t, dir)
	put(first, "a", "C1")
	if _, err := first.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := outcomes.Open(outcomes.Config{Dir: dir}); err == nil || !strings.Contains(err.Error(), "another process") {
		t.Errorf("a second Open of the folder: %v, want refused", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := first.Get("a", "C1"); ok {
		t.Error("a closed Store finds an outcome")
	}
	left, _ := os.ReadDir(dir)
	if len(left) > 1 || len(left) == 1 && left[0].Name() != "LOCK" {
		t.Errorf("the folder holds %v after Close, want at most the lock", left)
	}
	// What another store left there (a crash's, another version's) is
	// removed, not read.
	for name, content := range map[string]string{"CURRENT": "MANIFEST-000404\n", "000404.sst": "not a table", "sub/x": "x"} {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o700)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	again := open(t, dir)
	if n := again.Len(); n != 0 {
		t.Errorf("a reopened Store holds %d outcomes, want none", n)
	}
	if _, err := os.Stat(filepath.Join(dir, "000404.sst")); !os.IsNotExist(err) {
		t.Errorf("a file left in the folder is still there: %v", err)
	}
}

func TestTheDefaultFolderIsMadeInTheTempDirAndRemovedAtClose(t *testing.T) {
	temp := t.TempDir()
	s, err := outcomes.Open(outcomes.Config{TempDir: temp})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.Dir(), temp) {
		t.Errorf("folder %s, want one in %s", s.Dir(), temp)
	}
	put(s, "a", "C1")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(temp); len(left) != 0 {
		t.Errorf("the temp dir holds %v after Close, want nothing", left)
	}
}
