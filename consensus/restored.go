package consensus

import (
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// restoredFile marks a Raft directory whose node founded a cluster on a
// restored event store and has not yet compacted its log (see
// compactRestoredHistory). It survives a crash half-way.
const restoredFile = "restored-history"

// compactRestoredHistory snapshots a node that founded a cluster on a
// restored event store and compacts its whole log, before it serves
// anyone. The restored history is in the event store only, not in any Raft
// entry: a node that joined later was sent the log from its first entry
// and never the history before it (an operations review found such
// joiners ready at position 0, the restored users unknown to them). With
// the log compacted, the leader must send a joiner the snapshot, which
// holds the whole event store.
func (n *Node) compactRestoredHistory(marker string) error {
	deadline := time.Now().Add(30 * time.Second)
	for !n.IsLeader() {
		if time.Now().After(deadline) {
			return errors.New("compact the restored history: this node did not become the leader of its new cluster within 30s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := n.raft.Barrier(10 * time.Second).Error(); err != nil {
		return fmt.Errorf("compact the restored history: %w", err)
	}
	keep := n.raft.ReloadableConfig().TrailingLogs
	if err := n.pacer.reload(func(rc *raft.ReloadableConfig) { rc.TrailingLogs = 0 }); err != nil {
		return fmt.Errorf("compact the restored history: %w", err)
	}
	err := n.raft.Snapshot().Error()
	rerr := n.pacer.reload(func(rc *raft.ReloadableConfig) { rc.TrailingLogs = keep })
	if err == nil || errors.Is(err, raft.ErrNothingNewToSnapshot) {
		err = rerr
	}
	if err != nil {
		return fmt.Errorf("compact the restored history: %w", err)
	}
	n.cfg.Logger.Info("compacted the new raft log into a snapshot of the restored history: nodes that join receive it whole")
	return removeSynced(marker)
}
