package bycustomer_test

import (
	"errors"
	"slices"
	"testing"

	"go.uber.org/goleak"

	"github.com/midata/midata/pipeline/bycustomer"
	"github.com/midata/midata/schemas"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// stream is a Stream over a slice.
type stream struct {
	recs []schemas.Transaction
	i    int
}

func (s *stream) Next() bool                        { s.i++; return s.i <= len(s.recs) }
func (s *stream) Transaction() *schemas.Transaction { return &s.recs[s.i-1] }
func (s *stream) Err() error                        { return nil }

func records(customers ...string) *stream {
	s := &stream{}
	for i, c := range customers {
		s.recs = append(s.recs, schemas.Transaction{CustomerID: c, TransactionID: c + "-" + string(rune('a'+i))})
	}
	return s
}

func ids(r *bycustomer.Run) []string {
	var out []string
	for r.Next() {
		out = append(out, r.Transaction().TransactionID)
	}
	return out
}

func TestTakeGivesEachCustomersRunWhetherItFitsTheLimitOrNot(t *testing.T) {
	for _, tt := range []struct {
		name  string
		limit int
		whole map[string]bool
	}{
		{"every run fits", 3, map[string]bool{"A": true, "B": true, "C": true}},
		{"a run longer than the limit streams the rest", 2, map[string]bool{"A": true, "B": false, "C": true}},
		{"a limit of one", 1, map[string]bool{"A": true, "B": false, "C": true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := records("A", "B", "B", "B", "C")
			splitters := map[int]*bycustomer.Splitter{0: bycustomer.NewSplitter(in)}
			var got []string
			// "X" has no records: its run is empty, and whole.
			for _, c := range []string{"A", "B", "X", "C"} {
				runs, whole := bycustomer.Take(splitters, c, tt.limit)
				if want, ok := tt.whole[c]; whole != (want || !ok) {
					t.Errorf("%s: whole = %v", c, whole)
				}
				got = append(got, ids(runs[0])...)
				runs[0].Drain()
			}
			if want := []string{"A-a", "B-b", "B-c", "B-d", "C-e"}; !slices.Equal(got, want) {
				t.Errorf("runs gave %v, want %v", got, want)
			}
		})
	}
}

func TestDrainSkipsWhatARunDidNotRead(t *testing.T) {
	splitters := map[int]*bycustomer.Splitter{0: bycustomer.NewSplitter(records("A", "A", "A", "B"))}
	runs, whole := bycustomer.Take(splitters, "A", 1)
	if whole {
		t.Fatal("A's run of 3 fit a limit of 1")
	}
	runs[0].Drain()
	runs, _ = bycustomer.Take(splitters, "B", 1)
	if got := ids(runs[0]); !slices.Equal(got, []string{"B-d"}) {
		t.Errorf("B's run after draining A's = %v", got)
	}
}

// failing is a stream that fails after its first n records.
type failing struct {
	*stream
	n   int
	err error
}

func (s *failing) Next() bool {
	if s.i >= s.n {
		s.err = errors.New("spill read failed")
		return false
	}
	return s.stream.Next()
}

func (s *failing) Err() error { return s.err }

func TestAStreamThatFailsMidwayGivesNoWholeRunAndItsError(t *testing.T) {
	for _, limit := range []int{1, 2, 10} {
		in := &failing{stream: records("A", "B", "B", "B", "C"), n: 2} // fails inside B's run
		splitters := map[int]*bycustomer.Splitter{0: bycustomer.NewSplitter(in)}
		runs, whole := bycustomer.Take(splitters, "A", limit)
		if !whole || runs[0].Err() != nil {
			t.Fatalf("limit %d: A's run, read before the failure: whole %v, err %v", limit, whole, runs[0].Err())
		}
		runs[0].Drain()
		// B's run is cut short by the failure, and C's (and any after) are
		// not known: none is whole, each reports the error.
		for _, c := range []string{"B", "C", "X"} {
			runs, whole := bycustomer.Take(splitters, c, limit)
			if whole {
				t.Errorf("limit %d: %s's run after the failure is reported whole", limit, c)
			}
			runs[0].Drain()
			if runs[0].Err() == nil {
				t.Errorf("limit %d: %s's run after the failure has no error", limit, c)
			}
		}
		if splitters[0].Err() == nil {
			t.Errorf("limit %d: the splitter has no error", limit)
		}
	}
}
