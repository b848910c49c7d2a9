package topics

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/segmentio/kafka-go"
)

// Lag returns, for every partition of topic, how many records the consumer
// group has not committed yet: the partition's end offset minus the
// group's committed one (0 when the group committed nothing there and the
// partition is empty).
func Lag(ctx context.Context, conn Connection, group, topic string) (map[int]int64, error) {
	a := newAdmin(conn, topic)
	defer a.close()
	return a.lag(ctx, group, topic)
}

func (a *admin) lag(ctx context.Context, group, topic string) (map[int]int64, error) {
	partitions, err := a.partitions(ctx, topic)
	if err != nil {
		return nil, err
	}
	ends, err := a.ends(ctx, topic, partitions)
	if err != nil {
		return nil, err
	}
	resp, err := a.client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: partitions}})
	if err != nil {
		return nil, fmt.Errorf("committed offsets of group %s: %w", group, err)
	}
	committed := make(map[int]int64, len(partitions))
	for _, p := range resp.Topics[topic] {
		committed[p.Partition] = max(p.CommittedOffset, 0)
	}
	out := make(map[int]int64, len(ends))
	for p, end := range ends {
		out[p] = max(end-committed[p], 0)
	}
	return out, nil
}

// WatchLag measures the group's lag on topic at once and then every
// interval until ctx ends, handing each partition's lag to set (a metrics
// gauge). A failed measurement is logged and tried again at the next tick.
func WatchLag(ctx context.Context, conn Connection, group, topic string, every time.Duration, set func(partition int, lag int64), log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := newAdmin(conn, topic)
	defer a.close()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		lag, err := a.lag(ctx, group, topic)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("consumer lag not measured", "group", group, "topic", topic, "err", err)
		case err == nil:
			for p, n := range lag {
				set(p, n)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
