package pipeline_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/midata/midata/pipeline"
	"github.com/midata/midata/pipeline/seed"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/schemas/synth"
)

// TestBulkReleaseOfTwoThousandCustomersMatchesAnIndependentCount releases
// 200,000 transactions of 2,000 customers to a partner in one bulk request
// and checks every customer's rows and sum of amounts (per currency)
// against an independent reading of the data set with the consent rules.
func TestBulkReleaseOfTwoThousandCustomersMatchesAnIndependentCount(t *testing.T) {
	if testing.Short() {
		t.Skip("produces 200,000 transactions; skipped with -short")
	}
	b := newBench(t, 6)
	cfg := synth.DefaultConfig()
	cfg.Customers, cfg.Transactions = 2000, 200_000
	cfg.TransactionsTopic, cfg.ConsentTopic = b.topic, b.consent
	if _, err := seed.Produce(t.Context(), topics.Connection{Brokers: b.brokers}, cfg, nil); err != nil {
		t.Fatal(err)
	}
	const recipient = "partner:pds-one"
	from, to := cfg.Start, cfg.End

	// The oracle: latest consent per key, then the rules of the input contract.
	type grant struct {
		status            string
		cats              []string
		wfrom, wto, until time.Time
	}
	ts := func(v any) time.Time { s, _ := v.(string); t, _ := time.Parse(time.RFC3339, s); return t }
	grants := map[string]grant{}
	type tally struct {
		rows int64
		sums map[string]*big.Rat
	}
	var txs []map[string]any
	err := synth.Generate(cfg, func(m synth.Message) error {
		if m.Topic == cfg.ConsentTopic {
			if m.Value == nil {
				delete(grants, string(m.Key))
				return nil
			}
			var ev map[string]any
			json.Unmarshal(m.Value, &ev)
			var cats []string
			for _, c := range ev["categories"].([]any) {
				cats = append(cats, c.(string))
			}
			grants[string(m.Key)] = grant{status: ev["status"].(string), cats: cats, wfrom: ts(ev["window_from"]), wto: ts(ev["window_to"]), until: ts(ev["expires_at"])}
			return nil
		}
		if m.InvalidField == "" {
			var tx map[string]any
			json.Unmarshal(m.Value, &tx)
			txs = append(txs, tx)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	want := map[string]*tally{}
	for key, g := range grants {
		customer, ok := strings.CutSuffix(key, "|"+recipient)
		if !ok || g.status != "granted" || (!g.until.IsZero() && !now.Before(g.until)) || !slices.Contains(g.cats, "transactions") {
			continue
		}
		want[customer] = &tally{sums: map[string]*big.Rat{}}
	}
	for _, tx := range txs {
		c := tx["customer_id"].(string)
		w, ok := want[c]
		if !ok {
			continue
		}
		g := grants[c+"|"+recipient]
		booked := ts(tx["booked_at"])
		if tx["status"] == "pending" || booked.Before(from) || !booked.Before(to) ||
			(!g.wfrom.IsZero() && booked.Before(g.wfrom)) || (!g.wto.IsZero() && !booked.Before(g.wto)) {
			continue
		}
		w.rows++
		amount, _ := new(big.Rat).SetString(tx["amount"].(string))
		cur := tx["currency"].(string)
		if w.sums[cur] == nil {
			w.sums[cur] = new(big.Rat)
		}
		w.sums[cur].Add(w.sums[cur], amount)
	}
	if len(want) < 100 {
		t.Fatalf("the data set grants %s to only %d customers: too few to prove anything", recipient, len(want))
	}

	// The tasks of the bulk request, one after the other, as the workers
	// of `midata serve` would take them.
	r := b.runner(t, "murmur2", nil)
	bulk := pipeline.Bulk{ID: "bulk-large", Recipient: recipient, From: from, To: to, Formats: []string{"ndjson"}}
	snap, tasks, err := r.PlanBulk(t.Context(), bulk)
	if err != nil {
		t.Fatal(err)
	}
	var rels []*pipeline.Result
	for _, p := range tasks {
		results, err := r.RunTask(t.Context(), bulk, snap, p, nil)
		if err != nil {
			t.Fatalf("task %d: %v", p, err)
		}
		rels = append(rels, results...)
	}
	if len(rels) != len(want) {
		t.Fatalf("%d releases, want one for each of the %d customers with a grant", len(rels), len(want))
	}
	seen := map[string]bool{}
	for _, rel := range rels {
		w, ok := want[rel.CustomerID]
		if !ok || seen[rel.CustomerID] {
			t.Fatalf("release %s of %s: unexpected or twice", rel.ReleaseID, rel.CustomerID)
		}
		seen[rel.CustomerID] = true
		if rel.Stats.Released != w.rows {
			t.Errorf("%s: %d rows, want %d", rel.CustomerID, rel.Stats.Released, w.rows)
		}
		body := b.file(t, rel.ReleaseID, "transactions.ndjson")
		sums := map[string]*big.Rat{}
		sc := bufio.NewScanner(bytes.NewReader(body))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var rec struct{ Amount, Currency string }
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
				t.Fatal(err)
			}
			a, _ := new(big.Rat).SetString(rec.Amount)
			if sums[rec.Currency] == nil {
				sums[rec.Currency] = new(big.Rat)
			}
			sums[rec.Currency].Add(sums[rec.Currency], a)
		}
		if ratString(sums) != ratString(w.sums) {
			t.Errorf("%s: sums %s, want %s", rel.CustomerID, ratString(sums), ratString(w.sums))
		}
	}
}

// ratString renders sums by currency, sorted, exactly.
func ratString(sums map[string]*big.Rat) string {
	var parts []string
	for cur, v := range sums {
		parts = append(parts, fmt.Sprintf("%s=%s", cur, v.RatString()))
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}
