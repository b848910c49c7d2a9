package consent

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/schemas"
	"github.com/midata/midata/schemas/consentscan"
)

// TestBothDecodingPathsStoreTheSame feeds random consent records (of the
// usual shape, which the fast path reads, and of shapes it leaves to
// schemas: offsets, escapes, unknown fields; and invalid ones) through
// decodeState into one store and through schemas.DecodeConsentEvent into
// another, each from a buffer overwritten after every Put as the View's
// reused fetch buffers are, and wants the same state for every key.
func TestBothDecodingPathsStoreTheSame(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(8, 2))
	times := []string{"2026-01-15T12:00:00Z", "2026-01-15T12:00:00.5Z", "2027-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999Z",
		"0001-01-01T00:00:00Z", "2026-01-15T13:00:00+01:00", "2025-02-29T00:00:00Z", "1969-07-20T20:17:40Z"}
	recipients := []string{"self", "partner:pds-one", "partner:pds-two"}
	cats := []string{`null`, `[]`, `["transactions"]`, `["merchant","transactions"]`, `["transactions","balances","merchant"]`, `["other"]`}
	opt := func() string {
		if rng.IntN(3) == 0 {
			return "null"
		}
		return `"` + times[rng.IntN(len(times))] + `"`
	}
	fast, strict := newStore(), newStore()
	var buf []byte
	var scanned, slow, invalid int
	for i := range 5000 {
		customer, recipient := fmt.Sprintf("C%d", rng.IntN(400)), recipients[rng.IntN(len(recipients))]
		status := []string{"granted", "revoked", "Granted"}[rng.IntN(3)]
		id := fmt.Sprintf("K-%0*d", rng.IntN(20)+1, rng.IntN(1000))
		if rng.IntN(10) == 0 {
			id = `K-\u00e9` // an escape: the slow path
		}
		extra := ""
		if rng.IntN(10) == 0 {
			extra = `"note":{"x":[1,2]},`
		}
		buf = append(buf[:0], customer+"|"+recipient...)
		keyLen := len(buf)
		buf = fmt.Appendf(buf, `{%s"consent_id":"%s","customer_id":"%s","recipient":"%s","status":"%s","categories":%s,"window_from":%s,"window_to":%s,"expires_at":%s,"event_time":"%s"}`,
			extra, id, customer, recipient, status, cats[rng.IntN(len(cats))], opt(), opt(), opt(), times[rng.IntN(len(times))])
		m := topics.Message{Partition: 0, Offset: int64(i), Key: buf[:keyLen:keyLen], Value: buf[keyLen:]}
		if rng.IntN(300) == 0 {
			m.Partition = 1
		}

		var sc consentscan.Event
		if consentscan.Scan(m.Key, m.Value, &sc) {
			scanned++
		}
		st, err := decodeState(m)
		if err == nil {
			fast.Put(m, st)
		} else {
			fast.Delete(m)
		}
		ev, _, err := schemas.DecodeConsentEvent(m.Key, m.Value)
		if err == nil {
			slow++
			ev.Partition, ev.Offset = m.Partition, m.Offset
			strict.Put(m, state{Event: ev})
		} else {
			invalid++
			strict.Delete(m)
		}
		for j := range buf {
			buf[j] = 'x' // the View reuses its buffers: the store must have copied what it keeps
		}
	}
	if scanned == 0 || scanned == slow || invalid == 0 {
		t.Fatalf("%d records on the fast path, %d valid, %d invalid: want each kind", scanned, slow, invalid)
	}
	if fast.Len() != strict.Len() {
		t.Fatalf("%d keys with a state, want %d", fast.Len(), strict.Len())
	}
	for c := range 400 {
		for _, r := range recipients {
			key := fmt.Sprintf("C%d|%s", c, r)
			got, ok1 := fast.Get(key)
			want, ok2 := strict.Get(key)
			if ok1 != ok2 || !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: %+v, %v; want %+v, %v", key, got, ok1, want, ok2)
			}
		}
	}
}
