package cluster

import (
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/agendahq/agenda/internal/throttle"
)

// Refusals writes the audit line for a refused node-to-node connection or
// request (action=cluster.auth_refused). Refusals cost an attacker nothing
// and a log line each would let anyone who can reach the Raft or HTTP port
// flood the log, so they are throttled per remote host: the first at once,
// then at most one line per Interval, saying how many were held back.
// The zero value is ready to use, with slog.Default and one minute.
type Refusals struct {
	Logger   *slog.Logger
	Interval time.Duration
	// OnRefuse, if set, is told of each refusal that is logged (so, as
	// throttled as the log), with how many were held back before it: the
	// audit trail's entry.
	OnRefuse func(remote string, suppressed int, attrs []any)

	once  sync.Once
	hosts throttle.Throttle
}

// Log records one refusal from remote (host:port or host); attrs are
// slog key-value pairs describing it.
func (r *Refusals) Log(msg, remote string, attrs ...any) {
	r.once.Do(func() { r.hosts.Interval = r.Interval })
	host := remote
	if h, _, err := net.SplitHostPort(remote); err == nil {
		host = h
	}
	ok, suppressed := r.hosts.Allow(host)
	if !ok {
		return
	}
	logger := r.Logger
	if logger == nil {
		logger = slog.Default()
	}
	args := append([]any{"action", "cluster.auth_refused", "remote", remote}, attrs...)
	if suppressed > 0 {
		args = append(args, "suppressed_since_last", suppressed)
	}
	logger.Warn(msg, args...)
	if r.OnRefuse != nil {
		r.OnRefuse(remote, suppressed, attrs)
	}
}
