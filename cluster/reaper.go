package cluster

import (
	"time"
)

// reap removes, on the leader, one voter that has been unreachable for
// longer than DeadNodeTimeout, within the bounds of Reapable.
func (a *Agent) reap() {
	if a.cfg.DeadNodeTimeout <= 0 {
		return
	}
	servers, err := a.raft.Servers()
	if err != nil {
		return
	}
	var voters []string
	for _, s := range servers {
		if s.Suffrage == "Voter" {
			voters = append(voters, s.ID)
		}
	}
	now := time.Now()
	unreachable := map[string]int64{}
	for id, last := range a.raft.Unreachable() {
		unreachable[id] = int64(now.Sub(last))
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
