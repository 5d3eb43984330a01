// Package faultproxy is a TCP proxy that injects network faults between the
// nodes of a test cluster: partitions (connections blackholed, or refused
// with a reset), one-way cuts, isolation of a single source and added
// latency. Put one in front of each listening port a node's peers dial and
// advertise the proxy's address instead of the port's.
//
// A blackholed connection behaves like one across a real partition: the
// proxy accepts it (or keeps it, if it was open) and forwards nothing, so
// the peer learns of the fault only through its own timeouts. Bytes dropped
// leave a gap in the stream, so on Heal every connection that lost bytes is
// closed; the peers redial.
package faultproxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Direction names the way bytes flow through a connection.
type Direction int

const (
	// Upstream is from the dialing client to the target.
	Upstream Direction = 1 << iota
	// Downstream is from the target back to the client.
	Downstream
	// Both directions.
	Both = Upstream | Downstream
)

// dialTimeout bounds the proxy's own dial to the target.
const dialTimeout = 5 * time.Second

// Proxy forwards TCP connections from its listen address to a target,
// injecting the faults it is told to. Its methods are safe for concurrent
// use.
type Proxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	refuse  bool                 // reset every connection
	cut     Direction            // directions dropped for every connection
	blocked map[string]Direction // per source, the directions dropped
	latency time.Duration
	source  func(conn net.Conn) string
	links   map[*link]struct{}
	closed  bool

	accepted atomic.Int64
	wg       sync.WaitGroup
}

// New starts a proxy listening on listenAddr ("127.0.0.1:0" picks a port)
// that forwards to targetAddr, dialed afresh for every connection.
func New(listenAddr, targetAddr string) (*Proxy, error) {
	ln, err := net.Listen("tcp", listenAddr)
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen on %s: %w", listenAddr, err)
	}
	p := &Proxy{
		ln:      ln,
		target:  targetAddr,
		blocked: map[string]Direction{},
		links:   map[*link]struct{}{},
	}
	p.wg.Add(1)
	go p.acceptLoop()
	return p, nil
}

// Addr returns the address the proxy listens on, for peers to dial.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Target returns the address the proxy forwards to.
func (p *Proxy) Target() string { return p.target }

// Accepted returns how many connections the proxy has accepted so far.
func (p *Proxy) Accepted() int64 { return p.accepted.Load() }

// SetSource installs f, which names the source of an accepted connection
// (a node ID, say: see OwnerPID); Block and Unblock act on those names. f
// runs once per connection, before the proxy dials the target. Without it
// every connection's source is "".
func (p *Proxy) SetSource(f func(conn net.Conn) string) {
	p.mu.Lock()
	p.source = f
	p.mu.Unlock()
}

// Partition blackholes the proxy: open connections stop forwarding in both
// directions (their bytes are dropped) and new ones are accepted but never
// forwarded, as across a real network partition. Heal undoes it.
func (p *Proxy) Partition() { p.Cut(Both) }

// Cut drops the bytes flowing in dir (Upstream, Downstream or Both) on every
// connection, open or new: a one-way partition. Heal undoes it.
func (p *Proxy) Cut(dir Direction) {
	p.mu.Lock()
	p.cut |= dir
	p.mu.Unlock()
}

// Refuse resets every open connection and every new one at once, as a host
// that is up but has nothing listening would. Heal undoes it.
func (p *Proxy) Refuse() {
	p.mu.Lock()
	p.refuse = true
	links := p.linkList()
	p.mu.Unlock()
	for _, l := range links {
		l.reset()
	}
}

// Block blackholes every connection, open or new, whose source (see
// SetSource) is src: it isolates one peer from the target while others
// still get through. Unblock or Heal undoes it.
func (p *Proxy) Block(src string) { p.BlockDir(src, Both) }

// BlockDir drops the bytes flowing in dir on src's connections, open or
// new: with Upstream, what src sends never arrives, while what the target
// answers still reaches it. Calls add up. Unblock or Heal undoes it.
func (p *Proxy) BlockDir(src string, dir Direction) {
	p.mu.Lock()
	p.blocked[src] |= dir
	p.mu.Unlock()
}

// Unblock lets src's connections through again, closing those of its
// connections that lost bytes while it was blocked.
func (p *Proxy) Unblock(src string) {
	p.mu.Lock()
	delete(p.blocked, src)
	links := p.linkList()
	p.mu.Unlock()
	for _, l := range links {
		if l.source == src && l.tainted.Load() {
			l.close()
		}
	}
}

// Heal ends every fault (partition, cut, refusal, blocked sources; latency
// stays) and closes the connections that lost bytes meanwhile, whose
// streams have a gap, so that their peers redial.
func (p *Proxy) Heal() {
	p.mu.Lock()
	p.refuse, p.cut = false, 0
	clear(p.blocked)
	links := p.linkList()
	p.mu.Unlock()
	for _, l := range links {
		if l.tainted.Load() {
			l.close()
		}
	}
}

// SetLatency delays every chunk of bytes by d in each direction, from the
// moment the proxy reads it; zero removes the delay. Order is kept.
func (p *Proxy) SetLatency(d time.Duration) {
	p.mu.Lock()
	p.latency = d
	p.mu.Unlock()
}

// Close stops listening, closes every connection and waits for the proxy's
// goroutines. It is safe to call more than once.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	links := p.linkList()
	p.mu.Unlock()
	err := p.ln.Close()
	for _, l := range links {
		l.close()
	}
	p.wg.Wait()
	return err
}

// linkList returns the open links; p.mu must be held.
func (p *Proxy) linkList() []*link {
	out := make([]*link, 0, len(p.links))
	for l := range p.links {
		out = append(out, l)
	}
	return out
}

// dropping reports whether bytes of l flowing in dir are to be dropped now.
func (p *Proxy) dropping(l *link, dir Direction) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return (p.cut|p.blocked[l.source])&dir != 0
}

func (p *Proxy) currentLatency() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.latency
}

func (p *Proxy) acceptLoop() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// A transient accept error (EMFILE, say): back off briefly.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		p.accepted.Add(1)
		p.wg.Add(1)
		go p.handle(c)
	}
}

// handle runs one accepted connection until either side closes it.
func (p *Proxy) handle(client net.Conn) {
	defer p.wg.Done()
	p.mu.Lock()
	srcFunc := p.source
	p.mu.Unlock()
	src := ""
	if srcFunc != nil {
		src = srcFunc(client)
	}
	l := &link{client: client, source: src}

	p.mu.Lock()
	if p.closed || p.refuse {
		p.mu.Unlock()
		l.reset()
		return
	}
	p.links[l] = struct{}{}
	blackhole := p.cut|p.blocked[src] == Both
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.links, l)
		p.mu.Unlock()
		l.close()
	}()

	if blackhole {
		// Across a partition the target never hears of this connection.
		// Hold it, swallowing whatever the client sends, until a Heal or
		// Unblock closes it or the client gives up.
		l.tainted.Store(true)
		io.Copy(io.Discard, client)
		return
	}
	server, err := net.DialTimeout("tcp", p.target, dialTimeout)
	if err != nil {
		// Target down: the client sees its connection reset, as it would
		// dialing the target directly.
		l.reset()
		return
	}
	if !l.setServer(server) {
		server.Close()
		return
	}
	done := make(chan struct{}, 2)
	go func() { p.pump(l, Upstream, client, server); done <- struct{}{} }()
	go func() { p.pump(l, Downstream, server, client); done <- struct{}{} }()
	<-done
	// One side is finished: close both so that the other pump ends too
	// (half-closed connections are not kept).
	l.close()
	<-done
}

// chunk is a piece of the stream on its way through the delay line.
type chunk struct {
	data []byte
	at   time.Time // when it was read
}

// pump copies src to dst through a delay line, dropping what the proxy's
// faults say to drop. It returns when either side fails.
func (p *Proxy) pump(l *link, dir Direction, src, dst net.Conn) {
	queue := make(chan chunk, 64)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for c := range queue {
			if lat := p.currentLatency(); lat > 0 {
				if wait := time.Until(c.at.Add(lat)); wait > 0 {
					time.Sleep(wait)
				}
			}
			if p.dropping(l, dir) {
				l.tainted.Store(true)
				continue
			}
			if _, err := dst.Write(c.data); err != nil {
				l.close()
				// Drain so that the reader never blocks on a full queue.
				for range queue {
				}
				return
			}
		}
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if p.dropping(l, dir) {
				l.tainted.Store(true)
			} else {
				queue <- chunk{data: append([]byte(nil), buf[:n]...), at: time.Now()}
			}
		}
		if err != nil {
			break
		}
	}
	close(queue)
	<-writerDone
}

// link is one proxied connection: the accepted client side and, once
// dialed, the target side.
type link struct {
	client net.Conn
	source string
	// tainted is set once the link dropped bytes: its stream has a gap and
	// must not carry on after the fault ends.
	tainted atomic.Bool

	mu     sync.Mutex
	server net.Conn
	closed bool
}

// setServer records the dialed target side; false if the link was closed
// meanwhile.
func (l *link) setServer(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.server = c
	return true
}

func (l *link) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	l.client.Close()
	if l.server != nil {
		l.server.Close()
	}
}

// reset closes both sides with a TCP RST rather than a FIN.
func (l *link) reset() {
	l.mu.Lock()
	for _, c := range []net.Conn{l.client, l.server} {
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
	}
	l.mu.Unlock()
	l.close()
}
