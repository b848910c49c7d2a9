package serve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// debugServer answers net/http/pprof's /debug/pprof/ on its own listener,
// apart from the API, when http.pprof_addr is set (config allows loopback
// addresses only), so that `midata bench`'s misses can be profiled:
//
//	go tool pprof http://127.0.0.1:6060/debug/pprof/profile?seconds=30
type debugServer struct {
	listener net.Listener
	server   *http.Server
	what     string
}

// newSideServer serves h on a listener of its own at addr (what names it
// in errors).
func newSideServer(addr, what string, h http.Handler) (*debugServer, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for %s on %s: %w", what, addr, err)
	}
	return &debugServer{listener: l, what: what, server: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}}, nil
}

func newDebugServer(addr string) (*debugServer, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return newSideServer(addr, "pprof", mux)
}

// run serves until ctx ends.
func (d *debugServer) run(ctx context.Context) error {
	go func() {
		<-ctx.Done()
		_ = d.server.Close()
	}()
	if err := d.server.Serve(d.listener); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("%s server: %w", d.what, err)
	}
	return nil
}
