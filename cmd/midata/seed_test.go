package main

import (
	"bytes"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/midata/midata/deploy/testbench"
)

func TestSeedCreatesTheConfiguredQuarantineTopic(t *testing.T) {
	brokers := testbench.Kafka(t)
	quarantine := testbench.UniqueName(t, "quarantine")
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"seed", "--kafka-brokers", brokers[0],
		"--transactions-topic", testbench.UniqueName(t, "tx"), "--consent-topic", testbench.UniqueName(t, "consent"),
		"--quarantine-topic", quarantine, "--synth-customers", "3", "--synth-transactions", "30", "--synth-partitions", "2"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("seed: exit %d: %s", code, stderr.String())
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrMetadataRequest()
	topic := kmsg.NewMetadataRequestTopic()
	topic.Topic = kmsg.StringPtr(quarantine)
	req.Topics = append(req.Topics, topic)
	req.AllowAutoTopicCreation = false
	resp, err := req.RequestWith(t.Context(), cl)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 0 {
		t.Errorf("seed --quarantine-topic %s did not create it: %+v", quarantine, resp.Topics)
	}
}
