package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestProbeAddr: healthcheck probes the address the node listens on, and
// 127.0.0.1 when it listens on all of them (a node on 127.0.0.91 was once
// probed on 127.0.0.1 and reported down).
func TestProbeAddr(t *testing.T) {
	for _, tc := range []struct{ httpAddr, want string }{
		{":8080", "127.0.0.1:8080"},
		{"0.0.0.0:8080", "127.0.0.1:8080"},
		{"[::]:8080", "127.0.0.1:8080"},
		{"127.0.0.91:18091", "127.0.0.91:18091"},
		{"[::1]:8080", "[::1]:8080"},
		{"agenda-1:8080", "agenda-1:8080"},
	} {
		got, err := probeAddr(tc.httpAddr)
		if err != nil || got != tc.want {
			t.Errorf("probeAddr(%q) = %q, %v; want %q", tc.httpAddr, got, err, tc.want)
		}
	}
	if _, err := probeAddr("8080"); err == nil {
		t.Error("probeAddr(\"8080\") accepted an address without a port separator")
	}
}

// TestHealthcheckExitCodes: every failure is exit 1, Docker's "unhealthy"
// (Docker reserves 2, the other commands' usage error).
func TestHealthcheckExitCodes(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	if code, err := runCLI("healthcheck", "-addr", addr); code != exitFailed {
		t.Errorf("healthcheck of a closed port: exit %d (%v), want %d", code, err, exitFailed)
	}
	t.Setenv("HTTP_ADDR", "no-port")
	if code, err := runCLI("healthcheck"); code != exitFailed {
		t.Errorf("healthcheck with a bad HTTP_ADDR: exit %d (%v), want %d", code, err, exitFailed)
	}
	if code, err := runCLI("healthcheck", "-nosuchflag"); code != exitFailed {
		t.Errorf("healthcheck with a bad flag: exit %d (%v), want %d", code, err, exitFailed)
	}
	// An address given as an argument is refused, not ignored for the
	// default one (a review).
	if code, err := runCLI("healthcheck", addr); code != exitFailed || err == nil || !strings.Contains(err.Error(), "-addr") {
		t.Errorf("healthcheck with an argument: exit %d (%v), want %d pointing at -addr", code, err, exitFailed)
	}
}

// The node's reason for a refusal is passed on (a review found only
// "/readyz answered 503").
func TestHealthcheckSaysWhy(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"status":"not ready","reason":"no leader known"}`))
	}))
	defer srv.Close()
	code, err := runCLI("healthcheck", "-addr", strings.TrimPrefix(srv.URL, "http://"), "-path", "/readyz")
	if code != exitFailed || err == nil || !strings.Contains(err.Error(), "/readyz answered 503: no leader known") {
		t.Errorf("healthcheck of a node not ready: exit %d (%v), want %d with its reason", code, err, exitFailed)
	}
}
