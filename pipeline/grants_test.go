package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/midata/midata/pipeline"
	"github.com/midata/midata/pipeline/consent"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/schemas"
	"github.com/midata/midata/schemas/release"
)

// The customer's own grants (trust issue, "What to build"): read per
// recipient, changed and revoked by the customer, in force at once, and
// every change on the consent topic as the customer's act.
func TestACustomersOwnGrantsAreInForceAtOnceAndOnTheTopic(t *testing.T) {
	b := newBench(t, 2)
	seedData(t, b, kafka.Murmur2Balancer{})
	prod := topics.NewProducer(topics.Connection{Brokers: b.brokers}, nil)
	defer prod.Close()
	prod.UsePartitionerFor(b.consent, &kafka.Hash{}) // as seedData wrote the topic (serve: kafka.consent_partitioner)
	grants := b.grants(t, prod)
	rec := &consent.Recorder{Publisher: prod, Topic: b.consent, Grants: grants}
	ctx := t.Context()

	list, err := rec.CustomerGrants(ctx, "C1")
	if err != nil || len(list) != 1 || list[0].ConsentID != "K-1" || list[0].Recipient != schemas.RecipientSelf {
		t.Fatalf("C1's grants = %+v, %v; want the seeded K-1 for self", list, err)
	}
	r := b.runner(t, "murmur2", nil)
	res, err := r.Release(ctx, request("C1"))
	if err != nil || res.Status != release.StatusCommitted {
		t.Fatalf("release before the revocation: %+v, %v", res, err)
	}

	// A grant to a partner, of one category, for a window, to an expiry.
	pds := schemas.PartnerRecipient("pds-1")
	winFrom, winTo := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	ev, err := rec.SetGrant(ctx, consent.Change{CustomerID: "C1", Recipient: pds, Categories: schemas.Transactions,
		WindowFrom: winFrom, WindowTo: winTo, ExpiresAt: time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	// In force at once: no Sync by the caller.
	if g, err := grants.Grant("C1", pds, time.Now()); err != nil || g.Event.ConsentID != ev.ConsentID || g.Categories() != schemas.Transactions {
		t.Fatalf("C1's partner grant right after SetGrant: %+v, %v", g.Event, err)
	}
	if list, _ := rec.CustomerGrants(ctx, "C1"); len(list) != 2 {
		t.Errorf("C1's grants after a partner grant: %+v, want self and pds-1", list)
	}

	// A revocation of self stops the next release and the links of the last.
	if _, err := rec.SetGrant(ctx, consent.Change{CustomerID: "C1", Recipient: schemas.RecipientSelf, Revoke: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.LinksFor(ctx, res.ReleaseID, pipeline.Owner{CustomerID: "C1", Recipient: schemas.RecipientSelf}); !errors.Is(err, consent.ErrNoConsent) {
		t.Errorf("links after the revocation: %v, want ErrNoConsent", err)
	}
	if res, err := r.Release(ctx, request("C1", "ndjson")); err != nil || res.Status != release.StatusNoConsent {
		t.Errorf("release after the revocation: %s, %v; want no_consent", res.Status, err)
	}
	if _, err := grants.Grant("C1", schemas.RecipientSelf, time.Now()); err == nil || strings.Contains(err.Error(), "two partitions") {
		t.Errorf("C1's self grant after the revocation: %v; want revoked (not a key split over partitions)", err)
	}
	for _, ev := range mustGrants(t, rec, "C1") {
		if ev.Recipient == schemas.RecipientSelf && ev.Status != schemas.ConsentRevoked {
			t.Errorf("C1's listed self grant after the revocation: %+v", ev)
		}
	}

	// The topic holds the changes as the customer's own, read by plain
	// Kafka readers (not the view): the latest event of each key.
	last := latestEvents(t, b)
	if v := last["C1|self"]; v["status"] != "revoked" || v["actor"] != "customer" {
		t.Errorf("C1|self on the topic = %v; want revoked, actor customer", v)
	}
	if v := last["C1|partner:pds-1"]; v["status"] != "granted" || v["actor"] != "customer" || v["categories"].([]any)[0] != "transactions" {
		t.Errorf("C1|partner:pds-1 on the topic = %v; want granted transactions, actor customer", v)
	}

	for name, ch := range map[string]consent.Change{
		"no category":        {CustomerID: "C1", Recipient: schemas.RecipientSelf},
		"a reversed window":  {CustomerID: "C1", Recipient: schemas.RecipientSelf, Categories: schemas.Transactions, WindowFrom: winTo, WindowTo: winFrom},
		"an expiry passed":   {CustomerID: "C1", Recipient: schemas.RecipientSelf, Categories: schemas.Transactions, ExpiresAt: time.Now().Add(-time.Hour)},
		"an unknown partner": {CustomerID: "C1", Recipient: "partner:BAD", Categories: schemas.Transactions},
	} {
		if _, err := rec.SetGrant(ctx, ch); !errors.Is(err, consent.ErrInvalidChange) {
			t.Errorf("%s: %v, want ErrInvalidChange", name, err)
		}
	}
}

// latestEvents reads every partition of the bench's consent topic to its
// end and returns the latest value of each key, decoded as plain JSON.
func latestEvents(t *testing.T, b *bench) map[string]map[string]any {
	t.Helper()
	ends, err := topics.Ends(t.Context(), topics.Connection{Brokers: b.brokers}, b.consent)
	if err != nil {
		t.Fatal(err)
	}
	last := map[string]map[string]any{}
	for p, end := range ends {
		if end == 0 {
			continue
		}
		rd := kafka.NewReader(kafka.ReaderConfig{Brokers: b.brokers, Topic: b.consent, Partition: p, MaxWait: 100 * time.Millisecond})
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		for {
			m, err := rd.ReadMessage(ctx)
			if err != nil {
				t.Fatalf("read partition %d of the consent topic: %v", p, err)
			}
			var v map[string]any
			if json.Unmarshal(m.Value, &v) == nil {
				last[string(m.Key)] = v
			}
			if m.Offset >= end-1 {
				break
			}
		}
		cancel()
		rd.Close()
	}
	return last
}

func mustGrants(t *testing.T, rec *consent.Recorder, customer string) []schemas.ConsentEvent {
	t.Helper()
	list, err := rec.CustomerGrants(t.Context(), customer)
	if err != nil {
		t.Fatal(err)
	}
	return list
}
