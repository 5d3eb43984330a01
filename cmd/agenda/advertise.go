package main

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// advertiseAddr returns the host:port other nodes should use to reach a
// listener bound at bound (an address with a real port). A specific bound
// host is kept; a wildcard is replaced by this node's own address: the A
// record of dnsName that is one of our interface addresses (in Docker
// Swarm, tasks.<service> lists every task's IP, ours among them), else the
// first non-loopback interface address, else the host name.
func advertiseAddr(bound, dnsName string) string {
	host, port, err := net.SplitHostPort(bound)
	if err != nil {
		return bound
	}
	if ip := net.ParseIP(host); host != "" && (ip == nil || !ip.IsUnspecified()) {
		return bound
	}
	return net.JoinHostPort(cachedOwnHost(dnsName), port)
}

var ownHosts sync.Map // DNS name → this node's host, found once

func cachedOwnHost(dnsName string) string {
	if h, ok := ownHosts.Load(dnsName); ok {
		return h.(string)
	}
	h := ownHost(dnsName)
	ownHosts.Store(dnsName, h)
	return h
}

// dnsWait bounds how long ownHost waits for DISCOVERY_DNS_NAME to list
// this node.
var dnsWait = 10 * time.Second

func ownHost(dnsName string) string {
	local := map[string]bool{}
	var first string
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok || ipn.IP.IsLoopback() || ipn.IP.IsLinkLocalUnicast() {
				continue
			}
			local[ipn.IP.String()] = true
			if first == "" && ipn.IP.To4() != nil {
				first = ipn.IP.String()
			}
		}
	}
	if dnsName != "" {
		// The orchestrator may publish our record a moment after we start:
		// wait for it a little rather than guess an interface (a container
		// on several networks has several).
		deadline := time.Now().Add(dnsWait)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			ips, _ := net.DefaultResolver.LookupHost(ctx, dnsName)
			cancel()
			for _, ip := range ips {
				if local[ip] {
					return ip
				}
			}
			if time.Now().After(deadline) {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	if first != "" {
		return first
	}
	if h, err := os.Hostname(); err == nil {
		return h
	}
	return "127.0.0.1"
}

// nextIncarnation returns this start's incarnation: the time, but always
// above the one recorded by the previous start (clocks may step back), so
// that the addresses this start announces replace the old ones everywhere.
func nextIncarnation(dataDir string, logger *slog.Logger) int64 {
	path := filepath.Join(dataDir, "incarnation")
	inc := time.Now().UnixNano()
	if b, err := os.ReadFile(path); err == nil {
		if prev, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && prev >= inc {
			inc = prev + 1
		}
	}
	if err := os.WriteFile(path, []byte(strconv.FormatInt(inc, 10)+"\n"), 0o600); err != nil {
		logger.Warn("cannot record the incarnation", "path", path, "err", err)
	}
	return inc
}
