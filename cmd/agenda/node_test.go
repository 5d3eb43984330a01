package main

import (
	"errors"
	"io"
	"net"
	"net/http"
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
