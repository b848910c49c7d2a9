package serve_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/pipeline/consent"
	"github.com/midata/midata/pipeline/jobs"
	"github.com/midata/midata/pipeline/serve"
	"github.com/midata/midata/pipeline/topics"
)

// On shutdown the signal's context ends while the worker drains its
// in-flight runs, which still sync the views: the views must keep reading
// until they are closed.
func TestTheServicesViewsKeepReadingAfterTheirOpeningContextEnds(t *testing.T) {
	b := newBench(t, 1)
	runs := testbench.UniqueName(t, "runs")
	testbench.CreateTopic(t, b.brokers, runs, 1)
	conn := topics.Connection{Brokers: b.brokers}
	prod := topics.NewProducer(conn, nil)
	defer prod.Close()
	logger := slog.New(slog.DiscardHandler)

	ctx, cancel := context.WithCancel(t.Context())
	grants, err := serve.OpenConsent(ctx, consent.ViewConfig{Kafka: conn, Topic: b.consent, Quarantine: prod,
		QuarantineTopic: b.quarant, MaxWait: 250 * time.Millisecond}, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer grants.Close()
	view, err := serve.OpenRunView(ctx, jobs.ViewConfig{Kafka: conn, Topic: runs, MaxWait: 250 * time.Millisecond}, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer view.Close()
	cancel() // SIGTERM

	// Records written after it are still read.
	produce(t, b.brokers, b.consent, &kafka.Hash{}, consentEvent("K-9", "C9", "granted"))
	produce(t, b.brokers, runs, &kafka.Hash{}, kafka.Message{Key: []byte("not-a-run"), Value: []byte("{")})
	sctx, done := context.WithTimeout(t.Context(), 20*time.Second)
	defer done()
	if err := grants.Sync(sctx); err != nil {
		t.Errorf("consent view after its opening context ended: %v", err)
	} else if _, ok := grants.Granted("self", time.Now())["C9"]; !ok {
		t.Error("consent view after its opening context ended misses C9's grant")
	}
	if err := view.Sync(sctx); err != nil {
		t.Errorf("run view after its opening context ended: %v", err)
	}
}
