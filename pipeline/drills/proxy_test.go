package drills

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/sinks"
	"github.com/midata/midata/sinks/s3sink"
)

// onAttempt is a schedule that gives fault f to the requests that match,
// on their SDK attempt numbers in attempts (every attempt when empty).
func onAttempt(match func(Request) bool, f Fault, attempts ...int) Schedule {
	return func(r Request) Fault {
		if !match(r) {
			return Fault{}
		}
		if len(attempts) == 0 {
			return f
		}
		for _, a := range attempts {
			if r.Attempt == a {
				return f
			}
		}
		return Fault{}
	}
}

func isOp(op string) func(Request) bool { return func(r Request) bool { return r.Op == op } }

// stallSlack is how much longer than its attempt's timeout a stall may hold
// a request: the client's timer, its closing the connection, the proxy
// noticing, on a loaded machine under -race.
const stallSlack = 2 * time.Second

func TestTheProxyForwardsSignedRequestsWithTheirHost(t *testing.T) {
	srv := s3Bench(t)
	bucket := testbench.Bucket(t, srv)
	p := newProxy(t, srv, nil)
	s := newSink(t, srv, p.URL(), bucket, limits{1, 5 * time.Second})
	d := direct{testbench.S3Client(srv), bucket}
	small, large := pattern(1000, 1), pattern(s3sink.MinPartSize+12345, 2)
	if err := write(t.Context(), s, "x/small", small); err != nil {
		t.Fatalf("PutObject through the proxy: %v", err)
	}
	if err := write(t.Context(), s, "x/large", large); err != nil {
		t.Fatalf("multipart upload through the proxy: %v", err)
	}
	if err := s.Commit(t.Context(), "x/manifest.json", []byte(`{"a":1}`)); err != nil {
		t.Fatalf("conditional PutObject through the proxy: %v", err)
	}
	if err := s.Commit(t.Context(), "x/manifest.json", []byte(`{"a":2}`)); !errors.Is(err, sinks.ErrAlreadyCommitted) {
		t.Fatalf("second commit through the proxy = %v, want ErrAlreadyCommitted", err)
	}
	for key, want := range map[string][]byte{"x/small": small, "x/large": large, "x/manifest.json": []byte(`{"a":1}`)} {
		got, ok, err := d.object(t.Context(), key)
		if err != nil || !ok || sum(got) != sum(want) {
			t.Errorf("%s read directly: %d bytes sha256 %s (found %v, %v), want %d bytes %s", key, len(got), sum(got), ok, err, len(want), sum(want))
		}
	}
	if c := p.Counts(); len(c) != 0 {
		t.Errorf("faults injected without a schedule: %v", c)
	}
	if p.Requests() < 7 {
		t.Errorf("the proxy saw %d requests, want every one (at least 7)", p.Requests())
	}
}

// TestATruncatedOrCorruptedUploadIsNeverStored: an upload whose body is cut
// (under its original length, or as a shorter complete request) or has a
// byte changed is refused by the server: with one attempt the write fails
// and nothing is at the key; with a retry the object stored is the one
// written, byte for byte.
func TestATruncatedOrCorruptedUploadIsNeverStored(t *testing.T) {
	srv := s3Bench(t)
	bucket := testbench.Bucket(t, srv)
	d := direct{testbench.S3Client(srv), bucket}
	type upload struct {
		name string
		op   string // the request faulted
		body []byte
		put  func(ctx context.Context, s sinks.Sink, key string, body []byte) error
	}
	commit := func(ctx context.Context, s sinks.Sink, key string, body []byte) error {
		return s.Commit(ctx, key, body)
	}
	uploads := []upload{
		{"a small object (PutObject)", "PutObject", pattern(70_000, 3), write},
		{"a manifest commit (PutObject If-None-Match)", "PutObject", pattern(3_000, 4), commit},
		{"a part of a large object (UploadPart)", "UploadPart", pattern(s3sink.MinPartSize+70_000, 5), write},
	}
	n := 0
	for _, kind := range []Kind{Truncate, ShortBody, Corrupt} {
		for _, keep := range []float64{0, 0.5, 0.999} {
			for _, u := range uploads {
				n++
				key := fmt.Sprintf("t/%d/object", n) // a prefix of its own: the subtests run at once
				t.Run(fmt.Sprintf("%s at %.3f of %s", kind, keep, u.name), func(t *testing.T) {
					t.Parallel()
					f := Fault{Kind: kind, Keep: keep}
					first := func(r Request) bool { return r.Op == u.op && r.Part <= 1 } // part 1 only
					p := newProxy(t, srv, onAttempt(first, f, 1))
					once := newSink(t, srv, p.URL(), bucket, limits{1, 10 * time.Second})
					err := u.put(t.Context(), once, key, u.body)
					if err == nil {
						t.Fatalf("a %s upload with one attempt succeeded", kind)
					}
					if got, ok, err := d.object(t.Context(), key); err != nil || ok {
						t.Fatalf("after a %s upload failed, %s holds %d bytes (err %v), want nothing", kind, key, len(got), err)
					}
					if open, err := d.uploads(t.Context(), key); err != nil || open != 0 {
						t.Errorf("%d multipart uploads left open (err %v)", open, err)
					}
					retried := newSink(t, srv, p.URL(), bucket, limits{3, 10 * time.Second})
					if err := u.put(t.Context(), retried, key, u.body); err != nil {
						t.Fatalf("the %s upload retried: %v", kind, err)
					}
					got, ok, err := d.object(t.Context(), key)
					if err != nil || !ok || sum(got) != sum(u.body) {
						t.Fatalf("after the retry %s holds %d bytes sha256 %s (found %v, %v), want %d bytes %s", key, len(got), sum(got), ok, err, len(u.body), sum(u.body))
					}
					if c := p.Counts()[kind]; c != 2 {
						t.Errorf("%d %s faults injected, want 2 (one per sink)", c, kind)
					}
					if a := p.Anomalies(); len(a) != 0 {
						t.Fatalf("the server accepted a damaged upload: %v", a)
					}
				})
			}
		}
	}
}

// TestEveryFaultIsRetriedWithinTheLimits: each kind of fault on the first
// attempt of every request is retried: the writes succeed with the bytes
// written, a read gets them back, and no operation takes longer than its
// limits allow. A download that stalls mid-body cannot be retried by the
// SDK (the body was handed over): the read fails by the attempt's timeout.
func TestEveryFaultIsRetriedWithinTheLimits(t *testing.T) {
	srv := s3Bench(t)
	bucket := testbench.Bucket(t, srv)
	d := direct{testbench.S3Client(srv), bucket}
	for _, kind := range Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			stalls := kind == Stall || kind == StallBody
			// Generous attempts (a 5 MiB part on a loaded machine), but a
			// short one for the stalls, which wait for it.
			l := limits{3, 5 * time.Second}
			small, large := "r/"+string(kind)+"/small", "r/"+string(kind)+"/large"
			bodies := map[string][]byte{small: pattern(10_000, 6), large: pattern(s3sink.MinPartSize+1, 7)}
			if stalls {
				l = limits{3, time.Second}
				delete(bodies, large)
			}
			f := Fault{Kind: kind, Keep: 0.5, Delay: 300 * time.Millisecond}
			p := newProxy(t, srv, onAttempt(func(Request) bool { return true }, f, 1))
			s := newSink(t, srv, p.URL(), bucket, l)
			for key, body := range bodies {
				if err := write(t.Context(), s, key, body); err != nil {
					t.Fatalf("write %s with a %s on every first attempt: %v", key, kind, err)
				}
			}
			manifest := "r/" + string(kind) + "/manifest.json"
			bodies[manifest] = []byte(`{"kind":"` + string(kind) + `"}`)
			err := s.Commit(t.Context(), manifest, bodies[manifest])
			lost := kind == LostAnswer || kind == StallBody // the first attempt was stored, its answer lost
			if lost && errors.Is(err, sinks.ErrAlreadyCommitted) {
				// The retry finds it; the pipeline then reads the manifest
				// back and sees it is its own.
				err = nil
			}
			if err != nil {
				t.Fatalf("commit with a %s on its first attempt: %v", kind, err)
			}
			for key, want := range bodies {
				got, _, err := d.object(t.Context(), key)
				if err != nil || sum(got) != sum(want) {
					t.Errorf("%s holds %d bytes sha256 %s (%v), want %d bytes %s", key, len(got), sum(got), err, len(want), sum(want))
				}
			}
			start := time.Now()
			got, err := read(t.Context(), s, small)
			took := time.Since(start)
			switch {
			case kind == StallBody:
				if err == nil || !strings.Contains(err.Error(), "Timeout") {
					t.Errorf("a download stalled mid-body read %d bytes, %v; want a timeout", len(got), err)
				}
				if took > l.timeout+stallSlack {
					t.Errorf("a download stalled mid-body took %s to fail, past the attempt timeout %s", took, l.timeout)
				}
			case err != nil || sum(got) != sum(bodies[small]):
				t.Errorf("read %s with a %s on its first attempt: %d bytes (%v), want %d", small, kind, len(got), err, len(bodies[small]))
			}
			p.WaitIdle(stallSlack)
			ops := p.Operations()
			if len(ops) < 3 {
				t.Fatalf("%d operations seen, want the writes, the commit and the read", len(ops))
			}
			for _, o := range ops {
				// The first attempt has the fault (a Reset for a body cut
				// or changed when there is none), the last none. Go's
				// transport may itself resend an idempotent GET once on a
				// reused connection that broke: the proxy sees that as
				// another first attempt.
				first := kind
				if (kind == Truncate || kind == ShortBody || kind == Corrupt) && (o.Op == "CreateMultipartUpload" || o.Op == "GetObject") {
					first = Reset
				}
				wantAttempts, wantStatus, last := 2, 200, None
				switch {
				case kind == Slow:
					wantAttempts, last = 1, Slow // slow, but within the attempt's time
				case kind == StallBody && o.Op == "GetObject":
					wantAttempts, last = 1, StallBody // headers and half the body sent: the client gave up reading
				case lost && o.Key == manifest:
					wantStatus = 412
				}
				if o.Op == "GetObject" && o.Attempts == wantAttempts+1 && o.Faults[1] == first {
					wantAttempts++
				}
				if o.Attempts != wantAttempts || o.Faults[0] != first || o.Faults[o.Attempts-1] != last || o.LastStatus != wantStatus {
					t.Errorf("%s %s: %d attempts with faults %q, the last answered %d; want %d, the first %q, the last %q answered %d",
						o.Op, o.Key, o.Attempts, o.Faults, o.LastStatus, wantAttempts, first, last, wantStatus)
				}
				if o.Span() > l.operation()+stallSlack {
					t.Errorf("%s %s took %s over %d attempts, beyond the limit of %s", o.Op, o.Key, o.Span(), o.Attempts, l.operation())
				}
			}
			holds := p.Stalls()
			for _, h := range holds {
				if h.ByProxy || h.Held > l.timeout+stallSlack {
					t.Errorf("a %s held %s %s for %s (ended by the proxy: %v), beyond the attempt timeout %s", h.Kind, h.Op, h.Key, h.Held, h.ByProxy, l.timeout)
				}
			}
			if stalls && len(holds) != len(ops) {
				t.Errorf("%d stalls ended, want %d", len(holds), len(ops))
			}
			if a := p.Anomalies(); len(a) != 0 {
				t.Fatalf("the server accepted a damaged upload: %v", a)
			}
		})
	}
}

// read reads the object at key through s.
func read(ctx context.Context, s sinks.Sink, key string) ([]byte, error) {
	rc, err := s.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// TestAStallOnEveryAttemptEndsByTheLimits: a commit whose every attempt
// stalls fails with a timeout once its attempts are spent, long before the
// caller's own deadline, and stores nothing.
func TestAStallOnEveryAttemptEndsByTheLimits(t *testing.T) {
	srv := s3Bench(t)
	bucket := testbench.Bucket(t, srv)
	d := direct{testbench.S3Client(srv), bucket}
	l := limits{2, 500 * time.Millisecond}
	p := newProxy(t, srv, onAttempt(isOp("PutObject"), Fault{Kind: Stall}))
	s := newSink(t, srv, p.URL(), bucket, l)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	start := time.Now()
	err := s.Commit(ctx, "s/manifest.json", []byte("{}"))
	took := time.Since(start)
	t.Logf("commit against a stall: %s after %s: %v", took.Round(time.Millisecond), took, err)
	if err == nil {
		t.Fatal("a commit whose every attempt stalled succeeded")
	}
	if ctx.Err() != nil {
		t.Fatalf("the caller's deadline ended the commit (%v), not its own time limits", ctx.Err())
	}
	if msg := err.Error(); !strings.Contains(msg, "Timeout") && !strings.Contains(msg, "timeout") && !strings.Contains(msg, "deadline") {
		t.Errorf("error %q does not say it timed out", msg)
	}
	if took > l.operation()+stallSlack {
		t.Errorf("the commit took %s, beyond its limit of %s (%d attempts of %s and backoff)", took, l.operation(), l.attempts, l.timeout)
	}
	p.WaitIdle(stallSlack)
	if holds := p.Stalls(); len(holds) != l.attempts {
		t.Errorf("%d stalls, want one per attempt (%d)", len(holds), l.attempts)
	}
	if _, ok, err := d.object(t.Context(), "s/manifest.json"); ok || err != nil {
		t.Errorf("the stalled commit stored its object (err %v)", err)
	}
}

// TestManyConcurrentFaultsAreEachRetried: requests in flight at once on one
// sink, as the workers of one instance keep them (workers.concurrency ×
// workers.commit_depth: 3 × 16 here), each failing its first attempt with a
// 500, are each retried and succeed: MaxAttempts holds for every request.
// The SDK's standard retryer also spends a shared retry quota (500
// tokens, 14 a retry, refunded when the retry succeeds): with more than
// about 35 retries pending at once it is empty, and a request then fails
// on its first fault, untried again ("retry quota exceeded"): 13 of 48
// failed so before s3sink turned the quota off.
func TestManyConcurrentFaultsAreEachRetried(t *testing.T) {
	srv := s3Bench(t)
	bucket := testbench.Bucket(t, srv)
	const inFlight = 3 * 16
	p := newProxy(t, srv, onAttempt(func(Request) bool { return true }, Fault{Kind: Status500}, 1))
	s := newSink(t, srv, p.URL(), bucket, limits{3, 5 * time.Second})
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, inFlight)
	for i := range inFlight {
		wg.Go(func() {
			<-start
			errs[i] = s.Commit(t.Context(), fmt.Sprintf("q/%d/manifest.json", i), []byte("{}"))
		})
	}
	close(start)
	wg.Wait()
	failed, quota := 0, 0
	for _, err := range errs {
		if err != nil {
			failed++
			if strings.Contains(err.Error(), "retry quota exceeded") {
				quota++
			}
		}
	}
	t.Logf("%d requests in flight, each with a 500 on its first attempt: %d failed, %d of them untried again for lack of retry quota; faults %s",
		inFlight, failed, quota, FormatCounts(p.Counts()))
	if failed > 0 {
		t.Errorf("%d of %d requests failed after one fault with MaxAttempts 3 (%d: retry quota exceeded), e.g. %v", failed, inFlight, quota, errs[slices.IndexFunc(errs, func(e error) bool { return e != nil })])
	}
}
