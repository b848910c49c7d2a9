package pipeline_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/schemas/release"
)

// malformedValue is record i of the drill: a transaction of customer C1
// that breaks one or more rules of the input contract, or random bytes,
// huge values, deep nesting. kind names what it breaks.
func malformedValue(rng *rand.Rand, i int) (value []byte, kind string) {
	booked := from.Add(time.Duration(i%2000) * time.Hour).Format(time.RFC3339)
	fields := map[string]string{
		"transaction_id": fmt.Sprintf("%q", fmt.Sprintf("M%d", i)), "customer_id": `"C1"`, "account_id": `"A-C1"`,
		"booked_at": fmt.Sprintf("%q", booked), "amount": `"-1.00"`, "currency": `"GBP"`, "type": `"POS"`, "description": `"SHOP"`,
	}
	breaks := map[string]func(){
		"amount not a decimal":   func() { fields["amount"] = `"12,34"` },
		"amount a number":        func() { fields["amount"] = `-1.5` },
		"amount huge":            func() { fields["amount"] = `"` + strings.Repeat("9", 40) + `"` },
		"amount exponent":        func() { fields["amount"] = `"1e5"` },
		"currency unknown":       func() { fields["currency"] = `"XXXX"` },
		"booked_at not RFC 3339": func() { fields["booked_at"] = `"03/02/2026"` },
		"booked_at missing":      func() { delete(fields, "booked_at") },
		"customer_id other":      func() { fields["customer_id"] = `"C2"` },
		"customer_id empty":      func() { fields["customer_id"] = `""` },
		"transaction_id missing": func() { delete(fields, "transaction_id") },
		"description huge":       func() { fields["description"] = `"` + strings.Repeat("x", 300<<10) + `"` },
		"description bad UTF-8":  func() { fields["description"] = "\"\xff\xfe\"" },
		"type wrong kind":        func() { fields["type"] = `{"a":1}` },
		"nested deep":            func() { fields["description"] = strings.Repeat("[", 5000) + strings.Repeat("]", 5000) },
	}
	names := make([]string, 0, len(breaks))
	for k := range breaks {
		names = append(names, k)
	}
	slices.Sort(names)
	switch r := rng.IntN(100); {
	case r < 8: // random bytes
		b := make([]byte, rng.IntN(200))
		for j := range b {
			b[j] = byte(rng.UintN(256))
		}
		return b, "random bytes"
	case r < 12: // a repeated name, or one that case-folds onto a field
		return []byte(`{"transaction_id":"D1","transaction_id":"D2","customer_id":"C1","account_id":"A","booked_at":"` + booked + `","amount":"-1.00","currency":"GBP","type":"POS","description":"x","Amount":"5"}`), "names repeated"
	case r < 16:
		return []byte("null"), "not an object"
	}
	// One rule broken alone (60 %), or two to four together.
	n := 1
	if rng.IntN(10) >= 6 {
		n = 2 + rng.IntN(3)
	}
	var kinds []string
	for range n {
		k := names[rng.IntN(len(names))]
		breaks[k]()
		kinds = append(kinds, k)
	}
	var b strings.Builder
	b.WriteString("{")
	first := true
	for _, k := range []string{"transaction_id", "customer_id", "account_id", "booked_at", "amount", "currency", "type", "description"} {
		if v, ok := fields[k]; ok {
			if !first {
				b.WriteString(",")
			}
			first = false
			fmt.Fprintf(&b, "%q:%s", k, v)
		}
	}
	b.WriteString("}")
	return []byte(b.String()), strings.Join(kinds, " + ")
}

// TestAFloodOfMalformedRecordsIsQuarantinedAndCountsReconcile runs a real
// release over 30,000 malformed records of one customer (1,000,000 with
// MIDATA_DRILLS_LONG=1, make drills) among its valid ones: it completes, releases
// exactly the valid ones, quarantines every malformed one with a reason,
// and scanned = released + excluded + quarantined.
func TestAFloodOfMalformedRecordsIsQuarantinedAndCountsReconcile(t *testing.T) {
	n := 30_000
	if os.Getenv("MIDATA_DRILLS_LONG") == "1" {
		n = 1_000_000
	}
	b := newBench(t, 1)
	seedData(t, b, kafka.Murmur2Balancer{})
	rng := rand.New(rand.NewPCG(12, 2026))
	w := &kafka.Writer{Addr: kafka.TCP(b.brokers...), Topic: b.topic, Balancer: kafka.Murmur2Balancer{}, BatchSize: 5000, BatchBytes: 64 << 20,
		Compression: kafka.Lz4, Transport: topics.Connection{Brokers: b.brokers}.Transport()}
	defer w.Close()
	kinds := map[string]int{}
	batch := make([]kafka.Message, 0, 5000)
	for i := range n {
		v, kind := malformedValue(rng, i)
		kinds[kind]++
		batch = append(batch, kafka.Message{Key: []byte("C1"), Value: v, Time: from.Add(time.Duration(i%2000) * time.Hour)})
		if len(batch) == cap(batch) || i == n-1 {
			if err := w.WriteMessages(t.Context(), batch...); err != nil {
				t.Fatalf("produce the malformed records: %v", err)
			}
			batch = batch[:0]
		}
	}
	t.Logf("%d malformed records, %d different breakages (alone and together)", n, len(kinds))

	start := time.Now()
	r := b.runner(t, "murmur2", nil)
	res, err := r.Release(t.Context(), request("C1"))
	if err != nil {
		t.Fatalf("the release over %d malformed records failed: %v", n, err)
	}
	c := res.Stats
	excluded := int64(0)
	for _, v := range c.Excluded {
		excluded += v
	}
	t.Logf("release in %s: scanned %d, released %d, excluded %v, quarantined %d", time.Since(start).Round(time.Millisecond), c.Scanned, c.Released, c.Excluded, c.Quarantined)
	if res.Status != release.StatusCommitted {
		t.Fatalf("status %s (%s), want committed: C1's valid records are still there", res.Status, res.Reason)
	}
	if c.Scanned != c.Released+excluded+c.Quarantined {
		t.Errorf("counts do not reconcile: scanned %d ≠ released %d + excluded %d + quarantined %d", c.Scanned, c.Released, excluded, c.Quarantined)
	}
	if c.Scanned < int64(n) {
		t.Errorf("scanned %d, fewer than the %d malformed records", c.Scanned, n)
	}
	// The seeded dataset's C1 records alone, released the same way, are
	// the oracle of what the flood must not change.
	clean := newBench(t, 1)
	seedData(t, clean, kafka.Murmur2Balancer{})
	want, err := clean.runner(t, "murmur2", nil).Release(t.Context(), request("C1"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Released != want.Stats.Released || res.Files[0].SHA256 != want.Files[0].SHA256 {
		t.Errorf("released %d (%s), want %d (%s) as without the flood", c.Released, res.Files[0].SHA256, want.Stats.Released, want.Files[0].SHA256)
	}
	if c.Quarantined != int64(n)+want.Stats.Quarantined {
		t.Errorf("quarantined %d, want every one of the %d malformed records and the dataset's own %d", c.Quarantined, n, want.Stats.Quarantined)
	}
	// Every malformed record is on the quarantine topic with its reason.
	msgs := readAll(t, b.brokers, b.quarant, int(c.Quarantined))
	for _, m := range msgs {
		reason := ""
		for _, h := range m.Headers {
			if h.Key == topics.HeaderReason {
				reason = string(h.Value)
			}
		}
		if reason == "" {
			t.Fatalf("a quarantined record without a reason: offset %d", m.Offset)
		}
	}
}
