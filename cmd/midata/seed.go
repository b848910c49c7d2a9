package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/midata/midata/pipeline"
	"github.com/midata/midata/pipeline/kafkasource"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/schemas/synth"
)

const seedSynopsis = `seed [flags]

Writes the synthetic data set (the one 'midata dev' uses) to a Kafka cluster,
creating the transactions, consent and quarantine topics when they are
missing: a way to try 'midata export' against real servers.

Flags (each also read from the environment variable named in brackets):`

func runSeed(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := synth.DefaultConfig()
	fs := newFlagSet("seed", seedSynopsis, stderr)
	var brokers, partitioner, quarantine string
	var partitions int
	fs.StringVar(&brokers, "brokers", env("MIDATA_KAFKA_BROKERS", ""), "Kafka bootstrap brokers, comma-separated [MIDATA_KAFKA_BROKERS]")
	fs.StringVar(&cfg.TransactionsTopic, "topic", env("MIDATA_TRANSACTIONS_TOPIC", cfg.TransactionsTopic), "transactions topic [MIDATA_TRANSACTIONS_TOPIC]")
	fs.StringVar(&cfg.ConsentTopic, "consent-topic", env("MIDATA_CONSENT_TOPIC", cfg.ConsentTopic), "consent topic [MIDATA_CONSENT_TOPIC]")
	fs.StringVar(&quarantine, "quarantine-topic", env("MIDATA_QUARANTINE_TOPIC", pipeline.DefaultQuarantineTopic), "where invalid records go [MIDATA_QUARANTINE_TOPIC]")
	fs.StringVar(&partitioner, "partitioner", env("MIDATA_PARTITIONER", "murmur2"), "how to partition by customer: murmur2, crc32 or fnv1a [MIDATA_PARTITIONER]")
	fs.IntVar(&partitions, "partitions", 6, "partitions of the transactions topic, when it is created")
	fs.IntVar(&cfg.Customers, "customers", cfg.Customers, "customers in the data set")
	fs.IntVar(&cfg.Transactions, "transactions", cfg.Transactions, "valid transactions in the data set")
	fs.IntVar(&cfg.Malformed, "malformed", cfg.Malformed, "malformed records added to the transactions topic")
	fs.Int64Var(&cfg.Seed, "seed", cfg.Seed, "random seed: the same seed gives the same data set")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	addrs := splitList(brokers)
	balancer, err := kafkasource.PartitionerByName(partitioner)
	var errs []error
	if len(addrs) == 0 {
		errs = append(errs, errors.New("no Kafka brokers: set --brokers or MIDATA_KAFKA_BROKERS"))
	}
	errs = append(errs, err, cfg.Validate())
	if partitions < 1 {
		errs = append(errs, fmt.Errorf("partitions %d: want at least 1", partitions))
	}
	if err := errors.Join(errs...); err != nil {
		return usageError{err}
	}
	kafka := topics.Connection{Brokers: addrs}
	if err := topics.Ensure(ctx, kafka, topics.TransactionsSpec(cfg.TransactionsTopic, partitions),
		topics.ConsentSpec(cfg.ConsentTopic), topics.QuarantineSpec(quarantine)); err != nil {
		return err
	}
	start := time.Now()
	counts, err := topics.Seed(ctx, kafka, cfg, balancer)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "seeded %s on %s in %s\n", counts, strings.Join(addrs, ","), time.Since(start).Round(time.Millisecond))
	return nil
}
