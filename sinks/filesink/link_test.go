package filesink

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a settable clock for link expiry.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// linkSink returns a Sink with a settable clock and a BaseURL of base.
func linkSink(t *testing.T, base string) (*Sink, *clock) {
	t.Helper()
	c := &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	s, err := New(Config{Root: filepath.Join(t.TempDir(), "store"), BaseURL: base, Secret: testSecret, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

// serve runs one request through the handler.
func serve(t *testing.T, h http.Handler, method, link string, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequestWithContext(t.Context(), method, link, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// editQuery returns link with its query changed by edit.
func editQuery(t *testing.T, link string, edit func(q url.Values)) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	edit(q)
	u.RawQuery = q.Encode()
	return u.String()
}

func TestLinkHasTheDocumentedShape(t *testing.T) {
	t.Parallel()
	s, c := linkSink(t, "http://127.0.0.1:8080/")
	l, err := s.Link(t.Context(), "releases/r 1/données#1?.csv", 90*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	exp := c.Now().Add(90 * time.Minute)
	if !l.ExpiresAt.Equal(exp) {
		t.Errorf("ExpiresAt = %s, want %s", l.ExpiresAt, exp)
	}
	prefix := "http://127.0.0.1:8080/files/releases/r%201/donn%C3%A9es%231%3F.csv?expires=" + strconv.FormatInt(exp.Unix(), 10) + "&sig="
	if !strings.HasPrefix(l.URL, prefix) {
		t.Fatalf("URL = %s, want prefix %s", l.URL, prefix)
	}
	if sig := strings.TrimPrefix(l.URL, prefix); len(sig) != 64 || strings.Trim(sig, "0123456789abcdef") != "" {
		t.Fatalf("sig = %q, want 64 lowercase hex digits", sig)
	}
	for _, ttl := range []time.Duration{0, -time.Second, time.Millisecond} {
		if _, err := s.Link(t.Context(), "a.csv", ttl); err == nil {
			t.Errorf("Link(ttl %s) succeeded, want an error", ttl)
		}
	}
}

func TestHandlerServesValidLinksOnly(t *testing.T) {
	t.Parallel()
	s, c := linkSink(t, "http://127.0.0.1:8080")
	const key = "releases/r1/midata transactions.csv"
	body := "date,amount\n2024-01-02,-12.50\n"
	if err := s.Commit(t.Context(), key, []byte(body)); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(t.Context(), "releases/r1/other.csv", []byte("someone else's")); err != nil {
		t.Fatal(err)
	}
	l, err := s.Link(t.Context(), key, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	h := s.Handler()

	t.Run("a valid link returns the file as an attachment", func(t *testing.T) {
		rec := serve(t, h, http.MethodGet, l.URL, nil)
		if rec.Code != http.StatusOK || rec.Body.String() != body {
			t.Fatalf("status %d body %q, want 200 %q", rec.Code, rec.Body.String(), body)
		}
		want := map[string]string{
			"Content-Type":           "text/csv; charset=utf-8",
			"Content-Disposition":    `attachment; filename="midata transactions.csv"`,
			"Content-Length":         strconv.Itoa(len(body)),
			"X-Content-Type-Options": "nosniff",
			"Cache-Control":          "private, no-store",
			"Accept-Ranges":          "bytes",
		}
		for k, v := range want {
			if got := rec.Header().Get(k); got != v {
				t.Errorf("%s = %q, want %q", k, got, v)
			}
		}
	})
	t.Run("HEAD returns the headers without the body", func(t *testing.T) {
		rec := serve(t, h, http.MethodHead, l.URL, nil)
		if rec.Code != http.StatusOK || rec.Body.Len() != 0 || rec.Header().Get("Content-Length") != strconv.Itoa(len(body)) {
			t.Fatalf("status %d, body %d bytes, length %q", rec.Code, rec.Body.Len(), rec.Header().Get("Content-Length"))
		}
	})
	t.Run("a range request gets the range", func(t *testing.T) {
		rec := serve(t, h, http.MethodGet, l.URL, http.Header{"Range": {"bytes=5-10"}})
		if rec.Code != http.StatusPartialContent || rec.Body.String() != body[5:11] {
			t.Fatalf("status %d body %q, want 206 %q", rec.Code, rec.Body.String(), body[5:11])
		}
	})

	const badSig = "this download link is not valid: its signature does not match. Ask for a new link.\n"
	u, _ := url.Parse(l.URL)
	q := u.Query()
	tampered := []struct {
		name string
		link string
	}{
		{"a changed signature digit", editQuery(t, l.URL, func(q url.Values) {
			s := q.Get("sig")
			c := "0"
			if s[7] == '0' {
				c = "1"
			}
			q.Set("sig", s[:7]+c+s[8:])
		})},
		{"a signature cut short", editQuery(t, l.URL, func(q url.Values) { q.Set("sig", q.Get("sig")[:62]) })},
		{"a signature that is not hex", editQuery(t, l.URL, func(q url.Values) { q.Set("sig", strings.Repeat("zz", 32)) })},
		{"no signature", editQuery(t, l.URL, func(q url.Values) { q.Del("sig") })},
		{"two signatures", editQuery(t, l.URL, func(q url.Values) { q.Add("sig", q.Get("sig")) })},
		{"a later expiry", editQuery(t, l.URL, func(q url.Values) {
			e, _ := strconv.ParseInt(q.Get("expires"), 10, 64)
			q.Set("expires", strconv.FormatInt(e+3600, 10))
		})},
		{"an expiry with a leading zero", editQuery(t, l.URL, func(q url.Values) { q.Set("expires", "0"+q.Get("expires")) })},
		{"no expiry", editQuery(t, l.URL, func(q url.Values) { q.Del("expires") })},
		{"another key", strings.Replace(l.URL, "midata%20transactions.csv", "other.csv", 1)},
		{"a key outside the root", "http://127.0.0.1:8080/files/../store/other.csv?" + q.Encode()},
	}
	for _, tt := range tampered {
		t.Run("a link with "+tt.name+" is refused", func(t *testing.T) {
			if tt.link == l.URL {
				t.Fatal("the tampered link equals the original")
			}
			rec := serve(t, h, http.MethodGet, tt.link, nil)
			if rec.Code != http.StatusForbidden || rec.Body.String() != badSig {
				t.Fatalf("status %d body %q, want 403 %q", rec.Code, rec.Body.String(), badSig)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "text/plain; charset=utf-8" {
				t.Errorf("Content-Type = %q, want text/plain; charset=utf-8", ct)
			}
		})
	}

	t.Run("only GET and HEAD are answered", func(t *testing.T) {
		for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
			rec := serve(t, h, m, l.URL, nil)
			if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
				t.Errorf("%s: status %d Allow %q, want 405 GET, HEAD", m, rec.Code, rec.Header().Get("Allow"))
			}
		}
		if got := read(t, s, key); string(got) != body {
			t.Fatal("a refused method changed the object")
		}
	})
	t.Run("a path outside /files/ is not found", func(t *testing.T) {
		rec := serve(t, h, http.MethodGet, strings.Replace(l.URL, "/files/", "/other/", 1), nil)
		if rec.Code != http.StatusNotFound {
			t.Fatalf("status %d, want 404", rec.Code)
		}
	})

	// Expiry last: it moves the shared clock.
	t.Run("a link is valid until one second before it expires", func(t *testing.T) {
		c.Set(l.ExpiresAt.Add(-time.Second))
		if rec := serve(t, h, http.MethodGet, l.URL, nil); rec.Code != http.StatusOK {
			t.Fatalf("status %d (%s), want 200", rec.Code, rec.Body.String())
		}
	})
	for _, after := range []time.Duration{0, time.Hour} {
		t.Run("a link "+after.String()+" after its expiry is refused", func(t *testing.T) {
			c.Set(l.ExpiresAt.Add(after))
			rec := serve(t, h, http.MethodGet, l.URL, nil)
			want := "this download link expired at 2026-03-01T13:00:00Z. Ask for a new link.\n"
			if rec.Code != http.StatusForbidden || rec.Body.String() != want {
				t.Fatalf("status %d body %q, want 403 %q", rec.Code, rec.Body.String(), want)
			}
		})
	}
}

func TestHandlerSaysWhenTheObjectIsGone(t *testing.T) {
	t.Parallel()
	s, _ := linkSink(t, "http://127.0.0.1:8080")
	if err := s.Commit(t.Context(), "gone.json", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	l, err := s.Link(t.Context(), "gone.json", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(t.Context(), "gone.json"); err != nil {
		t.Fatal(err)
	}
	rec := serve(t, s.Handler(), http.MethodGet, l.URL, nil)
	if rec.Code != http.StatusNotFound || strings.Count(rec.Body.String(), "\n") != 1 {
		t.Fatalf("status %d body %q, want 404 and one line", rec.Code, rec.Body.String())
	}
}

func TestHandlerSetsContentTypeByExtension(t *testing.T) {
	t.Parallel()
	s, _ := linkSink(t, "http://127.0.0.1:8080")
	tests := []struct{ file, want string }{
		{"a.csv", "text/csv; charset=utf-8"},
		{"a.ndjson", "application/x-ndjson"},
		{"a.json", "application/json"},
		{"a.parquet", "application/vnd.apache.parquet"},
		{"a.html", "text/html; charset=utf-8"},
		{"a.txt", "text/plain; charset=utf-8"},
		{"A.CSV", "text/csv; charset=utf-8"},
		{"a.sig", "application/octet-stream"},
		{"noext", "application/octet-stream"},
	}
	for _, tt := range tests {
		t.Run(tt.file+" is served as "+tt.want, func(t *testing.T) {
			if err := s.Commit(t.Context(), "r/"+tt.file, []byte("<p>x</p>")); err != nil {
				t.Fatal(err)
			}
			l, err := s.Link(t.Context(), "r/"+tt.file, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			rec := serve(t, s.Handler(), http.MethodGet, l.URL, nil)
			if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != tt.want {
				t.Fatalf("status %d Content-Type %q, want 200 %q", rec.Code, rec.Header().Get("Content-Type"), tt.want)
			}
			if cd := rec.Header().Get("Content-Disposition"); cd != "attachment; filename="+tt.file {
				t.Errorf("Content-Disposition = %q", cd)
			}
		})
	}
}

func TestLinksWorkOverHTTPUnderABasePath(t *testing.T) {
	t.Parallel()
	// The listener exists before the sink, which needs its address.
	mux := http.NewServeMux()
	srv := httptest.NewUnstartedServer(mux)
	base := "http://" + srv.Listener.Addr().String()
	s, _ := linkSink(t, base+"/dl/")
	s.now = time.Now // the real clock: the link must be valid now
	mux.Handle("/dl/files/", s.Handler())
	srv.Start()
	defer srv.Close()

	const key = "r/données 2024.ndjson"
	if err := s.Commit(t.Context(), key, []byte(`{"a":1}`+"\n")); err != nil {
		t.Fatal(err)
	}
	l, err := s.Link(t.Context(), key, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(l.URL, srv.URL+"/dl/files/r/donn%C3%A9es%202024.ndjson?") {
		t.Fatalf("URL = %s", l.URL)
	}
	client := srv.Client()
	resp, err := client.Get(l.URL)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(got) != `{"a":1}`+"\n" {
		t.Fatalf("status %d body %q", resp.StatusCode, got)
	}
	if cd := resp.Header.Get("Content-Disposition"); cd != `attachment; filename*=utf-8''donn%C3%A9es%202024.ndjson` {
		t.Errorf("Content-Disposition = %q", cd)
	}
	client.CloseIdleConnections()
}
