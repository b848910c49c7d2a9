package worker

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/midata/midata/pipeline/jobs"
	"github.com/midata/midata/pipeline/topics"
)

func TestBackoffDoublesFromTheBaseUpToTheLimit(t *testing.T) {
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
	for n, w := range want {
		if got := backoff(n+1, time.Second, 10*time.Second); got != w {
			t.Errorf("backoff(%d) = %v, want %v", n+1, got, w)
		}
	}
	if got := backoff(1000, time.Second, time.Minute); got != time.Minute {
		t.Errorf("backoff(1000) = %v, want the limit without overflow", got)
	}
}

func TestWorkerConfigValidateNamesEveryProblem(t *testing.T) {
	exec := jobs.ExecutorFunc(func(context.Context, jobs.Request, jobs.Reporter) error { return nil })
	tests := []struct {
		name string
		cfg  Config
		want []string
	}{
		{"an empty config lacks brokers, executor, ledger and view", Config{},
			[]string{"no brokers", "no executor", "a ledger and a view are required"}},
		{"negative numbers are refused", Config{Kafka: topics.Connection{Brokers: []string{"k:9092"}}, Executor: exec, Concurrency: -1, MaxAttempts: -2, DrainTimeout: -time.Second},
			[]string{"concurrency -1", "max attempts -2", "drain timeout -1s"}},
		{"a backoff limit below its base is refused", Config{Kafka: topics.Connection{Brokers: []string{"k:9092"}}, Executor: exec, BackoffBase: time.Minute, BackoffMax: time.Second},
			[]string{"backoff max 1s is below backoff base 1m0s"}},
		{"a lease ttl not above its interval is refused", Config{Kafka: topics.Connection{Brokers: []string{"k:9092"}}, Executor: exec, LeaseInterval: time.Second, LeaseTTL: time.Second},
			[]string{"lease ttl 1s is not above lease interval 1s"}},
		{"a broker list in one string is refused", Config{Kafka: topics.Connection{Brokers: []string{"a:1,b:2"}}, Executor: exec},
			[]string{`broker "a:1,b:2": want host:port`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if err == nil {
				t.Fatal("Validate: no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate: %v; want it to say %q", err, w)
				}
			}
		})
	}
}

func TestWorkerDefaultsFillEveryKnob(t *testing.T) {
	c := Config{}.withDefaults()
	if c.GroupID != jobs.DefaultGroupID || c.RequestsTopic != topics.DefaultRequests || c.Concurrency != 2 || c.BulkConcurrency != 1 ||
		c.MaxAttempts != 5 || c.BackoffBase != time.Second || c.BackoffMax != time.Minute || c.DrainTimeout != 30*time.Second ||
		c.LeaseInterval != 3*time.Second || c.LeaseTTL != 9*time.Second {
		t.Errorf("defaults %+v", c)
	}
	if c.InstanceID == "" || !strings.Contains(c.InstanceID, "-") {
		t.Errorf("instance id %q, want hostname-pid", c.InstanceID)
	}
	for range 100 {
		if d := c.Jitter(10 * time.Millisecond); d < 0 || d > 10*time.Millisecond {
			t.Fatalf("jitter %v outside [0, 10ms]", d)
		}
	}
}
