package consensus

// This file holds how far the local FSM has applied the log: waiting for an
// index, and whether the node has caught up with everything committed.

import (
	"context"
	"time"

	"github.com/hashicorp/raft"
)

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

// AwaitingCommitIndex reports whether this follower holds applied entries
// it has not yet heard are committed: started anew, it knows no commit index
// until the leader's next replication reaches it, and hashicorp/raft spaces
// those for a peer it could not reach (doubling up to 10.24 s). Not caught
// up then, but not applying anything either: /readyz says which.
func (n *Node) AwaitingCommitIndex() bool {
	return !n.IsLeader() && n.raft.CommitIndex() < n.fsm.index.Load()
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
