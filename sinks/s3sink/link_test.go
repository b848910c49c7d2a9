package s3sink

import (
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// fetch GETs url with a client that keeps no idle connections and returns
// the status, the body and the response headers.
func fetch(t *testing.T, link string) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, link, nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", link, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", link, err)
	}
	return resp.StatusCode, body, resp.Header
}

// flipChar returns s with the character at i replaced by a different hex digit.
func flipChar(s string, i int) string {
	c := byte('0')
	if s[i] == '0' {
		c = '1'
	}
	return s[:i] + string(c) + s[i+1:]
}

func TestLinksAreCheckedByTheServer(t *testing.T) {
	t.Parallel()
	s, _, _ := benchSink(t, Config{})
	const key = "releases/r1/midata transactions.csv"
	body := []byte("date,amount\n2024-01-02,-12.50\n")
	put(t, s, key, body, 8)
	put(t, s, "releases/r1/other.csv", []byte("someone else's"), 8)

	now := time.Now()
	link, err := s.Link(t.Context(), key, time.Hour)
	if err != nil {
		t.Fatalf("Link: %v", err)
	}
	if d := link.ExpiresAt.Sub(now); d < 59*time.Minute || d > time.Hour+time.Second {
		t.Errorf("ExpiresAt is %s from now, want about 1h", d)
	}

	t.Run("a fresh link returns the bytes as an attachment", func(t *testing.T) {
		status, got, h := fetch(t, link.URL)
		if status != http.StatusOK {
			t.Fatalf("status %d (%s), want 200", status, got)
		}
		sameBytes(t, "downloaded", got, body)
		if cd := h.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment") || !strings.Contains(cd, "midata transactions.csv") {
			t.Errorf("Content-Disposition = %q, want an attachment named midata transactions.csv", cd)
		}
	})

	u, err := url.Parse(link.URL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	sig := q.Get("X-Amz-Signature")
	if len(sig) != 64 {
		t.Fatalf("X-Amz-Signature = %q, want 64 hex digits", sig)
	}
	tamper := func(edit func(u *url.URL, q url.Values)) string {
		v := *u
		qq := url.Values{}
		for k, vs := range q {
			qq[k] = append([]string(nil), vs...)
		}
		edit(&v, qq)
		v.RawQuery = qq.Encode()
		return v.String()
	}
	tests := []struct {
		name string
		link string
		want int
	}{
		{"a link with one signature digit changed is refused", tamper(func(_ *url.URL, q url.Values) { q.Set("X-Amz-Signature", flipChar(sig, 10)) }), 403},
		{"a link pointing at another key is refused", tamper(func(u *url.URL, _ url.Values) {
			u.Path = strings.Replace(u.Path, "midata transactions.csv", "other.csv", 1)
			u.RawPath = ""
		}), 403},
		{"a link with a longer lifetime is refused", tamper(func(_ *url.URL, q url.Values) { q.Set("X-Amz-Expires", "7200") }), 403},
		// S3 answers a malformed signed query with 400, as AWS does.
		{"a link without signature is refused", tamper(func(_ *url.URL, q url.Values) { q.Del("X-Amz-Signature") }), 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.link == link.URL {
				t.Fatal("the tampered link equals the original")
			}
			status, got, _ := fetch(t, tt.link)
			if status != tt.want {
				t.Fatalf("status %d, want %d (body %.200s)", status, tt.want, got)
			}
			if strings.Contains(string(got), string(body)) {
				t.Fatal("the refused link returned the object")
			}
		})
	}

	t.Run("a link signed two hours ago for one hour has expired", func(t *testing.T) {
		past, err := NewFromClient(s.client, Config{Bucket: s.cfg.Bucket, Now: func() time.Time { return now.Add(-2 * time.Hour) }})
		if err != nil {
			t.Fatal(err)
		}
		old, err := past.Link(t.Context(), key, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if !old.ExpiresAt.Before(now) {
			t.Fatalf("ExpiresAt = %s, want before now (%s)", old.ExpiresAt, now)
		}
		status, got, _ := fetch(t, old.URL)
		if status != http.StatusForbidden {
			t.Fatalf("status %d, want 403 (body %.200s)", status, got)
		}
	})
}

func TestLinkLifetimeIsBounded(t *testing.T) {
	t.Parallel()
	client := s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String("http://127.0.0.1:1"),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider("id", "secret", ""),
	})
	at := time.Date(2026, 3, 1, 12, 0, 0, 500, time.UTC)
	tests := []struct {
		name    string
		max     time.Duration
		ttl     time.Duration
		wantErr bool
	}{
		{"seven days is the longest by default", 0, 7 * 24 * time.Hour, false},
		{"one second is fine", 0, time.Second, false},
		{"more than seven days is refused", 0, 7*24*time.Hour + time.Second, true},
		{"zero is refused", 0, 0, true},
		{"a negative lifetime is refused", 0, -time.Minute, true},
		{"less than a second is refused", 0, time.Millisecond, true},
		{"a configured limit is kept", time.Hour, time.Hour + time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := NewFromClient(client, Config{Bucket: "b", MaxLinkTTL: tt.max, Now: func() time.Time { return at }})
			if err != nil {
				t.Fatal(err)
			}
			l, err := s.Link(t.Context(), "k.csv", tt.ttl)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Link(ttl %s) = %s, want an error", tt.ttl, l.URL)
				}
				return
			}
			if err != nil {
				t.Fatalf("Link(ttl %s): %v", tt.ttl, err)
			}
			u, err := url.Parse(l.URL)
			if err != nil {
				t.Fatal(err)
			}
			q := u.Query()
			if got, want := q.Get("X-Amz-Expires"), strconvSeconds(tt.ttl); got != want {
				t.Errorf("X-Amz-Expires = %s, want %s", got, want)
			}
			if got := q.Get("X-Amz-Date"); got != "20260301T120000Z" {
				t.Errorf("X-Amz-Date = %s, want the injected clock's 20260301T120000Z", got)
			}
			if want := at.Truncate(time.Second).Add(tt.ttl); !l.ExpiresAt.Equal(want) {
				t.Errorf("ExpiresAt = %s, want %s", l.ExpiresAt, want)
			}
		})
	}
}

func strconvSeconds(d time.Duration) string {
	return strconv.FormatInt(int64(d/time.Second), 10)
}
