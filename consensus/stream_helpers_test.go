package consensus

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

var (
	streamSecret      = []byte("0123456789abcdef0123456789abcdef-test-secret")
	streamOtherSecret = []byte("fedcba9876543210fedcba9876543210-wrong-secret")
	streamQuietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))
)

// streamRejects collects what a layer's OnReject hook reports.
type streamRejects struct {
	ch    chan string
	count atomic.Int64
}

func newStreamRejects() *streamRejects { return &streamRejects{ch: make(chan string, 64)} }

func (r *streamRejects) hook(remote, reason string) {
	r.count.Add(1)
	select {
	case r.ch <- reason:
	default:
	}
}

// wait returns the next rejection reason, failing the test after d.
func (r *streamRejects) wait(tb testing.TB, d time.Duration) string {
	tb.Helper()
	select {
	case reason := <-r.ch:
		return reason
	case <-time.After(d):
		tb.Fatalf("no rejection within %v", d)
		return ""
	}
}

// mustStreamLayer opens a layer on 127.0.0.1:0 with id and the test secret,
// changed by opts, and closes it when the test ends.
func mustStreamLayer(tb testing.TB, id string, opts ...func(*StreamConfig)) *StreamLayer {
	tb.Helper()
	cfg := StreamConfig{
		BindAddr:         "127.0.0.1:0",
		Secret:           streamSecret,
		NodeID:           id,
		HandshakeTimeout: time.Second,
		Logger:           streamQuietLogger,
	}
	for _, o := range opts {
		o(&cfg)
	}
	s, err := NewStreamLayer(cfg)
	if err != nil {
		tb.Fatalf("NewStreamLayer(%s): %v", id, err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

type acceptResult struct {
	conn net.Conn
	err  error
}

// acceptAsync calls Accept once in the background.
func acceptAsync(s *StreamLayer) <-chan acceptResult {
	ch := make(chan acceptResult, 1)
	go func() {
		c, err := s.Accept()
		ch <- acceptResult{c, err}
	}()
	return ch
}

func mustAccepted(tb testing.TB, ch <-chan acceptResult, d time.Duration) net.Conn {
	tb.Helper()
	select {
	case r := <-ch:
		if r.err != nil {
			tb.Fatalf("Accept: %v", r.err)
		}
		tb.Cleanup(func() { r.conn.Close() })
		return r.conn
	case <-time.After(d):
		tb.Fatalf("Accept returned nothing within %v", d)
		return nil
	}
}

func mustNotAccepted(tb testing.TB, ch <-chan acceptResult, d time.Duration) {
	tb.Helper()
	select {
	case r := <-ch:
		tb.Fatalf("Accept returned (%v, %v), want nothing", r.conn, r.err)
	case <-time.After(d):
	}
}

func mustDial(tb testing.TB, s *StreamLayer, addr string) net.Conn {
	tb.Helper()
	c, err := s.Dial(raft.ServerAddress(addr), 2*time.Second)
	if err != nil {
		tb.Fatalf("Dial(%s): %v", addr, err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// mustExchange checks that bytes flow both ways between a and b.
func mustExchange(tb testing.TB, a, b net.Conn) {
	tb.Helper()
	for _, p := range []struct {
		from, to net.Conn
		msg      string
	}{{a, b, "ping from dialer"}, {b, a, "pong from listener"}} {
		if _, err := p.from.Write([]byte(p.msg)); err != nil {
			tb.Fatalf("write: %v", err)
		}
		p.to.SetReadDeadline(time.Now().Add(2 * time.Second))
		got := make([]byte, len(p.msg))
		if _, err := io.ReadFull(p.to, got); err != nil {
			tb.Fatalf("read: %v", err)
		}
		if string(got) != p.msg {
			tb.Fatalf("got %q, want %q", got, p.msg)
		}
	}
}

// mustClosedByPeer checks that the listener closed c (without sending a
// proof) within d, and returns what it sent before closing.
func mustClosedByPeer(tb testing.TB, c net.Conn, d time.Duration) []byte {
	tb.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	got, err := io.ReadAll(c)
	// Closing with unread input makes the kernel reset the connection.
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		tb.Fatalf("connection not closed by the listener within %v: %v", d, err)
	}
	return got
}

func peerID(tb testing.TB, c net.Conn) string {
	tb.Helper()
	pc, ok := c.(*PeerConn)
	if !ok {
		tb.Fatalf("conn is %T, want *PeerConn", c)
	}
	return pc.PeerNodeID()
}
