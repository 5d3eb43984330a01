package consensus

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// dialFrom opens a raw TCP connection to addr from the local IP src (any
// 127.0.0.0/8 address works on Linux loopback).
func dialFrom(tb testing.TB, src, addr string) net.Conn {
	tb.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 2 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		tb.Fatalf("dial %s from %s: %v", addr, src, err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// Finding 5 of issue 9: every refused Raft connection wrote a WARN line
// (87k–120k lines per node in 40 s). Without an OnReject hook the layer now
// logs one line per host per minute, counting the rest.
func TestStreamRefusalLogIsThrottled(t *testing.T) {
	var logs syncBuffer
	l := mustStreamLayer(t, "listener", func(c *StreamConfig) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	const junk = 200
	for i := range junk {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "GET /%d HTTP/1.1\r\n\r\n", i)
		mustClosedByPeer(t, c, 5*time.Second)
		c.Close()
	}
	if n := strings.Count(logs.String(), "rejected raft connection"); n != 1 {
		t.Errorf("%d junk connections from one host wrote %d log lines, want 1:\n%s", junk, n, logs.String())
	}
}

// Finding 5: junk connections held all 64 handshake slots, so a failover's
// new leader could not reach its followers. Strangers now get at most
// perSourceHandshakes slots per host and never the reserve: a known peer
// still completes its handshake while many hosts hold silent connections.
func TestStreamStrangersCannotStarveKnownPeers(t *testing.T) {
	rejects := newStreamRejects()
	l := mustStreamLayer(t, "listener", func(c *StreamConfig) {
		c.HandshakeTimeout = 10 * time.Second
		c.StrangerHandshakeTimeout = 10 * time.Second // the junk holds its slots throughout
		c.OnReject = rejects.hook
	})
	peer := mustStreamLayer(t, "peer")
	// The listener's Raft configuration names the peer, which dials from
	// 127.0.0.1.
	l.SetKnownPeers(func() []string { return []string{peer.Addr().String()} })
	waitFor(t, 5*time.Second, "the configured peer to be known", func() bool { return l.peers.known("127.0.0.1", time.Now()) })

	// One host alone gets perSourceHandshakes slots.
	for range 3 * perSourceHandshakes {
		dialFrom(t, "127.0.0.2", l.Addr().String())
	}
	waitFor(t, 5*time.Second, "the host's extra connections to be refused", func() bool {
		return rejects.count.Load() >= 2*perSourceHandshakes
	})
	// Many hosts fill every slot strangers may have, and more.
	for i := range maxPendingHandshakes {
		dialFrom(t, fmt.Sprintf("127.0.1.%d", 1+i), l.Addr().String())
	}
	waitFor(t, 5*time.Second, "strangers to hold their share", func() bool {
		l.admission.mu.Lock()
		defer l.admission.mu.Unlock()
		return l.admission.running == maxPendingHandshakes-reservedHandshakes
	})
	accepted := acceptAsync(l)
	c := mustDial(t, peer, l.Addr().String())
	mustExchange(t, c, mustAccepted(t, accepted, 5*time.Second))
}

// A stranger's silent connection is dropped after StrangerHandshakeTimeout,
// well before a known peer's HandshakeTimeout.
func TestStreamStrangerHandshakeDeadline(t *testing.T) {
	l := mustStreamLayer(t, "listener", func(c *StreamConfig) {
		c.HandshakeTimeout = time.Minute
		c.StrangerHandshakeTimeout = 200 * time.Millisecond
	})
	silent := dialFrom(t, "127.0.0.3", l.Addr().String())
	mustClosedByPeer(t, silent, 20*time.Second)
}

func waitFor(tb testing.TB, d time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
