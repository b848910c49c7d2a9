package serve_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"go.uber.org/goleak"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/pipeline"
	"github.com/midata/midata/pipeline/consent"
	"github.com/midata/midata/pipeline/kafkasource"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/sinks/filesink"
)

// The runner's goroutines end with each release; kafka-go keeps idle
// connections of its shared default transport until they time out.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/segmentio/kafka-go.(*connPool).discover"),
		goleak.IgnoreAnyFunction("github.com/segmentio/kafka-go.(*conn).run"),
		goleak.IgnoreAnyFunction("github.com/segmentio/kafka-go.(*Transport).RoundTrip"),
	)
}

// bench is one test's topics (the real Kafka under `make test`, kfake in
// the quick loop) and a local-disk store.
type bench struct {
	brokers        []string
	topic, consent string
	quarant        string
}

func newBench(t *testing.T, partitions int) *bench {
	t.Helper()
	b := &bench{brokers: testbench.Kafka(t)}
	b.topic = testbench.UniqueName(t, "tx")
	b.consent = testbench.UniqueName(t, "consent")
	b.quarant = testbench.UniqueName(t, "quarantine")
	testbench.CreateTopic(t, b.brokers, b.topic, partitions)
	testbench.CreateTopic(t, b.brokers, b.consent, 2)
	testbench.CreateTopic(t, b.brokers, b.quarant, 1)
	return b
}

func (b *bench) runner(t *testing.T) *pipeline.Runner {
	t.Helper()
	src, err := kafkasource.New(kafkasource.Config{Kafka: topics.Connection{Brokers: b.brokers}, Topic: b.topic, Partitioner: "murmur2"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	prod := topics.NewProducer(topics.Connection{Brokers: b.brokers}, nil)
	t.Cleanup(func() { prod.Close() })
	sink, err := filesink.New(filesink.Config{Root: t.TempDir(), BaseURL: "http://127.0.0.1:1", Secret: []byte(strings.Repeat("k", 32))})
	if err != nil {
		t.Fatal(err)
	}
	grants, err := consent.OpenView(t.Context(), consent.ViewConfig{Kafka: topics.Connection{Brokers: b.brokers}, Topic: b.consent,
		Quarantine: prod, QuarantineTopic: b.quarant, MaxWait: 250 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { grants.Close() })
	r, err := pipeline.NewRunner(pipeline.Config{Source: src, Grants: grants, Producer: prod, Sink: sink,
		QuarantineTopic: b.quarant, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var (
	from = time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	to   = time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
)

// seed publishes records of C1, C2 and C3, and consent for C1 and C3 (C2's
// is revoked).
func seedData(t *testing.T, b *bench, balancer kafka.Balancer) {
	t.Helper()
	var txs []kafka.Message
	for i, c := range []string{"C1", "C1", "C2", "C3"} {
		booked := from.Add(time.Duration(i+1) * 24 * time.Hour)
		v := fmt.Sprintf(`{"transaction_id":"T%d","customer_id":%q,"account_id":"A-%s","booked_at":%q,"amount":"-1.00","currency":"GBP","type":"POS","description":"TESCO","merchant":{"name":"Tesco","category_code":"5411"},"balance_after":"10.00"}`,
			i+1, c, c, booked.Format(time.RFC3339))
		txs = append(txs, kafka.Message{Key: []byte(c), Value: []byte(v), Time: booked.Add(time.Minute)})
	}
	produce(t, b.brokers, b.topic, balancer, txs...)
	produce(t, b.brokers, b.consent, &kafka.Hash{},
		consentEvent("K-1", "C1", "granted"), consentEvent("K-2", "C2", "granted"),
		consentEvent("K-3", "C2", "revoked"), consentEvent("K-4", "C3", "granted"))
}

func consentEvent(id, customer, status string) kafka.Message {
	cats, _ := json.Marshal([]string{"transactions", "merchant"})
	v := fmt.Sprintf(`{"consent_id":%q,"customer_id":%q,"recipient":"self","status":%q,"categories":%s,"window_from":null,"window_to":null,"expires_at":"2099-01-01T00:00:00Z","event_time":"2026-01-15T12:00:00Z"}`,
		id, customer, status, cats)
	return kafka.Message{Key: []byte(customer + "|self"), Value: []byte(v)}
}

func produce(t *testing.T, brokers []string, topic string, balancer kafka.Balancer, msgs ...kafka.Message) {
	t.Helper()
	transport := &kafka.Transport{}
	defer transport.CloseIdleConnections()
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, Balancer: balancer, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond, Transport: transport}
	defer w.Close()
	if err := w.WriteMessages(t.Context(), msgs...); err != nil {
		t.Fatalf("produce to %s: %v", topic, err)
	}
}
