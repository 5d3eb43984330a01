package consensus

// This file holds how far the local FSM has applied the log: waiting for an
// index, and whether the node has caught up with everything committed.

import (
	"context"
	"time"

	"github.com/hashicorp/raft"
)

// WaitApplied waits until the local FSM has applied every entry up to
// index, and this node has heard that index committed, so that the event
// store shows the cluster's entries up to it.
//
// Applied alone is not enough for a node that has just started: its store
// may be ahead of anything it has heard from the leader, and after survivors
// with different logs were recovered together (against the advice) that
// store may hold entries the cluster did not keep, which the state machine
// finds out only once the leader's entries arrive (fsm.checkHistory). A
// node learns a commit index only from a leader whose log its own matched,
// so reads wait for that.
func (n *Node) WaitApplied(ctx context.Context, index uint64) error {
	if n.servable(index) {
		return nil
	}
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			if n.servable(index) {
				return nil
			}
		}
	}
}

// servable reports whether reads at index may be served here: heard
// committed, and applied, by a store not left unproven by a snapshot
// (its last entries may be ones the cluster did not keep).
func (n *Node) servable(index uint64) bool {
	return !n.Unproven() && n.raft.CommitIndex() >= index && n.appliedThrough(index)
}

// StoreApplied is the Raft index the event store has applied: its last
// command or configuration entry. Barriers and no-ops never reach the state
// machine, so once WaitApplied(i) returns it covers every write up to i
// while it may stay below i itself; a copy of the store taken after that
// holds at least this index.
func (n *Node) StoreApplied() uint64 { return n.fsm.index.Load() }

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
// its store holds, and its store is not left unproven by a snapshot.
func (n *Node) CaughtUp() bool {
	if (n.IsLeader() && !n.termApplied()) || n.Unproven() || n.AwaitingCommitIndex() {
		return false
	}
	// The applied index first: read after it, the commit index is at
	// least the one that index was applied under (both only grow), so a
	// follower applying an entry between the two reads is not taken for
	// one that has heard no commit index.
	applied := n.fsm.index.Load()
	commit := n.raft.CommitIndex()
	if commit < applied {
		return false
	}
	return n.appliedThrough(commit)
}

// Unproven reports whether the node cannot yet tell its store's last
// entries from a history the cluster did not keep: a leader's snapshot left
// the store ahead of it and the leader's entries have not yet shown them
// (fsm.unproven), or the node has heard no commit index since it started
// from a recover (its survivors may have logs that end elsewhere). Not
// caught up, not a lag, and every API request is refused meanwhile.
func (n *Node) Unproven() bool {
	return n.fsm.unproven.Load() != 0 || (n.sinceRecover && n.raft.CommitIndex() == 0)
}

// AwaitingCommitIndex reports whether this follower, since it started,
// has heard no commit index while its store holds applied entries or its
// Raft log holds entries (a store lost beside a kept log applies nothing
// until then, and then replays the log: a fault review saw such a node
// count itself caught up, with nothing applied and nothing heard, and
// /readyz forgive the replay as a lag). It learns one with the leader's
// next replication, and hashicorp/raft spaces those for a peer it could
// not reach (doubling up to 10.24 s), or sends a snapshot first. Not
// caught up then, but not applying anything either: /readyz says which.
// (A commit index once heard is never 0 again; a follower that installs a
// snapshot later has one, though for a moment below what the snapshot
// applied: that is CaughtUp's to judge, as a lag.)
func (n *Node) AwaitingCommitIndex() bool {
	return !n.IsLeader() && n.raft.CommitIndex() == 0 && (n.fsm.index.Load() > 0 || n.raft.LastIndex() > 0)
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
