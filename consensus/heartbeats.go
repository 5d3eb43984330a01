package consensus

// This file holds what this node learns from raft's observations: as
// leader, the followers it cannot reach (from heartbeats), and that it has
// just won an election.

import (
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// heartbeats tracks, on the leader, the followers it cannot reach: raft
// reports every failed heartbeat with the time of the last successful one.
//
// A peer's replication that starts (the peer added, or added again after
// its removal) counts as a contact: a Swarm review saw the reaper remove a
// node 50 ms after it rejoined, on a contact time from before it had left.
// The replication of its earlier membership can report a failure after the
// removal, and raft reports a heartbeat resumed only from a replication
// that failed, so nothing cleared it.
type heartbeats struct {
	mu      sync.Mutex
	failing map[string]time.Time // peer ID → last contact
	started map[string]time.Time // peer ID → when its replication started
}

func (h *heartbeats) observe(o raft.Observation) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch d := o.Data.(type) {
	case raft.FailedHeartbeatObservation:
		id, last := string(d.PeerID), d.LastContact
		if s, ok := h.started[id]; ok && s.After(last) {
			last = s
		}
		h.failing[id] = last
	case raft.ResumedHeartbeatObservation:
		delete(h.failing, string(d.PeerID))
	case raft.LeaderObservation:
		// A new leader starts its own replication, with fresh contact times.
		clear(h.failing)
		clear(h.started)
	case raft.PeerObservation:
		id := string(d.Peer.ID)
		delete(h.failing, id)
		if d.Removed {
			delete(h.started, id)
		} else {
			h.started[id] = time.Now()
		}
	}
}

// Unreachable returns, on the leader, the followers whose heartbeats are
// failing, with the time each was last reached. Empty on a follower.
func (n *Node) Unreachable() map[string]time.Time {
	out := map[string]time.Time{}
	if !n.IsLeader() {
		return out
	}
	n.hb.mu.Lock()
	defer n.hb.mu.Unlock()
	for id, t := range n.hb.failing {
		out[id] = t
	}
	return out
}

func (n *Node) startObserver() {
	n.hb.failing = map[string]time.Time{}
	n.hb.started = map[string]time.Time{}
	ch := make(chan raft.Observation, 64)
	n.observer = raft.NewObserver(ch, false, func(o *raft.Observation) bool {
		switch o.Data.(type) {
		case raft.FailedHeartbeatObservation, raft.ResumedHeartbeatObservation, raft.LeaderObservation, raft.PeerObservation:
			return true
		}
		return false
	})
	n.raft.RegisterObserver(n.observer)
	n.obsDone = make(chan struct{})
	go func() {
		defer close(n.obsDone)
		for o := range ch {
			n.hb.observe(o)
			// A new leader proves its commit index at once (a barrier of
			// its term, see CaughtUp) rather than on the first readiness
			// probe or strong read, which would otherwise wait for it.
			if d, ok := o.Data.(raft.LeaderObservation); ok && string(d.LeaderID) == n.cfg.NodeID {
				n.publisher.publish()
			}
		}
	}()
	n.obsCh = ch
}

func (n *Node) stopObserver() {
	if n.observer == nil {
		return
	}
	n.raft.DeregisterObserver(n.observer)
	close(n.obsCh)
	<-n.obsDone
	n.observer = nil
}
