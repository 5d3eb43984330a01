package main

import (
	"io"
	"net"
	"testing"
	"time"
)

// The bounded listener closes connections beyond the per-address cap at
// once, and holds back (does not accept) those beyond the total cap until
// a slot frees up.
func TestBoundedListener(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := newBoundedListener(raw, 3, 2)
	defer ln.Close()
	accepted := acceptAll(ln)
	dial := func(src string) net.Conn {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 2 * time.Second}
		c, err := d.Dial("tcp", raw.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	expectAccepted := func(what string) net.Conn {
		t.Helper()
		select {
		case c := <-accepted:
			return c
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: not accepted", what)
			return nil
		}
	}
	expectNone := func(what string) {
		t.Helper()
		select {
		case c := <-accepted:
			t.Fatalf("%s: accepted %v", what, c.RemoteAddr())
		case <-time.After(300 * time.Millisecond):
		}
	}
	dial("127.0.0.2")
	first := expectAccepted("first from .2")
	dial("127.0.0.2")
	expectAccepted("second from .2")
	third := dial("127.0.0.2")
	third.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := third.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("third from .2: read %v, want EOF (closed by the listener)", err)
	}
	expectNone("third from .2")
	dial("127.0.0.3")
	expectAccepted("first from .3")
	dial("127.0.0.4")
	expectNone("over the total")
	first.Close()
	expectAccepted("over the total, once a slot freed up")
}

// fakeListener hands out, one per Accept, connections that claim the
// remote addresses sent on addrs: loopback offers one IPv6 address only,
// and the per-address cap must hold for a host that uses many.
type fakeListener struct {
	addrs  chan *net.TCPAddr
	closed chan struct{}
}

func (l *fakeListener) Accept() (net.Conn, error) {
	select {
	case a := <-l.addrs:
		local, remote := net.Pipe()
		remote.Close()
		return remoteAddrConn{Conn: local, remote: a}, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}
func (l *fakeListener) Close() error   { close(l.closed); return nil }
func (l *fakeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv6loopback, Port: 1} }

type remoteAddrConn struct {
	net.Conn
	remote net.Addr
}

func (c remoteAddrConn) RemoteAddr() net.Addr { return c.remote }

// An IPv6 host may draw a fresh address from its /64 for every connection,
// so the per-address cap counts a /64 as one client (as the rate limits
// do); another /64, and an IPv4 client in either form, count on their own.
func TestBoundedListenerCountsAnIPv6SlashSixtyFourAsOneClient(t *testing.T) {
	fake := &fakeListener{addrs: make(chan *net.TCPAddr), closed: make(chan struct{})}
	ln := newBoundedListener(fake, 100, 2)
	defer ln.Close()
	accepted := acceptAll(ln)
	offer := func(ip string) {
		t.Helper()
		select {
		case fake.addrs <- &net.TCPAddr{IP: net.ParseIP(ip), Port: 40000}:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: the listener did not take it", ip)
		}
	}
	for _, ip := range []string{"2001:db8:1:2::1", "2001:db8:1:2:ffff::2", "2001:db8:1:2:abcd::3", "2001:db8:1:3::1",
		"203.0.113.5", "::ffff:203.0.113.5", "203.0.113.5"} {
		offer(ip)
	}
	// Offered again so that every earlier one has been through Accept.
	offer("198.51.100.1")
	var got []string
	for len(got) < 5 {
		select {
		case c := <-accepted:
			got = append(got, c.RemoteAddr().(*net.TCPAddr).IP.String())
		case <-time.After(5 * time.Second):
			t.Fatalf("accepted only %v", got)
		}
	}
	want := []string{"2001:db8:1:2::1", "2001:db8:1:2:ffff::2", "2001:db8:1:3::1", "203.0.113.5", "203.0.113.5"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("accepted %v, want %v then 198.51.100.1 (a third from one /64, and a third from one IPv4 address in either form, closed)", got, want)
		}
	}
	select {
	case c := <-accepted:
		if ip := c.RemoteAddr().(*net.TCPAddr).IP.String(); ip != "198.51.100.1" {
			t.Fatalf("then accepted %s, want 198.51.100.1", ip)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("198.51.100.1 not accepted")
	}
}

// acceptAll accepts from ln until it is closed, handing out what it accepts.
func acceptAll(ln net.Listener) chan net.Conn {
	accepted := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	return accepted
}
