package kafkasource_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"go.uber.org/goleak"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/pipeline/kafkasource"
	"github.com/midata/midata/pipeline/topics"
)

// Every Source, Producer and kfake cluster is closed by its test, and with
// them kafka-go's transport goroutines: nothing needs ignoring.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newSource returns a Source on brokers, closed at the end of the test.
func newSource(t testing.TB, cfg kafkasource.Config) *kafkasource.Source {
	t.Helper()
	s, err := kafkasource.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// topic creates a fresh topic with n partitions.
func topic(t testing.TB, brokers []string, n int) string {
	t.Helper()
	name := testbench.UniqueName(t, "ks")
	testbench.CreateTopic(t, brokers, name, n)
	return name
}

// produce writes msgs with balancer b, keeping their timestamps.
func produce(t testing.TB, brokers []string, topic string, b kafka.Balancer, msgs ...kafka.Message) {
	t.Helper()
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, Balancer: b, Transport: tr,
		RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond, BatchSize: 1000, BatchBytes: 16 << 20}
	defer w.Close()
	if err := w.WriteMessages(context.Background(), msgs...); err != nil {
		t.Fatalf("produce to %s: %v", topic, err)
	}
}

// to sends every record to one partition.
func to(partition int) kafka.Balancer {
	return kafka.BalancerFunc(func(kafka.Message, ...int) int { return partition })
}

// readAll reads snap and returns its messages.
func readAll(t testing.TB, s *kafkasource.Source, snap kafkasource.Snapshot) []topics.Message {
	t.Helper()
	var got []topics.Message
	if err := s.Read(t.Context(), snap, func(m topics.Message) error {
		got = append(got, m)
		return nil
	}); err != nil {
		t.Fatalf("Read: %v", err)
	}
	return got
}

// logBuffer collects slog output from concurrent goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// lines returns the logged JSON lines that contain every one of subs.
func (b *logBuffer) lines(subs ...string) []string {
	var out []string
	for _, l := range strings.Split(b.String(), "\n") {
		ok := l != ""
		for _, s := range subs {
			ok = ok && strings.Contains(l, s)
		}
		if ok {
			out = append(out, l)
		}
	}
	return out
}
