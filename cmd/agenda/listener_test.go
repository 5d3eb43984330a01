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
