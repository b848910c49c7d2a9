package custody

import (
	"net/http"

	"github.com/midata/midata/pipeline/api/ports"
	"github.com/midata/midata/pipeline/quarantine"
)

// QuarantineHandler answers GET /v1/quarantine from the quarantine view,
// synced first.
func QuarantineHandler(v *quarantine.View, resp ports.Responder) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := v.Sync(r.Context()); err != nil {
			resp.Fail(w, r, "quarantine", unavailable(err))
			return
		}
		resp.JSON(w, r, http.StatusOK, v.Summary())
	}
}
