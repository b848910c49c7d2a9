package kafkasource

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/midata/midata/pipeline/topics"
)

// sampleMaxBytes bounds the fetches of the partitioner check: a few keys
// are enough, but a broker always returns at least one whole batch.
const sampleMaxBytes = 32 << 10

// Plan freezes the snapshot a release reads: for each partition of the
// topic, End is the last stable offset now (records written later are not
// part of the release) and Start is the first offset whose Kafka timestamp
// is at or after from (the log start when from is zero; End when no record
// is that recent). Records are published at or after their booked_at, so no
// record booked at or after from is before Start.
//
// With a customerID, Plan keeps only the partition the customer's key hashes
// to, after checking on a sample of each partition's keys that the
// configured partitioner placed them; if any sampled key sits elsewhere it
// logs a warning and keeps every partition (Pruned false), so a wrong
// partitioner costs time, never records.
func (s *Source) Plan(ctx context.Context, customerID string, from time.Time) (Snapshot, error) {
	topic := s.cfg.Topic
	snap := Snapshot{Topic: topic, Partitioner: s.cfg.Partitioner}
	partitions, err := s.partitions(ctx, topic)
	if err != nil {
		return snap, fmt.Errorf("plan snapshot: %w", err)
	}
	ranges, err := s.ranges(ctx, topic, partitions, from)
	if err != nil {
		return snap, fmt.Errorf("plan topic %q: %w", topic, err)
	}
	snap.Ranges = ranges
	if customerID == "" {
		return snap, nil
	}
	ok, err := s.checkPartitioner(ctx, topic, ranges)
	if err != nil {
		return snap, fmt.Errorf("plan topic %q: %w", topic, err)
	}
	if !ok {
		return snap, nil
	}
	want := PartitionFor(s.balancer, customerID, len(partitions))
	i := slices.IndexFunc(ranges, func(r Range) bool { return r.Partition == want })
	if i < 0 {
		return snap, fmt.Errorf("plan topic %q: partitions %v do not include %d", topic, partitions, want)
	}
	snap.Ranges, snap.Pruned = []Range{ranges[i]}, true
	return snap, nil
}

// PlanBulk plans every partition of the topic from from, like Plan without a
// customer, and checks the partitioner on a sample of keys: Keyed says
// whether each customer's records are on the partition Owner names.
func (s *Source) PlanBulk(ctx context.Context, from time.Time) (Snapshot, error) {
	snap, err := s.Plan(ctx, "", from)
	if err != nil {
		return snap, err
	}
	snap.Partitions = len(snap.Ranges)
	ok, err := s.checkPartitioner(ctx, snap.Topic, snap.Ranges)
	if err != nil {
		return snap, fmt.Errorf("plan topic %q: %w", snap.Topic, err)
	}
	snap.Keyed = ok
	return snap, nil
}

// Owner returns the partition the configured partitioner puts customerID's
// records on, of n partitions.
func (s *Source) Owner(customerID string, n int) int { return PartitionFor(s.balancer, customerID, n) }

// ranges returns [start, end) for each partition: end is the latest offset
// now, start the first offset at or after from (earliest for zero).
func (s *Source) ranges(ctx context.Context, topic string, partitions []int, from time.Time) ([]Range, error) {
	ends, err := s.listOffsets(ctx, topic, partitions, latestOffset)
	if err != nil {
		return nil, err
	}
	ts := int64(earliestOffset)
	if ms := from.UnixMilli(); !from.IsZero() && ms > 0 {
		ts = ms
	}
	starts, err := s.listOffsets(ctx, topic, partitions, ts)
	if err != nil {
		return nil, err
	}
	ranges := make([]Range, len(partitions))
	for i, p := range partitions {
		start, end := starts[p], ends[p]
		if start < 0 || start > end { // no record that recent (or one written since End was read)
			start = end
		}
		ranges[i] = Range{Partition: p, Start: start, End: end}
	}
	return ranges, nil
}

// checkPartitioner samples up to SampleSize keyed records of each non-empty
// partition (from its log start, the planned start and its end) and reports
// whether every sampled key hashes to the partition it sits on. It logs a
// warning for each partition where some do not.
func (s *Source) checkPartitioner(ctx context.Context, topic string, ranges []Range) (bool, error) {
	partitions := make([]int, len(ranges))
	for i, r := range ranges {
		partitions[i] = r.Partition
	}
	logStarts, err := s.listOffsets(ctx, topic, partitions, earliestOffset)
	if err != nil {
		return false, err
	}
	var (
		mu sync.Mutex
		ok = true
	)
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for _, r := range ranges {
		if logStarts[r.Partition] >= r.End {
			continue // empty partition
		}
		g.Go(func() error {
			sampled, mismatched, err := s.samplePartition(ctx, topic, len(ranges), logStarts[r.Partition], r)
			if err != nil {
				return fmt.Errorf("check partitioner on partition %d: %w", r.Partition, err)
			}
			if mismatched > 0 {
				s.cfg.Logger.Warn("keys are not where the configured partitioner puts them: reading every partition",
					"topic", topic, "partition", r.Partition, "partitioner", s.cfg.Partitioner,
					"mismatched", mismatched, "sampled", sampled)
				mu.Lock()
				ok = false
				mu.Unlock()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return false, err
	}
	return ok, nil
}

// samplePartition reads up to SampleSize keyed records of r's partition,
// spread over its log start, the planned start and its tail, and counts the
// keys that the configured partitioner would put on another partition.
func (s *Source) samplePartition(ctx context.Context, topic string, n int, logStart int64, r Range) (sampled, mismatched int, err error) {
	positions := []int64{logStart}
	if r.Start > logStart && r.Start < r.End {
		positions = append(positions, r.Start)
	}
	per := max(1, s.cfg.SampleSize/(len(positions)+1))
	positions = append(positions, max(logStart, r.End-int64(per)))
	seen := map[int64]bool{}
	for i, pos := range positions {
		quota := per
		if i == len(positions)-1 {
			quota = s.cfg.SampleSize - sampled
		}
		// A few fetches per position: partitions of unkeyed records must
		// not be scanned whole.
		for taken, fetches := 0, 0; taken < quota && pos < r.End && fetches < 3; fetches++ {
			p, err := s.fetch(ctx, topic, r.Partition, pos, sampleMaxBytes)
			if err != nil {
				return sampled, mismatched, err
			}
			next, err := walk(ctx, p, pos, r.End, func(m topics.Message) error {
				if len(m.Key) == 0 || seen[m.Offset] || taken == quota {
					return nil
				}
				seen[m.Offset] = true
				taken++
				sampled++
				if PartitionFor(s.balancer, string(m.Key), n) != r.Partition {
					mismatched++
				}
				return nil
			})
			if err != nil {
				return sampled, mismatched, err
			}
			if next == pos {
				break
			}
			pos = next
		}
	}
	return sampled, mismatched, nil
}

// Ends returns the end offset of every partition of topic now: a cheap way
// to tell whether anything was written to it since the last look.
func (s *Source) Ends(ctx context.Context, topic string) (map[int]int64, error) {
	if topic != s.cfg.Topic {
		other := s.on(topic)
		defer other.Close()
		return other.Ends(ctx, topic)
	}
	partitions, err := s.partitions(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("end offsets of %q: %w", topic, err)
	}
	ends, err := s.listOffsets(ctx, topic, partitions, latestOffset)
	if err != nil {
		return nil, fmt.Errorf("end offsets of %q: %w", topic, err)
	}
	return ends, nil
}
