package pipeline_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/segmentio/kafka-go"

	"github.com/midata/midata/pipeline"
	"github.com/midata/midata/pipeline/kafkasource"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/schemas/release"
)

// TestReleasesReadEachConsentEventOnce runs releases in a row on two
// runners that share one consent view, with consent changes written by
// another producer in between: a revocation just before a release refuses
// it, one during staging cancels it, and the consent topic is read once
// in all (the runner used to read it from its start twice per release).
func TestReleasesReadEachConsentEventOnce(t *testing.T) {
	b := newBench(t, 2)
	seedData(t, b, kafka.Murmur2Balancer{}) // 4 consent events
	var others []kafka.Message
	for i := range 500 {
		others = append(others, consentEvent(fmt.Sprintf("K-o%d", i), fmt.Sprintf("O%d", i), "partner:pds-one", "granted", "transactions"))
	}
	produce(t, b.brokers, b.consent, &kafka.Hash{}, others...)
	written := int64(4 + len(others))

	src, err := kafkasource.New(kafkasource.Config{Kafka: topics.Connection{Brokers: b.brokers}, Topic: b.topic, Partitioner: "murmur2"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	prod := topics.NewProducer(topics.Connection{Brokers: b.brokers}, nil)
	t.Cleanup(func() { prod.Close() })
	view := b.grants(t, prod)
	revoking := &revokingSink{Sink: b.sink, revoke: func() error {
		produce(t, b.brokers, b.consent, &kafka.Hash{}, consentEvent("K-1r", "C1", "self", "revoked", "transactions"))
		return nil
	}}
	runner := func(sink *revokingSink) *pipeline.Runner {
		cfg := pipeline.Config{Source: src, Grants: view, Producer: prod, Sink: b.sink, QuarantineTopic: b.quarant, TempDir: t.TempDir()}
		if sink != nil {
			cfg.Sink = sink
		}
		r, err := pipeline.NewRunner(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	plain, staging := runner(nil), runner(revoking)

	for i := range 5 {
		res, err := plain.Release(t.Context(), request("C1"))
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]release.Status{true: release.StatusCommitted, false: release.StatusAlreadyCommitted}[i == 0]; res.Status != want {
			t.Fatalf("release %d: %s (%s), want %s", i, res.Status, res.Reason, want)
		}
	}
	produce(t, b.brokers, b.consent, &kafka.Hash{}, consentEvent("K-1q", "C1", "self", "revoked", "transactions"))
	if res, err := plain.Release(t.Context(), request("C1")); err != nil || res.Status != release.StatusNoConsent {
		t.Fatalf("release right after a revocation = %v, %v; want no_consent", res, err)
	}
	produce(t, b.brokers, b.consent, &kafka.Hash{}, consentEvent("K-1g", "C1", "self", "granted", "transactions,merchant,balances"))
	res, err := staging.Release(t.Context(), request("C1"))
	if err != nil || res.Status != release.StatusCancelled || !strings.Contains(res.Reason, "revoked") {
		t.Fatalf("release revoked while staged = %v, %v; want cancelled by the revocation", res, err)
	}
	if got := view.Records(); got != written+3 {
		t.Fatalf("the consent view read %d records for 7 releases, want each of the %d written once", got, written+3)
	}
}
