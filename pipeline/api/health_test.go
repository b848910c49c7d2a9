package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/midata/midata/pipeline/api/ports"
	"github.com/midata/midata/pipeline/jobs"
)

func TestHealthz(t *testing.T) {
	h := newHarness(t)
	h.ready = errors.New("not yet")
	rec := h.do(t, "GET", "/healthz", "", nil)
	if rec.Code != 200 || rec.Body.String() != "ok\n" {
		t.Errorf("healthz %d %q, want 200 ok (alive even when not ready)", rec.Code, rec.Body)
	}
}

func TestReadyz(t *testing.T) {
	h := newHarness(t)
	if rec := h.do(t, "GET", "/readyz", "", nil); rec.Code != 200 || rec.Body.String() != "ok\n" {
		t.Errorf("readyz %d %q, want 200 ok", rec.Code, rec.Body)
	}
	// Trust issue, finding 6: anonymous /readyz showed broker addresses
	// and raw errors. It names the part only.
	h.ready = &ports.NotReady{Part: "kafka", Err: errors.New("dial tcp 10.1.2.3:9092: connect: connection refused")}
	rec := h.do(t, "GET", "/readyz", "", nil)
	msg := errorOf(t, rec, 503)
	if !strings.Contains(msg, "not ready: kafka") || strings.Contains(msg, "10.1.2.3") || strings.Contains(msg, "refused") {
		t.Errorf("503 message %q: want the part (kafka), not the error", msg)
	}
	h.ready = errors.New("s3 bucket secret-bucket: AccessDenied, request id 4F2A")
	if msg := errorOf(t, h.do(t, "GET", "/readyz", "", nil), 503); strings.Contains(msg, "secret-bucket") || strings.Contains(msg, "4F2A") {
		t.Errorf("503 message %q shows an unnamed error", msg)
	}
}

func TestReadyzGivesTheCheckADeadline(t *testing.T) {
	var hadDeadline bool
	h := newHarness(t, func(c *Config) {
		c.Health = ports.HealthFunc(func(ctx context.Context) error {
			_, hadDeadline = ctx.Deadline()
			return nil
		})
	})
	h.do(t, "GET", "/readyz", "", nil)
	if !hadDeadline {
		t.Error("the readiness check ran without a deadline")
	}
}

func TestUnknownRoutesAndMethodsAnswerJSON(t *testing.T) {
	h := newHarness(t)
	msg := errorOf(t, h.do(t, "GET", "/v1/nothing", tokOps, nil), 404)
	if !strings.Contains(msg, "/openapi.json") {
		t.Errorf("404 message %q does not point to the document", msg)
	}
	rec := h.do(t, "PATCH", "/v1/schedules/s1", tokOps, nil)
	errorOf(t, rec, 405)
	if got := rec.Header().Get("Allow"); got != "GET, PUT, DELETE" {
		t.Errorf("Allow %q, want GET, PUT, DELETE", got)
	}
	rec = h.do(t, "POST", "/healthz", "", nil)
	errorOf(t, rec, 405)
	if got := rec.Header().Get("Allow"); got != "GET" {
		t.Errorf("Allow %q, want GET", got)
	}
}

func TestEveryResponseHasARequestID(t *testing.T) {
	h := newHarness(t)
	a := h.do(t, "GET", "/healthz", "", nil).Header().Get("X-Request-Id")
	b := h.do(t, "GET", "/v1/runs", "", nil).Header().Get("X-Request-Id")
	if len(a) != 16 || len(b) != 16 || a == b {
		t.Errorf("request ids %q and %q: want two different 16-hex ids", a, b)
	}
}

// panickingRuns panics on Submit.
type panickingRuns struct{ fakeRuns }

func (p *panickingRuns) Submit(context.Context, jobs.Request) (jobs.Run, error) { panic("boom") }

func TestAPanicIsAnswered500(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Runs = &panickingRuns{fakeRuns{calls: &calls{}, runs: map[string]jobs.Run{}}} })
	rec := h.do(t, "POST", "/v1/releases", tokOps, map[string]any{"recipient": "self", "customers": []string{"C1"}, "from": "2026-01-01", "to": "2026-02-01", "formats": []string{"ndjson"}})
	msg := errorOf(t, rec, http.StatusInternalServerError)
	if !strings.Contains(msg, rec.Header().Get("X-Request-Id")) {
		t.Errorf("500 message %q does not give the request id", msg)
	}
	if !strings.Contains(h.logs.String(), "boom") {
		t.Error("the panic is not logged")
	}
}

func TestTheSigningKeysAreServedToAnyoneAsText(t *testing.T) {
	h := newHarness(t)
	rec := h.do(t, "GET", "/.well-known/midata-signing-key", "", nil)
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") || !strings.Contains(rec.Body.String(), "(current)\nRWTEST\n") {
		t.Errorf("well-known key: %d %q %q", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
	h = newHarness(t, func(c *Config) { c.SigningKeys = nil })
	if rec := h.do(t, "GET", "/.well-known/midata-signing-key", "", nil); rec.Code != 404 || !strings.Contains(rec.Body.String(), "signing.key_file") {
		t.Errorf("no key configured: %d %s", rec.Code, rec.Body)
	}
}
