package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Command makes the exec.Cmd that runs midata with args (serve, export):
// the binary itself for `midata bench`, the test binary in tests. The bench
// adds its environment to cmd.Env (or to the parent's when nil).
type Command func(ctx context.Context, args ...string) *exec.Cmd

// tailBuffer keeps the last bytes written to it (a child's stderr).
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

const tailBytes = 4 << 10

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > tailBytes {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-tailBytes:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.buf))
}

// child is a running midata process.
type child struct {
	cmd    *exec.Cmd
	stderr *tailBuffer
	done   chan struct{}
	err    error
}

func startChild(ctx context.Context, command Command, env []string, args ...string) (*child, error) {
	cmd := command(ctx, args...)
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, env...)
	c := &child{cmd: cmd, stderr: &tailBuffer{}, done: make(chan struct{})}
	cmd.Stderr = c.stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start midata %s: %w", args[0], err)
	}
	go func() { c.err = cmd.Wait(); close(c.done) }()
	return c, nil
}

// peakRSS returns the child's peak resident set so far (VmHWM), in bytes;
// 0 when it cannot be read (it has ended).
func (c *child) peakRSS() int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// cpu is the CPU time (user and system) the child used; 0 while it runs.
func (c *child) cpu() time.Duration {
	if c.cmd.ProcessState == nil {
		return 0
	}
	return c.cmd.ProcessState.UserTime() + c.cmd.ProcessState.SystemTime()
}

// stop asks the child to end (SIGTERM) and waits; it returns the peak RSS
// of its whole life, shutdown included: its VmHWM, read until it exits.
//
// Not getrusage's ru_maxrss of the waited child: Linux keeps the high-water
// mark of the memory a process had before execve, and a child started with
// vfork (as os/exec does) had its parent's, so ru_maxrss reported the bench
// process's own peak (186 MiB for a serve whose VmHWM was 127).
func (c *child) stop() int64 {
	peak := c.peakRSS()
	select {
	case <-c.done:
		return peak
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	kill := time.After(time.Minute)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-c.done:
			return peak
		case <-kill:
			_ = c.cmd.Process.Kill()
			<-c.done
			return peak
		case <-tick.C:
			peak = max(peak, c.peakRSS())
		}
	}
}

// exited returns an error when the child has ended.
func (c *child) exited() error {
	select {
	case <-c.done:
		return fmt.Errorf("bench: midata %s exited (%v): %s", c.cmd.Args[1], c.err, c.stderr)
	default:
		return nil
	}
}

// stop stops the server and closes the client's connections to it.
func (s *server) stop() int64 {
	rss := s.child.stop()
	s.http.CloseIdleConnections()
	return rss
}

// server is a child `midata serve` and its API.
type server struct {
	*child
	base, token string
	http        *http.Client
}

// freeAddr returns a loopback address that was free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func startServe(ctx context.Context, command Command, env []string) (*server, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, fmt.Errorf("bench: serve: %w", err)
	}
	token := "bench-ops-token-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	env = append(env, "MIDATA_HTTP_ADDR="+addr, "MIDATA_AUTH_TOKENS="+token+"=ops")
	c, err := startChild(ctx, command, env, "serve")
	if err != nil {
		return nil, err
	}
	s := &server{child: c, base: "http://" + addr, token: token,
		http: &http.Client{Timeout: time.Minute, Transport: http.DefaultTransport.(*http.Transport).Clone()}}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		if err := c.exited(); err != nil {
			return nil, err
		}
		res, err := s.http.Get(s.base + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("bench: serve not ready after 3m: %s", c.stderr)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (s *server) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Content-Type", "application/json")
	res, err := s.http.Do(req)
	if err != nil {
		return fmt.Errorf("bench: %s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return fmt.Errorf("bench: %s %s: %w", method, path, err)
	}
	if res.StatusCode >= 300 {
		return fmt.Errorf("bench: %s %s: %s: %s", method, path, res.Status, bytes.TrimSpace(b))
	}
	return json.Unmarshal(b, out)
}

// run is what the bench reads of a run (the API's RunView).
type run struct {
	ID       string `json:"id"`
	Status   string `json:"status"`
	Error    string `json:"error"`
	Note     string `json:"note"`
	Progress struct {
		RecordsScanned int64 `json:"records_scanned"`
		CustomersDone  int64 `json:"customers_done"`
	} `json:"progress"`
}

func (r run) final() bool {
	switch r.Status {
	case "queued", "running", "cancelling", "":
		return false
	}
	return true
}

// errNotFinal is a bulk run that did not end within its time.
var errNotFinal = errors.New("not final")

// bulk asks s for a release of everyone with a self grant, as `midata
// runs start --recipient self --all` does, and waits until its run is
// final or timeout passes.
func (s *server) bulk(ctx context.Context, d *dataset, format, key string, timeout time.Duration) (run, time.Duration, error) {
	body := map[string]any{"recipient": "self", "all": true, "from": d.from.Format(time.RFC3339), "to": d.to.Format(time.RFC3339),
		"formats": []string{format}, "idempotency_key": key}
	start := time.Now()
	var r run
	if err := s.do(ctx, "POST", "/v1/releases", body, &r); err != nil {
		return r, 0, err
	}
	deadline := start.Add(timeout)
	for !r.final() {
		if err := s.exited(); err != nil {
			return r, time.Since(start), err
		}
		if time.Now().After(deadline) {
			return r, time.Since(start), fmt.Errorf("bench: bulk run %s (%s, %d records scanned, %d customers done): %w after %s",
				r.ID, r.Status, r.Progress.RecordsScanned, r.Progress.CustomersDone, errNotFinal, timeout)
		}
		select {
		case <-ctx.Done():
			return r, time.Since(start), ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		var next run
		if err := s.do(ctx, "GET", "/v1/runs/"+r.ID, nil, &next); err != nil {
			return r, time.Since(start), err
		}
		r = next
	}
	took := time.Since(start)
	if r.Status != "succeeded" {
		return r, took, fmt.Errorf("bench: bulk run %s %s: %s", r.ID, r.Status, r.Error)
	}
	return r, took, nil
}

// exportResult is what the bench reads of `midata export`'s JSON.
type exportResult struct {
	Status string `json:"status"`
	Stats  struct {
		Scanned  int64 `json:"scanned"`
		Released int64 `json:"released"`
	} `json:"stats"`
}

// export runs `midata export` for one customer and returns its result and
// the wall time of the process.
func export(ctx context.Context, command Command, env []string, d *dataset, customer, format string) (exportResult, time.Duration, error) {
	var out exportResult
	cmd := command(ctx, "export", "--customer", customer, "--recipient", "self",
		"--from", d.from.Format(time.RFC3339), "--to", d.to.Format(time.RFC3339), "--format", format)
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, env...)
	var stdout bytes.Buffer
	stderr := &tailBuffer{}
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	if err != nil {
		return out, took, fmt.Errorf("bench: midata export: %w: %s", err, stderr)
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		return out, took, fmt.Errorf("bench: midata export output: %w", err)
	}
	if out.Status != "committed" {
		return out, took, errors.New("bench: midata export: status " + out.Status)
	}
	return out, took, nil
}
