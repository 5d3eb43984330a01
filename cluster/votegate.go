package cluster

import (
	"context"
	"time"
)

// settleVoteGate lets a node that started without Raft state take part in
// elections once it holds everything the cluster had committed: it asks a
// confirmed leader for a read index once, then opens the gate when its log
// reaches it (consensus/votegate.go says why).
func (a *Agent) settleVoteGate(ctx context.Context) {
	if !a.raft.VoteGated() {
		return
	}
	if a.gateTarget == 0 {
		if leaderID, _ := a.raft.Leader(); leaderID == "" {
			return // no leader: nobody can vouch for the commit index
		}
		rctx, cancel := context.WithTimeout(ctx, time.Second)
		idx, err := a.ReadIndex(rctx)
		cancel()
		if err != nil {
			a.logger.Debug("vote gate: no read index from the leader yet", "err", err)
			return
		}
		a.gateTarget = idx
	}
	if _, err := a.raft.OpenVoteGate(a.gateTarget); err != nil {
		a.logger.Warn("cannot open the vote gate", "err", err)
	}
}
