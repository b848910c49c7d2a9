package topics_test

import (
	"errors"
	"testing"
	"time"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/pipeline/topics/topicstest"
)

func TestEnsureAppliesEachSpec(t *testing.T) {
	conn := topicstest.Connect(t)
	unique := func(prefix string) string { return testbench.UniqueName(t, prefix) }
	tests := []struct {
		name       string
		spec       topics.Spec
		partitions int
		policy     string
		retention  string // "" : not checked (the broker's default)
	}{
		{"the transactions of dev and seed are kept forever", topics.TransactionsSpec(unique("tx"), 4), 4, "delete", "-1"},
		{"consent is compacted", topics.ConsentSpec(unique("consent")), topics.ConsentPartitions, "compact", ""},
		{"quarantined records are kept forever", topics.QuarantineSpec(unique("quarantine")), 1, "delete", "-1"},
		{"requests have six partitions", topics.RequestsSpec(unique("req")), 6, "delete", ""},
		{"runs are compacted", topics.RunsSpec(unique("runs")), topics.RunsPartitions, "compact", ""},
		{"schedules are compacted", topics.SchedulesSpec(unique("sched")), 1, "compact", ""},
		{"a retention in time is set in milliseconds", topics.Spec{Name: unique("ret"), Partitions: 2, Retention: 36 * time.Hour}, 2, "delete", "129600000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 2 { // the second call finds it and leaves it
				if err := topics.Ensure(t.Context(), conn, tt.spec); err != nil {
					t.Fatalf("Ensure: %v", err)
				}
			}
			if got := partitionCount(t, conn, tt.spec.Name); got != tt.partitions {
				t.Errorf("%d partitions, want %d", got, tt.partitions)
			}
			if got := topicConfig(t, conn, tt.spec.Name, "cleanup.policy"); got != tt.policy {
				t.Errorf("cleanup.policy %q, want %q", got, tt.policy)
			}
			if tt.retention != "" {
				if got := topicConfig(t, conn, tt.spec.Name, "retention.ms"); got != tt.retention {
					t.Errorf("retention.ms %q, want %q", got, tt.retention)
				}
			}
		})
	}
}

func TestEnsureLeavesAnExistingTopicAsItIs(t *testing.T) {
	conn := topicstest.Connect(t)
	existing := topics.Spec{Name: testbench.UniqueName(t, "existing"), Partitions: 2, Retention: 36 * time.Hour}
	if err := topics.Ensure(t.Context(), conn, existing); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	fresh := testbench.UniqueName(t, "fresh")
	// The existing topic is neither repartitioned nor compacted nor given
	// another retention; the fresh one is created beside it.
	specs := []topics.Spec{{Name: existing.Name, Partitions: 5, Compacted: true, Retention: topics.Forever}, topics.RunsSpec(fresh)}
	if err := topics.Ensure(t.Context(), conn, specs...); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	if got := partitionCount(t, conn, existing.Name); got != 2 {
		t.Errorf("existing topic has %d partitions, want its 2", got)
	}
	if got := topicConfig(t, conn, existing.Name, "cleanup.policy"); got != "delete" {
		t.Errorf("existing topic cleanup.policy %q, want delete as it was", got)
	}
	if got := topicConfig(t, conn, existing.Name, "retention.ms"); got != "129600000" {
		t.Errorf("existing topic retention.ms %s, want its 36h", got)
	}
	if got := partitionCount(t, conn, fresh); got != topics.RunsPartitions {
		t.Errorf("fresh topic has %d partitions, want %d", got, topics.RunsPartitions)
	}
	if got := topicConfig(t, conn, fresh, "cleanup.policy"); got != "compact" {
		t.Errorf("fresh topic cleanup.policy %q, want compact", got)
	}
}

func TestEnsureRefusesASpecWithoutAName(t *testing.T) {
	if err := topics.Ensure(t.Context(), topics.Connection{Brokers: []string{"127.0.0.1:1"}}, topics.Spec{Partitions: 1}); err == nil {
		t.Fatal("Ensure accepted a topic without a name")
	}
}

func TestEndsOfAMissingTopicIsErrTopicNotFound(t *testing.T) {
	conn := topicstest.Connect(t)
	_, err := topics.Ends(t.Context(), conn, testbench.UniqueName(t, "missing"))
	if !errors.Is(err, topics.ErrTopicNotFound) {
		t.Fatalf("Ends of a missing topic = %v, want ErrTopicNotFound", err)
	}
}

func TestNamesDefaultToTheTopicsOfTheInputContract(t *testing.T) {
	n := topics.Names{Runs: "my.runs"}.WithDefaults()
	want := topics.Names{Transactions: "transactions", Consent: "midata.consent", Quarantine: "midata.quarantine",
		Requests: "midata.requests", Runs: "my.runs", Schedules: "midata.schedules", Notifications: "midata.notifications"}
	if n != want {
		t.Errorf("WithDefaults = %+v, want %+v", n, want)
	}
	var names []string
	for _, s := range n.Service() {
		names = append(names, s.Name)
	}
	if len(names) != 6 || names[3] != "my.runs" || names[5] != "midata.notifications" {
		t.Errorf("Service() names %v, want consent, quarantine, requests, runs, schedules, notifications", names)
	}
}
