package serve_test

import (
	"context"
	"errors"
	"strings"
	"testing"

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
		{"run view not rebuilt", serve.Health{Runs: ready(false), Kafka: down("unreached"), Store: down("unreached")}, "the run view is not rebuilt yet"},
		{"kafka unreachable", serve.Health{Runs: ready(true), Kafka: down("dial tcp: refused"), Store: ok}, "kafka: dial tcp: refused"},
		{"store unreachable", serve.Health{Runs: ready(true), Kafka: ok, Store: down("bucket b: no such bucket")}, "bucket b: no such bucket"},
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

func TestDeclaredSchedulesThatCannotWorkAreAConfigMistake(t *testing.T) {
	good := config.Schedule{ID: "monthly", Spec: "@monthly", Recipient: schemas.RecipientSelf,
		Scope: schemas.Scope{All: true}, Period: "previous_month", Formats: []string{"ndjson"}}
	got, err := serve.Declared([]config.Schedule{good})
	if err != nil || len(got) != 1 || got[0].ID != "monthly" || got[0].Spec != "@monthly" {
		t.Fatalf("Declared(good) = %+v, %v", got, err)
	}
	bad := good
	bad.Spec = "every tuesday"
	_, err = serve.Declared([]config.Schedule{good, bad})
	if !errors.Is(err, config.ErrInvalid) || !strings.HasPrefix(err.Error(), "schedules[1]: ") {
		t.Fatalf("Declared(bad) = %v, want schedules[1]: … matching config.ErrInvalid", err)
	}
}
