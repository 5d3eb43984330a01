package main

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// A node that rebuilds stores it discarded at start serves no API request
// until it has caught up: its read model holds only part of what it
// acknowledged, and a plain read answered 404 for an acknowledged write
// (an outside fault test). The stand-in for "caught up" lets the test hold
// the node in the window; health and readiness probes still answer.
func TestRebuildingNodeServesNothingUntilCaughtUp(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n := startNode(t, cfg)
	ana := registerUser(t, n, "ana")
	var caughtUp atomic.Bool
	n.rebuilt = caughtUp.Load
	n.rebuilding.Store(true)

	r := ana.do("GET", "/api/groups", nil).expect(t, http.StatusServiceUnavailable)
	if !strings.Contains(string(r.Body), `"unavailable"`) || !strings.Contains(string(r.Body), "rebuilding") || r.Header.Get("Retry-After") == "" {
		t.Errorf("while rebuilding: %s (Retry-After %q), want unavailable saying it rebuilds, with Retry-After", r.Body, r.Header.Get("Retry-After"))
	}
	ana.do("GET", "/healthz", nil).expect(t, http.StatusOK)

	caughtUp.Store(true)
	ana.do("GET", "/api/groups", nil).expect(t, http.StatusOK)
	if n.rebuilding.Load() {
		t.Error("still fenced once caught up")
	}
	caughtUp.Store(false) // caught up once is enough: a later lag is a lag
	ana.do("GET", "/api/groups", nil).expect(t, http.StatusOK)

	// An ordinary restart rebuilds nothing, and is not fenced.
	n.Close()
	if n = startNode(t, cfg); n.rebuilding.Load() {
		t.Error("fenced after a clean restart, as if it rebuilt its stores")
	}
}
