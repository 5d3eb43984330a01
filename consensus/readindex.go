package consensus

// This file holds the read index: the proof a leader gives that a read
// served after its FSM reaches an index is linearizable.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// ReadIndex returns a commit index that is safe for a linearizable read: a
// read served once the FSM has applied it reflects every write acknowledged
// before ReadIndex was called. Only the leader can answer. Others get
// ErrNotLeader; a leader cut off from its quorum gets ErrNotLeader or
// ErrNoLeader.
//
// This is Raft's read index (§6.4 of Ongaro's thesis). Once per term the
// leader sees a barrier of its own term applied: a new leader does not know
// the true commit index until an entry of its term commits. Then it notes
// its commit index and confirms that it still leads: a quorum of voters
// (itself included) accepted, in its term, an AppendEntries request sent
// after the note. A voter that had helped elect a newer leader would have
// refused it, so no newer leader had been elected, and no write it
// acknowledged, before the call.
//
// "Sent after the note" is the point. Raft's VerifyLeader, which this used
// to rely on alone, counts any answer that arrives after the check started,
// including one to a heartbeat sent before it: a leader paused (SIGSTOP, a
// long GC, a stalled disk) while its followers elected another resumed,
// read their answers to heartbeats sent before the pause, and confirmed
// itself on them. The linearizability test caught one such stale refusal.
// VerifyLeader still runs first: it sends the heartbeats at once, and a
// follower's refusal ends the check early.
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
	start := n.transport.acks.sent()
	index := n.raft.CommitIndex()
	if err := n.raft.VerifyLeader().Error(); err != nil {
		return 0, n.leaderErr(err)
	}
	if err := n.confirmQuorum(ctx, start, term); err != nil {
		return 0, err
	}
	if n.raft.CurrentTerm() != term {
		return 0, ErrNotLeader
	}
	return index, nil
}

// confirmQuorum waits until a quorum of voters, this node included, has
// accepted in term an AppendEntries request numbered after start. It gives
// up when this node stops leading (raft steps down a leader that hears
// from no quorum for a lease), or after confirmWait or ctx's deadline,
// whichever is later.
func (n *Node) confirmQuorum(ctx context.Context, start, term uint64) error {
	wait := confirmWait
	if d, ok := ctx.Deadline(); ok && time.Until(d) > wait {
		wait = time.Until(d)
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	// An answer wakes the loop; a step-down does not, so look every
	// recheck too, to send the caller to the new leader at once.
	recheck := time.NewTicker(min(n.cfg.LeaderLeaseTimeout, 50*time.Millisecond))
	defer recheck.Stop()
	for {
		if !n.IsLeader() || n.raft.CurrentTerm() != term {
			return ErrNotLeader
		}
		peers, self, err := n.voters()
		if err != nil {
			return n.leaderErr(err)
		}
		acked, changed := n.transport.acks.since(start, term, peers)
		if acked+self >= (len(peers)+self)/2+1 {
			return nil
		}
		select {
		case <-changed:
		case <-recheck.C:
		case <-deadline.C:
			return ErrNoLeader
		case <-ctx.Done():
			return fmt.Errorf("%w (%w)", ErrNoLeader, ctx.Err())
		}
	}
}

// confirmWait bounds confirmQuorum. Heartbeats answer in milliseconds, and
// a leader without its quorum's answers steps down after its lease (200 ms
// by default), well before this.
const confirmWait = 2 * time.Second

// voters returns the voters of the latest configuration other than this
// node, and this node's own vote: 1 if it is a voter, 0 if not.
func (n *Node) voters() (peers []raft.ServerID, self int, err error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, 0, err
	}
	for _, s := range f.Configuration().Servers {
		switch {
		case s.Suffrage != raft.Voter:
		case s.ID == raft.ServerID(n.cfg.NodeID):
			self = 1
		default:
			peers = append(peers, s.ID)
		}
	}
	return peers, self, nil
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
