package recurring

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBottomKKeepsTheSmallestKeysInAnyOrder(t *testing.T) {
	t.Parallel()
	keys := make([]uint64, 500)
	for i := range keys {
		keys[i] = uint64(i*7919%1000) + 1
	}
	want := slices.Sorted(slices.Values(keys))[:50]
	rng := rand.New(rand.NewPCG(1, 2))
	for range 5 {
		rng.Shuffle(len(keys), func(a, b int) { keys[a], keys[b] = keys[b], keys[a] })
		b := BottomK[int]{K: 50}
		for _, k := range keys {
			for range 2 { // every key twice: a kept key sees all its records
				if v := b.Get(k); v != nil {
					*v++
				}
			}
		}
		var got []uint64
		for k, v := range b.M {
			got = append(got, k)
			if *v != 2 {
				t.Errorf("key %d saw %d of its 2 records", k, *v)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, want) || !b.Cut {
			t.Fatalf("kept %v (cut %v), want the 50 smallest %v", got, b.Cut, want)
		}
	}
}

func TestPaymentsKeepTheLatestInAnyOrder(t *testing.T) {
	t.Parallel()
	var all []Payment
	for i := range 100 {
		all = append(all, Payment{Day: int32(i / 2), Units: int64(i % 3)})
	}
	want := slices.Clone(all)
	slices.SortFunc(want, func(a, b Payment) int {
		if a.before(b) {
			return -1
		}
		if b.before(a) {
			return 1
		}
		return 0
	})
	want = want[len(want)-MaxKept:]
	rng := rand.New(rand.NewPCG(3, 4))
	for range 5 {
		rng.Shuffle(len(all), func(a, b int) { all[a], all[b] = all[b], all[a] })
		var p Payments
		for _, x := range all {
			p.Add(x)
		}
		if !slices.Equal(p.Kept(), want) {
			t.Fatalf("kept %v, want %v", p.Kept(), want)
		}
	}
}

func TestDaysAndNextDates(t *testing.T) {
	t.Parallel()
	for _, d := range []time.Time{time.Date(1900, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(1969, 12, 31, 23, 0, 0, 0, time.UTC),
		time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 2, 28, 12, 0, 0, 0, time.UTC)} {
		if got := Date(Day(d)); got.Year() != d.Year() || got.YearDay() != d.YearDay() {
			t.Errorf("Date(Day(%v)) = %v", d, got)
		}
	}
	day := func(s string) int32 { tm, _ := time.Parse("2006-01-02", s); return Day(tm) }
	for _, c := range []struct {
		last    string
		cadence int
		want    string
	}{
		{"2026-01-31", 2, "2026-02-28"}, {"2024-01-31", 2, "2024-02-29"}, {"2026-11-15", 3, "2027-02-15"},
		{"2024-02-29", 4, "2025-02-28"}, {"2026-12-29", 0, "2027-01-05"}, {"1950-06-10", 2, "1950-07-10"},
	} {
		if got := Date(nextDue(day(c.last), &cadences[c.cadence])).Format("2006-01-02"); got != c.want {
			t.Errorf("next %s after %s = %s, want %s", cadences[c.cadence].Key, c.last, got, c.want)
		}
	}
}
