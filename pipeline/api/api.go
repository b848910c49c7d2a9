package api

import (
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/midata/midata/pipeline/api/bearer"
	"github.com/midata/midata/pipeline/api/jsonbody"
	"github.com/midata/midata/pipeline/api/ports"
	"github.com/midata/midata/pipeline/api/wire"
	"github.com/midata/midata/pipeline/jobs"
)

// MaxBodyBytes is the largest request body the API reads.
const MaxBodyBytes = 1 << 20

// Config is what New needs. Every interface is required.
type Config struct {
	Runs      ports.Runs       // the queue and the view of runs
	Control   ports.RunControl // cancel and retry
	Schedules ports.Schedules  // the cron schedules
	Consent   ports.Consent    // records a customer's own request as a self consent event
	Grants    ports.Grants     // a customer's own grants: read, change, revoke; nil: 503
	Bundles   ports.Bundles    // the bundles delivered to partners, to pull; nil: 404
	Links     ports.Links      // signs download links of committed releases, for their owner
	Health    ports.Health     // /readyz

	// Validate checks a request before it is queued; an error fails the
	// call with 400 and the error's text. Default: DefaultValidate.
	Validate func(jobs.Request) error

	// Tokens maps each bearer token to its role: "ops", "customer:<id>" or
	// "partner:<id>". Tokens are at least 16 bytes.
	Tokens map[string]string
	// Auth knows more tokens, asked after Tokens: a tokens file, JWTs.
	Auth bearer.Authenticator
	// SigningKeys is the body of /.well-known/midata-signing-key (package
	// signing's Keys.WellKnown); nil: 404, nothing is signed.
	SigningKeys []byte

	Logger *slog.Logger     // default: discard
	Now    func() time.Time // default: time.Now
	// Metrics answers GET /metrics (Prometheus), for role ops only: run
	// counts, records and lag are not for anyone who reaches the port.
	// Nil: 404.
	Metrics http.Handler
	// Location is the organisation's time zone: a period given as dates
	// is those calendar days there. Default UTC (serve passes
	// config.Location, Europe/London unless configured).
	Location *time.Location
	// Custody gives the handlers of the routes about releases after they
	// are made (links, downloads, deletions, deliveries: package
	// pipeline/api/custody), by name; a route without one answers 404.
	Custody func(ports.Responder) map[string]http.HandlerFunc
}

// API is the HTTP API of `midata serve`.
type API struct {
	runs      ports.Runs
	control   ports.RunControl
	schedules ports.Schedules
	consent   ports.Consent
	grants    ports.Grants
	bundles   ports.Bundles
	links     ports.Links
	health    ports.Health
	validate  func(jobs.Request) error
	auth      bearer.Chain
	keys      []byte
	log       *slog.Logger
	loc       *time.Location
	metrics   http.Handler
	now       func() time.Time
	routes    []Route
	custody   map[string]http.HandlerFunc
}

// Role names who may call a route. RoleCustomer and RolePartner match a
// token of role "customer:<id>" / "partner:<id>" whose id is the route's
// {id}.
type Role string

// The roles of the routes.
const (
	RoleOps      Role = "ops"
	RoleCustomer Role = "customer:{id}"
	RolePartner  Role = "partner:{id}"
)

// Route is one route of the API: what the mux is built from and what the
// OpenAPI document must describe.
type Route struct {
	Method  string // GET, POST, PUT or DELETE
	Pattern string // the net/http path pattern, e.g. /v1/runs/{id}
	Roles   []Role // who may call it; empty: anyone, without a token
	Summary string

	handle http.HandlerFunc
}

// extra is the handler name of Config.Custody.
func (a *API) extra(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if h := a.custody[name]; h != nil {
			h(w, r)
			return
		}
		a.fail(w, r, http.StatusNotFound, r.URL.Path+": not served here: this instance has no signing key or no partners")
	}
}

// JSON implements ports.Responder.
func (a *API) JSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	a.writeJSON(w, r, status, v)
}

// Fail implements ports.Responder.
func (a *API) Fail(w http.ResponseWriter, r *http.Request, op string, err error) {
	a.failErr(w, r, op, err)
}

// New checks cfg and returns the API.
func New(cfg Config) (*API, error) {
	var missing []string
	for name, v := range map[string]any{
		"Runs": cfg.Runs, "Control": cfg.Control, "Schedules": cfg.Schedules,
		"Consent": cfg.Consent, "Links": cfg.Links, "Health": cfg.Health,
	} {
		if v == nil {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return nil, fmt.Errorf("new api: missing %s in Config", strings.Join(missing, ", "))
	}
	tokens, err := bearer.NewStatic(cfg.Tokens)
	if err != nil {
		return nil, fmt.Errorf("new api: %w", err)
	}
	a := &API{
		runs: cfg.Runs, control: cfg.Control, schedules: cfg.Schedules,
		consent: cfg.Consent, grants: cfg.Grants, bundles: cfg.Bundles, links: cfg.Links, health: cfg.Health,
		validate: cfg.Validate, auth: bearer.Chain{tokens, cfg.Auth}, keys: cfg.SigningKeys, log: cfg.Logger, now: cfg.Now, loc: cfg.Location, metrics: cfg.Metrics,
	}
	if a.validate == nil {
		a.validate = DefaultValidate
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	a.routes = a.buildRoutes()
	if cfg.Custody != nil {
		a.custody = cfg.Custody(a)
	}
	return a, nil
}

func (a *API) buildRoutes() []Route {
	ops := []Role{RoleOps}
	// Ops never act as a customer or a partner (the design's Roles): an
	// ops POST on a customer's route recorded a self grant in the
	// customer's name, and an ops GET returned their download links
	// (trust issue, finding 2).
	customer := []Role{RoleCustomer}
	partner := []Role{RolePartner}
	return []Route{
		{"GET", "/healthz", nil, "Liveness: the process answers", a.healthz},
		{"GET", "/readyz", nil, "Readiness: Kafka and the object store reachable, views rebuilt", a.readyz},
		{"GET", "/openapi.json", nil, "This API's OpenAPI document", a.openapi},
		{"GET", "/.well-known/midata-signing-key", nil, "The public keys that sign what partners receive (minisign), the current first", a.signingKeys},
		{"GET", "/metrics", ops, "Prometheus metrics of this instance", a.serveMetrics},

		{"POST", "/v1/customers/{id}/releases", customer, "Ask for the customer's own data", a.createCustomerRelease},
		{"GET", "/v1/customers/{id}/releases", customer, "The customer's releases, newest first", a.listCustomerReleases},
		{"GET", "/v1/customers/{id}/releases/{release}/links", customer, "Fresh download links to one of the customer's releases, while its consent stands", a.customerReleaseLinks},
		{"GET", "/v1/customers/{id}/grants", customer, "The customer's consent for each recipient: self and each partner", a.listGrants},
		{"PUT", "/v1/customers/{id}/grants/{recipient}", customer, "Grant a recipient categories, for a window, until an expiry: in force at once", a.putGrant},
		{"DELETE", "/v1/customers/{id}/grants/{recipient}", customer, "Revoke the customer's grant to a recipient: in force at once", a.deleteGrant},

		{"GET", "/v1/customers/{id}/links", customer, "The customer's download links, newest first (without their tokens)", a.extra("links")},
		{"DELETE", "/v1/customers/{id}/links/{link}", customer, "Revoke one of the customer's download links", a.extra("revoke-link")},
		{"DELETE", "/v1/customers/{id}/releases/{release}/links", customer, "Revoke every link to one of the customer's releases", a.extra("revoke-release-links")},
		{"DELETE", "/v1/customers/{id}/releases/{release}", customer, "Delete one of the customer's releases: its files go, the ledger keeps the fact", a.extra("delete-release")},
		{"GET", "/v1/customers/{id}/downloads", customer, "The customer's download history, newest first", a.extra("downloads")},
		{"GET", "/v1/downloads/{token}", nil, "Follow a download link: a redirect to the file, or a page saying why not", a.extra("download")},

		{"GET", "/v1/partners/{id}/releases", partner, "Releases to the partner, newest first", a.listPartnerReleases},
		{"GET", "/v1/partners/{id}/releases/{release}/links", partner, "Fresh download links to one release made for the partner, while its consent stands", a.partnerReleaseLinks},
		{"GET", "/v1/partners/{id}/bundles", partner, "The bundles delivered to the partner", a.listBundles},
		{"GET", "/v1/partners/{id}/bundles/{release}", partner, "A fresh link to one bundle delivered to the partner, while its consent stands", a.bundleLink},
		{"GET", "/v1/partners/{id}/deliveries", partner, "The deliveries to the partner and their webhook outcomes", a.extra("partner-deliveries")},

		{"POST", "/v1/releases", ops, "Start a release for customers or everyone with consent", a.createRelease},
		{"GET", "/v1/runs", ops, "Runs, newest first, filtered", a.listRuns},
		{"GET", "/v1/runs/{id}", ops, "One run, with its counts and first releases", a.getRun},
		{"GET", "/v1/runs/{id}/releases", ops, "A page of the run's releases, by customer", a.listRunReleases},
		{"POST", "/v1/runs/{id}/cancel", ops, "Cancel a run", a.cancelRun},
		{"POST", "/v1/runs/{id}/retry", ops, "Retry a failed or cancelled run", a.retryRun},
		{"DELETE", "/v1/releases/{release}/links", ops, "Revoke every download link to a release, without seeing them", a.extra("ops-revoke-release-links")},
		{"GET", "/v1/deliveries", ops, "Partner deliveries and their webhook outcomes, the latest first", a.extra("deliveries")},
		{"GET", "/v1/quarantine", ops, "Quarantined records counted by kind of reason, where the last came from; never their contents", a.extra("quarantine")},
		{"GET", "/v1/audit/customers/{id}", ops, "The audit answer for one customer: every release made about them, under which consent, delivered and downloaded when", a.extra("audit")},

		{"GET", "/v1/schedules", ops, "Schedules, by id", a.listSchedules},
		{"POST", "/v1/schedules", ops, "Create a schedule", a.createSchedule},
		{"GET", "/v1/schedules/{id}", ops, "One schedule", a.getSchedule},
		{"PUT", "/v1/schedules/{id}", ops, "Create or replace a schedule", a.putSchedule},
		{"DELETE", "/v1/schedules/{id}", ops, "Delete a schedule", a.deleteSchedule},
		{"POST", "/v1/schedules/{id}/pause", ops, "Pause a schedule", a.pauseSchedule},
		{"POST", "/v1/schedules/{id}/resume", ops, "Resume a schedule", a.resumeSchedule},
		{"POST", "/v1/schedules/{id}/run", ops, "Fire a schedule now", a.runSchedule},
	}
}

// Routes returns every route of the API.
func (a *API) Routes() []Route {
	out := make([]Route, len(a.routes))
	copy(out, a.routes)
	return out
}

// Handler returns the handler of every route. A path it does not know
// answers 404, a known path with another method 405, both as JSON.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	paths := http.NewServeMux() // which paths exist, whatever the method
	allow := map[string][]string{}
	for _, rt := range a.routes {
		mux.Handle(rt.Method+" "+rt.Pattern, a.guard(rt))
		if _, ok := allow[rt.Pattern]; !ok {
			paths.Handle(rt.Pattern, http.NotFoundHandler())
		}
		allow[rt.Pattern] = append(allow[rt.Pattern], rt.Method)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := paths.Handler(r); pattern != "" {
			w.Header().Set("Allow", strings.Join(allow[pattern], ", "))
			a.fail(w, r, http.StatusMethodNotAllowed, fmt.Sprintf("%s %s: method not allowed: use %s", r.Method, r.URL.Path, strings.Join(allow[pattern], " or ")))
			return
		}
		a.fail(w, r, http.StatusNotFound, fmt.Sprintf("%s %s: no such route: see /openapi.json", r.Method, r.URL.Path))
	})
	return a.observe(mux)
}

// observe gives each request an id, recovers a panicking handler and logs
// one line per request (never the token).
func (a *API) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := a.now()
		id := wire.RandomHex(8)
		w.Header().Set("X-Request-Id", id)
		rec := &jsonbody.StatusRecorder{ResponseWriter: w}
		r = r.WithContext(withRequestID(r.Context(), id))
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				a.log.ErrorContext(r.Context(), "handler panicked", "request_id", id, "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(p))
				if !rec.Wrote() {
					a.fail(rec, r, http.StatusInternalServerError, "internal error: try again, and tell operations if it persists (request "+id+")")
				}
			}
			a.log.InfoContext(r.Context(), "http request", "request_id", id, "method", r.Method, "path", r.URL.Path,
				"status", rec.Code(), "role", roleOf(r.Context()), "duration", a.now().Sub(start))
		}()
		next.ServeHTTP(rec, r)
	})
}

func badRequest(format string, args ...any) error { return jsonbody.BadRequest(format, args...) }

func decode(w http.ResponseWriter, r *http.Request, dst any) error {
	return jsonbody.Decode(w, r, dst, MaxBodyBytes)
}
