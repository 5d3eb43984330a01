package main

import (
	"context"
	"sync/atomic"
	"time"

	agendahttp "github.com/agendahq/agenda/http"
)

// Readiness is strict about what a node knows (agendahttp.Readiness's
// CaughtUp), but a balancer must not eject a node for trailing the log by a
// few entries: under a steady write load every node, the leader included,
// is now and then an entry or two behind for a few milliseconds (an
// operator's walk-through saw 7 % of /readyz probes answer 503 at 45 writes
// a second). So a node that was caught up less than readyGrace ago, and
// now only trails (applies committed entries, or projects them), is ready.
// A node that has not been caught up since it started (replaying its log),
// or lost its leader, its membership or a projection, is not: none of
// those is a lag.
const readyGrace = time.Second

// readySample is how often the node samples its own readiness, so that
// the grace counts from when it was last caught up, not from the last
// probe (a review found probes 1.5 s apart forgiven nothing).
const readySample = 50 * time.Millisecond

// laggingReasons are the readiness reasons that only say a node trails.
var laggingReasons = map[string]bool{reasonApplying: true, reasonProjecting: true}

const (
	reasonApplying   = "applying committed log entries"
	reasonProjecting = "read model catching up"
	// reasonAwaitingCommit is a restarted follower's, before it has heard a
	// commit index (consensus.Node.AwaitingCommitIndex): only after a
	// start, when the clock has never seen the node caught up, so there is
	// nothing to forgive.
	reasonAwaitingCommit = "waiting for the leader's next replication to say what is committed (after a restart; usually seconds)"
	// reasonUnproven is a node's whose store a leader's snapshot left
	// ahead of it (consensus.Node.Unproven): not a lag, never forgiven.
	reasonUnproven = "checking that the entries this node applied are the cluster's (after a recover, or with a store ahead of the leader's snapshot): only the leader's next entries can show it holds no other history"
)

// readyClock remembers when a node was last caught up, on a monotonic
// clock (a wall clock stepped back would stretch the grace).
type readyClock struct {
	start    time.Time
	caughtUp atomic.Int64 // since start, in nanoseconds; 0: never
}

func newReadyClock() *readyClock { return &readyClock{start: time.Now()} }

// sample notes, every readySample until ctx ends, whether strict (the
// node's readiness before any grace) finds the node caught up.
func (c *readyClock) sample(ctx context.Context, strict func() agendahttp.Readiness) {
	t := time.NewTicker(readySample)
	defer t.Stop()
	for {
		c.judge(strict(), time.Now())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// judge returns r as /readyz answers it at now: r itself if the node is
// caught up (noted) or its reason is more than a lag; ready, without a
// reason, if it trails within readyGrace of being caught up.
func (c *readyClock) judge(r agendahttp.Readiness, now time.Time) agendahttp.Readiness {
	r.CaughtUp = r.Ready
	at := int64(now.Sub(c.start)) + 1 // never 0, which means never
	if r.Ready {
		for last := c.caughtUp.Load(); at > last && !c.caughtUp.CompareAndSwap(last, at); last = c.caughtUp.Load() {
		}
	} else if last := c.caughtUp.Load(); last != 0 && laggingReasons[r.Reason] && time.Duration(at-last) < readyGrace {
		r.Ready, r.Reason = true, ""
	}
	r.Status = "ready"
	if !r.Ready {
		r.Status = "not_ready"
	}
	return r
}
