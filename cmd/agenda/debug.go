package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// serveDebug serves the Go runtime profiles on addr (DEBUG_ADDR), on a
// listener of its own: profiles reveal internals and cost CPU, so they are
// off unless asked for and never share the public API's port. Profiling a
// node of a running cluster is how the figures in the README's benchmarks
// section were investigated:
//
//	go tool pprof http://127.0.0.1:6060/debug/pprof/profile?seconds=10
func serveDebug(addr string, logger *slog.Logger) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on DEBUG_ADDR %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("debug server stopped", "err", err)
		}
	}()
	logger.Warn("serving Go profiles; keep DEBUG_ADDR off public networks", "debug_addr", ln.Addr().String())
	return srv, nil
}
