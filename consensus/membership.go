package consensus

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// HasState reports whether this node holds any Raft state: a log, a
// snapshot or a configuration. A node with state never bootstraps.
func (n *Node) HasState() bool {
	if n.raft.LastIndex() > 0 {
		return true
	}
	return len(n.Status().Servers) > 0
}

// IsShutdown reports whether Raft has stopped, which it does on its own once
// the node learns that it was removed from the cluster.
func (n *Node) IsShutdown() bool { return n.raft.State() == raft.Shutdown }

// Bootstrap forms a new cluster whose voters are servers. It fails (and
// changes nothing) if the node already has state. Every server must be
// reachable at its address; the others need no state of their own: a node
// with an empty configuration grants its vote and takes the leader's log.
func (n *Node) Bootstrap(servers []Server) error {
	if len(servers) == 0 {
		return errors.New("consensus: bootstrap with no servers")
	}
	sorted := append([]Server(nil), servers...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].ID < sorted[j].ID })
	conf := raft.Configuration{}
	for _, s := range sorted {
		conf.Servers = append(conf.Servers, raft.Server{ID: raft.ServerID(s.ID), Address: raft.ServerAddress(s.Address), Suffrage: raft.Voter})
	}
	if err := n.raft.BootstrapCluster(conf).Error(); err != nil {
		return fmt.Errorf("bootstrap cluster: %w", err)
	}
	if err := n.gate.open("bootstrapped a new cluster"); err != nil {
		return err
	}
	return nil
}

// Servers returns the latest Raft configuration.
func (n *Node) Servers() ([]Server, error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, err
	}
	var out []Server
	for _, srv := range f.Configuration().Servers {
		out = append(out, Server{ID: string(srv.ID), Address: string(srv.Address), Suffrage: srv.Suffrage.String()})
	}
	return out, nil
}

// WaitApplied waits until the local FSM has applied every entry up to
// index, so that the event store shows them.
func (n *Node) WaitApplied(ctx context.Context, index uint64) error {
	if n.appliedThrough(index) {
		return nil
	}
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			if n.appliedThrough(index) {
				return nil
			}
		}
	}
}

// CaughtUp reports whether the FSM has applied everything committed: false
// while it replays its log after a restart, or takes in a leader's entries
// or snapshot.
//
// The local commit index alone is not enough. A node that has just started
// knows no commit index yet (it may read below what its store has already
// applied), and a new leader learns the true one only once an entry of its
// own term commits — until then entries of earlier terms in its log may be
// committed without its knowing. So a leader is caught up only after a
// barrier of its term has been applied (the same proof ReadIndex uses), and
// any node only once it has heard a commit index at least as high as what
// its store holds.
func (n *Node) CaughtUp() bool {
	if n.IsLeader() && !n.termApplied() {
		return false
	}
	commit := n.raft.CommitIndex()
	if commit < n.fsm.index.Load() {
		return false
	}
	return n.appliedThrough(commit)
}

// termApplied reports whether this leader has seen a barrier of its current
// term applied; if not, it asks the commit publisher for one (which
// coalesces them and records the proof) and reports false until it lands.
func (n *Node) termApplied() bool {
	if n.readTerm.Load() == n.raft.CurrentTerm() {
		return true
	}
	n.publisher.publish()
	return false
}

// termBarrier appends a barrier and waits for it to be applied. Once it
// has been, in the term it started in, this leader knows its commit index
// is the cluster's: it records that term in readTerm, the proof ReadIndex
// and CaughtUp need.
func (n *Node) termBarrier(timeout time.Duration) error {
	term := n.raft.CurrentTerm()
	if err := n.raft.Barrier(timeout).Error(); err != nil {
		return err
	}
	if n.raft.CurrentTerm() != term {
		return raft.ErrLeadershipLost
	}
	n.readTerm.Store(term)
	return nil
}

// appliedThrough reports whether the FSM has applied every entry up to
// index. raft.AppliedIndex counts entries handed to the FSM goroutine, and
// barriers and no-ops never reach the FSM, so: the FSM's own index has
// reached it, or raft has handed everything over and nothing between the
// FSM's index and it is an entry the FSM applies (entries no longer in the
// log are covered by a snapshot, hence applied).
func (n *Node) appliedThrough(index uint64) bool {
	done := n.fsm.index.Load()
	if done >= index {
		return true
	}
	if n.raft.AppliedIndex() < index {
		return false
	}
	var l raft.Log
	for i := done + 1; i <= index; i++ {
		if err := n.logs.GetLog(i, &l); err != nil {
			continue
		}
		if l.Type == raft.LogCommand || l.Type == raft.LogConfiguration {
			return false
		}
	}
	return true
}

// ReadIndex returns a commit index that is safe for a linearizable read: a
// read served once the FSM has applied it reflects every write acknowledged
// before ReadIndex was called. Only the leader can answer; it first makes
// sure an entry of its own term is committed and applied (a new leader may
// not yet know the true commit index), then confirms with a quorum that it
// still leads. Others get ErrNotLeader; a leader cut off from its quorum
// gets ErrNoLeader.
func (n *Node) ReadIndex(ctx context.Context) (uint64, error) {
	if !n.IsLeader() {
		return 0, ErrNotLeader
	}
	term := n.raft.CurrentTerm()
	if n.readTerm.Load() != term {
		timeout := 2 * time.Second
		if d, ok := ctx.Deadline(); ok {
			timeout = time.Until(d)
		}
		if err := n.termBarrier(timeout); err != nil {
			return 0, n.leaderErr(err)
		}
	}
	index := n.raft.CommitIndex()
	if err := n.raft.VerifyLeader().Error(); err != nil {
		return 0, n.leaderErr(err)
	}
	if n.raft.CurrentTerm() != term {
		return 0, ErrNotLeader
	}
	return index, nil
}

func (n *Node) leaderErr(err error) error {
	switch {
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipLost), errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return ErrNotLeader
	case errors.Is(err, raft.ErrRaftShutdown):
		return ErrShutdown
	case errors.Is(err, raft.ErrEnqueueTimeout):
		return ErrNoLeader
	}
	return fmt.Errorf("%w (%v)", ErrNoLeader, err)
}

// heartbeats tracks, on the leader, the followers it cannot reach: raft
// reports every failed heartbeat with the time of the last successful one.
type heartbeats struct {
	mu      sync.Mutex
	failing map[string]time.Time // peer ID → last contact
}

func (h *heartbeats) observe(o raft.Observation) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch d := o.Data.(type) {
	case raft.FailedHeartbeatObservation:
		h.failing[string(d.PeerID)] = d.LastContact
	case raft.ResumedHeartbeatObservation:
		delete(h.failing, string(d.PeerID))
	case raft.LeaderObservation:
		// A new leader starts its own replication, with fresh contact times.
		clear(h.failing)
	case raft.PeerObservation:
		if d.Removed {
			delete(h.failing, string(d.Peer.ID))
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
