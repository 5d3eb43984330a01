package cluster

import (
	"context"
	"time"

	"github.com/agendahq/agenda/events"
)

// joinCounts is how long a node that asked to join counts towards the
// level before the configuration lists it (a join that failed is asked
// again every round, and counts again).
const joinCounts = time.Minute

// updateLevel sets the cluster's event level: the lowest that a server of
// the Raft configuration announced, this node's included. Every server
// applies every entry, so none may be sent a form it would halt on. Without
// a configuration yet (before a bootstrap or a join), every node heard of
// counts: the next configuration is made of them. A node alone counts
// itself. On the leader, a node asking to join counts at once (joining).
//
// Calls are serialised, and each reads the configuration under the lock:
// a round that read it before a join must not overwrite the level the join
// lowered. If the configuration cannot be read, the level stays.
func (a *Agent) updateLevel() {
	a.levelMu.Lock()
	defer a.levelMu.Unlock()
	servers, err := a.raft.Servers()
	if err != nil {
		return
	}
	now := time.Now()
	ids := make([]string, 0, len(servers)+len(a.joiners))
	listed := make(map[string]bool, len(servers)+len(a.joiners))
	for _, s := range servers {
		ids = append(ids, s.ID)
		listed[s.ID] = true
	}
	for id, since := range a.joiners {
		if listed[id] || now.Sub(since) > joinCounts {
			delete(a.joiners, id)
			continue
		}
		ids = append(ids, id)
		listed[id] = true
	}
	if len(servers) == 0 {
		ids = append(ids, a.members.IDs()...)
	}
	l := a.members.Level(a.cfg.Self.ID)
	for _, id := range ids {
		l = min(l, a.members.Level(id))
	}
	a.members.forgetLevels(listed)
	a.level.Store(int64(l))
	switch {
	case len(servers) == 0 || l == a.levelSaid:
	case a.levelSaid == 0:
		a.logger.Info("the cluster's event level: commands write the event forms every node reads", "level", l)
	default:
		a.logger.Info("the cluster's event level changed: commands write the event forms every node reads",
			"level", l, "was", a.levelSaid)
	}
	if len(servers) > 0 {
		a.levelSaid = l
	}
}

// joining records that node id asked this leader to join: it counts
// towards the level from now on (see updateLevel).
func (a *Agent) joining(id string) {
	a.levelMu.Lock()
	defer a.levelMu.Unlock()
	if a.joiners == nil {
		a.joiners = map[string]time.Time{}
	}
	a.joiners[id] = time.Now()
}

// EventLevel returns the cluster's event level as of the last gossip round
// or join (see updateLevel): commands write no event form above it.
func (a *Agent) EventLevel() int { return int(a.level.Load()) }

// proposeHere proposes b on this node, the leader. A batch decided on a
// view of the cluster that did not yet know a node of a lower level (one
// that joined, or restarted on an older build, since) is refused with an
// *events.AboveLevelError, and the command decides again: the leader's
// view is the freshest, and no entry it appends holds a form a configured
// node would halt on.
func (a *Agent) proposeHere(ctx context.Context, b events.Batch) (events.Committed, error) {
	if err := events.CheckLevel(b, a.EventLevel()); err != nil {
		return events.Committed{}, err
	}
	return a.raft.Propose(ctx, b)
}
