package kafkasource

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/segmentio/kafka-go"
)

// TopicSpec describes a topic for EnsureTopics.
type TopicSpec struct {
	Name       string
	Partitions int  // default 1
	Compacted  bool // cleanup.policy=compact
	// ReplicationFactor is the number of replicas; 0 means the brokers'
	// default.replication.factor.
	ReplicationFactor int
	// KeepForever sets retention.ms=-1: for data with historical
	// timestamps (the synthetic set of `midata seed`), which time-based
	// retention would otherwise delete within minutes.
	KeepForever bool
}

// EnsureTopics creates the topics that do not exist yet and leaves existing
// ones as they are. It returns when the created topics are visible.
func EnsureTopics(ctx context.Context, brokers []string, specs ...TopicSpec) error {
	if len(specs) == 0 {
		return nil
	}
	t := newTransport(DefaultTimeout)
	defer t.CloseIdleConnections()
	c := &kafka.Client{Addr: kafka.TCP(brokers...), Transport: t, Timeout: 3 * DefaultTimeout}

	req := &kafka.CreateTopicsRequest{}
	names := make([]string, 0, len(specs))
	for _, s := range specs {
		if s.Name == "" || s.Partitions < 0 || s.ReplicationFactor < 0 {
			return fmt.Errorf("ensure topics: invalid spec %+v", s)
		}
		cfg := kafka.TopicConfig{Topic: s.Name, NumPartitions: max(s.Partitions, 1), ReplicationFactor: s.ReplicationFactor}
		if s.ReplicationFactor == 0 {
			cfg.ReplicationFactor = -1
		}
		if s.Compacted {
			cfg.ConfigEntries = append(cfg.ConfigEntries, kafka.ConfigEntry{ConfigName: "cleanup.policy", ConfigValue: "compact"})
		}
		if s.KeepForever {
			cfg.ConfigEntries = append(cfg.ConfigEntries, kafka.ConfigEntry{ConfigName: "retention.ms", ConfigValue: "-1"})
		}
		req.Topics = append(req.Topics, cfg)
		names = append(names, s.Name+"("+strconv.Itoa(cfg.NumPartitions)+")")
	}
	res, err := c.CreateTopics(ctx, req)
	if err != nil {
		return fmt.Errorf("ensure topics %s on brokers %s: %w", strings.Join(names, ", "), strings.Join(brokers, ","), err)
	}
	var errs []error
	for _, s := range specs {
		if err := res.Errors[s.Name]; err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
			errs = append(errs, fmt.Errorf("create topic %s: %w", s.Name, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("ensure topics: %w", err)
	}
	return nil
}
