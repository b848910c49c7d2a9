package wire

import (
	"encoding/base64"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/midata/midata/pipeline/api/jsonbody"
	"github.com/midata/midata/pipeline/jobs"
	"github.com/midata/midata/schemas"
)

// Limits of the lists of runs.
const (
	DefaultListLimit = 50
	MaxListLimit     = 1000
)

var statuses = []jobs.Status{
	jobs.StatusQueued, jobs.StatusRunning, jobs.StatusCancelling,
	jobs.StatusSucceeded, jobs.StatusNoConsent, jobs.StatusCancelled, jobs.StatusFailed,
}

// RunFilter reads the query parameters named in params: status (comma
// separated), schedule, customer, recipient, limit. Any other parameter is
// refused, so that a misspelt filter does not silently match everything.
func RunFilter(q url.Values, params ...string) (jobs.RunFilter, error) {
	f := jobs.RunFilter{Limit: DefaultListLimit}
	for name, values := range q {
		if !slices.Contains(params, name) {
			return jobs.RunFilter{}, jsonbody.BadRequest("unknown query parameter %q: use %s", name, strings.Join(params, ", "))
		}
		if len(values) > 1 {
			return jobs.RunFilter{}, jsonbody.BadRequest("query parameter %q given %d times: give it once", name, len(values))
		}
	}
	if s := q.Get("status"); s != "" {
		for _, name := range strings.Split(s, ",") {
			st := jobs.Status(strings.TrimSpace(name))
			if !slices.Contains(statuses, st) {
				return jobs.RunFilter{}, jsonbody.BadRequest("status %q: want any of %s, comma separated", st, statusNames())
			}
			f.Status = append(f.Status, st)
		}
	}
	f.ScheduleID = q.Get("schedule")
	if c := q.Get("customer"); c != "" {
		if err := schemas.CustomerID(c).Validate(); err != nil {
			return jobs.RunFilter{}, jsonbody.BadRequest("%v", err)
		}
		f.Customer = c
	}
	if rc := q.Get("recipient"); rc != "" {
		recipient, err := schemas.ParseRecipient(rc)
		if err != nil {
			return jobs.RunFilter{}, jsonbody.BadRequest("%v", err)
		}
		f.Recipient = recipient
	}
	if c := q.Get("cursor"); c != "" {
		cur, err := parseCursor(c)
		if err != nil {
			return jobs.RunFilter{}, err
		}
		f.After = cur
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > MaxListLimit {
			return jobs.RunFilter{}, jsonbody.BadRequest("limit %q: want a whole number from 1 to %d", l, MaxListLimit)
		}
		f.Limit = n
	}
	return f, nil
}

func statusNames() string {
	names := make([]string, len(statuses))
	for i, s := range statuses {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

// EncodeCursor writes c as the opaque next of a page.
func EncodeCursor(c jobs.Cursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.CreatedAt.UnixNano(), 10) + " " + c.ID))
}

// parseCursor reads what EncodeCursor wrote.
func parseCursor(s string) (jobs.Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	ns, id, ok := strings.Cut(string(b), " ")
	n, nerr := strconv.ParseInt(ns, 10, 64)
	if err != nil || !ok || nerr != nil || id == "" || len(id) > 512 {
		return jobs.Cursor{}, jsonbody.BadRequest("cursor %q: not a cursor of this API: send the next of the previous page", s)
	}
	return jobs.Cursor{CreatedAt: time.Unix(0, n).UTC(), ID: id}, nil
}
