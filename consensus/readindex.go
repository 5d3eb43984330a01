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
