package custody

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/midata/midata/pipeline/activity"
	"github.com/midata/midata/pipeline/api/jsonbody"
	"github.com/midata/midata/pipeline/api/ports"
	"github.com/midata/midata/pipeline/jobs"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/schemas"
	"github.com/midata/midata/schemas/release"
)

// Audit is the answer of GET /v1/audit/customers/{id}: every release made
// about one customer, from the views of the ledger (runs, outcomes and
// activity) and one point read of the consent topic per consent event.
// It holds no download link nor token: links are ids and times.
type Audit struct {
	CustomerID  string            `json:"customer_id"`
	GeneratedAt time.Time         `json:"generated_at"`
	Releases    []AuditRelease    `json:"releases"` // the newest run first
	Recalls     []activity.Recall `json:"recalls"`  // the customer's recalls from partners, the latest first
}

// AuditRelease is one release about the customer: the outcome of a run
// that concerned them, with what happened to it after. An entry without
// a release id is a run that named the customer but has no outcome for
// them (queued, running, or failed before); one without a run id is a
// release the activity ledger knows whose run is no longer on the ledger.
type AuditRelease struct {
	ReleaseID string            `json:"release_id,omitempty"`
	RunID     string            `json:"run_id,omitempty"`
	TaskID    string            `json:"task_id,omitempty"`
	Recipient schemas.Recipient `json:"recipient,omitempty"`
	RunStatus jobs.Status       `json:"run_status,omitempty"`
	Status    release.Status    `json:"status,omitempty"`
	// Released says the recipient was given data: committed (or found
	// committed) with rows. An empty release committed a manifest only.
	Released    bool                `json:"released"`
	Rows        int64               `json:"rows"`
	Reason      string              `json:"reason,omitempty"`
	Period      *release.Period     `json:"period,omitempty"`
	CreatedAt   time.Time           `json:"created_at,omitzero"` // the run's
	RequestedBy string              `json:"requested_by,omitempty"`
	ScheduleID  string              `json:"schedule_id,omitempty"`
	Manifest    string              `json:"manifest,omitempty"`
	Consent     *AuditConsent       `json:"consent,omitempty"`
	Files       []jobs.FileRef      `json:"files"`
	Deliveries  []activity.Delivery `json:"deliveries"`
	Links       []LinkInfo          `json:"links"`
	Downloads   []AuditDownload     `json:"downloads"`
	// LinksRevoked is the revocation of every link of the release.
	LinksRevoked *activity.Revocation `json:"links_revoked,omitempty"`
	Deleted      *activity.Deletion   `json:"deleted,omitempty"`
	Recalls      []string             `json:"recalls,omitempty"` // the ids of the recalls naming it
}

// AuditConsent is the consent a release was committed under, with the
// actor of its consent event (who granted it: the customer, ops, …).
type AuditConsent struct {
	ID         string        `json:"id"`
	Actor      string        `json:"actor,omitempty"`
	Categories []string      `json:"categories"`
	WindowFrom time.Time     `json:"window_from,omitzero"` // zero: open
	WindowTo   time.Time     `json:"window_to,omitzero"`   // exclusive; zero: open
	ExpiresAt  time.Time     `json:"expires_at,omitzero"`  // zero: never
	Event      *jobs.EventAt `json:"event,omitempty"`      // where the event is on the consent topic
	// Unknown says why the window, expiry or actor are not given: the
	// event is not on the ledger, or no longer on the consent topic.
	Unknown string `json:"unknown,omitempty"`
}

// AuditDownload is one download of a file of the release: when, which
// file, through which link.
type AuditDownload struct {
	File   string    `json:"file"`
	At     time.Time `json:"at"`
	LinkID string    `json:"link_id"`
}

// AuditColumns are the columns of the audit as CSV (?format=csv): one row
// per release and file (a release without files has one row, its file
// columns empty). Times are RFC 3339 in UTC, empty when there is none;
// consent_categories are separated by ";"; file_downloads counts the
// downloads of the file and last_download_at is the latest; recalls are
// the ids of the recalls naming the release, separated by ";".
var AuditColumns = []string{
	"customer_id", "release_id", "run_id", "recipient", "run_status", "status", "released", "rows",
	"period_from", "period_to", "created_at", "requested_by",
	"consent_id", "consent_actor", "consent_categories", "consent_window_from", "consent_window_to", "consent_expires_at",
	"consent_partition", "consent_offset",
	"file_path", "file_format", "file_sha256", "file_bytes", "file_rows", "file_downloads", "last_download_at",
	"delivery_status", "delivered_at", "links", "links_revoked_at", "deleted_at", "deleted_by", "recalls",
}

// RunLedger is the view of runs and their outcomes the audit reads
// (*jobs.View).
type RunLedger interface {
	Sync(ctx context.Context) error
	List(f jobs.RunFilter) []jobs.Run
	Release(runID, customerID string) (jobs.Release, bool)
}

// AuditBackend is what the audit needs: the views of runs and of activity,
// and the reader of a consent event's actor (delivery.ActorFrom).
type AuditBackend struct {
	Runs   RunLedger
	View   *activity.View
	Actor  func(ctx context.Context, ev schemas.ConsentEvent) (string, error)
	Now    func() time.Time // default time.Now
	Logger *slog.Logger
}

// AuditHandler is the handler of GET /v1/audit/customers/{id}
// [?format=json|csv], which package api guards (role ops).
func AuditHandler(b *AuditBackend, resp ports.Responder) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		const op = "audit"
		id := r.PathValue("id")
		if err := schemas.CustomerID(id).Validate(); err != nil {
			resp.Fail(w, r, op, jsonbody.BadRequest("%v", err))
			return
		}
		format := r.URL.Query().Get("format")
		if format != "" && format != "json" && format != "csv" {
			resp.Fail(w, r, op, jsonbody.BadRequest("format %q: want json or csv", format))
			return
		}
		if err := errors.Join(b.Runs.Sync(r.Context()), b.View.Sync(r.Context())); err != nil {
			resp.Fail(w, r, op, unavailable(err))
			return
		}
		a, err := b.Audit(r.Context(), id)
		if err != nil {
			resp.Fail(w, r, op, err)
			return
		}
		if format != "csv" {
			resp.JSON(w, r, http.StatusOK, a)
			return
		}
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="audit-`+id+`.csv"`)
		w.WriteHeader(http.StatusOK)
		if err := a.WriteCSV(w); err != nil && b.Logger != nil {
			b.Logger.WarnContext(r.Context(), "audit answer cut short", "customer_id", id, "err", err)
		}
	}
}

// Audit answers the audit of customerID from the views as they are (the
// handler syncs them first).
func (b *AuditBackend) Audit(ctx context.Context, customerID string) (*Audit, error) {
	now := time.Now
	if b.Now != nil {
		now = b.Now
	}
	act := b.View.Of(customerID)
	a := &Audit{CustomerID: customerID, GeneratedAt: now().UTC(), Releases: []AuditRelease{}, Recalls: act.Recalls}
	if a.Recalls == nil {
		a.Recalls = []activity.Recall{}
	}
	actors := map[jobs.EventAt]string{} // each consent event read once
	unknown := map[jobs.EventAt]string{}
	seen := map[string]bool{}
	for _, run := range b.Runs.List(jobs.RunFilter{Customer: customerID}) {
		e := AuditRelease{RunID: run.ID, Recipient: run.Request.Recipient, RunStatus: run.Status,
			Period:    &release.Period{From: run.Request.From.UTC(), To: run.Request.To.UTC()},
			CreatedAt: run.CreatedAt, RequestedBy: run.Request.RequestedBy, ScheduleID: run.Request.ScheduleID}
		rel, ok := b.Runs.Release(run.ID, customerID)
		if ok {
			e.ReleaseID, e.TaskID, e.Status, e.Rows, e.Reason, e.Manifest = rel.ReleaseID, rel.TaskID, rel.Status, rel.Rows, rel.Reason, rel.Manifest
			if rel.Files != nil {
				e.Files = *rel.Files
			}
			e.Released = (rel.Status == release.StatusCommitted || rel.Status == release.StatusAlreadyCommitted) && rel.Rows > 0
			if c := rel.Consent; c != nil {
				ac, err := b.consent(ctx, c, actors, unknown)
				if err != nil {
					return nil, err
				}
				e.Consent = ac
			}
			seen[rel.ReleaseID] = true
		}
		a.Releases = append(a.Releases, e)
	}
	// What the activity ledger has, by release; with the releases it
	// knows whose outcome is gone.
	by := map[string]*releaseActivity{}
	of := func(id string) *releaseActivity {
		if by[id] == nil {
			by[id] = &releaseActivity{}
		}
		return by[id]
	}
	for _, d := range act.Deliveries {
		of(d.ReleaseID).deliveries = append(of(d.ReleaseID).deliveries, d)
	}
	for _, l := range act.Links {
		of(l.ReleaseID).links = append(of(l.ReleaseID).links, l)
	}
	for _, d := range act.Downloads {
		of(d.ReleaseID).downloads = append(of(d.ReleaseID).downloads, d)
	}
	for _, d := range act.Deletions {
		of(d.ReleaseID)
	}
	for _, rc := range act.Recalls {
		for _, id := range rc.Releases {
			of(id).recalls = append(of(id).recalls, rc.ID)
		}
	}
	var orphans []string
	for id := range by {
		if id != "" && !seen[id] {
			orphans = append(orphans, id)
		}
	}
	slices.Sort(orphans)
	for _, id := range orphans {
		a.Releases = append(a.Releases, AuditRelease{ReleaseID: id})
	}
	for i := range a.Releases {
		e := &a.Releases[i]
		if e.Files == nil {
			e.Files = []jobs.FileRef{}
		}
		e.Deliveries, e.Links, e.Downloads = []activity.Delivery{}, []LinkInfo{}, []AuditDownload{}
		if e.ReleaseID != "" {
			b.activityOf(e, of(e.ReleaseID))
		}
	}
	return a, nil
}

// releaseActivity is what the activity ledger has about one release of
// the customer, each list the latest first.
type releaseActivity struct {
	deliveries []activity.Delivery
	links      []activity.Link
	downloads  []activity.Download
	recalls    []string
}

// consent is the audit's view of c, its actor read once per event.
func (b *AuditBackend) consent(ctx context.Context, c *jobs.ConsentRef, actors, unknown map[jobs.EventAt]string) (*AuditConsent, error) {
	ac := &AuditConsent{ID: c.ID, Categories: c.Categories, WindowFrom: c.WindowFrom, WindowTo: c.WindowTo, ExpiresAt: c.ExpiresAt, Event: c.Event}
	if ac.Categories == nil {
		ac.Categories = []string{}
	}
	if c.Event == nil {
		ac.Unknown = "the ledger has the consent id and categories only: the release was found committed under a grant no longer at hand"
		return ac, nil
	}
	at := *c.Event
	if _, ok := actors[at]; !ok && unknown[at] == "" {
		actor, err := "", errors.New("no reader of the consent topic")
		if b.Actor != nil {
			actor, err = b.Actor(ctx, schemas.ConsentEvent{ConsentID: c.ID, Partition: at.Partition, Offset: at.Offset})
		}
		switch {
		case err == nil:
			actors[at] = actor
		case errors.Is(err, topics.ErrNoRecord):
			unknown[at] = "the consent event is no longer on the consent topic (compacted): its actor is not known"
		case b.Actor == nil:
			unknown[at] = "its actor is not known: " + err.Error()
		default:
			return nil, unavailable(fmt.Errorf("actor of consent %s: %w", c.ID, err))
		}
	}
	ac.Actor, ac.Unknown = actors[at], unknown[at]
	return ac, nil
}

// activityOf adds to e what the activity ledger has about its release:
// ra, its revocation and its deletion.
func (b *AuditBackend) activityOf(e *AuditRelease, ra *releaseActivity) {
	for _, d := range ra.deliveries {
		e.Deliveries = append(e.Deliveries, d)
		if e.RunID == "" {
			e.RunID = d.RunID
		}
	}
	for _, l := range ra.links {
		l = b.View.Effective(l)
		e.Links = append(e.Links, LinkInfo{ID: l.ID, ReleaseID: l.ReleaseID, File: l.File, IssuedAt: l.IssuedAt,
			ExpiresAt: l.ExpiresAt, RevokedAt: l.RevokedAt, RevokedBy: l.RevokedBy})
		if e.Recipient == "" {
			e.Recipient = schemas.Recipient(l.Recipient)
		}
	}
	for _, d := range ra.downloads {
		e.Downloads = append(e.Downloads, AuditDownload{File: d.File, At: d.At, LinkID: d.LinkID})
	}
	if rv, ok := b.View.Revocation(e.ReleaseID); ok {
		e.LinksRevoked = &rv
	}
	if d, ok := b.View.Deletion(e.ReleaseID); ok {
		e.Deleted = &d
		if e.Recipient == "" {
			e.Recipient = schemas.Recipient(d.Recipient)
		}
	}
	e.Recalls = ra.recalls
}

// WriteCSV writes a as CSV: AuditColumns, then a row per release and file.
func (a *Audit) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(AuditColumns); err != nil {
		return err
	}
	ts := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	for _, e := range a.Releases {
		var period [2]string
		if e.Period != nil {
			period = [2]string{ts(e.Period.From), ts(e.Period.To)}
		}
		var consent [8]string
		if c := e.Consent; c != nil {
			consent = [8]string{c.ID, c.Actor, strings.Join(c.Categories, ";"), ts(c.WindowFrom), ts(c.WindowTo), ts(c.ExpiresAt)}
			if c.Event != nil {
				consent[6], consent[7] = strconv.Itoa(c.Event.Partition), strconv.FormatInt(c.Event.Offset, 10)
			}
		}
		var delivery [2]string
		if len(e.Deliveries) > 0 { // the latest first
			d := e.Deliveries[0]
			delivery[0] = string(d.Status)
			if d.Status == activity.DeliveryDelivered {
				delivery[1] = ts(d.At)
			}
		}
		var revoked, deleted [2]string
		if e.LinksRevoked != nil {
			revoked[0] = ts(e.LinksRevoked.At)
		}
		if e.Deleted != nil {
			deleted = [2]string{ts(e.Deleted.At), e.Deleted.By}
		}
		head := append([]string{a.CustomerID, e.ReleaseID, e.RunID, string(e.Recipient), string(e.RunStatus), string(e.Status),
			strconv.FormatBool(e.Released), strconv.FormatInt(e.Rows, 10), period[0], period[1], ts(e.CreatedAt), e.RequestedBy}, consent[:]...)
		tail := []string{delivery[0], delivery[1], strconv.Itoa(len(e.Links)), revoked[0], deleted[0], deleted[1], strings.Join(e.Recalls, ";")}
		files := e.Files
		if len(files) == 0 {
			files = []jobs.FileRef{{}}
		}
		for _, f := range files {
			row := slices.Concat(head, fileColumns(f, e.Downloads, ts), tail)
			if err := cw.Write(row); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

// fileColumns are the file columns of f (all empty for the empty FileRef).
func fileColumns(f jobs.FileRef, downloads []AuditDownload, ts func(time.Time) string) []string {
	if f == (jobs.FileRef{}) {
		return make([]string, 7)
	}
	var n int
	var last time.Time
	for _, d := range downloads {
		if f.Path == d.File || strings.HasSuffix(f.Path, "/"+d.File) {
			n++
			if d.At.After(last) {
				last = d.At
			}
		}
	}
	return []string{f.Path, f.Format, f.SHA256, strconv.FormatInt(f.Bytes, 10), strconv.FormatInt(f.Rows, 10), strconv.Itoa(n), ts(last)}
}
