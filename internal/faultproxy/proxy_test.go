package faultproxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// echoServer is a target that greets every connection with "hi\n" and then
// echoes lines back.
type echoServer struct {
	ln       net.Listener
	accepted atomic.Int64
}

func startEcho(t *testing.T) *echoServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &echoServer{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.accepted.Add(1)
			go func() {
				defer c.Close()
				c.Write([]byte("hi\n"))
				io.Copy(c, c)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return s
}

func startProxy(t *testing.T, target string) *Proxy {
	t.Helper()
	p, err := New("127.0.0.1:0", target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// conn is a test client connection with line reads bounded in time.
type conn struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dial(t *testing.T, addr string) *conn {
	t.Helper()
	return dialFrom(t, "", addr)
}

// dialFrom dials addr from the local IP src ("" for any).
func dialFrom(t *testing.T, src, addr string) *conn {
	t.Helper()
	d := net.Dialer{Timeout: 2 * time.Second}
	if src != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return &conn{t: t, c: c, r: bufio.NewReader(c)}
}

// readLine reads one line within d.
func (c *conn) readLine(d time.Duration) (string, error) {
	c.c.SetReadDeadline(time.Now().Add(d))
	s, err := c.r.ReadString('\n')
	return strings.TrimSuffix(s, "\n"), err
}

// expectLine fails unless the next line, within 2 s, is want.
func (c *conn) expectLine(want string) {
	c.t.Helper()
	got, err := c.readLine(2 * time.Second)
	if err != nil || got != want {
		c.t.Fatalf("read line = %q, %v; want %q", got, err, want)
	}
}

// expectSilence fails unless nothing arrives within d and the connection
// stays open.
func (c *conn) expectSilence(d time.Duration) {
	c.t.Helper()
	got, err := c.readLine(d)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		c.t.Fatalf("read = %q, %v; want a timeout (silence)", got, err)
	}
}

// expectClosed fails unless the connection ends (EOF or reset) within 2 s.
func (c *conn) expectClosed() {
	c.t.Helper()
	for {
		_, err := c.readLine(2 * time.Second)
		if err == nil {
			continue // data still in flight before the close
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.t.Fatalf("connection still open after 2s")
		}
		return
	}
}

// expectRefused fails unless a connection to addr is refused or reset
// within 2 s (the reset may come before the dial returns).
func expectRefused(t *testing.T, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return
	}
	t.Cleanup(func() { c.Close() })
	(&conn{t: t, c: c, r: bufio.NewReader(c)}).expectClosed()
}

func (c *conn) send(s string) {
	c.t.Helper()
	c.c.SetWriteDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.c.Write([]byte(s + "\n")); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func TestProxyForwards(t *testing.T) {
	echo := startEcho(t)
	p := startProxy(t, echo.ln.Addr().String())
	for i := 0; i < 3; i++ {
		c := dial(t, p.Addr())
		c.expectLine("hi")
		c.send("ping")
		c.expectLine("ping")
	}
	if got := p.Accepted(); got != 3 {
		t.Fatalf("Accepted = %d, want 3", got)
	}
	// A large transfer arrives whole and in order.
	c := dial(t, p.Addr())
	c.expectLine("hi")
	big := strings.Repeat("0123456789", 100_000)
	go c.c.Write([]byte(big + "\n"))
	c.expectLine(big)
}

func TestPartitionBlackholesAndHeals(t *testing.T) {
	echo := startEcho(t)
	p := startProxy(t, echo.ln.Addr().String())
	open := dial(t, p.Addr())
	open.expectLine("hi")

	p.Partition()
	before := echo.accepted.Load()
	open.send("lost")
	open.expectSilence(200 * time.Millisecond)
	fresh := dial(t, p.Addr()) // accepted, as a partition does not refuse
	fresh.send("lost too")
	fresh.expectSilence(200 * time.Millisecond)
	if got := echo.accepted.Load(); got != before {
		t.Fatalf("target accepted %d connections during the partition, want none", got-before)
	}

	p.Heal()
	// Both lost bytes: their streams have a gap, so they are closed.
	open.expectClosed()
	fresh.expectClosed()
	c := dial(t, p.Addr())
	c.expectLine("hi")
	c.send("back")
	c.expectLine("back")
}

func TestHealKeepsConnectionsThatLostNothing(t *testing.T) {
	echo := startEcho(t)
	p := startProxy(t, echo.ln.Addr().String())
	c := dial(t, p.Addr())
	c.expectLine("hi")
	p.Partition()
	p.Heal()
	c.send("still here")
	c.expectLine("still here")
}

func TestRefuseResets(t *testing.T) {
	echo := startEcho(t)
	p := startProxy(t, echo.ln.Addr().String())
	open := dial(t, p.Addr())
	open.expectLine("hi")

	p.Refuse()
	open.expectClosed()
	expectRefused(t, p.Addr())

	p.Heal()
	c := dial(t, p.Addr())
	c.expectLine("hi")
}

func TestTargetDownResets(t *testing.T) {
	p := startProxy(t, deadAddr(t))
	expectRefused(t, p.Addr())
}

func TestCutOneDirection(t *testing.T) {
	echo := startEcho(t)
	p := startProxy(t, echo.ln.Addr().String())

	p.Cut(Upstream)
	c := dial(t, p.Addr())
	c.expectLine("hi") // the target's greeting still comes through
	c.send("unheard")
	c.expectSilence(200 * time.Millisecond)
	p.Heal()
	c.expectClosed()

	p.Cut(Downstream)
	d := dial(t, p.Addr())
	d.send("heard")
	d.expectSilence(200 * time.Millisecond) // neither greeting nor echo
	p.Heal()
	d.expectClosed()
}

func TestBlockIsolatesOneSource(t *testing.T) {
	echo := startEcho(t)
	p := startProxy(t, echo.ln.Addr().String())
	// Name connections by their source IP; 127.0.0.2 is another loopback
	// address on Linux.
	p.SetSource(func(c net.Conn) string { return c.RemoteAddr().(*net.TCPAddr).IP.String() })
	a := dialFrom(t, "127.0.0.2", p.Addr())
	b := dialFrom(t, "127.0.0.1", p.Addr())
	a.expectLine("hi")
	b.expectLine("hi")

	p.Block("127.0.0.2")
	a.send("x")
	a.expectSilence(200 * time.Millisecond)
	b.send("y")
	b.expectLine("y")
	a2 := dialFrom(t, "127.0.0.2", p.Addr())
	a2.expectSilence(200 * time.Millisecond)

	p.Unblock("127.0.0.2")
	a.expectClosed()
	a2.expectClosed()
	b.send("z")
	b.expectLine("z")
	dialFrom(t, "127.0.0.2", p.Addr()).expectLine("hi")
}

func TestLatency(t *testing.T) {
	echo := startEcho(t)
	p := startProxy(t, echo.ln.Addr().String())
	c := dial(t, p.Addr())
	c.expectLine("hi")
	const lat = 50 * time.Millisecond
	p.SetLatency(lat)
	start := time.Now()
	c.send("slow")
	c.expectLine("slow")
	// Each direction is delayed: at least two latencies per round trip.
	// (Only the lower bound is checked; an upper one would flake.)
	if got := time.Since(start); got < 2*lat {
		t.Fatalf("round trip took %v, want ≥ %v", got, 2*lat)
	}
	p.SetLatency(0)
	c.send("fast")
	c.expectLine("fast")
}

func TestCloseEndsEverything(t *testing.T) {
	echo := startEcho(t)
	p := startProxy(t, echo.ln.Addr().String())
	c := dial(t, p.Addr())
	c.expectLine("hi")
	p.Partition()
	held := dial(t, p.Addr())
	done := make(chan struct{})
	go func() { p.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return within 5s")
	}
	c.expectClosed()
	held.expectClosed()
	if _, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
		t.Fatal("proxy still accepts after Close")
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestBlockOneDirectionOfOneSource(t *testing.T) {
	echo := startEcho(t)
	p := startProxy(t, echo.ln.Addr().String())
	p.SetSource(func(c net.Conn) string { return c.RemoteAddr().(*net.TCPAddr).IP.String() })

	p.BlockDir("127.0.0.2", Upstream)
	a := dialFrom(t, "127.0.0.2", p.Addr())
	b := dialFrom(t, "127.0.0.1", p.Addr())
	a.expectLine("hi") // the target still reaches a
	a.send("unheard")
	a.expectSilence(200 * time.Millisecond)
	b.expectLine("hi")
	b.send("heard")
	b.expectLine("heard")

	p.Unblock("127.0.0.2")
	a.expectClosed()
	b.send("still")
	b.expectLine("still")

	p.BlockDir("127.0.0.2", Downstream)
	c := dialFrom(t, "127.0.0.2", p.Addr())
	c.expectSilence(200 * time.Millisecond) // no greeting
	if got := echo.accepted.Load(); got != 3 {
		t.Fatalf("target accepted %d connections, want 3 (a one-way block still connects)", got)
	}
	p.Heal()
	c.expectClosed()
}
