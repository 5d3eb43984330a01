package main

import (
	"net"
	"net/netip"
	"sync"

	"github.com/agendahq/agenda/internal/clientnet"
)

// boundedListener caps the connections a listener holds open: at most max
// in all (Accept waits for one to close, leaving newcomers in the kernel's
// backlog rather than taking file descriptors), and at most perAddr from
// one client address, or one IPv6 /64 (those beyond are closed at once).
// Without it ~20,000 idle connections exhausted the process's file
// descriptors, and the node's own outbound connections — gossip,
// forwarding, Raft — failed with "too many open files".
type boundedListener struct {
	net.Listener
	perAddr int
	slots   chan struct{}

	mu     sync.Mutex
	byAddr map[string]int
}

func newBoundedListener(ln net.Listener, max, perAddr int) *boundedListener {
	return &boundedListener{Listener: ln, perAddr: perAddr, slots: make(chan struct{}, max), byAddr: map[string]int{}}
}

// Accept returns the next connection within the limits.
func (l *boundedListener) Accept() (net.Conn, error) {
	for {
		l.slots <- struct{}{}
		c, err := l.Listener.Accept()
		if err != nil {
			<-l.slots
			return nil, err
		}
		host := clientOfConn(c)
		l.mu.Lock()
		over := l.byAddr[host] >= l.perAddr
		if !over {
			l.byAddr[host]++
		}
		l.mu.Unlock()
		if over {
			c.Close()
			<-l.slots
			continue
		}
		return &boundedConn{Conn: c, l: l, host: host}, nil
	}
}

func (l *boundedListener) release(host string) {
	l.mu.Lock()
	if l.byAddr[host]--; l.byAddr[host] <= 0 {
		delete(l.byAddr, host)
	}
	l.mu.Unlock()
	<-l.slots
}

// clientOfConn is what a connection counts as against perAddr: its peer's
// address, or an IPv6 peer's /64, from which one host may draw an address
// for every connection (internal/clientnet; the rate limits count so too).
func clientOfConn(c net.Conn) string {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		if addr, ok := netip.AddrFromSlice(a.IP); ok {
			return clientnet.Of(addr)
		}
	}
	h, _, _ := net.SplitHostPort(c.RemoteAddr().String())
	return clientnet.OfHost(h)
}

// boundedConn gives its slot back when closed.
type boundedConn struct {
	net.Conn
	l        *boundedListener
	host     string
	closeOne sync.Once
}

func (c *boundedConn) Close() error {
	err := c.Conn.Close()
	c.closeOne.Do(func() { c.l.release(c.host) })
	return err
}
