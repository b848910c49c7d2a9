package pipeline_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/midata/midata/pipeline"
	"github.com/midata/midata/pipeline/consent"
	"github.com/midata/midata/pipeline/kafkasource"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/schemas"
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

// Trust issue, finding 1: a customer's request recorded C|self with the
// request's period as the window and now + 24 h as expiry, replacing the
// standing grant: with a grant to 2099, a February request made the
// release of February to April commit February only, and a day later the
// customer dropped out of every scheduled self release. A request now
// never narrows, shortens or replaces a standing grant.
func TestACustomersRequestNeverNarrowsTheirStandingGrant(t *testing.T) {
	b := newBench(t, 1)
	seedData(t, b, kafka.Murmur2Balancer{}) // C1: K-1, self, transactions and merchant, no window, to 2099
	produce(t, b.brokers, b.consent, kafka.Murmur2Balancer{}, kafka.Message{Key: []byte("C4|self"), Value: []byte(
		`{"consent_id":"K-40","customer_id":"C4","recipient":"self","status":"granted","categories":["transactions"],"window_from":"2026-03-01T00:00:00Z","window_to":"2026-04-01T00:00:00Z","expires_at":"2099-01-01T00:00:00Z","event_time":"2026-01-15T12:00:00Z"}`)})
	prod := topics.NewProducer(topics.Connection{Brokers: b.brokers}, nil)
	defer prod.Close()
	grants := b.grants(t, prod)
	rec := &consent.Recorder{Publisher: prod, Topic: b.consent, Grants: grants}
	feb, mar := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	apr, may := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)

	// C1's standing grant covers both requests: nothing is written.
	for _, p := range [][2]time.Time{{feb, mar}, {apr, may}} {
		if id, err := rec.RecordRequest(t.Context(), "C1", p[0], p[1]); err != nil || id != "K-1" {
			t.Fatalf("request %s: consent %q, %v; want the standing K-1", p[0].Format("Jan"), id, err)
		}
	}
	r := b.runner(t, "murmur2", nil)
	res, err := r.Release(t.Context(), request("C1"))
	if err != nil || res.Status != release.StatusCommitted || res.Stats.Released != int64(len(released)) {
		t.Fatalf("February to April after two requests: %s %+v, %v; want all %d records", res.Status, res.Stats, err, len(released))
	}
	if err := grants.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(25 * time.Hour)
	if g, err := grants.Grant("C1", schemas.RecipientSelf, later); err != nil || g.Event.ConsentID != "K-1" || g.Categories() != schemas.Transactions|schemas.Merchant {
		t.Fatalf("C1's grant a day later: %+v, %v; want K-1 unchanged", g.Event, err)
	}

	// C4's grant holds March only: the request widens it, and keeps its
	// categories and expiry.
	id, err := rec.RecordRequest(t.Context(), "C4", feb, may)
	if err != nil || id == "K-40" {
		t.Fatalf("C4's request: %q, %v; want a new event", id, err)
	}
	if err := grants.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	g, err := grants.Grant("C4", schemas.RecipientSelf, later)
	if err != nil {
		t.Fatalf("C4's grant a day later: %v", err)
	}
	if ev := g.Event; ev.ConsentID != id || !ev.WindowFrom.Equal(feb) || !ev.WindowTo.Equal(may) ||
		!ev.ExpiresAt.Equal(time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)) || ev.Categories != schemas.Transactions {
		t.Errorf("C4's grant after the request: %+v; want window Feb-May, expiry 2099, transactions only", ev)
	}
}

// Trust issue, finding 8: links were fresh presigned URLs for anyone who
// named a release, with no check of its customer, its recipient or its
// consent. LinksFor gives them to the release's owner while the grant
// stands, and to nobody after a revocation.
func TestLinksAreTheOwnersAndEndWithTheirConsent(t *testing.T) {
	b := newBench(t, 1)
	seedData(t, b, kafka.Murmur2Balancer{})
	r := b.runner(t, "murmur2", nil)
	res, err := r.Release(t.Context(), request("C1"))
	if err != nil || res.Status != release.StatusCommitted {
		t.Fatalf("release: %+v, %v", res, err)
	}
	self := pipeline.Owner{CustomerID: "C1", Recipient: schemas.RecipientSelf}
	if links, err := r.LinksFor(t.Context(), res.ReleaseID, self); err != nil || len(links) != len(res.Files) {
		t.Fatalf("C1's links: %v, %v", links, err)
	}
	for _, o := range []pipeline.Owner{{CustomerID: "C2", Recipient: schemas.RecipientSelf}, {Recipient: "partner:px"}, {CustomerID: "C1", Recipient: "partner:px"}} {
		if _, err := r.LinksFor(t.Context(), res.ReleaseID, o); !errors.Is(err, sinks.ErrNotFound) {
			t.Errorf("links of C1's release for %+v: %v, want not found", o, err)
		}
	}
	produce(t, b.brokers, b.consent, &kafka.Hash{}, consentEvent("K-1r", "C1", "self", "revoked", "transactions"))
	if _, err := r.LinksFor(t.Context(), res.ReleaseID, self); !errors.Is(err, consent.ErrNoConsent) {
		t.Fatalf("links after C1 revoked: %v, want ErrNoConsent", err)
	}
}

// Trust issue, finding 4: a 2 MiB invalid transaction, lz4-compressed so
// the broker took it, could not be copied to quarantine (message too
// large); the failed batch went back into the shared producer and every
// later release failed. It is quarantined as a stub (source, size,
// sha256) with its reason, and releases go on.
func TestARecordTooLargeToCopyIsQuarantinedAsAStub(t *testing.T) {
	b := newBench(t, 1)
	seedData(t, b, kafka.Murmur2Balancer{}) // C1 has two small invalid records too
	huge := append([]byte(`{"transaction_id":"`), bytes.Repeat([]byte("x"), 2<<20)...)
	transport := &kafka.Transport{}
	defer transport.CloseIdleConnections()
	w := &kafka.Writer{Addr: kafka.TCP(b.brokers...), Topic: b.topic, Balancer: kafka.Murmur2Balancer{}, RequiredAcks: kafka.RequireAll,
		Compression: kafka.Lz4, BatchBytes: 8 << 20, BatchTimeout: time.Millisecond, Transport: transport}
	if err := w.WriteMessages(t.Context(), kafka.Message{Key: []byte("C1"), Value: huge, Time: from.Add(time.Hour)}); err != nil {
		t.Fatalf("the broker refused the compressed record: %v", err)
	}
	w.Close()

	r := b.runner(t, "murmur2", nil)
	res, err := r.Release(t.Context(), request("C1"))
	if err != nil || res.Status != release.StatusCommitted || res.Stats.Quarantined != 3 {
		t.Fatalf("release of C1: %+v, %v; want committed with 3 quarantined", res, err)
	}
	q := readAll(t, b.brokers, b.quarant, 3)
	var stub *kafka.Message
	for i := range q {
		if header(q[i], topics.HeaderStub) != "" {
			stub = &q[i]
		}
	}
	if stub == nil {
		t.Fatal("no stub in quarantine")
	}
	var s topics.QuarantineStub
	sum := sha256.Sum256(huge)
	if err := json.Unmarshal(stub.Value, &s); err != nil || s.Topic != b.topic || s.Bytes != len(huge) || s.SHA256 != hex.EncodeToString(sum[:]) || string(stub.Key) != "C1" {
		t.Errorf("stub %s (key %q): %v; want the source, size and sha256 of the record", stub.Value, stub.Key, err)
	}
	if header(*stub, topics.HeaderReason) == "" || header(*stub, topics.HeaderSource) == "" {
		t.Errorf("stub without its reason and source headers: %v", stub.Headers)
	}
	// Later releases are not held up by it.
	if res, err := r.Release(t.Context(), request("C3")); err != nil || res.Status != release.StatusCommitted {
		t.Fatalf("a later release: %+v, %v", res, err)
	}
}

func header(m kafka.Message, key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}
