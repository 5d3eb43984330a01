package faultproxy

import (
	"net"
	"os"
	"syscall"
	"testing"
)

// acceptPair dials ln from d and returns the accepted side.
func acceptPair(t *testing.T, ln net.Listener, d *net.Dialer) net.Conn {
	t.Helper()
	c, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func TestOwnerPID(t *testing.T) {
	s := acceptPair(t, listen(t), &net.Dialer{})
	me := os.Getpid()
	if pid, ok := OwnerPID(s, []int{1, me}); !ok || pid != me {
		t.Fatalf("OwnerPID = %d, %v; want %d, true", pid, ok, me)
	}
	if pid, ok := OwnerPID(s, []int{1}); ok {
		t.Fatalf("OwnerPID among others = %d, want none", pid)
	}
}

// Two connections from the same local port to different destinations are
// told apart: the lookup matches both ends.
func TestSocketInodeSharedLocalPort(t *testing.T) {
	reuse := func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			for _, opt := range []int{syscall.SO_REUSEADDR, 0xf /* SO_REUSEPORT */} {
				if e := syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, opt, 1); e != nil {
					serr = e
				}
			}
		})
		if err != nil {
			return err
		}
		return serr
	}
	first := acceptPair(t, listen(t), &net.Dialer{Control: reuse, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}})
	port := first.RemoteAddr().(*net.TCPAddr).Port
	second := acceptPair(t, listen(t), &net.Dialer{Control: reuse, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}})
	if got := second.RemoteAddr().(*net.TCPAddr).Port; got != port {
		t.Fatalf("second connection from port %d, want %d", got, port)
	}
	a, okA := socketInode(first.RemoteAddr().(*net.TCPAddr), first.LocalAddr().(*net.TCPAddr))
	b, okB := socketInode(second.RemoteAddr().(*net.TCPAddr), second.LocalAddr().(*net.TCPAddr))
	if !okA || !okB || a == b {
		t.Fatalf("inodes %q (%v) and %q (%v): want two different sockets", a, okA, b, okB)
	}
}

func TestParseProcAddr(t *testing.T) {
	for _, tc := range []struct {
		in   string
		ip   string
		port int
	}{
		{"0100007F:1F90", "127.0.0.1", 8080},
		{"0000000000000000FFFF00000200007F:0050", "127.0.0.2", 80},
		{"00000000000000000000000001000000:0016", "::1", 22},
	} {
		ip, port, ok := parseProcAddr(tc.in)
		if !ok || !ip.Equal(net.ParseIP(tc.ip)) || port != tc.port {
			t.Errorf("parseProcAddr(%q) = %v, %d, %v; want %s, %d", tc.in, ip, port, ok, tc.ip, tc.port)
		}
	}
}
