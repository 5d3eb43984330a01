package main

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// A client's spare connection that never carried a request must not hold
// a stopping node: http.Server.Shutdown would wait five seconds for it
// (golang/go#22682), then Close reports the deadline and the process exits
// with an error after SIGTERM. This is what made TestClusterLeaderKilled
// fail in CI.
func TestNodeCloseDespiteUnusedClientConnection(t *testing.T) {
	n := mustStartNode(t)

	unused, err := net.Dial("tcp", n.HTTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer unused.Close()
	// A connection that is mid-keep-alive (used once, now idle) as well.
	idle := newClient(t, n)
	idle.do("GET", "/healthz", nil).expect(t, http.StatusOK)
	// Let the server's accept loop see the unused connection first.
	waitUntil(t, 5*time.Second, func() bool {
		n.conns.mu.Lock()
		defer n.conns.mu.Unlock()
		return len(n.conns.fresh) > 0
	})

	if err := n.Close(); err != nil {
		t.Fatalf("Close with an unused client connection open: %v", err)
	}
	unused.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := unused.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !isReset(err) {
		t.Fatalf("unused connection still open after Close: read error %v", err)
	}
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && !op.Timeout()
}

func waitUntil(t testing.TB, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestStartingHandlerSpeaksTheAPI: while a node starts, its answers have
// the contract's shape: no empty details (the README says details is left
// out when there are none), a Retry-After on the 503.
func TestStartingHandlerSpeaksTheAPI(t *testing.T) {
	srv := httptest.NewServer(*startingHandler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/api/me")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	r := &response{Status: resp.StatusCode, Header: resp.Header, Body: body}
	if e := expectError(t, r, http.StatusServiceUnavailable, "unavailable"); e.Details != nil {
		t.Errorf("details = %v, want none", e.Details)
	}
	if resp.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
}
