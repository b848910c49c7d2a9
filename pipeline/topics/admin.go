package topics

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

// ErrTopicNotFound is what errors for a missing topic match with errors.Is.
var ErrTopicNotFound = errors.New("topic not found")

// admin makes the metadata, offsets and admin requests of this package on
// a transport of its own. Close it when done.
type admin struct {
	conn      Connection
	transport *kafka.Transport
	client    *kafka.Client
}

// newAdmin returns an admin on conn. Given topics, its transport caches
// the metadata of those alone (a View's admin asks about its topic only):
// kafka-go's default caches every topic of the cluster, refreshed every few
// seconds, which is megabytes of heap per transport on a cluster of
// thousands of topics.
func newAdmin(conn Connection, topics ...string) *admin {
	conn = conn.WithDefaults()
	t := conn.Transport()
	t.MetadataTopics = topics
	return &admin{conn: conn, transport: t, client: &kafka.Client{Addr: conn.Addr(), Transport: t, Timeout: conn.RequestTimeout}}
}

func (a *admin) close() { a.transport.CloseIdleConnections() }

// partitions returns the sorted partition ids of topic, or an error
// wrapping ErrTopicNotFound.
func (a *admin) partitions(ctx context.Context, topic string) ([]int, error) {
	meta, err := a.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, fmt.Errorf("read metadata of %s from brokers %s: %w", topic, a.conn, err)
	}
	for _, t := range meta.Topics {
		if t.Name != topic {
			continue
		}
		if errors.Is(t.Error, kafka.UnknownTopicOrPartition) {
			return nil, fmt.Errorf("topic %s on brokers %s: %w", topic, a.conn, ErrTopicNotFound)
		}
		if t.Error != nil {
			return nil, fmt.Errorf("read metadata of %s: %w", topic, t.Error)
		}
		out := make([]int, 0, len(t.Partitions))
		for _, p := range t.Partitions {
			out = append(out, p.ID)
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("topic %s has no partitions", topic)
		}
		slices.Sort(out)
		return out, nil
	}
	return nil, fmt.Errorf("topic %s on brokers %s: %w", topic, a.conn, ErrTopicNotFound)
}

// offsets returns the first and the high watermark offsets of partitions
// of topic.
func (a *admin) offsets(ctx context.Context, topic string, partitions []int) (first, last map[int]int64, err error) {
	reqs := make([]kafka.OffsetRequest, 0, 2*len(partitions))
	for _, p := range partitions {
		reqs = append(reqs, kafka.FirstOffsetOf(p), kafka.LastOffsetOf(p))
	}
	return a.listOffsets(ctx, topic, partitions, reqs)
}

// ends returns the high watermark of each of partitions of topic: one
// offsets request per broker (asking for the first offsets too takes a
// second).
func (a *admin) ends(ctx context.Context, topic string, partitions []int) (map[int]int64, error) {
	reqs := make([]kafka.OffsetRequest, 0, len(partitions))
	for _, p := range partitions {
		reqs = append(reqs, kafka.LastOffsetOf(p))
	}
	_, last, err := a.listOffsets(ctx, topic, partitions, reqs)
	return last, err
}

func (a *admin) listOffsets(ctx context.Context, topic string, partitions []int, reqs []kafka.OffsetRequest) (first, last map[int]int64, err error) {
	res, err := a.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return nil, nil, fmt.Errorf("list offsets of %s: %w", topic, err)
	}
	first, last = make(map[int]int64, len(partitions)), make(map[int]int64, len(partitions))
	for _, po := range res.Topics[topic] {
		if po.Error != nil {
			return nil, nil, fmt.Errorf("list offsets of %s partition %d: %w", topic, po.Partition, po.Error)
		}
		first[po.Partition], last[po.Partition] = po.FirstOffset, po.LastOffset
	}
	for _, p := range partitions {
		if _, ok := last[p]; !ok {
			return nil, nil, fmt.Errorf("list offsets of %s: no answer for partition %d", topic, p)
		}
	}
	return first, last, nil
}

// Ends returns the high watermark of every partition of topic: one
// metadata and one offsets request. A missing topic is an error that wraps
// ErrTopicNotFound.
func Ends(ctx context.Context, conn Connection, topic string) (map[int]int64, error) {
	a := newAdmin(conn, topic)
	defer a.close()
	partitions, err := a.partitions(ctx, topic)
	if err != nil {
		return nil, err
	}
	return a.ends(ctx, topic, partitions)
}

// Ensure creates the topics of specs that do not exist yet, each as its
// spec says (partitions, cleanup policy, retention), and leaves existing
// ones as they are, whatever their settings. It returns once every topic
// it created has a leader for each partition (or after three request
// timeouts), so a reader opened next finds them.
func Ensure(ctx context.Context, conn Connection, specs ...Spec) error {
	if len(specs) == 0 {
		return nil
	}
	if err := conn.Validate(); err != nil {
		return fmt.Errorf("ensure topics: %w", err)
	}
	req := &kafka.CreateTopicsRequest{}
	names := make([]string, 0, len(specs))
	for _, s := range specs {
		if s.Name == "" || s.Partitions < 0 || s.ReplicationFactor < 0 || s.Retention < Forever {
			return fmt.Errorf("ensure topics: invalid spec %+v", s)
		}
		cfg := kafka.TopicConfig{Topic: s.Name, NumPartitions: max(s.Partitions, 1), ReplicationFactor: s.ReplicationFactor}
		if s.ReplicationFactor == 0 {
			cfg.ReplicationFactor = -1
		}
		if s.Compacted {
			cfg.ConfigEntries = append(cfg.ConfigEntries, kafka.ConfigEntry{ConfigName: "cleanup.policy", ConfigValue: "compact"})
		}
		if s.Retention != 0 {
			cfg.ConfigEntries = append(cfg.ConfigEntries, kafka.ConfigEntry{ConfigName: "retention.ms", ConfigValue: strconv.FormatInt(retentionMillis(s.Retention), 10)})
		}
		req.Topics = append(req.Topics, cfg)
		names = append(names, s.Name+"("+strconv.Itoa(cfg.NumPartitions)+")")
	}
	a := newAdmin(conn)
	defer a.close()
	a.client.Timeout = 3 * a.conn.RequestTimeout
	res, err := a.client.CreateTopics(ctx, req)
	if err != nil {
		if why := conn.Check(ctx); why != nil {
			err = why // what the transport reports as "Broker Not Available"
		}
		return fmt.Errorf("ensure topics %s on brokers %s: %w", strings.Join(names, ", "), a.conn, err)
	}
	var errs []error
	created := map[string]int{}
	for _, t := range req.Topics {
		switch err := res.Errors[t.Topic]; {
		case err == nil:
			created[t.Topic] = t.NumPartitions
		case !errors.Is(err, kafka.TopicAlreadyExists):
			errs = append(errs, fmt.Errorf("create topic %s: %w", t.Topic, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("ensure topics: %w", err)
	}
	return a.awaitLeaders(ctx, created)
}

// retentionMillis is retention.ms of d: -1 for Forever.
func retentionMillis(d time.Duration) int64 {
	if d == Forever {
		return -1
	}
	return max(d.Milliseconds(), 1)
}

// awaitLeaders polls the metadata of the topics until each has its
// partitions, every one with a leader.
func (a *admin) awaitLeaders(ctx context.Context, want map[string]int) error {
	if len(want) == 0 {
		return nil
	}
	names := make([]string, 0, len(want))
	for n := range want {
		names = append(names, n)
	}
	slices.Sort(names)
	ctx, cancel := context.WithTimeout(ctx, 3*a.conn.RequestTimeout)
	defer cancel()
	for wait := 20 * time.Millisecond; ; wait = min(2*wait, 500*time.Millisecond) {
		if a.ready(ctx, names, want) {
			return nil
		}
		select {
		case <-ctx.Done():
			if cause := context.Cause(ctx); !errors.Is(cause, context.DeadlineExceeded) {
				return fmt.Errorf("wait for the leaders of %s: %w", strings.Join(names, ", "), cause)
			}
			return nil // created: a reader retries until the leaders are known
		case <-time.After(wait):
		}
	}
}

// ready reports whether each topic has its partitions, every one with a
// leader that answers an offsets request.
func (a *admin) ready(ctx context.Context, names []string, want map[string]int) bool {
	meta, err := a.client.Metadata(ctx, &kafka.MetadataRequest{Topics: names})
	if err != nil || !leadersReady(meta, want) {
		return false
	}
	for _, t := range meta.Topics {
		partitions := make([]int, 0, len(t.Partitions))
		for _, p := range t.Partitions {
			partitions = append(partitions, p.ID)
		}
		if _, _, err := a.offsets(ctx, t.Name, partitions); err != nil {
			return false
		}
	}
	return true
}

func leadersReady(meta *kafka.MetadataResponse, want map[string]int) bool {
	ready := 0
	for _, t := range meta.Topics {
		n, ok := want[t.Name]
		if !ok || t.Error != nil || len(t.Partitions) < n {
			continue
		}
		ok = true
		for _, p := range t.Partitions {
			ok = ok && p.Error == nil && p.Leader.Host != ""
		}
		if ok {
			ready++
		}
	}
	return ready == len(want)
}
