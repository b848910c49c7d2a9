package links

import (
	"bytes"
	"html/template"
	"net/http"
	"time"
)

// A Reason is why a download link cannot be followed. The zero value is no
// reason; WritePage and Status treat it, and any unknown value, as Invalid.
type Reason int

// The reasons a link cannot be followed.
const (
	Expired     Reason = iota + 1 // The link's expiry has passed.
	Revoked                       // The link was revoked.
	Withdrawn                     // The customer's consent for the recipient was withdrawn or expired.
	Deleted                       // The customer deleted the release.
	Invalid                       // The link is malformed, tampered with, or unknown.
	Unavailable                   // The service cannot check the link right now.
)

// Status returns the HTTP status for r: 410 Gone for a link that worked
// once (Expired, Revoked, Withdrawn, Deleted), 404 for Invalid and 503 for
// Unavailable.
func Status(r Reason) int {
	switch r {
	case Expired, Revoked, Withdrawn, Deleted:
		return http.StatusGone
	case Unavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusNotFound
	}
}

// pageText is what a page says for one reason: the title and h1 (what
// happened), a sentence on why, the words before the time and how to get a
// working link.
type pageText struct{ Heading, Detail, When, Ask string }

const askAgain = "Sign in to midata and open the release to get a fresh link, or ask the organisation that holds your data."

var texts = map[Reason]pageText{
	Expired: {"This download link has expired", "Download links work for a limited time, and this one has run out.",
		"It expired on", askAgain},
	Revoked: {"This download link has been revoked", "This link was cancelled, so it no longer works.",
		"It was revoked on", askAgain},
	Withdrawn: {"Your consent for this download has ended", "You withdrew your consent for this recipient, or it expired, so the link no longer works.",
		"Your consent ended on", "To download again, sign in to midata and grant your consent again, then open the release to get a fresh link."},
	Deleted: {"This release has been deleted", "You deleted this release, so it and its files are gone and cannot be downloaded.",
		"It was deleted on", "To get your data again, sign in to midata and request a new release, or ask the organisation that holds your data."},
	Invalid: {"This download link is not valid", "The link is incomplete, has been changed, or is not one midata made. Check that you copied the whole link.",
		"It was checked on", askAgain},
	Unavailable: {"Downloads are unavailable right now", "midata cannot check this link at the moment.",
		"It was checked on", "Please try again in a minute."},
}

var page = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{.Heading}} – midata</title>
<style>
body{margin:0;background:#fff;color:#1a1a1a;font:1.125rem/1.6 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:36rem;margin:0 auto;padding:3rem 1.25rem}
h1{font-size:1.75rem;line-height:1.25;margin:0 0 1rem}
p{margin:0 0 1rem}.brand{font-weight:700;color:#3d3d3d;margin-bottom:2rem}
@media (prefers-color-scheme:dark){body{background:#121212;color:#f0f0f0}.brand{color:#cfcfcf}}
</style>
</head>
<body><main>
<p class="brand">midata</p>
<h1>{{.Heading}}</h1>
<p>{{.Detail}}</p>
{{- if .Time}}
<p>{{.When}} <time datetime="{{.ISO}}">{{.Time}}</time>.</p>
{{- end}}
<p>{{.Ask}}</p>
</main></body>
</html>
`))

// WritePage writes the page, with Status(r), for a link that cannot be
// followed for reason r. A non-zero when is the moment it happened, shown
// in UTC. The page has no scripts, fetches nothing and is never cached.
func WritePage(w http.ResponseWriter, r Reason, when time.Time) {
	t, ok := texts[r]
	if !ok {
		r, t = Invalid, texts[Invalid]
	}
	data := struct {
		pageText
		Time, ISO string
	}{pageText: t}
	if !when.IsZero() {
		data.Time = when.UTC().Format("2 January 2006 at 15:04 UTC")
		data.ISO = when.UTC().Format(time.RFC3339)
	}
	var body bytes.Buffer
	if err := page.Execute(&body, data); err != nil {
		// The template and its data are fixed, so this does not happen.
		http.Error(w, t.Heading, Status(r))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	if r == Unavailable {
		h.Set("Retry-After", "60")
	}
	w.WriteHeader(Status(r))
	w.Write(body.Bytes())
}
