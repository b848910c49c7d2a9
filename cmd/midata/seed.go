package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	kgo "github.com/segmentio/kafka-go"

	"github.com/midata/midata/pipeline/config"
	"github.com/midata/midata/pipeline/kafkasource"
	"github.com/midata/midata/pipeline/seed"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/schemas/synth"
)

const seedSynopsis = `seed [flags]

Writes the synthetic data set (the one 'midata dev' uses) to a Kafka cluster,
creating the transactions, consent and quarantine topics when they are
missing: a way to try 'midata export' against real servers.`

func runSeed(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("seed", seedSynopsis, stderr)
	cl := config.NewCommandLine(config.CommandSeed, fs)
	if err := parseFlags(cl, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	set, err := loadConfig(cl)
	if err != nil {
		return err
	}
	if cl.PrintConfig() {
		return set.Print(stdout, config.CommandSeed)
	}
	cfg := synth.DefaultConfig()
	cfg.TransactionsTopic, cfg.ConsentTopic = set.Topics.Transactions, set.Topics.Consent
	cfg.Customers, cfg.Transactions, cfg.Malformed, cfg.Seed = set.Synth.Customers, set.Synth.Transactions, set.Synth.Malformed, set.Synth.Seed
	addrs, partitions := set.Kafka.Brokers, set.Synth.Partitions
	balancer, _ := kafkasource.PartitionerByName(set.Kafka.Partitioner)               // checked by Validate
	consentBalancer, _ := kafkasource.PartitionerByName(set.Kafka.ConsentPartitioner) // so is this one
	if err := cfg.Validate(); err != nil {
		return usageError{err}
	}
	kafka, err := set.KafkaConnection()
	if err != nil {
		return usageError{err}
	}
	if err := topics.Ensure(ctx, kafka, topics.TransactionsSpec(cfg.TransactionsTopic, partitions),
		topics.ConsentSpec(cfg.ConsentTopic), topics.QuarantineSpec(set.Topics.Quarantine)); err != nil {
		return err
	}
	start := time.Now()
	counts, err := seed.Produce(ctx, kafka, cfg, &topics.ByTopic{Default: balancer, Topics: map[string]kgo.Balancer{cfg.ConsentTopic: consentBalancer}})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "seeded %s on %s in %s\n", counts, strings.Join(addrs, ","), time.Since(start).Round(time.Millisecond))
	return nil
}
