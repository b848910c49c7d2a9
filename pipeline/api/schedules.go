package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/midata/midata/pipeline/jobs"
	"github.com/midata/midata/pipeline/schedule"
	"github.com/midata/midata/schemas"
)

// Schedule is a cron schedule of releases, as the API takes and shows it.
// Each firing queues one request for the period that ends at the fire time.
type Schedule struct {
	ID        string            `json:"id"`
	Cron      string            `json:"cron"`      // github.com/robfig/cron/v3 syntax: 5 fields, optional seconds, CRON_TZ=, @monthly
	Recipient schemas.Recipient `json:"recipient"` // "self" or "partner:<id>"
	Customers []string          `json:"customers,omitempty"`
	All       bool              `json:"all,omitempty"` // everyone whose consent covers the recipient
	Period    string            `json:"period"`        // what each firing releases, ending at the fire time, as pipeline/schedule reads it
	Formats   []string          `json:"formats"`
	Paused    bool              `json:"paused"`

	// Set by the schedules; refused in requests.
	Source   string    `json:"source,omitempty"` // "config" (declared in the config file) or "api"
	NextFire time.Time `json:"next_fire,omitzero"`
	LastFire time.Time `json:"last_fire,omitzero"`
}

// scheduleView is the schedule e as the API shows it.
func scheduleView(e schedule.Entry) Schedule {
	v := Schedule{ID: e.ID, Cron: e.Spec, Recipient: e.Recipient, Customers: e.Scope.Customers, All: e.Scope.All,
		Period: string(e.Period), Formats: e.Formats, Paused: e.Paused, Source: "api", NextFire: e.NextFire, LastFire: e.LastFire}
	if e.Declared {
		v.Source = "config"
	}
	return v
}

// scheduleOf is the schedule the API stores for s.
func scheduleOf(s Schedule) schedule.Schedule {
	return schedule.Schedule{ID: s.ID, Spec: s.Cron, Recipient: s.Recipient, Scope: schemas.Scope{Customers: s.Customers, All: s.All},
		Period: schedule.Period(s.Period), Formats: s.Formats, Paused: s.Paused}
}

// scheduleErr makes the schedule package's errors match the API's, so
// failErr answers them with their status; the message stays the store's.
func scheduleErr(err error) error {
	for _, m := range []struct{ from, to error }{
		{schedule.ErrNotFound, ErrNotFound},
		{schedule.ErrReadOnly, ErrConflict},
		{schedule.ErrInvalid, ErrInvalid},
		{schedule.ErrUnavailable, ErrUnavailable},
	} {
		if errors.Is(err, m.from) {
			return &mappedError{err: err, as: m.to}
		}
	}
	return err
}

// mappedError is err that also matches as.
type mappedError struct{ err, as error }

func (e *mappedError) Error() string   { return e.err.Error() }
func (e *mappedError) Unwrap() []error { return []error{e.err, e.as} }

// ScheduleRequest is the body of POST /v1/schedules and PUT
// /v1/schedules/{id}.
type ScheduleRequest struct {
	ID        string            `json:"id,omitempty"` // required for POST; for PUT, empty or the path's id
	Cron      string            `json:"cron"`
	Recipient schemas.Recipient `json:"recipient"`
	Customers []string          `json:"customers,omitempty"`
	All       bool              `json:"all,omitempty"`
	Period    string            `json:"period"`
	Formats   []string          `json:"formats"`
	Paused    bool              `json:"paused,omitempty"`
}

// schedule reads and checks the body of a POST or PUT. The cron spec and
// the period are checked by the schedules (Put); the recipient, customers
// and formats here, by the Validate hook, as a firing's request would be.
func (a *API) schedule(w http.ResponseWriter, r *http.Request, pathID string) (Schedule, error) {
	var body ScheduleRequest
	if err := decode(w, r, &body); err != nil {
		return Schedule{}, err
	}
	switch {
	case pathID != "" && body.ID != "" && body.ID != pathID:
		return Schedule{}, badRequest("id %q differs from the path's %q: send the path's id or none", body.ID, pathID)
	case pathID != "":
		body.ID = pathID
	}
	if !keyPattern.MatchString(body.ID) {
		return Schedule{}, badRequest("id %q: want 1-64 of A-Z a-z 0-9 . _ -", body.ID)
	}
	if body.Cron == "" {
		return Schedule{}, badRequest(`"cron" is missing: give a cron spec like "0 3 1 * *" or "@monthly"`)
	}
	body.Cron = schedule.InZone(body.Cron, a.loc) // the organisation's zone unless the spec names one
	if body.Period == "" {
		return Schedule{}, badRequest(`"period" is missing: say what each firing releases`)
	}
	kind := jobs.KindRelease
	if body.All {
		kind = jobs.KindBulk
	}
	now := a.now().UTC()
	probe := jobs.Request{
		ID: "schedule-" + body.ID, Kind: kind, Recipient: body.Recipient,
		Scope: schemas.Scope{Customers: dedupe(body.Customers), All: body.All},
		From:  now.Add(-24 * time.Hour), To: now, Formats: body.Formats, ScheduleID: body.ID,
	}
	if err := a.check(probe); err != nil {
		return Schedule{}, err
	}
	return Schedule{
		ID: body.ID, Cron: body.Cron, Recipient: body.Recipient, Customers: probe.Scope.Customers, All: body.All,
		Period: body.Period, Formats: body.Formats, Paused: body.Paused, Source: "api",
	}, nil
}

func (a *API) listSchedules(w http.ResponseWriter, r *http.Request) {
	list := ScheduleList{Schedules: []Schedule{}}
	for _, e := range a.schedules.List() {
		list.Schedules = append(list.Schedules, scheduleView(e))
	}
	a.writeJSON(w, r, http.StatusOK, list)
}

func (a *API) getSchedule(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	e, ok := a.schedules.Get(id)
	if !ok {
		a.fail(w, r, http.StatusNotFound, "get schedule "+id+": no such schedule: list them with GET /v1/schedules")
		return
	}
	a.writeJSON(w, r, http.StatusOK, scheduleView(e))
}

func (a *API) createSchedule(w http.ResponseWriter, r *http.Request) {
	const op = "create schedule"
	s, err := a.schedule(w, r, "")
	if err != nil {
		a.failErr(w, r, op, err)
		return
	}
	if _, ok := a.schedules.Get(s.ID); ok {
		a.fail(w, r, http.StatusConflict, op+" "+s.ID+": it exists: PUT /v1/schedules/"+s.ID+" to replace it")
		return
	}
	stored, err := a.schedules.Put(r.Context(), scheduleOf(s))
	if err != nil {
		a.failErr(w, r, op+" "+s.ID, scheduleErr(err))
		return
	}
	a.log.InfoContext(r.Context(), "schedule created", "request_id", requestIDOf(r.Context()), "schedule", s.ID, "role", roleOf(r.Context()))
	w.Header().Set("Location", "/v1/schedules/"+stored.ID)
	a.writeJSON(w, r, http.StatusCreated, scheduleView(stored))
}

func (a *API) putSchedule(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	op := "put schedule " + id
	s, err := a.schedule(w, r, id)
	if err != nil {
		a.failErr(w, r, op, err)
		return
	}
	stored, err := a.schedules.Put(r.Context(), scheduleOf(s))
	if err != nil {
		a.failErr(w, r, op, scheduleErr(err))
		return
	}
	a.log.InfoContext(r.Context(), "schedule put", "request_id", requestIDOf(r.Context()), "schedule", id, "role", roleOf(r.Context()))
	a.writeJSON(w, r, http.StatusOK, scheduleView(stored))
}

func (a *API) deleteSchedule(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := a.schedules.Delete(r.Context(), id); err != nil {
		a.failErr(w, r, "delete schedule "+id, scheduleErr(err))
		return
	}
	a.log.InfoContext(r.Context(), "schedule deleted", "request_id", requestIDOf(r.Context()), "schedule", id, "role", roleOf(r.Context()))
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) pauseSchedule(w http.ResponseWriter, r *http.Request)  { a.setPaused(w, r, true) }
func (a *API) resumeSchedule(w http.ResponseWriter, r *http.Request) { a.setPaused(w, r, false) }

func (a *API) setPaused(w http.ResponseWriter, r *http.Request, paused bool) {
	id := r.PathValue("id")
	verb := "resume"
	if paused {
		verb = "pause"
	}
	e, err := a.schedules.SetPaused(r.Context(), id, paused)
	if err != nil {
		a.failErr(w, r, verb+" schedule "+id, scheduleErr(err))
		return
	}
	a.log.InfoContext(r.Context(), "schedule "+verb+"d", "request_id", requestIDOf(r.Context()), "schedule", id, "role", roleOf(r.Context()))
	a.writeJSON(w, r, http.StatusOK, scheduleView(e))
}

func (a *API) runSchedule(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	run, err := a.schedules.RunNow(r.Context(), id)
	if err != nil {
		a.failErr(w, r, "run schedule "+id, scheduleErr(err))
		return
	}
	a.log.InfoContext(r.Context(), "schedule run now", "request_id", requestIDOf(r.Context()), "schedule", id, "run", run.ID, "role", roleOf(r.Context()))
	a.writeJSON(w, r, http.StatusAccepted, a.opsView(r.Context(), run))
}
