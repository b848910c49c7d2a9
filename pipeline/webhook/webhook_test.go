package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The example of the Standard Webhooks specification (and svix's docs).
func TestSignMatchesTheSpecificationsExample(t *testing.T) {
	key, err := ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	got := Sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}

// receiver checks each request as the specification tells a receiver to,
// written from it (not from Sign): the secret's key, the signed content
// "<id>.<timestamp>.<body>", a timestamp within five minutes, any of the
// space-separated v1 signatures.
type receiver struct {
	key      []byte
	mu       sync.Mutex
	statuses []int // answered in turn; the last repeats
	got      []string
	bad      []string
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	id, ts := req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp")
	mac := hmac.New(sha256.New, r.key)
	mac.Write([]byte(id + "." + ts + "." + string(body)))
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	ok := false
	for _, sig := range strings.Fields(req.Header.Get("webhook-signature")) {
		if v, s, _ := strings.Cut(sig, ","); v == "v1" && hmac.Equal([]byte(s), []byte(want)) {
			ok = true
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	r.mu.Lock()
	defer r.mu.Unlock()
	if !ok || err != nil || time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		r.bad = append(r.bad, id)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	r.got = append(r.got, id)
	st := r.statuses[min(len(r.got)-1, len(r.statuses)-1)]
	if st == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "2")
	}
	w.WriteHeader(st)
}

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func newReceiver(t *testing.T, statuses ...int) (*receiver, *httptest.Server) {
	key, _ := ParseSecret(secret)
	r := &receiver{key: key, statuses: statuses}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, srv
}

// sender sleeps no time and records the waits.
func sender(waits *[]time.Duration) *Sender {
	return &Sender{MaxAttempts: 4, BaseDelay: time.Second, MaxDelay: 10 * time.Second,
		Sleep: func(_ context.Context, d time.Duration) error { *waits = append(*waits, d); return nil }}
}

func TestRetriesOn5xxAnd429ThenDeliversWithOneID(t *testing.T) {
	r, srv := newReceiver(t, 500, 429, 503, 200)
	var waits []time.Duration
	res := sender(&waits).Send(t.Context(), srv.URL, secret, "msg_1", []byte(`{"type":"release.ready"}`))
	if !res.Delivered || res.Attempts != 4 || res.Status != 200 || res.Err != nil {
		t.Fatalf("Send = %+v", res)
	}
	if len(r.bad) != 0 || len(r.got) != 4 || r.got[0] != "msg_1" || r.got[3] != "msg_1" {
		t.Errorf("receiver saw %v, refused %v: want msg_1 four times, each signed", r.got, r.bad)
	}
	if len(waits) != 3 || waits[1] != 2*time.Second || waits[0] > time.Second || waits[2] > 4*time.Second {
		t.Errorf("waits %v: want jittered backoff within 1s, 4s and Retry-After's 2s", waits)
	}
}

func TestAReceiverThatIsDownOrRefusesEndsFailed(t *testing.T) {
	_, srv := newReceiver(t, 200)
	url := srv.URL
	srv.Close()
	var waits []time.Duration
	res := sender(&waits).Send(t.Context(), url, secret, "msg_2", []byte(`{}`))
	if res.Delivered || res.Attempts != 4 || res.Err == nil || len(waits) != 3 {
		t.Errorf("down: %+v, waits %v; want 4 attempts then failed", res, waits)
	}
	_, srv2 := newReceiver(t, 400)
	waits = nil
	res = sender(&waits).Send(t.Context(), srv2.URL, secret, "msg_3", []byte(`{}`))
	if res.Delivered || res.Attempts != 1 || res.Status != 400 || !strings.Contains(res.Err.Error(), "refused") {
		t.Errorf("400: %+v; want one attempt, failed", res)
	}
	if res := (&Sender{}).Send(t.Context(), srv2.URL, "not-a-secret", "m", nil); res.Err == nil || res.Attempts != 0 {
		t.Errorf("a bad secret: %+v", res)
	}
}
