package consent_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/pipeline/consent"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/schemas"
)

// quarantine keeps what it is given.
type quarantine struct {
	mu   sync.Mutex
	msgs []topics.Message
}

func (q *quarantine) Quarantine(_ context.Context, _ string, m topics.Message, _, _ string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.msgs = append(q.msgs, m)
	return nil
}

func (q *quarantine) Flush(context.Context) error { return nil }

func event(consentID, customer string) string {
	return fmt.Sprintf(`{"consent_id":%q,"customer_id":%q,"recipient":"self","status":"granted","categories":["transactions"],"window_from":"2025-01-01T00:00:00Z","window_to":"2027-01-01T00:00:00Z","expires_at":"2026-12-31T23:59:59Z","event_time":"2026-01-15T12:00:00Z"}`, consentID, customer)
}

// The view reads the consent topic into memory it reuses from one fetch
// to the next: a garbled event read early must still reach quarantine
// with the bytes it was written with after many more fetches.
func TestAGarbledEventIsQuarantinedWithTheBytesItWasWrittenWith(t *testing.T) {
	conn := topics.Connection{Brokers: testbench.Kafka(t)}
	topic := testbench.UniqueName(t, "consent")
	if err := topics.Ensure(t.Context(), conn, topics.ConsentSpec(topic)); err != nil {
		t.Fatal(err)
	}
	garbled := kafka.Message{Key: []byte("C0|self"), Value: []byte(`{"consent_id":"K-0","status":"maybe"}`),
		Headers: []kafka.Header{{Key: "origin", Value: []byte("test")}}}
	msgs := []kafka.Message{garbled}
	const customers = 12000 // about 4 MiB after it: several fetches of 1 MiB, on one partition
	for i := 1; i <= customers; i++ {
		msgs = append(msgs, kafka.Message{Key: fmt.Appendf(nil, "C%d|self", i), Value: []byte(event(fmt.Sprintf("K-%d", i), fmt.Sprintf("C%d", i)))})
	}
	tr := conn.Transport()
	defer tr.CloseIdleConnections()
	one := kafka.BalancerFunc(func(kafka.Message, ...int) int { return 0 })
	w := &kafka.Writer{Addr: conn.Addr(), Topic: topic, Balancer: one, Transport: tr, RequiredAcks: kafka.RequireAll,
		BatchSize: 500, BatchTimeout: time.Millisecond, BatchBytes: 16 << 20}
	if err := w.WriteMessages(t.Context(), msgs...); err != nil {
		t.Fatal(err)
	}
	w.Close()

	q := &quarantine{}
	v, err := consent.OpenView(t.Context(), consent.ViewConfig{Kafka: conn, Topic: topic, Quarantine: q})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if err := v.Sync(t.Context()); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if v.Len() != customers || v.Records() != customers+1 {
		t.Fatalf("%d keys from %d records, want %d from %d", v.Len(), v.Records(), customers, customers+1)
	}
	if _, err := v.Grant(fmt.Sprint("C", customers), schemas.RecipientSelf, time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Errorf("the last customer's grant: %v", err)
	}
	if len(q.msgs) != 1 {
		t.Fatalf("%d records quarantined, want the garbled one", len(q.msgs))
	}
	got := q.msgs[0]
	if string(got.Key) != string(garbled.Key) || string(got.Value) != string(garbled.Value) || got.Offset != 0 ||
		len(got.Headers) != 1 || got.Headers[0].Key != "origin" || string(got.Headers[0].Value) != "test" {
		t.Fatalf("quarantined %q=%q at offset %d with headers %+v; want the garbled event as written", got.Key, got.Value, got.Offset, got.Headers)
	}
}
