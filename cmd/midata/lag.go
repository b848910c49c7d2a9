package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/midata/midata/pipeline/kafkasource"
	"github.com/midata/midata/pipeline/metrics"
)

// reportLag sets the consumer-lag gauge of the requests topic every
// interval: per partition, its end offset minus the group's committed one.
func reportLag(ctx context.Context, src *kafkasource.Source, brokers []string, group, topic string, m *metrics.Metrics, every time.Duration, log *slog.Logger) error {
	transport := &kafka.Transport{}
	defer transport.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second, Transport: transport}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := lagOnce(ctx, client, src, group, topic, m); err != nil && ctx.Err() == nil {
			log.Warn("consumer lag not measured", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func lagOnce(ctx context.Context, client *kafka.Client, src *kafkasource.Source, group, topic string, m *metrics.Metrics) error {
	ends, err := src.Ends(ctx, topic)
	if err != nil {
		return err
	}
	partitions := make([]int, 0, len(ends))
	for p := range ends {
		partitions = append(partitions, p)
	}
	resp, err := client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: partitions}})
	if err != nil {
		return fmt.Errorf("committed offsets of group %s: %w", group, err)
	}
	committed := map[int]int64{}
	for _, p := range resp.Topics[topic] {
		committed[p.Partition] = max(p.CommittedOffset, 0)
	}
	for p, end := range ends {
		m.Lag(int32(p), max(end-committed[p], 0))
	}
	return nil
}
