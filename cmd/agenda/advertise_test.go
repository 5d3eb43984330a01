package main

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWithHost(t *testing.T) {
	for _, bound := range []string{"127.0.0.1:7000", "10.1.2.3:8080", "agenda-1:7000"} {
		if needsHost(bound) {
			t.Errorf("needsHost(%q) = true, want false", bound)
		}
		if got := withHost(bound, "10.0.0.9"); got != bound {
			t.Errorf("withHost(%q) = %q, want it unchanged", bound, got)
		}
	}
	for _, bound := range []string{":7000", "0.0.0.0:7000", "[::]:7000"} {
		if !needsHost(bound) {
			t.Errorf("needsHost(%q) = false, want true", bound)
		}
		if got := withHost(bound, "10.0.0.9"); got != "10.0.0.9:7000" {
			t.Errorf("withHost(%q) = %q, want 10.0.0.9:7000", bound, got)
		}
	}
}

func TestPickOwnHost(t *testing.T) {
	nets := func(cidrs ...string) []*net.IPNet {
		var out []*net.IPNet
		for _, c := range cidrs {
			ip, n, err := net.ParseCIDR(c)
			if err != nil {
				t.Fatal(err)
			}
			n.IP = ip
			out = append(out, n)
		}
		return out
	}
	ips := func(ss ...string) []net.IP {
		var out []net.IP
		for _, s := range ss {
			out = append(out, net.ParseIP(s))
		}
		return out
	}
	// A Swarm task: ingress first, then the stack's overlay.
	swarm := nets("10.0.0.7/24", "10.0.1.5/24", "172.18.0.3/16")
	for _, tc := range []struct {
		name  string
		local []*net.IPNet
		peers []net.IP
		want  string
	}{
		{"listed under the name", swarm, ips("10.0.1.4", "10.0.1.5", "10.0.1.6"), "10.0.1.5"},
		{"not listed yet: the peers' network", swarm, ips("10.0.1.4", "10.0.1.6"), "10.0.1.5"},
		{"no peers yet: no guess", swarm, nil, ""},
		{"peers elsewhere: no guess", swarm, ips("192.168.9.9"), ""},
		{"peers on two of our networks: no guess", swarm, ips("10.0.0.8", "10.0.1.6"), ""},
		{"one interface, routed peers: no guess", nets("172.17.0.2/16"), ips("10.9.0.1"), ""},
		{"IPv6", nets("fd00::5/64", "10.0.0.7/24"), ips("fd00::9"), "fd00::5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, why := pickOwnHost(tc.local, tc.peers)
			if got != tc.want {
				t.Fatalf("pickOwnHost = %q (%s), want %q", got, why, tc.want)
			}
		})
	}
}

func TestIncarnationAlwaysGrows(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "incarnation"), []byte("9000000000000000000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	first := nextIncarnation(dir, testLogger())
	if first != 9000000000000000001 {
		t.Fatalf("after a recorded future incarnation: %d", first)
	}
	if second := nextIncarnation(dir, testLogger()); second <= first {
		t.Fatalf("second start %d not above first %d", second, first)
	}
}

// TestNodeHealthyWhileFindingItsAddress: a node that must find its own
// address (a wildcard Raft listener, no advertise address) answers health
// probes while it waits for its peers' addresses (Swarm lists a task under
// tasks.<service> only once it is healthy), is not ready, and when nothing
// tells it which address is right it refuses to start, saying what to set,
// rather than guess.
func TestNodeHealthyWhileFindingItsAddress(t *testing.T) {
	defer func(d time.Duration) { hostWait = d }(hostWait)
	hostWait = 3 * time.Second
	cfg := testConfig(t, t.TempDir())
	cfg.HTTPAddr = freeAddr(t)
	cfg.RaftAddr = ":0"
	cfg.BootstrapExpect = 3
	// A seed on none of this machine's networks.
	var far string
	for _, ip := range []string{"198.51.100.1", "203.0.113.1", "192.0.2.1", "10.255.255.1"} {
		on := false
		for _, l := range localNets() {
			on = on || l.Contains(net.ParseIP(ip))
		}
		if !on {
			far = ip
			break
		}
	}
	if far == "" {
		t.Skip("every candidate address is on one of this machine's networks")
	}
	cfg.DiscoverySeeds = []string{far + ":8080"}
	n := &Node{Config: cfg, Logger: testLogger()}
	opened := make(chan error, 1)
	go func() { opened <- n.Open(context.Background()) }()
	t.Cleanup(func() { n.Close() })
	get := func(path string) int {
		resp, err := http.Get("http://" + cfg.HTTPAddr + path)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	deadline := time.Now().Add(2 * time.Second)
	for get("/healthz") != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("/healthz never answered 200 while the node looked for its address")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := get("/readyz"); got != http.StatusServiceUnavailable {
		t.Errorf("/readyz = %d while starting, want 503", got)
	}
	if got := get("/api/agenda"); got != http.StatusServiceUnavailable {
		t.Errorf("/api/agenda = %d while starting, want 503", got)
	}
	select {
	case err := <-opened:
		if err == nil || !strings.Contains(err.Error(), "RAFT_ADVERTISE_ADDR") {
			t.Fatalf("Open = %v, want a refusal naming RAFT_ADVERTISE_ADDR", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Open still waiting long after hostWait")
	}
}

// TestHostWithoutDiscovery: the README's `agenda serve` with no settings
// must start on a machine with several addresses (Docker's bridge, a VPN);
// only a node that expects others refuses to guess.
func TestHostWithoutDiscovery(t *testing.T) {
	nets := func(ips ...string) []*net.IPNet {
		var out []*net.IPNet
		for _, ip := range ips {
			out = append(out, &net.IPNet{IP: net.ParseIP(ip), Mask: net.CIDRMask(24, 32)})
		}
		return out
	}
	if h, guessed, err := hostWithoutDiscovery(nets("192.0.2.2"), true); err != nil || guessed || h != "192.0.2.2" {
		t.Errorf("one address: %q %v %v", h, guessed, err)
	}
	if h, guessed, err := hostWithoutDiscovery(nets("192.0.2.2", "172.17.0.1"), false); err != nil || !guessed || h != "192.0.2.2" {
		t.Errorf("several addresses, alone: %q %v %v; want the first, guessed", h, guessed, err)
	}
	if _, _, err := hostWithoutDiscovery(nets("192.0.2.2", "172.17.0.1"), true); err == nil {
		t.Error("several addresses, expecting others: no error; want a refusal to guess")
	}
}
