package cluster

import (
	"log/slog"
	"net"
	"sync"
	"time"
)

// Refusals writes the audit line for a refused node-to-node connection or
// request (action=cluster.auth_refused). Refusals cost an attacker nothing
// and a log line each would let anyone who can reach the Raft or HTTP port
// flood the log, so it logs the first refusal from a host at once and then
// at most one line per host per Interval, saying how many it held back.
// The zero value is ready to use, with slog.Default and one minute.
type Refusals struct {
	Logger   *slog.Logger
	Interval time.Duration

	mu    sync.Mutex
	hosts map[string]*refusalWindow
	now   func() time.Time // tests
}

type refusalWindow struct {
	logged     time.Time // when a line was last written for the host
	suppressed int       // refusals since then not written
}

// maxRefusalHosts bounds the table: past it, hosts last logged an interval
// ago or more are forgotten, and if none are, new hosts share one entry.
const maxRefusalHosts = 1024

// overflowHost is the shared entry for hosts beyond maxRefusalHosts.
const overflowHost = "(other hosts)"

// Log records one refusal from remote (host:port or host); attrs are
// slog key-value pairs describing it.
func (r *Refusals) Log(msg, remote string, attrs ...any) {
	host := remote
	if h, _, err := net.SplitHostPort(remote); err == nil {
		host = h
	}
	r.mu.Lock()
	now := time.Now()
	if r.now != nil {
		now = r.now()
	}
	interval := r.Interval
	if interval <= 0 {
		interval = time.Minute
	}
	if r.hosts == nil {
		r.hosts = map[string]*refusalWindow{}
	}
	key := host
	win, ok := r.hosts[key]
	if !ok && len(r.hosts) >= maxRefusalHosts {
		for h, w := range r.hosts {
			if now.Sub(w.logged) >= interval {
				delete(r.hosts, h) // its held-back count goes unreported
			}
		}
		if len(r.hosts) >= maxRefusalHosts {
			key = overflowHost
			win, ok = r.hosts[key]
		}
	}
	if ok && now.Sub(win.logged) < interval {
		win.suppressed++
		r.mu.Unlock()
		return
	}
	suppressed := 0
	if ok {
		suppressed = win.suppressed
	}
	r.hosts[key] = &refusalWindow{logged: now}
	r.mu.Unlock()

	logger := r.Logger
	if logger == nil {
		logger = slog.Default()
	}
	args := append([]any{"action", "cluster.auth_refused", "remote", remote}, attrs...)
	if suppressed > 0 {
		args = append(args, "suppressed_since_last", suppressed)
	}
	logger.Warn(msg, args...)
}
