package consent

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/schemas"
)

// TestTheViewDecidesAsTheTableDid feeds the same random events (grants,
// revocations, tombstones, keys moving partition, times outside Unix
// nanoseconds, consent ids growing and shrinking) to the view's store and
// to the Table it replaces, and wants the same answer and the same Hash
// for every key: release ids do not change.
func TestTheViewDecidesAsTheTableDid(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(8, 1))
	times := []time.Time{{}, now.Add(-40 * day), now.Add(-day), now, now.Add(day).Add(123456789),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), time.Date(1200, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Unix(0, -1<<63+5).UTC()} // inside the store's reserved range
	recipients := []schemas.Recipient{"self", "partner:pds-one", "partner:pds-two"}
	for round := range 20 {
		st, table := storeModel{newStore()}, NewTable()
		for i := range 3000 {
			ev := schemas.ConsentEvent{
				ConsentID:  fmt.Sprintf("K-%0*d", rng.IntN(12)+1, rng.IntN(1000)),
				CustomerID: fmt.Sprintf("C%d", rng.IntN(300)),
				Recipient:  recipients[rng.IntN(len(recipients))],
				Status:     schemas.ConsentGranted,
				Categories: schemas.Category(rng.IntN(8)),
				WindowFrom: times[rng.IntN(len(times))], WindowTo: times[rng.IntN(len(times))],
				ExpiresAt: times[rng.IntN(len(times))], EventTime: times[rng.IntN(len(times))],
				Partition: 0, Offset: int64(i),
			}
			if rng.IntN(4) == 0 {
				ev.Status = schemas.ConsentRevoked
			}
			if rng.IntN(200) == 0 {
				ev.Partition = 1
			}
			tomb := rng.IntN(8) == 0
			st.Apply(ev, tomb)
			table.Apply(ev, tomb)
		}
		if st.s.Len() != table.Len() {
			t.Fatalf("round %d: %d keys with a state, the table has %d", round, st.s.Len(), table.Len())
		}
		for c := range 300 {
			for _, r := range recipients {
				customer := fmt.Sprintf("C%d", c)
				for _, at := range times[1:5] {
					g1, err1 := st.Grant(customer, r, at)
					g2, err2 := table.Grant(customer, r, at)
					if fmt.Sprint(err1) != fmt.Sprint(err2) {
						t.Fatalf("round %d: %s→%s at %s: view says %v, table %v", round, customer, r, at, err1, err2)
					}
					if err1 == nil && (g1.Hash() != g2.Hash() || g1.Event.Offset != g2.Event.Offset || g1.Event.Partition != g2.Event.Partition) {
						t.Fatalf("round %d: %s→%s: view grants %+v, table %+v", round, customer, r, g1.Event, g2.Event)
					}
				}
			}
		}
		for _, r := range recipients {
			v, tb := st.Granted(r, now), table.Granted(r, now)
			if len(v) != len(tb) {
				t.Fatalf("round %d: Granted(%s): view %d customers, table %d", round, r, len(v), len(tb))
			}
			for c, g := range tb {
				if v[c].Hash() != g.Hash() {
					t.Fatalf("round %d: Granted(%s)[%s] differs", round, r, c)
				}
			}
			// GrantedWhere keeps what its filter keeps, and only that.
			odd := func(c string) bool { return len(c)%2 == 1 }
			w := st.s.granted(r, now, odd)
			for c, g := range tb {
				if got, ok := w[c]; ok != odd(c) || ok && got.Hash() != g.Hash() {
					t.Fatalf("round %d: GrantedWhere(%s)[%s] = %v, %v; want kept %v", round, r, c, got.Event, ok, odd(c))
				}
			}
			if n := len(w); n > len(tb) {
				t.Fatalf("round %d: GrantedWhere(%s): %d customers, more than Granted's %d", round, r, n, len(tb))
			}
		}
	}
}

func TestATombstoneWithAnInvalidKeyGoesToQuarantine(t *testing.T) {
	t.Parallel()
	s := newStore()
	var got []string
	s.invalid = func(m topics.Message, err error) { got = append(got, string(m.Key)) }
	s.Delete(topics.Message{Key: []byte("no bar")})
	s.Delete(topics.Message{Key: []byte("C 1|self")})
	s.Delete(topics.Message{Key: []byte("C1|self")})
	if len(got) != 2 || got[0] != "no bar" || got[1] != "C 1|self" {
		t.Fatalf("quarantined %q, want the two invalid keys", got)
	}
}
