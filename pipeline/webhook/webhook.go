// Package webhook sends webhooks as the Standard Webhooks specification
// (standardwebhooks.com) says, so a partner checks them with any of its
// libraries: headers webhook-id (the same on every retry of one message),
// webhook-timestamp (Unix seconds) and webhook-signature ("v1," and the
// base64 HMAC-SHA256, keyed by the secret, of "<id>.<timestamp>.<body>").
// A secret is "whsec_" and base64 of at least 24 random bytes.
//
// Send retries with exponential backoff and full jitter on 5xx, 429 and
// transport errors (timeouts, refused connections), honouring a 429's
// Retry-After; a 2xx ends it delivered, any other answer ends it failed at
// once (the receiver refused the message, retrying would not help).
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SecretPrefix starts every secret.
const SecretPrefix = "whsec_"

// ParseSecret returns the key of a "whsec_<base64>" secret.
func ParseSecret(s string) ([]byte, error) {
	b64, ok := strings.CutPrefix(s, SecretPrefix)
	if !ok {
		return nil, errors.New("webhook secret: want whsec_<base64>")
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(key) < 24 {
		return nil, errors.New("webhook secret: want whsec_ and the base64 of at least 24 random bytes")
	}
	return key, nil
}

// Sign returns the webhook-signature header of one message.
func Sign(key []byte, id string, timestamp int64, body []byte) string {
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%d.", id, timestamp)
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Sender delivers webhooks. The zero value works: 8 attempts, 1 s doubling
// to 5 min, a 10 s time limit per attempt.
type Sender struct {
	Client      *http.Client // default: 10 s timeout
	MaxAttempts int
	BaseDelay   time.Duration
	MaxDelay    time.Duration
	// Sleep waits d or until ctx ends; default a timer (tests make it instant).
	Sleep func(ctx context.Context, d time.Duration) error
	Now   func() time.Time
}

// Result is how one message's delivery ended.
type Result struct {
	ID        string
	Delivered bool
	Attempts  int
	Status    int   // the last HTTP status; 0 when none came
	Err       error // why it was not delivered
}

// Send posts body (JSON) to url, signed with secret, as message id, until
// it is delivered, refused, or the attempts run out.
func (s *Sender) Send(ctx context.Context, url, secret, id string, body []byte) Result {
	res := Result{ID: id}
	key, err := ParseSecret(secret)
	if err != nil {
		res.Err = err
		return res
	}
	client, attempts, delay, maxDelay := s.Client, s.MaxAttempts, s.BaseDelay, s.MaxDelay
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	if attempts <= 0 {
		attempts = 8
	}
	if delay <= 0 {
		delay = time.Second
	}
	if maxDelay <= 0 {
		maxDelay = 5 * time.Minute
	}
	sleep, now := s.Sleep, s.Now
	if sleep == nil {
		sleep = timerSleep
	}
	if now == nil {
		now = time.Now
	}
	for res.Attempts < attempts {
		res.Attempts++
		wait, retry := s.attempt(ctx, client, url, key, id, body, now().Unix(), &res)
		if !retry || res.Attempts == attempts {
			return res
		}
		if wait <= 0 {
			wait = time.Duration(rand.Int64N(int64(min(delay<<(res.Attempts-1), maxDelay)) + 1)) // full jitter
		}
		if err := sleep(ctx, min(wait, maxDelay)); err != nil {
			res.Err = err
			return res
		}
	}
	return res
}

// attempt makes one delivery attempt; it says whether to retry and after
// how long when the receiver said (Retry-After).
func (s *Sender) attempt(ctx context.Context, client *http.Client, url string, key []byte, id string, body []byte, ts int64, res *Result) (time.Duration, bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		res.Err = err
		return 0, false
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("webhook-signature", Sign(key, id, ts, body))
	resp, err := client.Do(req)
	if err != nil {
		res.Status, res.Err = 0, fmt.Errorf("attempt %d: %w", res.Attempts, err)
		return 0, ctx.Err() == nil
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	res.Status = resp.StatusCode
	switch {
	case resp.StatusCode/100 == 2:
		res.Delivered, res.Err = true, nil
		return 0, false
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		res.Err = fmt.Errorf("attempt %d: HTTP %d", res.Attempts, resp.StatusCode)
		secs, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		return time.Duration(secs) * time.Second, true
	default:
		res.Err = fmt.Errorf("the receiver refused the message: HTTP %d", resp.StatusCode)
		return 0, false
	}
}

func timerSleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
