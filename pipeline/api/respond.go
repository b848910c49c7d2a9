package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/midata/midata/pipeline"
	"github.com/midata/midata/pipeline/api/jsonbody"
	"github.com/midata/midata/pipeline/consent"
	"github.com/midata/midata/pipeline/jobs"
	"github.com/midata/midata/sinks"
)

// writeJSON answers status with v as JSON.
func (a *API) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		a.log.ErrorContext(r.Context(), "encode response", "request_id", requestIDOf(r.Context()), "err", err)
		status, body = http.StatusInternalServerError, []byte(`{"error":"encode response: internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// fail answers status with msg, on one line, as {"error": msg}.
func (a *API) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	a.writeJSON(w, r, status, ErrorBody{Error: oneLine(msg)})
}

// oneLine joins the lines of s with "; ".
func oneLine(s string) string {
	lines := strings.FieldsFunc(s, func(c rune) bool { return c == '\n' || c == '\r' })
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return strings.Join(lines, "; ")
}

// failErr answers the error err of the operation op with the status it
// calls for: the caller's mistakes (4xx) with their text, the backend's
// failures (5xx) with what to do, their detail only in the log.
func (a *API) failErr(w http.ResponseWriter, r *http.Request, op string, err error) {
	ctx := r.Context()
	if e, ok := jsonbody.As(err); ok {
		a.fail(w, r, e.Status, op+": "+e.Msg)
		return
	}
	switch {
	case errors.Is(err, ErrNotFound), errors.Is(err, sinks.ErrNotFound), errors.Is(err, jobs.ErrNotFound):
		a.fail(w, r, http.StatusNotFound, op+": "+err.Error())
	case errors.Is(err, consent.ErrNoConsent):
		a.fail(w, r, http.StatusGone, op+": the consent this release was made under was withdrawn or has expired, so its files are no longer given out: grant again and ask for a new release")
	case errors.Is(err, ErrConflict), errors.Is(err, jobs.ErrConflict):
		a.fail(w, r, http.StatusConflict, op+": "+err.Error())
	case errors.Is(err, ErrInvalid), errors.Is(err, pipeline.ErrInvalidRequest), errors.Is(err, jobs.ErrTooLarge):
		a.fail(w, r, http.StatusBadRequest, op+": "+err.Error())
	case errors.Is(err, ErrUnavailable), errors.Is(err, jobs.ErrTransient),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		a.log.WarnContext(ctx, "backend unavailable", "request_id", requestIDOf(ctx), "op", op, "err", err)
		w.Header().Set("Retry-After", "5")
		a.fail(w, r, http.StatusServiceUnavailable, op+": the queue or the store did not answer: try again in a few seconds")
	default:
		a.log.ErrorContext(ctx, "request failed", "request_id", requestIDOf(ctx), "op", op, "err", err)
		a.fail(w, r, http.StatusInternalServerError, op+": internal error: try again, and tell operations if it persists (request "+requestIDOf(ctx)+")")
	}
}
