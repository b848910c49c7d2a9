package api

import (
	"context"
	_ "embed"
	"errors"
	"net/http"
	"time"

	"github.com/midata/midata/pipeline/api/ports"
)

// openapiDoc is the OpenAPI document of every route, served at /openapi.json.
//
//go:embed openapi.json
var openapiDoc []byte

// OpenAPI returns the API's OpenAPI document.
func OpenAPI() []byte { return append([]byte(nil), openapiDoc...) }

// readyTimeout bounds a readiness check, so that a probe gets an answer.
const readyTimeout = 5 * time.Second

func (a *API) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte("ok\n"))
}

func (a *API) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if err := a.health.Ready(ctx); err != nil {
		w.Header().Set("Retry-After", "5")
		// Anyone may ask: the part, not the error (trust issue, finding 6:
		// it showed broker addresses and raw errors).
		part := "a check failed"
		var nr *ports.NotReady
		if errors.As(err, &nr) {
			part = nr.Part
		}
		a.log.Warn("not ready", "part", part, "error", err)
		a.fail(w, r, http.StatusServiceUnavailable, "not ready: "+part+" (the reason is in the service's log)")
		return
	}
	a.healthz(w, r)
}

func (a *API) openapi(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openapiDoc)
}

func (a *API) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if a.metrics == nil {
		a.fail(w, r, http.StatusNotFound, "no metrics on this instance")
		return
	}
	a.metrics.ServeHTTP(w, r)
}

// signingKeys answers the organisation's public signing keys as text, for
// `minisign -V -P <line>` and `midata verify --pubkey`.
func (a *API) signingKeys(w http.ResponseWriter, r *http.Request) {
	if a.keys == nil {
		a.fail(w, r, http.StatusNotFound, "no signing key is configured here (signing.key_file)")
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(a.keys)
}
