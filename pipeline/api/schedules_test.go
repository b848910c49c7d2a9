package api

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/midata/midata/pipeline/schedule"
)

func monthly(id string) map[string]any {
	return map[string]any{"id": id, "cron": "CRON_TZ=Europe/London 0 3 1 * *", "recipient": "partner:px", "all": true, "period": "month", "formats": []string{"ndjson", "parquet"}}
}

func TestCreateSchedule(t *testing.T) {
	h := newHarness(t)
	rec := h.do(t, "POST", "/v1/schedules", tokOps, monthly("m1"))
	s := decodeBody[Schedule](t, rec, 201)
	if rec.Header().Get("Location") != "/v1/schedules/m1" {
		t.Errorf("Location %q, want /v1/schedules/m1", rec.Header().Get("Location"))
	}
	stored, ok := h.schedules.Get("m1")
	if !ok || stored.Spec != "CRON_TZ=Europe/London 0 3 1 * *" || !stored.Scope.All || stored.Recipient != "partner:px" ||
		stored.Period != "month" || !slices.Equal(stored.Formats, []string{"ndjson", "parquet"}) || stored.Declared {
		t.Errorf("stored %+v", stored)
	}
	if s.NextFire.IsZero() {
		t.Error("the answer is not the schedule as stored (no next_fire)")
	}

	msg := errorOf(t, h.do(t, "POST", "/v1/schedules", tokOps, monthly("m1")), 409)
	if !strings.Contains(msg, "PUT /v1/schedules/m1") {
		t.Errorf("409 message %q does not say how to replace it", msg)
	}
}

func TestBadSchedulesAreRefused(t *testing.T) {
	with := func(k string, v any) map[string]any {
		b := monthly("m1")
		if v == nil {
			delete(b, k)
		} else {
			b[k] = v
		}
		return b
	}
	tests := []struct {
		name   string
		method string
		path   string
		body   any
		putErr error
		status int
		want   string
	}{
		{"a schedule without an id is refused", "POST", "/v1/schedules", with("id", nil), nil, 400, `id ""`},
		{"an id with a slash is refused", "POST", "/v1/schedules", with("id", "a/b"), nil, 400, `id "a/b"`},
		{"a schedule without cron is refused", "POST", "/v1/schedules", with("cron", nil), nil, 400, `"cron" is missing`},
		{"a schedule without period is refused", "POST", "/v1/schedules", with("period", nil), nil, 400, `"period" is missing`},
		{"an unknown format is refused", "POST", "/v1/schedules", with("formats", []string{"xlsx"}), nil, 400, `unknown format "xlsx"`},
		{"customers and all together are refused", "POST", "/v1/schedules", with("customers", []string{"C1"}), nil, 400, `both "all" and "customers"`},
		{"a read-only field is refused", "POST", "/v1/schedules", with("next_fire", "2026-01-01T00:00:00Z"), nil, 400, `unknown field "next_fire"`},
		{"a bad cron spec refused by the schedules is 400", "POST", "/v1/schedules", with("cron", "61 * * * *"),
			fmt.Errorf("cron %q: end of range (61) above maximum (59): %w", "61 * * * *", ErrInvalid), 400, "above maximum"},
		{"a schedule from the config file may not be replaced", "PUT", "/v1/schedules/m1", with("id", nil),
			fmt.Errorf("schedule m1 is declared in the config file: change it there: %w", ErrConflict), 409, "config file"},
		{"a schedule the store calls read-only is 409", "PUT", "/v1/schedules/m1", with("id", nil),
			fmt.Errorf("schedule %q is declared in the config file; change it there: %w", "m1", schedule.ErrReadOnly), 409, "config file"},
		{"a schedule the store calls invalid is 400", "POST", "/v1/schedules", with("cron", "61 * * * *"),
			fmt.Errorf("cron %q: above maximum: %w", "61 * * * *", schedule.ErrInvalid), 400, "above maximum"},
		{"a store that did not answer is 503", "POST", "/v1/schedules", monthly("m1"),
			fmt.Errorf("store schedule %q: %w: broker down", "m1", schedule.ErrUnavailable), 503, "try again"},
		{"a PUT whose body names another id is refused", "PUT", "/v1/schedules/m1", with("id", "m2"), nil, 400, `differs from the path's "m1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.schedules.err = tt.putErr
			msg := errorOf(t, h.do(t, tt.method, tt.path, tokOps, tt.body), tt.status)
			if !strings.Contains(msg, tt.want) {
				t.Errorf("message %q does not contain %q", msg, tt.want)
			}
			if tt.putErr == nil && len(h.calls.list()) > 0 {
				t.Errorf("a refused schedule reached the backends: %q", h.calls.list())
			}
		})
	}
}

func TestPutScheduleCreatesOrReplaces(t *testing.T) {
	h := seeded(t)
	body := monthly("")
	delete(body, "id")
	s := decodeBody[Schedule](t, h.do(t, "PUT", "/v1/schedules/s1", tokOps, body), 200)
	if s.ID != "s1" || !s.All || s.Recipient != "partner:px" {
		t.Errorf("stored %+v, want s1 replaced", s)
	}
	decodeBody[Schedule](t, h.do(t, "PUT", "/v1/schedules/fresh", tokOps, body), 200)
	if _, ok := h.schedules.Get("fresh"); !ok {
		t.Error("PUT of a new id did not create it")
	}
}

func TestScheduleLifecycle(t *testing.T) {
	h := seeded(t)
	list := decodeBody[ScheduleList](t, h.do(t, "GET", "/v1/schedules", tokOps, nil), 200)
	if len(list.Schedules) != 1 || list.Schedules[0].ID != "s1" {
		t.Fatalf("list %+v, want s1", list)
	}
	if s := decodeBody[Schedule](t, h.do(t, "GET", "/v1/schedules/s1", tokOps, nil), 200); s.ID != "s1" || s.Cron != "@monthly" {
		t.Errorf("get %+v", s)
	}
	if s := decodeBody[Schedule](t, h.do(t, "POST", "/v1/schedules/s1/pause", tokOps, nil), 200); !s.Paused {
		t.Error("pause answered a schedule that is not paused")
	}
	if s := decodeBody[Schedule](t, h.do(t, "POST", "/v1/schedules/s1/resume", tokOps, nil), 200); s.Paused {
		t.Error("resume answered a paused schedule")
	}
	run := decodeBody[RunView](t, h.do(t, "POST", "/v1/schedules/s1/run", tokOps, nil), 202)
	if run.Request.ScheduleID != "s1" || !strings.HasPrefix(run.ID, "s1@") {
		t.Errorf("run now answered %+v, want a firing of s1", run.Request)
	}
	if rec := h.do(t, "DELETE", "/v1/schedules/s1", tokOps, nil); rec.Code != 204 || rec.Body.Len() != 0 {
		t.Errorf("delete: %d %q, want 204 and no body", rec.Code, rec.Body)
	}
	want := []string{"paused s1 true", "paused s1 false", "run schedule s1", "delete schedule s1"}
	if got := h.calls.list(); !slices.Equal(got, want) {
		t.Errorf("calls %q, want %q", got, want)
	}
	errorOf(t, h.do(t, "GET", "/v1/schedules/s1", tokOps, nil), 404)
	errorOf(t, h.do(t, "DELETE", "/v1/schedules/s1", tokOps, nil), 404)
	errorOf(t, h.do(t, "POST", "/v1/schedules/s1/pause", tokOps, nil), 404)
	errorOf(t, h.do(t, "POST", "/v1/schedules/s1/run", tokOps, nil), 404)
	if l := decodeBody[ScheduleList](t, h.do(t, "GET", "/v1/schedules", tokOps, nil), 200); l.Schedules == nil || len(l.Schedules) != 0 {
		t.Errorf("an empty list is %+v, want schedules: []", l)
	}
}

// Trust issue, finding 13: a schedule made without a zone fired and cut its
// periods in UTC while the organisation's dates are London's. It is stored
// with the organisation's zone written out; one that names a zone keeps it.
func TestASchedulesSpecGetsTheOrganisationsZone(t *testing.T) {
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(c *Config) { c.Location = london })
	if rec := h.do(t, "POST", "/v1/schedules", tokOps, monthly("m1")); rec.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	body := monthly("m2")
	body["cron"] = "CRON_TZ=Asia/Tokyo 0 3 1 * *"
	if rec := h.do(t, "POST", "/v1/schedules", tokOps, body); rec.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	if got := h.schedules.byID["m1"].Spec; !strings.HasPrefix(got, "CRON_TZ=Europe/London ") {
		t.Errorf("stored spec %q, want it in Europe/London", got)
	}
	if got := h.schedules.byID["m2"].Spec; got != "CRON_TZ=Asia/Tokyo 0 3 1 * *" {
		t.Errorf("stored spec %q, want the zone it named", got)
	}
}
