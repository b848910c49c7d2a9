package kafkasource

import (
	"slices"
	"testing"

	"github.com/midata/midata/pipeline/topics"
)

func TestTheTransportCachesTheMetadataOfItsTopicAlone(t *testing.T) {
	t.Parallel()
	s, err := New(Config{Kafka: topics.Connection{Brokers: []string{"127.0.0.1:1"}}, Topic: "transactions"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// kafka-go caches every topic of the cluster when MetadataTopics is
	// empty: megabytes of heap on a cluster of a thousand topics.
	if got := s.rt().MetadataTopics; !slices.Equal(got, []string{"transactions"}) {
		t.Errorf("the Source's transport caches the metadata of %q, want [transactions]", got)
	}
	other := s.on("midata.consent")
	defer other.Close()
	if got := other.rt().MetadataTopics; !slices.Equal(got, []string{"midata.consent"}) {
		t.Errorf("a Source on another topic caches the metadata of %q, want [midata.consent]", got)
	}
}
