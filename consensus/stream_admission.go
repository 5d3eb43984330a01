package consensus

import (
	"context"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// Admission of accepted connections to the handshake. A flood of junk
// connections must not starve the cluster's own: during a failover the new
// leader dials every follower at once, and if strangers hold every
// handshake slot its connections are refused and it steps down. So:
//
//   - at most maxPendingHandshakes handshakes run at once, of which
//     reservedHandshakes are kept for known peers (hosts in the Raft
//     configuration, and hosts that passed the handshake lately);
//   - a stranger host runs at most perSourceHandshakes at once;
//   - a stranger's handshake must finish within StrangerHandshakeTimeout,
//     a known peer's within HandshakeTimeout.
//
// Peers are told apart by IP: a stranger on a peer's own host counts as
// that peer (it is not a stranger to the network either).
const (
	maxPendingHandshakes = 64
	reservedHandshakes   = 16
	perSourceHandshakes  = 4

	// provenFor is how long a host that passed the handshake stays known.
	provenFor = 10 * time.Minute
	// maxProven bounds the hosts remembered as proven.
	maxProven = 1024
	// peerRefresh is how often the configured peers' addresses are
	// resolved again (a host name may move, as Swarm task IPs do).
	peerRefresh = 2 * time.Second
)

// admission counts the handshakes in progress and decides who may start one.
type admission struct {
	mu       sync.Mutex
	running  int
	bySource map[string]int // strangers' handshakes in progress, per host
}

// admit reports whether a handshake from host may start, and why not.
func (a *admission) admit(host string, known bool) (bool, string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.bySource == nil {
		a.bySource = map[string]int{}
	}
	switch {
	case a.running >= maxPendingHandshakes:
		return false, "too many handshakes in progress"
	case known:
	case a.running >= maxPendingHandshakes-reservedHandshakes:
		return false, "too many handshakes in progress (the rest are kept for known peers)"
	case a.bySource[host] >= perSourceHandshakes:
		return false, "too many handshakes in progress from this host"
	default:
		a.bySource[host]++
	}
	a.running++
	return true, ""
}

// done releases what admit took.
func (a *admission) done(host string, known bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.running--
	if !known {
		if a.bySource[host]--; a.bySource[host] <= 0 {
			delete(a.bySource, host)
		}
	}
}

// knownPeers is the set of hosts whose connections count as the cluster's
// own: the resolved hosts of the Raft configuration, and hosts that proved
// the cluster secret within provenFor.
type knownPeers struct {
	mu         sync.Mutex
	configured map[string]bool
	proven     map[string]time.Time
}

func (k *knownPeers) known(host string, now time.Time) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.configured[host] {
		return true
	}
	t, ok := k.proven[host]
	return ok && now.Sub(t) < provenFor
}

// prove records that host passed the handshake.
func (k *knownPeers) prove(host string, now time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.proven == nil {
		k.proven = map[string]time.Time{}
	}
	if _, ok := k.proven[host]; !ok && len(k.proven) >= maxProven {
		for h, t := range k.proven {
			if now.Sub(t) >= provenFor {
				delete(k.proven, h)
			}
		}
		if len(k.proven) >= maxProven {
			return // the configured peers still count
		}
	}
	k.proven[host] = now
}

func (k *knownPeers) setConfigured(hosts map[string]bool) {
	k.mu.Lock()
	k.configured = hosts
	k.mu.Unlock()
}

// resolvePeers turns host:port addresses into the set of their IPs,
// resolving host names (bounded by ctx).
func resolvePeers(ctx context.Context, addrs []string) map[string]bool {
	out := map[string]bool{}
	for _, addr := range addrs {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			continue
		}
		if ip := net.ParseIP(host); ip != nil {
			out[ip.String()] = true
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, time.Second)
		// A name that does not resolve now counts as no peer until it
		// does (the next refresh).
		ips, _ := net.DefaultResolver.LookupHost(rctx, host)
		cancel()
		for _, ip := range ips {
			if p := net.ParseIP(ip); p != nil {
				out[p.String()] = true
			}
		}
	}
	return out
}

// SetKnownPeers tells the layer where to find the addresses of the Raft
// configuration (see the admission rules above); it resolves them every
// peerRefresh until the layer closes. Call it once, after Raft starts.
func (s *StreamLayer) SetKnownPeers(addrs func() []string) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			<-s.closed
			cancel()
		}()
		t := time.NewTicker(peerRefresh)
		defer t.Stop()
		for {
			s.peers.setConfigured(resolvePeers(ctx, addrs()))
			select {
			case <-s.closed:
				return
			case <-t.C:
			}
		}
	}()
}

// ConfiguredPeers returns the Raft addresses of r's latest configuration,
// for SetKnownPeers.
func ConfiguredPeers(r *raft.Raft) func() []string {
	return func() []string {
		f := r.GetConfiguration()
		if f.Error() != nil {
			return nil
		}
		var out []string
		for _, srv := range f.Configuration().Servers {
			out = append(out, string(srv.Address))
		}
		return out
	}
}

// hostOf is the IP of a remote address, the key of every per-host rule.
func hostOf(addr net.Addr) string {
	if ta, ok := addr.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	if h, _, err := net.SplitHostPort(addr.String()); err == nil {
		return h
	}
	return addr.String()
}
