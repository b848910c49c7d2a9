package pipeline_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/segmentio/kafka-go"

	"github.com/midata/midata/pipeline"
	"github.com/midata/midata/pipeline/consent"
	"github.com/midata/midata/pipeline/kafkasource"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/schemas/release"
	"github.com/midata/midata/sinks"
)

// The Kafka types serve as the Runner's Source and Quarantiner.
var (
	_ pipeline.Source      = (*kafkasource.Source)(nil)
	_ pipeline.Quarantiner = (*topics.Producer)(nil)
	_ consent.Publisher    = (*topics.Producer)(nil)
)

func TestConsentRecorderGrantsTheRequestAndLinksSignTheRelease(t *testing.T) {
	b := newBench(t, 2)
	seedData(t, b, kafka.Murmur2Balancer{})
	r := b.runner(t, "murmur2", nil)
	prod := topics.NewProducer(topics.Connection{Brokers: b.brokers}, nil)
	defer prod.Close()
	// C9 never consented: the request itself is recorded as consent.
	rec := &consent.Recorder{Publisher: prod, Topic: b.consent}
	if res, err := r.Release(t.Context(), request("C9")); err != nil || res.Status != release.StatusNoConsent {
		t.Fatalf("before the request: %+v, %v; want no_consent", res, err)
	}
	id, err := rec.RecordRequest(t.Context(), "C9", from, to)
	if err != nil || !strings.HasPrefix(id, "K-self-C9-") {
		t.Fatalf("RecordRequest = %q, %v", id, err)
	}
	res, err := r.Release(t.Context(), request("C9"))
	if err != nil || res.Status != release.StatusEmpty {
		t.Fatalf("after the request: %+v, %v; want an (empty) release", res, err)
	}
	links, err := r.Links(t.Context(), res.ReleaseID)
	if err != nil || len(links) != len(res.Files) {
		t.Fatalf("Links = %v, %v", links, err)
	}
	if _, err := r.Links(t.Context(), "r-nope"); !errors.Is(err, sinks.ErrNotFound) {
		t.Fatalf("Links of no release = %v, want ErrNotFound", err)
	}
}
