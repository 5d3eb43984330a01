package cluster

import (
	"github.com/agendahq/agenda/consensus"
)

// updateLevel sets the cluster's event level: the lowest that a server of
// the Raft configuration announced, this node's included. Every server
// applies every entry, so none may be sent a form it would halt on. Without
// a configuration yet (before a bootstrap or a join), every node heard of
// counts: the next configuration is made of them. A node alone counts
// itself.
//
// join, if not empty, is a node about to be added (see admit): it counts
// before the configuration lists it.
func (a *Agent) updateLevel(servers []consensus.Server, join ...string) {
	ids := join
	for _, s := range servers {
		ids = append(ids, s.ID)
	}
	if len(servers) == 0 {
		ids = append(ids, a.members.IDs()...)
	}
	l := a.members.Level(a.cfg.Self.ID)
	inConfig := make(map[string]bool, len(ids))
	for _, id := range ids {
		l = min(l, a.members.Level(id))
		inConfig[id] = true
	}
	a.members.forgetLevels(inConfig)
	if old := a.level.Swap(int64(l)); old != int64(l) && len(servers) > 0 {
		a.logger.Info("the cluster's event level changed: commands write the event forms every node reads",
			"level", l, "was", old)
	}
}

// EventLevel returns the cluster's event level as of the last gossip round
// or join (see updateLevel): commands write no event form above it.
func (a *Agent) EventLevel() int { return int(a.level.Load()) }
