package topics

import (
	"context"
	"errors"
	"fmt"

	"github.com/segmentio/kafka-go"
)

// Record is one record to publish: a key and a value (nil: a tombstone).
type Record struct {
	Key   []byte
	Value []byte
}

// PublishBatch writes recs to topic in as few requests as the producer's
// batching allows, and returns when the brokers have every one. On error
// some may have been written: records of compacted topics are written so
// that writing them again does no harm. Like Publish, it writes nothing
// with a context that ended.
func (p *Producer) PublishBatch(ctx context.Context, topic string, recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("publish %d records to %s: %w", len(recs), topic, err)
	}
	msgs := make([]kafka.Message, len(recs))
	for i, r := range recs {
		msgs[i] = kafka.Message{Topic: topic, Key: r.Key, Value: r.Value}
	}
	if err := p.w.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("publish %d records to %s: %w", len(recs), topic, err)
	}
	return nil
}

// Permanent reports whether err, from Publish or PublishBatch, is one that
// writing the same records again cannot mend: the brokers refused them as
// too large or invalid, or the topic is invalid or not ours to write. Any
// other error (no leader, a timeout, a broken connection) may pass.
func Permanent(err error) bool {
	var tooLarge kafka.MessageTooLargeError // refused by the producer itself
	if errors.As(err, &tooLarge) {
		return true
	}
	var werrs kafka.WriteErrors
	if errors.As(err, &werrs) {
		for _, e := range werrs {
			if e != nil && Permanent(e) {
				return true
			}
		}
		return false
	}
	var kerr kafka.Error
	if !errors.As(err, &kerr) {
		return false
	}
	switch kerr {
	case kafka.MessageSizeTooLarge, kafka.RecordListTooLarge, kafka.InvalidMessageSize, kafka.InvalidRecord,
		kafka.InvalidTopic, kafka.InvalidRequiredAcks, kafka.TopicAuthorizationFailed:
		return true
	}
	return false
}
