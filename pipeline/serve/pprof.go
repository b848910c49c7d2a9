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
}

func newDebugServer(addr string) (*debugServer, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for pprof on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return &debugServer{listener: l, server: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}, nil
}

// run serves until ctx ends.
func (d *debugServer) run(ctx context.Context) error {
	go func() {
		<-ctx.Done()
		_ = d.server.Close()
	}()
	if err := d.server.Serve(d.listener); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("pprof server: %w", err)
	}
	return nil
}
