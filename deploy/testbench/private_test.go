package testbench

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// TestPrivateKafkaKeepsItsRecordsAcrossAKill starts a private broker,
// writes a record, SIGKILLs the broker and starts it again on the same log
// dir and port: the record is still there and the broker takes more.
func TestPrivateKafkaKeepsItsRecordsAcrossAKill(t *testing.T) {
	b := PrivateKafka(t)
	client := newClient(t, []string{b.Addr})
	topic := UniqueName(t, "private")
	CreateTopic(t, []string{b.Addr}, topic, 1)
	produceAndFetch(t, client, topic, 0)
	b.Kill()
	if b.Running() {
		t.Fatal("Running after Kill")
	}
	if dialable(b.Addr) {
		t.Fatal("a killed broker still takes connections")
	}
	b.Start()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	var fr *kafka.FetchResponse
	var err error
	for {
		fr, err = client.Fetch(ctx, &kafka.FetchRequest{Topic: topic, Partition: 0, Offset: 0, MinBytes: 1, MaxBytes: 1 << 20, MaxWait: time.Second})
		if err == nil && fr.Error == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("fetch after the restart: %v %v\n%s", err, fr, b.LogTail(30))
		}
		time.Sleep(200 * time.Millisecond) // the partition's leader is being elected again, with a deadline
	}
	rec, err := fr.Records.ReadRecord()
	if err != nil {
		t.Fatalf("the record written before the kill: %v", err)
	}
	key, _ := io.ReadAll(rec.Key)
	if rec.Offset != 0 || string(key) != "customer-42" {
		t.Fatalf("after the restart offset 0 holds %q at %d", key, rec.Offset)
	}
	pr, err := client.Produce(ctx, &kafka.ProduceRequest{Topic: topic, Partition: 0, RequiredAcks: kafka.RequireAll,
		Records: kafka.NewRecordReader(kafka.Record{Value: kafka.NewBytes([]byte("after"))})})
	if err != nil || pr.Error != nil || pr.BaseOffset != 1 {
		t.Fatalf("produce after the restart: %v %v %+v", err, pr.Error, pr)
	}
}
