package main

import (
	"net"
	"net/http"
	"sync"
)

// connTracker follows the HTTP server's connections through
// http.Server.ConnState so that a stopping node can close the ones no
// request ever arrived on. http.Server.Shutdown closes idle connections at
// once but treats a connection still in StateNew as busy for five seconds
// (golang/go#22682), and HTTP clients open such connections all the time:
// a transport dials for a request, another pooled connection frees up
// first, and the fresh one sits unused. Without this a SIGTERM would wait
// out the whole shutdown grace period and exit with an error.
type connTracker struct {
	mu       sync.Mutex
	fresh    map[net.Conn]struct{}
	stopping bool
}

// track is the http.Server.ConnState hook.
func (t *connTracker) track(c net.Conn, state http.ConnState) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch state {
	case http.StateNew:
		if t.stopping {
			// Accepted in the instant before the listener closed.
			c.Close()
			return
		}
		if t.fresh == nil {
			t.fresh = map[net.Conn]struct{}{}
		}
		t.fresh[c] = struct{}{}
	default:
		// Active, idle (Shutdown closes those itself), hijacked or closed.
		delete(t.fresh, c)
	}
}

// closeUnused closes every connection no request has arrived on yet, and
// any accepted from now on.
func (t *connTracker) closeUnused() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stopping = true
	for c := range t.fresh {
		c.Close()
	}
	clear(t.fresh)
}
