package serve_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/midata/midata/pipeline/config"
	"github.com/midata/midata/pipeline/serve"
	"github.com/midata/midata/schemas"
)

type ready bool

func (r ready) Ready() bool { return bool(r) }

func TestHealthSaysWhatIsNotReady(t *testing.T) {
	ok := func(context.Context) error { return nil }
	down := func(msg string) func(context.Context) error {
		return func(context.Context) error { return errors.New(msg) }
	}
	for _, tt := range []struct {
		name   string
		health serve.Health
		want   string // "" for ready
	}{
		{"all ready", serve.Health{Runs: ready(true), Kafka: ok, Store: ok}, ""},
		{"run view not rebuilt", serve.Health{Runs: ready(false), Kafka: down("unreached"), Store: down("unreached")}, "run view: the run view is not rebuilt yet"},
		{"kafka unreachable", serve.Health{Runs: ready(true), Kafka: down("dial tcp: refused"), Store: ok}, "kafka: dial tcp: refused"},
		{"store unreachable", serve.Health{Runs: ready(true), Kafka: ok, Store: down("bucket b: no such bucket")}, "object store: bucket b: no such bucket"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.health.Ready(t.Context())
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Ready = %v, want nil", err)
			case tt.want != "" && (err == nil || err.Error() != tt.want):
				t.Fatalf("Ready = %v, want %q", err, tt.want)
			}
		})
	}
}

// Trust issue, finding 6: every /readyz made a broker request and a
// HeadBucket. A check is reused for Every.
func TestHealthReusesItsChecksForAWhile(t *testing.T) {
	now := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	var kafkaCalls, storeCalls int
	h := serve.NewHealth(serve.Health{Runs: ready(true), Every: 5 * time.Second, Now: func() time.Time { return now },
		Kafka: func(context.Context) error { kafkaCalls++; return nil },
		Store: func(context.Context) error { storeCalls++; return errors.New("down") }})
	for range 10 {
		if err := h.Ready(t.Context()); err == nil {
			t.Fatal("Ready = nil, want the store's error")
		}
	}
	if kafkaCalls != 1 || storeCalls != 1 {
		t.Fatalf("10 probes within 5 s: %d Kafka and %d store checks, want 1 each", kafkaCalls, storeCalls)
	}
	now = now.Add(5 * time.Second)
	h.Ready(t.Context())
	if kafkaCalls != 2 || storeCalls != 2 {
		t.Fatalf("after 5 s: %d Kafka and %d store checks, want 2 each", kafkaCalls, storeCalls)
	}
}

func TestDeclaredSchedulesThatCannotWorkAreAConfigMistake(t *testing.T) {
	good := config.Schedule{ID: "monthly", Spec: "@monthly", Recipient: schemas.RecipientSelf,
		Scope: schemas.Scope{All: true}, Period: "previous_month", Formats: []string{"ndjson"}}
	got, err := serve.Declared([]config.Schedule{good}, time.UTC)
	if err != nil || len(got) != 1 || got[0].ID != "monthly" || got[0].Spec != "@monthly" {
		t.Fatalf("Declared(good) = %+v, %v", got, err)
	}
	bad := good
	bad.Spec = "every tuesday"
	_, err = serve.Declared([]config.Schedule{good, bad}, time.UTC)
	if !errors.Is(err, config.ErrInvalid) || !strings.HasPrefix(err.Error(), "schedules[1]: ") {
		t.Fatalf("Declared(bad) = %v, want schedules[1]: … matching config.ErrInvalid", err)
	}
}
