package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/pipeline/jobs"
	"github.com/midata/midata/pipeline/topics"
)

// customers returns n customer ids.
func customers(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("customer-%06d", i)
	}
	return out
}

// TestAnEndTheBrokersRefuseIsReplacedOnceThenGivenUp: the runs topic takes
// records of at most maxBytes, and the run's end (its request names 400
// customers) is larger. The worker writes a failed end that says why,
// without the customers, instead; if that is refused too, it gives the run
// up as ended. Either way the request is done (its offset may be
// committed): never retried forever.
func TestAnEndTheBrokersRefuseIsReplacedOnceThenGivenUp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		maxBytes int
		failed   bool // a failed end is on the ledger
	}{
		{"a failed end without the customers fits", 4096, true},
		{"nothing but a lease fits", 400, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := bareHarness(t)
			createTopic(t, h.brokers, h.runs, kafka.ConfigEntry{ConfigName: "max.message.bytes", ConfigValue: strconv.Itoa(tt.maxBytes)})
			exec := &countingExec{}
			h.start(t, exec, nil)
			req := request("refused", customers(400)...)

			if done := h.handle(t, req).result(t); !done {
				t.Error("handle: not done; want the request done, not retried forever")
			}
			if !h.logs.said("the ledger refused the run's end") {
				t.Error("the worker did not say the ledger refused the end")
			}
			var ends []jobs.Run
			for _, rec := range h.recordsOf(t, req.ID) {
				var run jobs.Run
				if err := json.Unmarshal(rec.Value, &run); err == nil && run.Status.Final() {
					ends = append(ends, run)
				}
			}
			switch {
			case !tt.failed && len(ends) > 0:
				t.Errorf("%d ends on the ledger, want none fitting", len(ends))
			case tt.failed && len(ends) != 1:
				t.Fatalf("%d ends on the ledger, want one", len(ends))
			case tt.failed:
				end := ends[0]
				if end.Status != jobs.StatusFailed || !strings.Contains(end.Error, "the ledger refused the run's end record") || len(end.Request.Scope.Customers) != 0 {
					t.Errorf("end %s, %q, %d customers; want failed, saying the ledger refused it, without the customers",
						end.Status, end.Error, len(end.Request.Scope.Customers))
				}
			}
			if n := exec.calls.Load(); n != 1 {
				t.Errorf("the executor ran %d times, want once", n)
			}
			if l, ok := leaseOf(t, h.view, req.ID); ok {
				t.Errorf("lease %+v left after the run was given up", l)
			}
		})
	}
}

// TestARequestOverTheBoundsEndsFailedWithoutRunning: a request that names
// more customers than a request may (it came from elsewhere than a Queue,
// which refuses it) ends failed, saying why, without the Executor; its
// lease is dropped.
func TestARequestOverTheBoundsEndsFailedWithoutRunning(t *testing.T) {
	t.Parallel()
	exec := &countingExec{}
	h := newHarness(t, exec, nil)
	req := request("bounds", customers(jobs.MaxCustomers+1)...)
	if done := h.handle(t, req).result(t); !done {
		t.Error("handle: not done; want the request done")
	}
	if err := h.view.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	run, _ := h.view.Get(req.ID)
	if run.Status != jobs.StatusFailed || !strings.Contains(run.Error, fmt.Sprintf("at most %d", jobs.MaxCustomers)) {
		t.Errorf("run %s %q, want failed saying at most %d customers", run.Status, run.Error, jobs.MaxCustomers)
	}
	if n := exec.calls.Load(); n != 0 {
		t.Errorf("the executor ran %d times, want never", n)
	}
	if l, ok := leaseOf(t, h.view, req.ID); ok {
		t.Errorf("lease %+v left after the run ended", l)
	}
}

// createTopic creates topic with the runs topic's partitions and configs,
// and waits for its leaders.
func createTopic(t *testing.T, brokers []string, topic string, configs ...kafka.ConfigEntry) {
	t.Helper()
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	c := &kafka.Client{Addr: kafka.TCP(brokers...), Transport: tr, Timeout: 10 * time.Second}
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	res, err := c.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
		Topic: topic, NumPartitions: topics.RunsPartitions, ReplicationFactor: 1, ConfigEntries: configs}}})
	if err == nil {
		err = res.Errors[topic]
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	testbench.CreateTopic(t, brokers, topic, topics.RunsPartitions) // it exists: waits for its leaders
}
