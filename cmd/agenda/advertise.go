package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// needsHost reports whether a listener bound at bound needs this node's
// own address to be advertised: its host is a wildcard (":7000" in a
// container). A specific bound host advertises itself.
func needsHost(bound string) bool {
	host, _, err := net.SplitHostPort(bound)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return host == "" || (ip != nil && ip.IsUnspecified())
}

// withHost returns bound with its wildcard host replaced by host; a bound
// address with a specific host is returned unchanged.
func withHost(bound, host string) string {
	if !needsHost(bound) {
		return bound
	}
	_, port, _ := net.SplitHostPort(bound)
	return net.JoinHostPort(host, port)
}

// localNets lists this machine's non-loopback, non-link-local interface
// addresses with their networks.
func localNets() []*net.IPNet {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []*net.IPNet
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok || ipn.IP.IsLoopback() || ipn.IP.IsLinkLocalUnicast() {
			continue
		}
		out = append(out, ipn)
	}
	return out
}

// pickOwnHost chooses, among this node's interface addresses (local), the
// one its peers reach it on, given the peers' addresses (the A records of
// DISCOVERY_DNS_NAME, the resolved seeds):
//
//   - a peer address that is one of ours: the orchestrator lists this node
//     under the name the others look up, so this is the address they use;
//   - otherwise, the only local address whose network holds peer addresses:
//     the network this node shares with them.
//
// It returns "" when neither rule decides: no peer is on any of our
// networks, or peers are on several of them. A Swarm task sits on the
// ingress network as well as its own overlay, so "the first interface"
// is a guess that is wrong as often as not; the caller waits or refuses.
func pickOwnHost(local []*net.IPNet, peers []net.IP) (host, why string) {
	for _, p := range peers {
		for _, l := range local {
			if l.IP.Equal(p) {
				return l.IP.String(), "listed under the discovery name"
			}
		}
	}
	var shared *net.IPNet
	for _, l := range local {
		for _, p := range peers {
			if l.Contains(p) {
				if shared != nil && !shared.IP.Equal(l.IP) {
					return "", ""
				}
				shared = l
				break
			}
		}
	}
	if shared != nil {
		return shared.IP.String(), "on the network shared with the peers"
	}
	return "", ""
}

// hostWait bounds how long findOwnHost waits for the peers' addresses to
// tell which of this node's addresses is the right one.
var hostWait = 2 * time.Minute

// findOwnHost returns the address this node advertises for a wildcard
// listener. It never guesses: with DISCOVERY_DNS_NAME or seeds it waits
// (up to hostWait) until pickOwnHost decides; with neither, a node with
// one interface address uses it. Otherwise it fails, telling the operator
// to set ADVERTISE_ADDR and RAFT_ADVERTISE_ADDR. The HTTP listener is
// already serving health probes while it waits: Swarm lists a task under
// tasks.<service> only once it is healthy.
func findOwnHost(ctx context.Context, c *Config, logger *slog.Logger) (string, error) {
	local := localNets()
	var addrs []string
	for _, l := range local {
		addrs = append(addrs, l.IP.String())
	}
	if c.DiscoveryDNSName == "" && len(c.DiscoverySeeds) == 0 {
		host, guessed, err := hostWithoutDiscovery(local, c.MultiNode())
		if guessed {
			logger.Warn("this node has several addresses and runs alone: advertising the first; set ADVERTISE_ADDR and RAFT_ADVERTISE_ADDR before other nodes join it",
				"host", host, "addresses", addrs)
		}
		return host, err
	}
	deadline := time.Now().Add(hostWait)
	nextLog := time.Now().Add(10 * time.Second)
	var peers []net.IP
	for {
		peers = peerIPs(ctx, c)
		if host, why := pickOwnHost(local, peers); host != "" {
			logger.Info("advertising this node's address", "host", host, "why", why, "peers", ipStrings(peers))
			return host, nil
		}
		if time.Now().After(deadline) {
			break
		}
		if time.Now().After(nextLog) {
			logger.Info("waiting for the discovery name or seeds to show which address to advertise",
				"dns_name", c.DiscoveryDNSName, "seeds", c.DiscoverySeeds, "peers", ipStrings(peers), "local", addrs)
			nextLog = time.Now().Add(10 * time.Second)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	return "", fmt.Errorf("refusing to guess this node's address after %v: the peers' addresses (%s, from DISCOVERY_DNS_NAME %q and DISCOVERY_SEEDS %v) are not on exactly one of this node's networks (%s); set ADVERTISE_ADDR and RAFT_ADVERTISE_ADDR (host:port), e.g. to the container's host name",
		hostWait, strings.Join(ipStrings(peers), ", "), c.DiscoveryDNSName, c.DiscoverySeeds, strings.Join(addrs, ", "))
}

// hostWithoutDiscovery picks the address to advertise when there are no
// seeds and no DNS name to tell which network the peers are on. One address
// is the answer. Several are a guess, made only for a node that runs alone
// (`agenda serve` with no settings, the README's first command): nobody
// dials it until an operator points other nodes at it, and refusing to start
// would break the one-command start on any machine with Docker or a VPN. A
// node expecting others (BOOTSTRAP_EXPECT) refuses to guess.
func hostWithoutDiscovery(local []*net.IPNet, multiNode bool) (host string, guessed bool, err error) {
	switch {
	case len(local) == 1:
		return local[0].IP.String(), false, nil
	case len(local) == 0:
		if h, err := os.Hostname(); err == nil && h != "" {
			return h, false, nil
		}
		return "", false, fmt.Errorf("this node has no network address to advertise; set ADVERTISE_ADDR and RAFT_ADVERTISE_ADDR")
	case !multiNode:
		return local[0].IP.String(), true, nil
	}
	var addrs []string
	for _, l := range local {
		addrs = append(addrs, l.IP.String())
	}
	return "", false, fmt.Errorf("this node has several addresses (%s) and no DISCOVERY_DNS_NAME or DISCOVERY_SEEDS to tell which one the others reach; set ADVERTISE_ADDR and RAFT_ADVERTISE_ADDR (host:port)", strings.Join(addrs, ", "))
}

// peerIPs resolves DISCOVERY_DNS_NAME and the seeds' hosts.
func peerIPs(ctx context.Context, c *Config) []net.IP {
	names := []string{}
	if c.DiscoveryDNSName != "" {
		names = append(names, c.DiscoveryDNSName)
	}
	for _, s := range c.DiscoverySeeds {
		if h, _, err := net.SplitHostPort(s); err == nil && h != "" {
			names = append(names, h)
		}
	}
	var out []net.IP
	for _, name := range names {
		if ip := net.ParseIP(name); ip != nil {
			out = append(out, ip)
			continue
		}
		lctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		ips, _ := net.DefaultResolver.LookupIPAddr(lctx, name)
		cancel()
		for _, ip := range ips {
			out = append(out, ip.IP)
		}
	}
	return out
}

func ipStrings(ips []net.IP) []string {
	out := make([]string, 0, len(ips))
	for _, ip := range ips {
		out = append(out, ip.String())
	}
	return out
}

// recordedIncarnation reads the incarnation the last start on dataDir
// recorded (false if none can be read): what `agenda backup` compares with
// the node it asks, to know it is the one running on the dir.
func recordedIncarnation(dataDir string) (int64, bool) {
	b, err := os.ReadFile(filepath.Join(dataDir, "incarnation"))
	if err != nil {
		return 0, false
	}
	inc, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return inc, err == nil
}

// nextIncarnation returns this start's incarnation: the time, but always
// above the one recorded by the previous start (clocks may step back), so
// that the addresses this start announces replace the old ones everywhere.
func nextIncarnation(dataDir string, logger *slog.Logger) int64 {
	path := filepath.Join(dataDir, "incarnation")
	inc := time.Now().UnixNano()
	if prev, ok := recordedIncarnation(dataDir); ok && prev >= inc {
		inc = prev + 1
	}
	if err := os.WriteFile(path, []byte(strconv.FormatInt(inc, 10)+"\n"), 0o600); err != nil {
		logger.Warn("cannot record the incarnation", "path", path, "err", err)
	}
	return inc
}
