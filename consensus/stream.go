package consensus

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/agendahq/agenda/internal/throttle"
)

// minSecretLen is the shortest cluster secret NewStreamLayer accepts.
const minSecretLen = 32

// StreamConfig configures a StreamLayer.
type StreamConfig struct {
	// BindAddr is the TCP address to listen on ("0.0.0.0:7000", or
	// "127.0.0.1:0" to pick a port).
	BindAddr string
	// AdvertiseAddr is the host:port other nodes dial; the host may be a DNS
	// name, which is kept as is. Port 0 means the bound port. Empty means
	// the bound address, which must then not be a wildcard.
	AdvertiseAddr string
	// Secret is the cluster secret (CLUSTER_HMAC_SECRET), at least 32 bytes,
	// shared by every node.
	Secret []byte
	// TLS, when set, wraps every accepted and dialed connection in TLS
	// (server side with this config, client side with a clone whose
	// ServerName defaults to the dialed host) before the handshake.
	TLS *tls.Config
	// NodeID is this node's Raft server ID, sent to peers in the handshake
	// (1..128 bytes).
	NodeID string
	// HandshakeTimeout bounds the whole handshake (TLS included) of one
	// connection dialed, or accepted from a known peer; zero means 2 s.
	HandshakeTimeout time.Duration
	// StrangerHandshakeTimeout bounds the handshake of a connection from a
	// host that is not a known peer (see SetKnownPeers); zero means 500 ms.
	// A peer's handshake takes milliseconds; a silent stranger holds a slot
	// no longer than this.
	StrangerHandshakeTimeout time.Duration
	// OnReject, if set, is called for every accepted connection that is
	// refused or fails the handshake, with its remote address and a short
	// reason: the audit hook, which must throttle what it logs (the layer
	// then logs nothing itself). Without it the layer logs a warning,
	// throttled per host.
	OnReject func(remote string, reason string)
	// Logger receives the layer's warnings.
	Logger *slog.Logger

	// era is the node's era, which every handshake carries and decides on
	// (era.go); nil means era 0, as older builds.
	era *eraBook
}

// StreamLayer is a raft.StreamLayer over TCP that advertises a host name
// rather than an IP, re-resolves peers on every dial, and authenticates
// every connection, both ways, with an HMAC challenge/response on the
// cluster secret (optionally inside TLS). Build a transport over it with
// raft.NewNetworkTransport.
type StreamLayer struct {
	cfg       StreamConfig
	secret    []byte
	ln        net.Listener
	advertise streamAddr

	conns  chan net.Conn // authenticated connections for Accept
	closed chan struct{}
	once   sync.Once

	admission admission  // who may start a handshake
	peers     knownPeers // hosts whose connections are the cluster's own
	logs      throttle.Throttle

	mu      sync.Mutex
	pending map[net.Conn]struct{} // connections still in their handshake
	wg      sync.WaitGroup        // accept loop and handshakes
}

var _ raft.StreamLayer = (*StreamLayer)(nil)

// NewStreamLayer validates cfg and starts listening on cfg.BindAddr.
func NewStreamLayer(cfg StreamConfig) (*StreamLayer, error) {
	if len(cfg.Secret) < minSecretLen {
		return nil, fmt.Errorf("consensus: cluster secret must be at least %d bytes, got %d", minSecretLen, len(cfg.Secret))
	}
	if cfg.NodeID == "" || len(cfg.NodeID) > maxNodeIDLen {
		return nil, fmt.Errorf("consensus: node ID must be 1..%d bytes, got %d", maxNodeIDLen, len(cfg.NodeID))
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = 2 * time.Second
	}
	if cfg.StrangerHandshakeTimeout <= 0 {
		cfg.StrangerHandshakeTimeout = 500 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	ln, err := net.Listen("tcp", cfg.BindAddr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.BindAddr, err)
	}
	advertise, err := advertiseAddr(cfg.AdvertiseAddr, ln.Addr().(*net.TCPAddr))
	if err != nil {
		ln.Close()
		return nil, err
	}
	s := &StreamLayer{
		cfg:       cfg,
		secret:    append([]byte(nil), cfg.Secret...),
		ln:        ln,
		advertise: advertise,
		conns:     make(chan net.Conn),
		closed:    make(chan struct{}),
		pending:   make(map[net.Conn]struct{}),
	}
	s.wg.Add(1)
	go s.acceptLoop()
	return s, nil
}

// advertiseAddr is the address to advertise: cfg's, keeping its host name,
// with port 0 replaced by the bound port; or the bound address.
func advertiseAddr(addr string, bound *net.TCPAddr) (streamAddr, error) {
	if addr == "" {
		if bound.IP.IsUnspecified() {
			return "", fmt.Errorf("consensus: bound to %s, which is not advertisable; set an advertise address", bound)
		}
		return streamAddr(bound.String()), nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("consensus: advertise address %q: %w", addr, err)
	}
	if host == "" {
		return "", fmt.Errorf("consensus: advertise address %q has no host", addr)
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		return "", fmt.Errorf("consensus: advertise address %q is not dialable", addr)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return "", fmt.Errorf("consensus: advertise address %q: bad port", addr)
	}
	if p == 0 {
		p = uint64(bound.Port)
	}
	return streamAddr(net.JoinHostPort(host, strconv.FormatUint(p, 10))), nil
}

// streamAddr is an advertised address: its String is what raft uses as the
// node's ServerAddress, host name included.
type streamAddr string

func (a streamAddr) Network() string { return "tcp" }
func (a streamAddr) String() string  { return string(a) }

// Addr returns the advertised address, host name kept (not resolved).
func (s *StreamLayer) Addr() net.Addr { return s.advertise }

// BoundAddr returns the address the listener is bound to.
func (s *StreamLayer) BoundAddr() net.Addr { return s.ln.Addr() }

// Accept returns the next connection that passed the handshake. It fails
// only once the layer is closed (with an error wrapping net.ErrClosed); a
// peer failing its handshake is logged and dropped, never returned.
func (s *StreamLayer) Accept() (net.Conn, error) {
	select {
	case c := <-s.conns:
		return c, nil
	case <-s.closed:
		return nil, fmt.Errorf("raft stream layer: %w", net.ErrClosed)
	}
}

// Close stops the listener, aborts the handshakes in progress and makes
// Accept fail. It is safe to call more than once. Connections already
// returned by Accept or Dial belong to their caller and stay open.
func (s *StreamLayer) Close() error {
	var err error
	s.once.Do(func() {
		close(s.closed)
		err = s.ln.Close()
		s.mu.Lock()
		for c := range s.pending {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return err
}

// Dial connects to a peer, resolving its host name afresh (so a peer that
// moved to a new IP is found there), and runs the handshake; timeout bounds
// the whole call, the handshake also by HandshakeTimeout. A peer that fails
// the handshake gives an error wrapping ErrHandshake.
func (s *StreamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	start := time.Now()
	d := net.Dialer{Timeout: timeout}
	raw, err := d.Dial("tcp", string(address))
	if err != nil {
		return nil, fmt.Errorf("dial raft peer %s: %w", address, err)
	}
	deadline := time.Now().Add(s.cfg.HandshakeTimeout)
	if timeout > 0 && start.Add(timeout).Before(deadline) {
		deadline = start.Add(timeout)
	}
	var conn net.Conn = raw
	if s.cfg.TLS != nil {
		tc := s.cfg.TLS.Clone()
		if tc.ServerName == "" {
			if host, _, err := net.SplitHostPort(string(address)); err == nil {
				tc.ServerName = host
			}
		}
		conn = tls.Client(raw, tc)
	}
	pc, err := s.handshake(conn, roleDialer, deadline)
	if err != nil {
		conn.Close()
		if !isIOFailure(err) {
			if ok, suppressed := s.logs.Allow("dial " + string(address)); ok {
				s.cfg.Logger.Warn("raft peer failed the handshake", "peer", string(address), "remote", raw.RemoteAddr().String(), "err", err, "suppressed_since_last", suppressed)
			}
		}
		return nil, fmt.Errorf("dial raft peer %s: %w", address, err)
	}
	s.peers.prove(hostOf(raw.RemoteAddr()), time.Now())
	return pc, nil
}

// PeerConn is a connection that passed the handshake.
type PeerConn struct {
	net.Conn
	peerID string
	era    *eraBook
	stamp  [16]byte // the era the handshake decided, counted open in era
	once   sync.Once
}

// Close closes the connection and counts it closed in its era.
func (c *PeerConn) Close() error {
	c.once.Do(func() { c.era.release(c.stamp) })
	return c.Conn.Close()
}

// errEraChanged ends a connection opened in another era than the node's
// (it took another since, or was superseded).
var errEraChanged = errors.New("raft connection of another era than this node's")

// Read reads from the connection while the node is still in the era the
// handshake was made in: a node without Raft state that took another era
// since must hear nothing more from the first (era.go), nor a superseded
// node from anyone.
func (c *PeerConn) Read(p []byte) (int, error) {
	if c.era != nil && (c.era.Superseded() != nil || c.era.Era().ID != c.stamp) {
		return 0, errEraChanged
	}
	return c.Conn.Read(p)
}

// PeerNodeID returns the node ID the peer proved in the handshake.
func (c *PeerConn) PeerNodeID() string { return c.peerID }

// handshake runs TLS (if configured and conn is TLS) and the HMAC handshake
// under deadline, then clears the deadline.
func (s *StreamLayer) handshake(conn net.Conn, role byte, deadline time.Time) (*PeerConn, error) {
	if err := conn.SetDeadline(deadline); err != nil {
		return nil, ioFailure("setting deadline", err)
	}
	if tc, ok := conn.(*tls.Conn); ok {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			return nil, &handshakeError{reason: "tls handshake", err: err}
		}
	}
	peerID, era, err := handshake(conn, handshakeParams{secret: s.secret, nodeID: s.cfg.NodeID, role: role, era: s.cfg.era})
	if err != nil {
		return nil, err
	}
	pc := &PeerConn{Conn: conn, peerID: peerID, era: s.cfg.era, stamp: era.ID}
	if err := conn.SetDeadline(time.Time{}); err != nil {
		pc.Close()
		return nil, ioFailure("clearing deadline", err)
	}
	return pc, nil
}

// acceptLoop accepts raw connections and hands each to its own handshake
// goroutine, so that a slow or silent client never holds up another.
func (s *StreamLayer) acceptLoop() {
	defer s.wg.Done()
	var delay time.Duration
	for {
		raw, err := s.ln.Accept()
		if err != nil {
			select {
			case <-s.closed:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors or similar: back off and retry, as
			// net/http does, rather than stop serving.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			if ok, suppressed := s.logs.Allow("accept"); ok {
				s.cfg.Logger.Warn("raft stream accept failed; retrying", "err", err, "retry_in", delay, "suppressed_since_last", suppressed)
			}
			select {
			case <-s.closed:
				return
			case <-time.After(delay):
			}
			continue
		}
		delay = 0
		host := hostOf(raw.RemoteAddr())
		known := s.peers.known(host, time.Now())
		if ok, reason := s.admission.admit(host, known); !ok {
			raw.Close()
			s.reject(raw.RemoteAddr().String(), reason)
			continue
		}
		if !s.track(raw) {
			s.admission.done(host, known)
			raw.Close()
			return
		}
		s.wg.Add(1)
		go s.serve(raw, host, known)
	}
}

// track records raw as in its handshake, unless the layer is closing.
func (s *StreamLayer) track(raw net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.closed:
		return false
	default:
	}
	s.pending[raw] = struct{}{}
	return true
}

func (s *StreamLayer) untrack(raw net.Conn) {
	s.mu.Lock()
	delete(s.pending, raw)
	s.mu.Unlock()
}

// serve runs the handshake on one accepted connection and queues it for
// Accept, or rejects it.
func (s *StreamLayer) serve(raw net.Conn, host string, known bool) {
	defer s.wg.Done()
	remote := raw.RemoteAddr().String()
	var conn net.Conn = raw
	if s.cfg.TLS != nil {
		conn = tls.Server(raw, s.cfg.TLS)
	}
	timeout := s.cfg.HandshakeTimeout
	if !known {
		timeout = min(timeout, s.cfg.StrangerHandshakeTimeout)
	}
	pc, err := s.handshake(conn, roleListener, time.Now().Add(timeout))
	s.untrack(raw)
	s.admission.done(host, known)
	if err != nil {
		conn.Close()
		reason := err.Error()
		var he *handshakeError
		if errors.As(err, &he) {
			reason = he.reason
			if he.err != nil {
				reason += ": " + he.err.Error()
			}
		}
		select {
		case <-s.closed:
			return // aborted by Close, not the peer's fault
		default:
		}
		s.reject(remote, reason)
		return
	}
	s.peers.prove(host, time.Now())
	select {
	case s.conns <- pc:
	case <-s.closed:
		pc.Close()
	}
}

// reject reports a refused connection: to OnReject if set, else to the
// log, at most one line per host per minute.
func (s *StreamLayer) reject(remote, reason string) {
	if s.cfg.OnReject != nil {
		s.cfg.OnReject(remote, reason)
		return
	}
	host := remote
	if h, _, err := net.SplitHostPort(remote); err == nil {
		host = h
	}
	if ok, suppressed := s.logs.Allow(host); ok {
		s.cfg.Logger.Warn("rejected raft connection", "remote", remote, "reason", reason, "suppressed_since_last", suppressed)
	}
}

// isIOFailure reports whether a handshake failed on the network (timeout,
// closed connection) rather than on what the peer sent.
func isIOFailure(err error) bool {
	var he *handshakeError
	return errors.As(err, &he) && he.err != nil
}
