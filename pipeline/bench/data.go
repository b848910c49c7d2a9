package bench

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/midata/midata/pipeline/kafkasource"
	"github.com/midata/midata/pipeline/seed"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/schemas"
	"github.com/midata/midata/schemas/synth"
)

// Shape is a size of data: customers, each with the same number of records.
type Shape struct {
	Name      string `json:"name"`
	Customers int    `json:"customers"`
	Records   int    `json:"records_per_customer"`
}

// Shapes are the shapes of the issue: many small, typical, heavy.
var Shapes = []Shape{
	{Name: "many-small", Customers: 100_000, Records: 20},
	{Name: "typical", Customers: 2_000, Records: 1_000},
	{Name: "heavy", Customers: 20, Records: 100_000},
}

// minCustomers keeps a scaled shape's consent patterns whole (synth cycles
// through ten, one of them without consent).
const minCustomers = 10

// Scaled returns s with its total records multiplied by f: fewer customers
// of the same size while at least minCustomers remain, then smaller ones.
func (s Shape) Scaled(f float64) Shape {
	total := float64(s.Customers) * float64(s.Records) * f
	c := max(minCustomers, int(math.Round(float64(s.Customers)*f)))
	r := max(1, int(math.Round(total/float64(c))))
	return Shape{Name: s.Name, Customers: c, Records: r}
}

// Total is the shape's number of records.
func (s Shape) Total() int { return s.Customers * s.Records }

// dataset is one seeded pair of topics.
type dataset struct {
	shape             Shape
	tx, consent       string
	records           int64 // on the transactions topic
	selfGrants        int   // customers whose consent covers self
	from, to          time.Time
	seedTime          time.Duration
	consentedCustomer string // a customer with a self grant
}

// seedPeriod is the period of the data: six months ending at the start of
// today (UTC), so brokers never see timestamps from the future.
func seedPeriod(now time.Time) (time.Time, time.Time) {
	end := now.UTC().Truncate(24 * time.Hour)
	return end.AddDate(0, -6, 0), end
}

// seed writes shape's data to fresh topics named after prefix: synth's
// set through seed.Produce (murmur2 on partitions), then a tombstone of the
// self grant of every customer of synth's pattern 8, so that 8 in 10
// customers hold a self grant (synth gives 9 in 10 one).
func seedData(ctx context.Context, conn topics.Connection, prefix string, shape Shape, partitions int, now time.Time) (*dataset, error) {
	d := &dataset{shape: shape, tx: prefix + "-tx", consent: prefix + "-consent"}
	d.from, d.to = seedPeriod(now)
	if err := topics.Ensure(ctx, conn, topics.TransactionsSpec(d.tx, partitions), topics.ConsentSpec(d.consent)); err != nil {
		return nil, fmt.Errorf("bench: seed %s: %w", shape.Name, err)
	}
	cfg := synth.DefaultConfig()
	cfg.Customers, cfg.Transactions, cfg.Malformed = shape.Customers, shape.Total(), 0
	cfg.Start, cfg.End = d.from, d.to
	cfg.TransactionsTopic, cfg.ConsentTopic = d.tx, d.consent
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("bench: seed %s: %w", shape.Name, err)
	}
	balancer, err := kafkasource.PartitionerByName(kafkasource.DefaultPartitioner)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	counts, err := seed.Produce(ctx, conn, cfg, balancer)
	if err != nil {
		return nil, fmt.Errorf("bench: seed %s: %w", shape.Name, err)
	}
	d.records = int64(counts[d.tx])

	tr := conn.Transport()
	defer tr.CloseIdleConnections()
	w := &kafka.Writer{Addr: conn.Addr(), Topic: d.consent, Balancer: balancer, Transport: tr,
		RequiredAcks: kafka.RequireAll, BatchSize: 1000, BatchTimeout: 10 * time.Millisecond}
	defer w.Close()
	var tombs []kafka.Message
	for i := range shape.Customers {
		id := fmt.Sprintf("C%06d", i+1)
		switch i % 10 {
		case 8:
			tombs = append(tombs, kafka.Message{Key: []byte(schemas.ConsentKey(id, schemas.RecipientSelf)), Time: d.to.Add(-time.Hour)})
		case 9: // synth's customers without consent
		default:
			d.selfGrants++
			if d.consentedCustomer == "" {
				d.consentedCustomer = id
			}
		}
	}
	for len(tombs) > 0 {
		n := min(len(tombs), 1000)
		if err := w.WriteMessages(ctx, tombs[:n]...); err != nil {
			return nil, fmt.Errorf("bench: seed %s: revoke self grants: %w", shape.Name, err)
		}
		tombs = tombs[n:]
	}
	d.seedTime = time.Since(start)
	return d, nil
}

// drop deletes the dataset's topics (best effort: the bench starts empty
// each time anyway).
func (d *dataset) drop(ctx context.Context, conn topics.Connection) {
	tr := conn.Transport()
	defer tr.CloseIdleConnections()
	c := &kafka.Client{Addr: conn.Addr(), Transport: tr, Timeout: 30 * time.Second}
	_, _ = c.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: []string{d.tx, d.consent}})
}
