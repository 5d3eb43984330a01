package cluster

import (
	"time"
)

// reap removes, on the leader, one voter that has been unreachable for
// longer than DeadNodeTimeout, within the bounds of Reapable, or a
// non-voter unreachable as long.
func (a *Agent) reap() {
	if a.cfg.DeadNodeTimeout <= 0 {
		return
	}
	servers, err := a.raft.Servers()
	if err != nil {
		return
	}
	var voters, nonvoters []string
	for _, s := range servers {
		switch s.Suffrage {
		case "Voter":
			voters = append(voters, s.ID)
		case "Nonvoter":
			nonvoters = append(nonvoters, s.ID)
		}
	}
	now := time.Now()
	unreachable := map[string]int64{}
	for id, last := range a.raft.Unreachable() {
		unreachable[id] = int64(now.Sub(last))
	}
	// A joiner that died before it was made a voter counts in no quorum:
	// it goes without the voters' bounds.
	for _, id := range nonvoters {
		if d, ok := unreachable[id]; ok && d > int64(a.cfg.DeadNodeTimeout) {
			a.logger.Warn("removing a non-voter unreachable for longer than the dead-node timeout", "action", "cluster.node_removed", "removed", id, "timeout", a.cfg.DeadNodeTimeout)
			if err := a.raft.RemoveServer(id); err != nil {
				a.logger.Warn("remove dead non-voter failed", "removed", id, "err", err)
				return
			}
			a.members.Forget(id)
			return
		}
	}
	id := Reapable(a.cfg.Self.ID, voters, unreachable, int64(a.cfg.DeadNodeTimeout), RemovalFloor(a.cfg.Expect))
	if id == "" {
		return
	}
	a.logger.Warn("removing a voter unreachable for longer than the dead-node timeout", "action", "cluster.node_removed", "removed", id, "timeout", a.cfg.DeadNodeTimeout)
	if err := a.raft.RemoveServer(id); err != nil {
		a.logger.Warn("remove dead voter failed", "removed", id, "err", err)
		return
	}
	a.members.Forget(id)
}
