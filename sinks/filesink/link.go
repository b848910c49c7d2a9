package filesink

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/midata/midata/sinks"
)

// linkPrefix is the path under BaseURL where links point.
const linkPrefix = "/files/"

// signContext separates these signatures from any other use of the secret.
const signContext = "midata filesink link v1\n"

// Messages of refused links: one line each, saying what to do.
const (
	msgBadSignature = "this download link is not valid: its signature does not match. Ask for a new link."
	msgExpired      = "this download link expired at %s. Ask for a new link."
	msgNotFound     = "this download is no longer available. Ask for a new release."
	msgUnreadable   = "this download could not be read. Try again later."
	msgMethod       = "download links answer only GET and HEAD."
)

// Link returns a link to the object at key that Handler serves until ttl
// from now (Config.Now): BaseURL/files/<key>?expires=<unix seconds>&sig=<hex
// HMAC-SHA256 of key and expiry>. ttl must be at least one second; it is
// counted in whole seconds. Link does not check that the object exists.
func (s *Sink) Link(ctx context.Context, key string, ttl time.Duration) (sinks.Link, error) {
	if err := checkKey(key); err != nil {
		return sinks.Link{}, fmt.Errorf("sign link to %s: %w", key, err)
	}
	if ttl < time.Second {
		return sinks.Link{}, fmt.Errorf("sign link to %s: lifetime %s: want at least 1s", key, ttl)
	}
	expires := s.now().Add(ttl).Unix()
	q := url.Values{"expires": {strconv.FormatInt(expires, 10)}, "sig": {hex.EncodeToString(s.sign(key, expires))}}
	return sinks.Link{
		URL:       s.base + linkPrefix + escapeKey(key) + "?" + q.Encode(),
		ExpiresAt: time.Unix(expires, 0).UTC(),
	}, nil
}

// sign returns the MAC of a link to key that expires at the given second.
func (s *Sink) sign(key string, expires int64) []byte {
	mac := hmac.New(sha256.New, s.secret)
	mac.Write([]byte(signContext))
	mac.Write([]byte(key))
	mac.Write([]byte{'\n'})
	mac.Write([]byte(strconv.FormatInt(expires, 10)))
	return mac.Sum(nil)
}

// escapeKey escapes each segment of key for a URL path.
func escapeKey(key string) string {
	segs := strings.Split(key, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// Handler serves the links that Link makes: a valid link gets the file as
// an attachment (with ranges and conditional requests, via
// http.ServeContent); a link whose signature does not match, or that has
// expired, gets 403 with a one-line explanation; a missing object gets 404.
// Only GET and HEAD are answered.
//
// Mount it at the path of BaseURL followed by /files/ without stripping
// that prefix, e.g. mux.Handle("/files/", sink.Handler()) for a BaseURL
// without a path.
func (s *Sink) Handler() http.Handler {
	return http.HandlerFunc(s.serve)
}

func (s *Sink) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "private, no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, msgMethod, http.StatusMethodNotAllowed)
		return
	}
	key, ok := strings.CutPrefix(r.URL.Path, s.basePath+linkPrefix)
	if !ok {
		http.Error(w, msgNotFound, http.StatusNotFound)
		return
	}
	expires, ok := s.verify(key, r.URL.Query())
	if !ok {
		http.Error(w, msgBadSignature, http.StatusForbidden)
		return
	}
	if at := time.Unix(expires, 0); !s.now().Before(at) {
		http.Error(w, fmt.Sprintf(msgExpired, at.UTC().Format(time.RFC3339)), http.StatusForbidden)
		return
	}
	f, err := s.open(key)
	switch {
	case errors.Is(err, sinks.ErrNotFound):
		http.Error(w, msgNotFound, http.StatusNotFound)
		return
	case err != nil:
		http.Error(w, msgUnreadable, http.StatusInternalServerError)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		http.Error(w, msgUnreadable, http.StatusInternalServerError)
		return
	}
	name := path.Base(key)
	w.Header().Set("Content-Type", sinks.ContentType(name))
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, name, st.ModTime(), f)
}

// verify checks the signature of a link to key and returns its expiry. It
// accepts only what Link writes: one canonical decimal expires and one
// signature of 64 hex digits that matches.
func (s *Sink) verify(key string, q url.Values) (int64, bool) {
	if len(q["expires"]) != 1 || len(q["sig"]) != 1 || checkKey(key) != nil {
		return 0, false
	}
	raw := q.Get("expires")
	expires, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || strconv.FormatInt(expires, 10) != raw {
		return 0, false
	}
	sig, err := hex.DecodeString(q.Get("sig"))
	if err != nil {
		return 0, false
	}
	return expires, hmac.Equal(sig, s.sign(key, expires))
}
