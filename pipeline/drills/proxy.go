// Package drills holds midata's fault drills: real releases made through a
// fault-injecting proxy in front of the real S3 server of the bench, and
// checked afterwards by reading the store back directly. This file is the
// proxy; the drills are the package's tests (`go test ./pipeline/drills/`,
// the long variant with MIDATA_DRILLS_LONG=1).
//
// The proxy forwards each request to the server unchanged, Host header
// included, so SigV4 signatures made for the proxy's address still verify;
// or, when its Schedule says so, it injects one fault instead: a 500 or 503
// with an S3 error body, a slow answer, a connection reset before or after
// the server did the work, an upload cut short or with a byte changed, a
// stall that never answers until the client gives up, or a download that
// stops halfway. It counts what it injected by kind, records how long each
// stall held its request and how long each SDK operation (every attempt
// with one amz-sdk-invocation-id) took, and notes any damaged upload the
// server accepted.
package drills

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Kind is a kind of fault.
type Kind string

// The faults the proxy injects.
const (
	None Kind = ""
	// Status500 and Status503 answer without forwarding: InternalError and
	// SlowDown, with an S3 XML error body.
	Status500 Kind = "500"
	Status503 Kind = "503"
	// Slow waits Fault.Delay before forwarding, so the answer's headers
	// come late.
	Slow Kind = "slow"
	// Reset closes the client's connection with a TCP reset before
	// anything is forwarded.
	Reset Kind = "reset"
	// LostAnswer forwards the request, reads the server's whole answer and
	// then resets the client's connection: the server did the work, the
	// client never learns it.
	LostAnswer Kind = "lost-answer"
	// Truncate forwards Fault.Keep of the request body under the original
	// Content-Length, then closes the connection to the server (which must
	// store nothing) and resets the client's. A request without a body gets
	// a Reset instead.
	Truncate Kind = "truncate"
	// ShortBody forwards Fault.Keep of the request body as a complete
	// request with the shorter Content-Length (a corrupting middlebox): the
	// server must refuse it (the signature or payload hash no longer
	// match). The client's connection is reset. A request without a body
	// gets a Reset instead.
	ShortBody Kind = "short-body"
	// Corrupt forwards the request body whole but with one byte changed
	// (at Fault.Keep of its length): the server must refuse it (the payload
	// hash and checksum no longer match). The client's connection is
	// reset. A request without a body gets a Reset instead.
	Corrupt Kind = "corrupt"
	// Stall reads the request and never answers, until the client gives up
	// (closes the connection) or the proxy closes.
	Stall Kind = "stall"
	// StallBody forwards the request and answers with the server's headers
	// and half its body, then stalls until the client gives up: a download
	// that stops. An answer without a body gets a Stall instead.
	StallBody Kind = "stall-body"
)

// Kinds are every fault, in the order reports list them.
var Kinds = []Kind{Status500, Status503, Slow, Reset, LostAnswer, Truncate, ShortBody, Corrupt, Stall, StallBody}

// Fault is what the proxy does with one request.
type Fault struct {
	Kind  Kind
	Delay time.Duration // Slow: how long before forwarding
	Keep  float64       // Truncate, ShortBody: the fraction of the body forwarded; Corrupt: where the byte changed is; in [0, 1)
}

// Request is what a Schedule sees of one request.
type Request struct {
	Seq     int64  // arrival order, from 1
	Method  string // GET, PUT, ...
	Op      string // the S3 operation: PutObject, UploadPart, GetObject, ...
	Bucket  string
	Key     string // the object key, "" for a bucket request
	Part    int    // UploadPart's part number
	Attempt int    // the SDK's attempt number (amz-sdk-request), 1 when absent
	Length  int64  // the request body's Content-Length (-1: unknown)
	Invoke  string // amz-sdk-invocation-id: the same for every attempt of one operation
	Header  http.Header
	// Shape is Op and Key with the writer's attempt directory of a release
	// object (releases/<id>/<attempt>/<file>) replaced by "*": the same for
	// the same file of every writer of a release.
	Shape string
}

// Schedule decides the fault of each request; nil or None forwards it.
type Schedule func(Request) Fault

// Mix is a random schedule: each request matched gets a fault with
// probability Rate, of a kind drawn by Weights. The draw depends only on
// Seed, the request's Shape and attempt number, and how many times that
// (Shape, attempt) was seen before: the same seed gives the same faults to
// the same requests, mostly whatever order concurrent requests arrive in
// (only requests of one shape racing each other can swap theirs).
type Mix struct {
	Seed    uint64
	Rate    float64
	Weights map[Kind]int
	// SlowMin and SlowMax bound the delay of a Slow fault.
	SlowMin, SlowMax time.Duration
	// Match, when set, limits the faults to the requests it accepts.
	Match func(Request) bool
}

// Schedule returns the schedule of m.
func (m Mix) Schedule() Schedule {
	var kinds []Kind
	total := 0
	for _, k := range Kinds {
		if w := m.Weights[k]; w > 0 {
			kinds = append(kinds, k)
			total += w
		}
	}
	var mu sync.Mutex
	seen := map[string]int{}
	return func(r Request) Fault {
		if total == 0 || (m.Match != nil && !m.Match(r)) {
			return Fault{}
		}
		id := r.Shape + "#" + strconv.Itoa(r.Attempt)
		mu.Lock()
		n := seen[id]
		seen[id]++
		mu.Unlock()
		h := fnv.New64a()
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], m.Seed)
		h.Write(b[:])
		fmt.Fprintf(h, "%s#%d", id, n)
		rng := rand.New(rand.NewPCG(m.Seed, h.Sum64()))
		if rng.Float64() >= m.Rate {
			return Fault{}
		}
		pick := rng.IntN(total)
		for _, k := range kinds {
			if pick -= m.Weights[k]; pick < 0 {
				f := Fault{Kind: k, Keep: rng.Float64() * 0.95}
				if k == Slow {
					f.Delay = m.SlowMin
					if m.SlowMax > m.SlowMin {
						f.Delay += time.Duration(rng.Int64N(int64(m.SlowMax - m.SlowMin)))
					}
				}
				return f
			}
		}
		return Fault{}
	}
}

// RoundRobin is a schedule that gives the first attempt of every request it
// matches (every request when match is nil) the next fault of kinds in
// turn, in arrival order: every kind is injected, and every request
// succeeds on its retry. Slow faults wait delay.
func RoundRobin(kinds []Kind, delay time.Duration, match func(Request) bool) Schedule {
	var mu sync.Mutex
	n := 0
	return func(r Request) Fault {
		if r.Attempt != 1 || (match != nil && !match(r)) {
			return Fault{}
		}
		mu.Lock()
		k := kinds[n%len(kinds)]
		n++
		mu.Unlock()
		return Fault{Kind: k, Delay: delay, Keep: 0.5}
	}
}

// Operation is what the proxy saw of one SDK operation: every attempt
// carrying one invocation id.
type Operation struct {
	Op, Key     string
	Attempts    int
	Faults      []Kind    // the fault of each attempt, None when forwarded
	First, Last time.Time // the first attempt's arrival; the end of the last one seen
	LastStatus  int       // the status of the last answer written, 0 when none
	LastAttempt int       // the SDK's attempt number of the last one seen
	MaxAttempts int       // from amz-sdk-request, 0 when absent
}

// Span is how long the operation took, as the proxy saw it.
func (o Operation) Span() time.Duration { return o.Last.Sub(o.First) }

// Hold is one stalled request.
type Hold struct {
	Kind    Kind // Stall or StallBody
	Op, Key string
	Attempt int
	Held    time.Duration // from its arrival until the client gave up
	ByProxy bool          // ended by Close, not by the client: a request held forever
}

// Proxy is a fault-injecting HTTP proxy in front of one S3 endpoint.
type Proxy struct {
	upstream  *url.URL
	transport *http.Transport
	ln        net.Listener
	srv       *http.Server
	done      chan struct{} // closed by Close: stalls end
	closeOnce sync.Once
	handlers  sync.WaitGroup
	serveDone chan struct{}

	mu        sync.Mutex
	closed    bool
	active    int // requests being handled
	schedule  Schedule
	seq       int64
	counts    map[Kind]int
	ops       map[string]*Operation
	stalls    []Hold
	anomalies []string
	requests  int
}

// NewProxy starts a proxy on 127.0.0.1 in front of upstream (an
// http://host:port endpoint) that injects the faults of schedule.
func NewProxy(upstream string, schedule Schedule) (*Proxy, error) {
	u, err := url.Parse(upstream)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("fault proxy: upstream %q: want http://host:port", upstream)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fault proxy: listen: %w", err)
	}
	p := &Proxy{
		upstream: u,
		transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 64,
			DisableCompression:  true, // forward bodies as they are
			IdleConnTimeout:     30 * time.Second,
		},
		ln:        ln,
		done:      make(chan struct{}),
		serveDone: make(chan struct{}),
		schedule:  schedule,
		counts:    map[Kind]int{},
		ops:       map[string]*Operation{},
	}
	p.srv = &http.Server{Handler: http.HandlerFunc(p.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(p.serveDone)
		_ = p.srv.Serve(ln)
	}()
	return p, nil
}

// URL is the proxy's endpoint, to configure the S3 client with.
func (p *Proxy) URL() string { return "http://" + p.ln.Addr().String() }

// SetSchedule replaces the schedule (nil: forward everything).
func (p *Proxy) SetSchedule(s Schedule) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.schedule = s
}

// Counts returns how many faults of each kind were injected.
func (p *Proxy) Counts() map[Kind]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[Kind]int, len(p.counts))
	for k, n := range p.counts {
		out[k] = n
	}
	return out
}

// Requests is how many requests the proxy received.
func (p *Proxy) Requests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests
}

// Operations returns every operation seen, in order of first arrival.
func (p *Proxy) Operations() []Operation {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Operation, 0, len(p.ops))
	for _, o := range p.ops {
		c := *o
		c.Faults = slices.Clone(o.Faults)
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Operation) int { return a.First.Compare(b.First) })
	return out
}

// WaitIdle waits until no request is being handled, at most timeout (a
// client that gave up has closed its connection, but the proxy may not
// have noticed yet), and reports whether it is idle.
func (p *Proxy) WaitIdle(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		p.mu.Lock()
		n := p.active
		p.mu.Unlock()
		if n == 0 {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Stalls returns every stall injected that has ended.
func (p *Proxy) Stalls() []Hold {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.stalls)
}

// Anomalies returns what the server did that it must never do: accept a
// truncated upload.
func (p *Proxy) Anomalies() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.anomalies)
}

// FormatCounts lists counts by kind, in the order of Kinds: "500=3 503=1 ...".
func FormatCounts(c map[Kind]int) string {
	var b strings.Builder
	total := 0
	for _, k := range Kinds {
		fmt.Fprintf(&b, "%s=%d ", k, c[k])
		total += c[k]
	}
	fmt.Fprintf(&b, "(total %d)", total)
	return b.String()
}

// Close ends the stalls, closes the listener and every connection, waits
// for the handlers and closes the idle connections to the server.
func (p *Proxy) Close() error {
	first := false
	p.closeOnce.Do(func() { first = true })
	if !first {
		return nil
	}
	close(p.done)
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	err := p.srv.Close()
	<-p.serveDone
	p.handlers.Wait()
	p.transport.CloseIdleConnections()
	return err
}

// attemptDir matches the writer's attempt directory of a release object.
var attemptDir = regexp.MustCompile(`^(releases/[^/]+/)[0-9a-f]{16}/`)

// describe parses what a schedule needs from r.
func (p *Proxy) describe(r *http.Request) Request {
	q := r.URL.Query()
	path := strings.TrimPrefix(r.URL.Path, "/")
	bucket, key, _ := strings.Cut(path, "/")
	req := Request{Method: r.Method, Bucket: bucket, Key: key, Attempt: 1, Length: r.ContentLength, Invoke: r.Header.Get("Amz-Sdk-Invocation-Id"), Header: r.Header.Clone()}
	_, uploads := q["uploads"]
	_, uploadID := q["uploadId"]
	switch {
	case r.Method == http.MethodPut && q.Has("partNumber"):
		req.Op = "UploadPart"
		req.Part, _ = strconv.Atoi(q.Get("partNumber"))
	case r.Method == http.MethodPut && key == "":
		req.Op = "CreateBucket"
	case r.Method == http.MethodPut:
		req.Op = "PutObject"
	case r.Method == http.MethodPost && uploads:
		req.Op = "CreateMultipartUpload"
	case r.Method == http.MethodPost && uploadID:
		req.Op = "CompleteMultipartUpload"
	case r.Method == http.MethodDelete && uploadID:
		req.Op = "AbortMultipartUpload"
	case r.Method == http.MethodDelete:
		req.Op = "DeleteObject"
	case r.Method == http.MethodGet && key == "" && uploads:
		req.Op = "ListMultipartUploads"
	case r.Method == http.MethodGet && key == "":
		req.Op = "ListObjectsV2"
	case r.Method == http.MethodGet:
		req.Op = "GetObject"
	case r.Method == http.MethodHead && key == "":
		req.Op = "HeadBucket"
	case r.Method == http.MethodHead:
		req.Op = "HeadObject"
	default:
		req.Op = r.Method
	}
	for _, f := range strings.Split(r.Header.Get("Amz-Sdk-Request"), ";") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(f), "attempt="); ok {
			if n, err := strconv.Atoi(v); err == nil {
				req.Attempt = n
			}
		}
	}
	shape := req.Op + " " + attemptDir.ReplaceAllString(key, "$1*/")
	if req.Part > 0 {
		shape += "#part" + strconv.Itoa(req.Part)
	}
	if req.Op == "ListObjectsV2" {
		shape += "?" + q.Get("prefix")
	}
	req.Shape = shape
	return req
}

func maxAttempts(h http.Header) int {
	for _, f := range strings.Split(h.Get("Amz-Sdk-Request"), ";") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(f), "max="); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return 0
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.handlers.Add(1) // under mu, before Close sets closed: Wait sees it
	p.active++
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.active--
		p.mu.Unlock()
		p.handlers.Done()
	}()
	arrived := time.Now()
	req := p.describe(r)

	p.mu.Lock()
	p.seq++
	p.requests++
	req.Seq = p.seq
	schedule := p.schedule
	p.mu.Unlock()
	var f Fault
	if schedule != nil {
		f = schedule(req)
	}
	if (f.Kind == Truncate || f.Kind == ShortBody || f.Kind == Corrupt) && r.ContentLength <= 0 {
		f.Kind = Reset // nothing to truncate
	}
	if f.Keep < 0 || f.Keep >= 1 {
		f.Keep = 0.5
	}

	p.mu.Lock()
	if f.Kind != None {
		p.counts[f.Kind]++
	}
	op := p.ops[req.Invoke]
	if op == nil || req.Invoke == "" {
		op = &Operation{Op: req.Op, Key: req.Key, First: arrived, MaxAttempts: maxAttempts(r.Header)}
		if req.Invoke != "" {
			p.ops[req.Invoke] = op
		} else {
			p.ops[fmt.Sprintf("seq-%d", req.Seq)] = op
		}
	}
	op.Attempts++
	op.LastAttempt = req.Attempt
	op.Faults = append(op.Faults, f.Kind)
	p.mu.Unlock()

	status := p.inject(w, r, req, f, arrived)

	p.mu.Lock()
	op.Last = time.Now()
	op.LastStatus = status
	p.mu.Unlock()
}

// inject does what fault f says with r and returns the status written to
// the client (0: none, the connection was reset or abandoned).
func (p *Proxy) inject(w http.ResponseWriter, r *http.Request, req Request, f Fault, arrived time.Time) int {
	switch f.Kind {
	case Status500:
		_, _ = io.Copy(io.Discard, r.Body)
		return s3Error(w, req, http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.")
	case Status503:
		_, _ = io.Copy(io.Discard, r.Body)
		return s3Error(w, req, http.StatusServiceUnavailable, "SlowDown", "Please reduce your request rate.")
	case Slow:
		select {
		case <-time.After(f.Delay):
		case <-r.Context().Done():
			return 0
		case <-p.done:
			return 0
		}
		return p.forward(w, r, r.Body, r.ContentLength)
	case Reset:
		reset(w)
		return 0
	case LostAnswer:
		resp, err := p.roundTrip(r, r.Body, r.ContentLength)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		reset(w)
		return 0
	case Truncate:
		keep := int64(float64(r.ContentLength) * f.Keep)
		body := &cutBody{r: r.Body, left: keep}
		resp, err := p.roundTrip(r, body, r.ContentLength) // the original length: the server waits for more, then sees the close
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				p.anomaly("%s %s: a body cut after %d of %d bytes was answered %d", req.Op, req.Key, keep, r.ContentLength, resp.StatusCode)
			}
		}
		reset(w)
		return 0
	case ShortBody:
		keep := int64(float64(r.ContentLength) * f.Keep)
		resp, err := p.roundTrip(r, io.LimitReader(r.Body, keep), keep)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				p.anomaly("%s %s: a body of %d bytes instead of %d was accepted (%d)", req.Op, req.Key, keep, r.ContentLength, resp.StatusCode)
			}
		}
		_, _ = io.Copy(io.Discard, r.Body)
		reset(w)
		return 0
	case Corrupt:
		at := int64(float64(r.ContentLength) * f.Keep)
		resp, err := p.roundTrip(r, &flipBody{r: r.Body, at: at}, r.ContentLength)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				p.anomaly("%s %s: a body with byte %d of %d changed was accepted (%d)", req.Op, req.Key, at, r.ContentLength, resp.StatusCode)
			}
		}
		reset(w)
		return 0
	case StallBody:
		resp, err := p.roundTrip(r, r.Body, r.ContentLength)
		if err != nil {
			http.Error(w, "fault proxy: "+err.Error(), http.StatusBadGateway)
			return http.StatusBadGateway
		}
		defer resp.Body.Close()
		if resp.ContentLength <= 0 || r.Method == http.MethodHead {
			// Nothing to cut: the answer is held back whole.
			_, _ = io.Copy(io.Discard, resp.Body)
			p.stall(r, req, arrived, StallBody)
			return 0
		}
		for k, vs := range resp.Header {
			if !slices.Contains(hopHeaders, http.CanonicalHeaderKey(k)) {
				w.Header()[k] = vs
			}
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.CopyN(w, resp.Body, resp.ContentLength/2)
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		p.stall(r, req, arrived, StallBody)
		return resp.StatusCode
	case Stall:
		// Take the whole request, so the client waits for an answer (and
		// the server notices when it closes the connection).
		_, _ = io.Copy(io.Discard, r.Body)
		p.stall(r, req, arrived, Stall)
		return 0
	default:
		return p.forward(w, r, r.Body, r.ContentLength)
	}
}

// stall holds r until its client gives up or the proxy closes, and
// records how long it held it.
func (p *Proxy) stall(r *http.Request, req Request, arrived time.Time, kind Kind) {
	byProxy := false
	select {
	case <-r.Context().Done():
	case <-p.done:
		byProxy = true
	}
	p.mu.Lock()
	p.stalls = append(p.stalls, Hold{Kind: kind, Op: req.Op, Key: req.Key, Attempt: req.Attempt, Held: time.Since(arrived), ByProxy: byProxy})
	p.mu.Unlock()
}

func (p *Proxy) anomaly(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.anomalies = append(p.anomalies, fmt.Sprintf(format, args...))
}

// hopHeaders are not forwarded (RFC 9110 7.6.1), nor Expect: the proxy's
// own server already answered it, and the signature does not cover it.
var hopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade", "Expect"}

// roundTrip sends r to the server with body of length, Host unchanged.
func (p *Proxy) roundTrip(r *http.Request, body io.Reader, length int64) (*http.Response, error) {
	ctx, cancel := context.WithCancel(r.Context())
	go func() {
		select {
		case <-p.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	out := r.Clone(ctx)
	out.RequestURI = ""
	out.URL = &url.URL{Scheme: p.upstream.Scheme, Host: p.upstream.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	out.Host = r.Host // SigV4 signs the host the client dialled: the proxy's
	out.Close = false
	for _, h := range hopHeaders {
		out.Header.Del(h)
	}
	out.ContentLength = length
	if length == 0 {
		out.Body = nil
	} else {
		out.Body = io.NopCloser(body)
	}
	resp, err := p.transport.RoundTrip(out)
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// forward sends r to the server and copies the answer back.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, body io.Reader, length int64) int {
	resp, err := p.roundTrip(r, body, length)
	if err != nil {
		// The server could not be reached or broke the connection: tell the
		// client as a gateway would.
		http.Error(w, "fault proxy: "+err.Error(), http.StatusBadGateway)
		return http.StatusBadGateway
	}
	defer resp.Body.Close()
	for k, vs := range resp.Header {
		if slices.Contains(hopHeaders, http.CanonicalHeaderKey(k)) {
			continue
		}
		w.Header()[k] = vs
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
	return resp.StatusCode
}

// s3Error answers as S3 does when it fails.
func s3Error(w http.ResponseWriter, req Request, status int, code, msg string) int {
	id := fmt.Sprintf("drill-%d", req.Seq)
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("X-Amz-Request-Id", id)
	w.WriteHeader(status)
	if req.Method != http.MethodHead {
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<Error><Code>%s</Code><Message>%s</Message><Resource>/%s/%s</Resource><RequestId>%s</RequestId></Error>`,
			code, msg, req.Bucket, req.Key, id)
	}
	return status
}

// reset closes the client's connection with a TCP reset (SO_LINGER 0).
func reset(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("fault proxy: the response writer cannot be hijacked")
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	conn.Close()
}

// errCut ends a truncated body.
var errCut = errors.New("fault proxy: upload truncated")

// cutBody yields left bytes of r, then errCut.
type cutBody struct {
	r    io.Reader
	left int64
}

func (c *cutBody) Read(b []byte) (int, error) {
	if c.left <= 0 {
		return 0, errCut
	}
	if int64(len(b)) > c.left {
		b = b[:c.left]
	}
	n, err := c.r.Read(b)
	c.left -= int64(n)
	if err == io.EOF {
		err = errCut
	}
	return n, err
}

// flipBody is r with the byte at offset at inverted.
type flipBody struct {
	r   io.Reader
	at  int64
	off int64
}

func (f *flipBody) Read(b []byte) (int, error) {
	n, err := f.r.Read(b)
	if f.at >= f.off && f.at < f.off+int64(n) {
		b[f.at-f.off] ^= 0xff
	}
	f.off += int64(n)
	return n, err
}

// cancelBody cancels the request's context once its body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}
