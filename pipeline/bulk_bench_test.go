package pipeline_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/midata/midata/pipeline"
	"github.com/midata/midata/pipeline/seed"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/schemas/release"
	"github.com/midata/midata/schemas/synth"
)

// BenchmarkBulkTaskByCommitDepth makes the self releases of one bulk task
// of many small customers (1,000 customers, 20 records each, midata CSV and
// NDJSON: four objects per release) end to end against the bench, with the
// releases committed one at a time (depth 1) and through the pipeline
// (depth 16), in the same run. It reports rows/s and releases/s at each
// depth, their ratio, and the peak heap (live and not yet collected
// objects) and peak live heap (at each GC) at each depth, to show that the
// pipeline is faster and that its memory stays bounded.
//
//	go test ./pipeline -run '^$' -bench BulkTaskByCommitDepth -benchtime 1x
func BenchmarkBulkTaskByCommitDepth(b *testing.B) {
	const customers, perCustomer = 1000, 20
	bn := newBench(b, 1)
	cfg := synth.DefaultConfig()
	cfg.Customers, cfg.Transactions, cfg.Malformed = customers, customers*perCustomer, 0
	cfg.TransactionsTopic, cfg.ConsentTopic = bn.topic, bn.consent
	if _, err := seed.Produce(b.Context(), topics.Connection{Brokers: bn.brokers}, cfg, nil); err != nil {
		b.Fatal(err)
	}
	// One source, producer and consent view for every runner, so what one
	// depth leaves behind (connections, buffers) is not counted in the
	// other's heap.
	src := bn.source(b, "murmur2")
	prod := topics.NewProducer(topics.Connection{Brokers: bn.brokers}, nil)
	b.Cleanup(func() { prod.Close() })
	grants := bn.grants(b, prod)
	depths := []int{1, 16}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rates := map[int]float64{}
		for _, depth := range depths {
			r := bn.runnerWith(b, func(c *pipeline.Config) {
				c.Source, c.Producer, c.Grants, c.CommitDepth, c.SpillRecords = src, prod, grants, depth, 0
			})
			bulk := pipeline.Bulk{ID: fmt.Sprintf("bench-%d-%d", i, depth), Recipient: "self", From: cfg.Start, To: cfg.End, Formats: []string{"midata-csv", "ndjson"}}
			snap, tasks, err := r.PlanBulk(b.Context(), bulk)
			if err != nil || len(tasks) != 1 {
				b.Fatalf("plan: %v tasks, %v", tasks, err)
			}
			stop := sampleHeap()
			start := time.Now()
			results, err := r.RunTask(b.Context(), bulk, snap, tasks[0], nil)
			elapsed := time.Since(start).Seconds()
			peak, live := stop()
			if err != nil {
				b.Fatal(err)
			}
			var rows int64
			for _, res := range results {
				if res.Status != release.StatusCommitted && res.Status != release.StatusEmpty {
					b.Fatalf("%s: %s %s", res.CustomerID, res.Status, res.Reason)
				}
				rows += res.Stats.Released
			}
			if len(results) < customers*9/10 {
				b.Fatalf("%d releases of %d customers", len(results), customers)
			}
			rates[depth] = float64(rows) / elapsed
			b.ReportMetric(rates[depth], fmt.Sprintf("rows/s@%d", depth))
			b.ReportMetric(float64(len(results))/elapsed, fmt.Sprintf("releases/s@%d", depth))
			b.ReportMetric(float64(peak)/(1<<20), fmt.Sprintf("peak-heap-MiB@%d", depth))
			b.ReportMetric(float64(live)/(1<<20), fmt.Sprintf("peak-live-MiB@%d", depth))
		}
		b.ReportMetric(rates[16]/rates[1], "speedup-16÷1")
	}
}
