package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"go.uber.org/goleak"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/pipeline/notify"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/pipeline/topics/topicstest"
)

// Every Notifier, reader and kfake cluster is closed by its test, and with
// them kafka-go's connections: nothing needs ignoring.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testTimeout bounds every wait of a test.
const testTimeout = 60 * time.Second

var (
	at      = time.Date(2026, 3, 14, 9, 30, 0, 0, time.FixedZone("CET", 3600))
	expires = time.Date(2026, 3, 15, 8, 0, 0, 0, time.UTC)
)

// oneOfEach returns one valid event of each type.
func oneOfEach() []notify.Event {
	return []notify.Event{
		notify.ReleaseReadyEvent(at, "C1", "self", "r-2026-03-C1"),
		notify.LinkExpiringEvent(at, "C1", "r-2026-03-C1", "l-42", expires),
		notify.DeliveryFailedEvent(at, "pds-one", "C2", "r-2026-03-C2", "webhook answered 503"),
		notify.RecallSentEvent(at, "pds-one", "C3", "rc-7", []string{"r-2026-01-C3", "r-2026-02-C3"}),
	}
}

func TestConstructorsMakeValidEventsWithTheirIDs(t *testing.T) {
	wantIDs := []string{
		"release.ready:r-2026-03-C1",
		"link.expiring:l-42",
		"delivery.failed:pds-one/r-2026-03-C2",
		"recall.sent:pds-one/rc-7",
	}
	wantTypes := []notify.Type{notify.ReleaseReady, notify.LinkExpiring, notify.DeliveryFailed, notify.RecallSent}
	for i, e := range oneOfEach() {
		if err := e.Validate(); err != nil {
			t.Errorf("%s: Validate: %v", e.ID, err)
		}
		if e.ID != wantIDs[i] || e.Type != wantTypes[i] || e.Schema != notify.Schema {
			t.Errorf("event %d: id %q type %q schema %q, want %q %q %q", i, e.ID, e.Type, e.Schema, wantIDs[i], wantTypes[i], notify.Schema)
		}
		if e.At.Location() != time.UTC || !e.At.Equal(at) {
			t.Errorf("%s: at %v, want %v in UTC", e.ID, e.At, at)
		}
	}
}

func TestTheSameFactGetsTheSameID(t *testing.T) {
	later := at.Add(time.Hour)
	pairs := [][2]notify.Event{
		{notify.ReleaseReadyEvent(at, "C1", "self", "r1"), notify.ReleaseReadyEvent(later, "C1", "self", "r1")},
		{notify.LinkExpiringEvent(at, "C1", "r1", "l1", expires), notify.LinkExpiringEvent(later, "C1", "r1", "l1", expires)},
		{notify.DeliveryFailedEvent(at, "p", "C1", "r1", "timeout"), notify.DeliveryFailedEvent(later, "p", "C1", "r1", "refused")},
		{notify.RecallSentEvent(at, "p", "C1", "rc1", []string{"r1"}), notify.RecallSentEvent(later, "p", "C1", "rc1", []string{"r1"})},
	}
	for _, p := range pairs {
		if p[0].ID != p[1].ID {
			t.Errorf("the same fact has ids %q and %q", p[0].ID, p[1].ID)
		}
	}
	distinct := []notify.Event{
		notify.ReleaseReadyEvent(at, "C1", "self", "r1"),
		notify.ReleaseReadyEvent(at, "C1", "self", "r2"),
		notify.DeliveryFailedEvent(at, "p", "C1", "r1", "timeout"),
		notify.DeliveryFailedEvent(at, "q", "C1", "r1", "timeout"),
		notify.RecallSentEvent(at, "p", "C1", "rc1", []string{"r1"}),
		notify.RecallSentEvent(at, "q", "C1", "rc1", []string{"r1"}), // one recall, two partners: two facts
	}
	seen := map[string]bool{}
	for _, e := range distinct {
		if seen[e.ID] {
			t.Errorf("two facts share id %q", e.ID)
		}
		seen[e.ID] = true
	}
}

func TestTheJSONHasTheDocumentedFieldsAndNoURL(t *testing.T) {
	want := map[notify.Type][]string{
		notify.ReleaseReady:   {"at", "customer_id", "id", "recipient", "release_id", "schema", "type"},
		notify.LinkExpiring:   {"at", "customer_id", "expires_at", "id", "link_id", "release_id", "schema", "type"},
		notify.DeliveryFailed: {"at", "customer_id", "id", "partner", "reason", "release_id", "schema", "type"},
		notify.RecallSent:     {"at", "customer_id", "id", "partner", "releases", "schema", "type"},
	}
	events := append(oneOfEach(), notify.DeliveryFailedEvent(at, "pds-one", "C2", "r1",
		`Post "https://pds.example/hook?token=s3cret": dial tcp: refused; link s3://bucket/r1 gone`))
	for _, e := range events {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		var keys []string
		for k, v := range m {
			keys = append(keys, k)
			if s := strings.ToLower(string(mustJSON(t, v))); strings.Contains(s, "://") || strings.Contains(s, "token=") {
				t.Errorf("%s: field %s holds a URL or a token: %s", e.ID, k, s)
			}
		}
		slices.Sort(keys)
		if !slices.Equal(keys, want[e.Type]) {
			t.Errorf("%s: fields %v, want %v", e.ID, keys, want[e.Type])
		}
		if m["schema"] != notify.Schema || m["at"] != "2026-03-14T08:30:00Z" {
			t.Errorf("%s: schema %v at %v, want %s 2026-03-14T08:30:00Z", e.ID, m["schema"], m["at"], notify.Schema)
		}
	}
	if got := events[4].Reason; got != `Post <url> dial tcp: refused; link <url> gone` {
		t.Errorf("reason %q: want the URLs replaced", got)
	}
	long := notify.DeliveryFailedEvent(at, "p", "", "r1", strings.Repeat("é", 400))
	if len(long.Reason) > 500 || !strings.HasPrefix(long.Reason, "éé") || strings.ToValidUTF8(long.Reason, "?") != long.Reason {
		t.Errorf("a long reason is kept as %d bytes, want at most 500 of valid UTF-8", len(long.Reason))
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestValidateSaysWhatIsWrong(t *testing.T) {
	many := make([]string, notify.MaxReleases+1)
	for i := range many {
		many[i] = "r"
	}
	tests := []struct {
		name string
		e    notify.Event
		want []string
	}{
		{"an empty event", notify.Event{}, []string{"schema", "id", "at: required", `type ""`}},
		{"an unknown type", notify.Event{Schema: notify.Schema, ID: "x:1", Type: "x", At: at}, []string{`type "x": want release.ready`}},
		{"a release without customer or recipient", notify.ReleaseReadyEvent(at, "", "bob", "r1"), []string{"customer_id: required", `recipient "bob"`}},
		{"a release without id", notify.ReleaseReadyEvent(at, "C1", "self", ""), []string{"id \"release.ready:\"", "release_id: required"}},
		{"a link without expiry", func() notify.Event {
			e := notify.LinkExpiringEvent(at, "C1", "r1", "l1", expires)
			e.ExpiresAt = nil
			return e
		}(), []string{"expires_at: required"}},
		{"a delivery without partner or reason", notify.DeliveryFailedEvent(at, "", "C1", "r1", ""), []string{"partner: required", "reason: required"}},
		{"a bad partner id", notify.DeliveryFailedEvent(at, "PDS One", "C1", "r1", "x"), []string{`partner "PDS One"`}},
		{"a bad customer id", notify.ReleaseReadyEvent(at, "C 1", "self", "r1"), []string{`customer_id "C 1"`}},
		{"a recall of nothing", notify.RecallSentEvent(at, "p", "C1", "rc1", nil), []string{"releases: 0, want 1 to 1000"}},
		{"a recall too large", notify.RecallSentEvent(at, "p", "C1", "rc1", many), []string{"releases: 1001"}},
		{"a recall of an empty id", notify.RecallSentEvent(at, "p", "C1", "rc1", []string{"r1", ""}), []string{"an empty release id"}},
		{"a reason on a release", func() notify.Event {
			e := notify.ReleaseReadyEvent(at, "C1", "self", "r1")
			e.Reason = "x"
			return e
		}(), []string{"reason is only for delivery.failed"}},
		{"a URL in a field", notify.LinkExpiringEvent(at, "C1", "r1", "https://s3.example/r1?X-Amz-Signature=1", expires), []string{"holds a URL"}},
		{"an id of another type", func() notify.Event {
			e := notify.ReleaseReadyEvent(at, "C1", "self", "r1")
			e.ID = "link.expiring:r1"
			return e
		}(), []string{`want release.ready:<subject>`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.e.Validate()
			if err == nil {
				t.Fatalf("Validate accepted %+v", tt.e)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestSpecIsAStreamKeptForSevenDays(t *testing.T) {
	want := topics.Spec{Name: notify.DefaultTopic, Partitions: notify.Partitions, Retention: 7 * 24 * time.Hour}
	if got := notify.Spec(""); got != want {
		t.Errorf("Spec(\"\") = %+v, want %+v", got, want)
	}
	if got := notify.Spec("n"); got.Name != "n" || got.Compacted {
		t.Errorf("Spec(\"n\") = %+v, want name n, not compacted", got)
	}
}

func TestANilNotifierPublishesNothing(t *testing.T) {
	var n *notify.Notifier
	if err := n.Publish(t.Context(), notify.Event{}); err != nil {
		t.Errorf("Publish: %v, want nil", err)
	}
	if err := n.Close(); err != nil {
		t.Errorf("Close: %v, want nil", err)
	}
	if n.Topic() != "" {
		t.Errorf("Topic %q, want empty", n.Topic())
	}
}

func TestPublishErrorsNameTheEvent(t *testing.T) {
	// Nothing listens on port 1; neither Publish gets as far as connecting.
	n := notify.New(topics.Connection{Brokers: []string{"127.0.0.1:1"}}, "", nil)
	defer func() {
		if err := n.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	if n.Topic() != notify.DefaultTopic {
		t.Errorf("Topic %q, want %q", n.Topic(), notify.DefaultTopic)
	}
	bad := notify.ReleaseReadyEvent(at, "", "self", "r1")
	if err := n.Publish(t.Context(), bad); err == nil || !strings.Contains(err.Error(), "release.ready:r1") {
		t.Errorf("Publish of an invalid event: %v, want an error naming release.ready:r1", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := n.Publish(ctx, notify.ReleaseReadyEvent(at, "C1", "self", "r1"))
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "release.ready:r1") {
		t.Errorf("Publish with a cancelled context: %v, want context.Canceled naming release.ready:r1", err)
	}
}

func TestPublishedEventsReadBackKeyedByCustomer(t *testing.T) {
	conn := topicstest.Connect(t)
	name := testbench.UniqueName(t, "notify")
	if err := topics.Ensure(t.Context(), conn, notify.Spec(name)); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	for config, want := range map[string]string{"cleanup.policy": "delete", "retention.ms": "604800000"} {
		if got := topicConfig(t, conn, name, config); got != want {
			t.Errorf("%s %s = %q, want %q", name, config, got, want)
		}
	}
	n := notify.New(conn, name, nil)
	defer func() {
		if err := n.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	sent := []notify.Event{
		notify.ReleaseReadyEvent(at, "C1", "partner:pds-one", "r-2026-03-C1"),
		notify.LinkExpiringEvent(at.Add(time.Minute), "C1", "r-2026-03-C1", "l-42", expires),
		notify.DeliveryFailedEvent(at, "pds-one", "C2", "r-2026-03-C2", "webhook answered 503"),
		notify.RecallSentEvent(at, "pds-two", "", "rc-7", []string{"r-2026-01-C3"}), // no customer: keyed by partner
	}
	wantKeys := []string{"C1", "C1", "C2", "pds-two"}
	for _, e := range sent {
		if err := n.Publish(t.Context(), e); err != nil {
			t.Fatalf("Publish %s: %v", e.ID, err)
		}
	}

	got := map[string]notify.Event{} // by id
	partition := map[string]int{}    // of each id
	offset := map[string]int64{}     // of each id
	for _, m := range readAll(t, conn, name) {
		var e notify.Event
		if err := json.Unmarshal(m.Value, &e); err != nil {
			t.Fatalf("decode %s: %v", m.Value, err)
		}
		i := slices.IndexFunc(sent, func(s notify.Event) bool { return s.ID == e.ID })
		if i < 0 {
			t.Fatalf("read an event not sent: %s", m.Value)
		}
		if string(m.Key) != wantKeys[i] {
			t.Errorf("%s keyed %q, want %q", e.ID, m.Key, wantKeys[i])
		}
		got[e.ID], partition[e.ID], offset[e.ID] = e, m.Partition, m.Offset
	}
	if len(got) != len(sent) {
		t.Fatalf("read %d events, want %d", len(got), len(sent))
	}
	for _, e := range sent {
		if !reflect.DeepEqual(got[e.ID], e) {
			t.Errorf("read back %+v, want %+v", got[e.ID], e)
		}
	}
	// One customer's events are on one partition, in the order published.
	a, b := sent[0].ID, sent[1].ID
	if partition[a] != partition[b] || offset[a] >= offset[b] {
		t.Errorf("C1's events at %d/%d and %d/%d, want one partition, in order", partition[a], offset[a], partition[b], offset[b])
	}
}

// readAll returns every record of topic, up to the ends of its partitions
// now.
func readAll(t *testing.T, conn topics.Connection, topic string) []kafka.Message {
	t.Helper()
	ends, err := topics.Ends(t.Context(), conn, topic)
	if err != nil {
		t.Fatalf("Ends(%s): %v", topic, err)
	}
	if len(ends) != notify.Partitions {
		t.Fatalf("%s has %d partitions, want %d", topic, len(ends), notify.Partitions)
	}
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	var out []kafka.Message
	for p, end := range ends {
		if end == 0 {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: conn.Brokers, Topic: topic, Partition: p, MaxWait: 250 * time.Millisecond, Dialer: conn.Dialer()})
		for {
			m, err := r.FetchMessage(ctx)
			if err != nil {
				r.Close()
				t.Fatalf("read %s/%d: %v", topic, p, err)
			}
			out = append(out, m)
			if m.Offset+1 >= end {
				break
			}
		}
		if err := r.Close(); err != nil {
			t.Errorf("close the reader of %s/%d: %v", topic, p, err)
		}
	}
	return out
}

// topicConfig returns the value of one config of a topic on the broker.
func topicConfig(t *testing.T, conn topics.Connection, topic, name string) string {
	t.Helper()
	tr := conn.Transport()
	defer tr.CloseIdleConnections()
	c := &kafka.Client{Addr: conn.Addr(), Transport: tr, Timeout: 10 * time.Second}
	res, err := c.DescribeConfigs(t.Context(), &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{{
		ResourceType: kafka.ResourceTypeTopic, ResourceName: topic, ConfigNames: []string{name}}}})
	if err != nil {
		t.Fatalf("describe configs of %s: %v", topic, err)
	}
	for _, r := range res.Resources {
		for _, e := range r.ConfigEntries {
			if e.ConfigName == name {
				return e.ConfigValue
			}
		}
	}
	t.Fatalf("topic %s has no config %s", topic, name)
	return ""
}
