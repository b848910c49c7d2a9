package jobs

import "github.com/midata/midata/pipeline/topics"

// Topics names the topics of the queue and the ledger. Empty names mean
// topics.DefaultRequests and topics.DefaultRuns; topics.RequestsSpec and
// topics.RunsSpec say how they are created.
type Topics struct {
	Requests string
	Runs     string
}

func (t Topics) withDefaults() Topics {
	if t.Requests == "" {
		t.Requests = topics.DefaultRequests
	}
	if t.Runs == "" {
		t.Runs = topics.DefaultRuns
	}
	return t
}

// Specs returns the specs of the requests and the runs topics, for
// topics.Ensure.
func (t Topics) Specs() []topics.Spec {
	t = t.withDefaults()
	return []topics.Spec{topics.RequestsSpec(t.Requests), topics.RunsSpec(t.Runs)}
}
