package web

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/midata/midata/pipeline/api"
	"github.com/midata/midata/pipeline/api/custody"
	"github.com/midata/midata/pipeline/api/wire"
	"github.com/midata/midata/pipeline/quarantine"
	"github.com/midata/midata/schemas"
)

type runsPage struct {
	Runs     []wire.RunView
	Filter   url.Values
	Live     bool // a run is still going: the page refreshes itself
	Next     string
	Statuses []string
}

func (p runsPage) live() bool { return p.Live }

type runPage struct {
	Run  wire.RunView
	Rels wire.ReleaseList
}

func (p runPage) live() bool { return !p.Run.Status.Final() }

type schedulesPage struct {
	Schedules []api.Schedule
	Formats   any
}

type partnerPage struct {
	Partner    string
	Bundles    []wire.Bundle
	Deliveries []any
}

func (w *Web) opsRoutes() {
	m, c := w.mux, w.guard
	m.HandleFunc("GET /web/ops", c(isOps, w.opsRuns))
	m.HandleFunc("GET /web/ops/runs/{id}", c(isOps, w.opsRun))
	m.HandleFunc("POST /web/ops/runs/{id}/{action}", c(isOps, w.opsRunAction))
	m.HandleFunc("GET /web/ops/schedules", c(isOps, w.opsSchedules))
	m.HandleFunc("POST /web/ops/schedules", c(isOps, w.opsCreateSchedule))
	m.HandleFunc("POST /web/ops/schedules/{id}/{action}", c(isOps, w.opsScheduleAction))
	m.HandleFunc("GET /web/ops/deliveries", c(isOps, w.opsDeliveries))
	m.HandleFunc("GET /web/ops/audit", c(isOps, w.opsAudit))
	m.HandleFunc("GET /web/ops/quarantine", c(isOps, w.opsQuarantine))
	m.HandleFunc("GET /web/partner", c(isPartner, w.partnerHome))
}

func (w *Web) opsRuns(rw http.ResponseWriter, r *http.Request, s session) {
	q := url.Values{"limit": {"50"}}
	for _, k := range []string{"status", "customer", "recipient", "schedule", "cursor"} {
		if v := strings.TrimSpace(r.URL.Query().Get(k)); v != "" {
			q.Set(k, v)
		}
	}
	var list wire.RunList
	if err := w.get(r.Context(), s, "/v1/runs?"+q.Encode(), &list); err != nil {
		w.failed(rw, r, s, err)
		return
	}
	p := runsPage{Runs: list.Runs, Filter: q, Next: list.Next,
		Statuses: []string{"queued", "running", "cancelling", "succeeded", "failed", "cancelled"}}
	p.Live = slices.ContainsFunc(list.Runs, func(v wire.RunView) bool { return !v.Status.Final() })
	w.render(rw, r, http.StatusOK, "ops_runs", s, "Runs", p)
}

func (w *Web) opsRun(rw http.ResponseWriter, r *http.Request, s session) {
	var run wire.RunView
	var rels wire.ReleaseList
	id := url.PathEscape(r.PathValue("id"))
	err := w.get(r.Context(), s, "/v1/runs/"+id, &run)
	if err == nil {
		err = w.get(r.Context(), s, "/v1/runs/"+id+"/releases?limit=200&after="+url.QueryEscape(r.URL.Query().Get("after")), &rels)
	}
	if err != nil {
		w.failed(rw, r, s, err)
		return
	}
	w.render(rw, r, http.StatusOK, "ops_run", s, "Run "+run.ID, runPage{run, rels})
}

func (w *Web) opsRunAction(rw http.ResponseWriter, r *http.Request, s session) {
	id, action := r.PathValue("id"), r.PathValue("action")
	if action != "retry" && action != "cancel" {
		http.NotFound(rw, r)
		return
	}
	code, body := w.call(r.Context(), s, http.MethodPost, "/v1/runs/"+url.PathEscape(id)+"/"+action, nil)
	var err error
	if code/100 != 2 {
		err = &apiError{code, errorText(body, "not done")}
	}
	back(rw, r, Prefix+"ops/runs/"+url.PathEscape(id), err, map[string]string{"retry": "Retried.", "cancel": "Cancel asked."}[action])
}

func (w *Web) opsSchedules(rw http.ResponseWriter, r *http.Request, s session) {
	var list api.ScheduleList
	if err := w.get(r.Context(), s, "/v1/schedules", &list); err != nil {
		w.failed(rw, r, s, err)
		return
	}
	w.render(rw, r, http.StatusOK, "ops_schedules", s, "Schedules", schedulesPage{Schedules: list.Schedules, Formats: formats})
}

func (w *Web) opsCreateSchedule(rw http.ResponseWriter, r *http.Request, s session) {
	f := r.PostForm
	req := api.ScheduleRequest{ID: f.Get("id"), Cron: f.Get("cron"), Period: f.Get("period"), Formats: f["format"],
		Recipient: schemas.Recipient(f.Get("recipient")), All: f.Get("scope") == "all"}
	if !req.All {
		for _, c := range strings.FieldsFunc(f.Get("customers"), func(r rune) bool { return r == ',' || r == ' ' || r == '\n' }) {
			req.Customers = append(req.Customers, c)
		}
	}
	code, body := w.call(r.Context(), s, http.MethodPost, "/v1/schedules", req)
	var err error
	if code/100 != 2 {
		err = &apiError{code, errorText(body, "not created")}
	}
	back(rw, r, Prefix+"ops/schedules", err, "Schedule "+req.ID+" created.")
}

func (w *Web) opsScheduleAction(rw http.ResponseWriter, r *http.Request, s session) {
	id, action := r.PathValue("id"), r.PathValue("action")
	method, path := http.MethodPost, "/v1/schedules/"+url.PathEscape(id)+"/"+action
	switch action {
	case "pause", "resume", "run":
	case "delete":
		method, path = http.MethodDelete, "/v1/schedules/"+url.PathEscape(id)
	default:
		http.NotFound(rw, r)
		return
	}
	code, body := w.call(r.Context(), s, method, path, nil)
	var err error
	if code/100 != 2 {
		err = &apiError{code, errorText(body, "not done")}
	}
	back(rw, r, Prefix+"ops/schedules", err, map[string]string{"pause": "Paused ", "resume": "Resumed ", "run": "Fired ", "delete": "Deleted "}[action]+id+".")
}

func (w *Web) opsDeliveries(rw http.ResponseWriter, r *http.Request, s session) {
	q := url.Values{"limit": {"200"}}
	for _, k := range []string{"partner", "status"} {
		if v := r.URL.Query().Get(k); v != "" {
			q.Set(k, v)
		}
	}
	var list custody.DeliveryList
	if err := w.get(r.Context(), s, "/v1/deliveries?"+q.Encode(), &list); err != nil {
		w.failed(rw, r, s, err)
		return
	}
	w.render(rw, r, http.StatusOK, "ops_deliveries", s, "Deliveries", struct {
		Deliveries any
		Filter     url.Values
		Partners   any
	}{list.Deliveries, q, w.cfg.Partners})
}

func (w *Web) opsAudit(rw http.ResponseWriter, r *http.Request, s session) {
	customer := strings.TrimSpace(r.URL.Query().Get("customer"))
	var audit map[string]any
	if customer != "" {
		if err := w.get(r.Context(), s, "/v1/audit/customers/"+url.PathEscape(customer), &audit); err != nil {
			w.failed(rw, r, s, err)
			return
		}
	}
	w.render(rw, r, http.StatusOK, "ops_audit", s, "Audit", struct {
		Customer string
		Audit    map[string]any
	}{customer, audit})
}

func (w *Web) opsQuarantine(rw http.ResponseWriter, r *http.Request, s session) {
	var sum quarantine.Summary
	if err := w.get(r.Context(), s, "/v1/quarantine", &sum); err != nil {
		w.failed(rw, r, s, err)
		return
	}
	w.render(rw, r, http.StatusOK, "ops_quarantine", s, "Quarantine", sum)
}

func (w *Web) partnerHome(rw http.ResponseWriter, r *http.Request, s session) {
	id := s.ID()
	var bundles wire.BundleList
	var dl struct {
		Deliveries []any `json:"deliveries"`
	}
	err := w.get(r.Context(), s, "/v1/partners/"+id+"/bundles", &bundles)
	if err == nil {
		err = w.get(r.Context(), s, "/v1/partners/"+id+"/deliveries", &dl)
	}
	if err != nil {
		w.failed(rw, r, s, err)
		return
	}
	w.render(rw, r, http.StatusOK, "partner", s, "Your bundles", partnerPage{Partner: id, Bundles: bundles.Bundles, Deliveries: dl.Deliveries})
}
