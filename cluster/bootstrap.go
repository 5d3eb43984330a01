package cluster

import (
	"context"
	"time"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/consensus"
)

func (a *Agent) act(ctx context.Context) {
	// A node a recover left out (consensus/era.go) asks nobody to join or
	// found anything: admitted with its history, it would count in the
	// survivors' quorums while its handshakes with them fail.
	if a.raft.Superseded() != nil {
		return
	}
	leaderID, _ := a.raft.Leader()
	now := time.Now()
	if leaderID != "" || a.leaderlessSince.IsZero() {
		a.leaderlessSince = now
	}
	v := View{
		Self:       a.members.Self(),
		Member:     a.member(),
		Expect:     a.cfg.Expect,
		Peers:      peersOf(a.members.Direct(now.Add(-5*time.Second)), a.cfg.Self.ID),
		LeaderID:   leaderID,
		Leaderless: now.Sub(a.leaderlessSince),
		Unheard:    a.unheard(now.Add(-5 * time.Second)),
	}
	if v.Member {
		a.joinLogged = false
	}
	a.vote, a.voteSince = NextVote(v, a.vote, a.voteSince, now)
	if a.vote != "" && a.raft.VoteGated() {
		// Every node this one knows is stateless: a new cluster is
		// forming and nobody has history to lose, so it may vote.
		if err := a.raft.AllowVoting("taking part in the bootstrap of a new cluster"); err != nil {
			a.logger.Warn("cannot open the vote gate", "err", err)
		}
	}
	v.Self.Vote = a.vote
	a.members.SetVote(a.vote)
	act := Decide(v)
	// A refused node asks again every round, of whoever leads now, even as
	// a member: only a join that passes the leader's history check lifts
	// the fence. A member that, leaderless, asked another cluster's leader
	// (the old nodes of a cluster restored since, left running on the same
	// seeds, answer as one) is so admitted by its own once that leads
	// again: a review found such a healthy node fenced for good. A first
	// fix lifted the fence from what the configuration listed, and a
	// review of it had a foreign store served once its refuser left. A
	// node never asks itself: as leader it would check its store against
	// itself (a refused voter whose gate opened may win an election). It
	// hands leadership on instead, so that whoever leads next judges it.
	if a.refused.Load() {
		switch {
		case leaderID == a.cfg.Self.ID:
			if err := a.raft.TransferLeadership(); err != nil {
				if ok, _ := a.refusedJoins.Allow(leaderID); ok {
					a.logger.Warn("a refused node leads and cannot hand leadership on", "err", err)
				}
			}
		case leaderID != "" && act.Kind == Wait:
			act = Action{Kind: Join, LeaderID: leaderID}
		}
	}
	switch act.Kind {
	case Bootstrap:
		var servers []consensus.Server
		var ids []string
		for _, m := range act.Servers {
			servers = append(servers, consensus.Server{ID: m.ID, Address: m.RaftAddr})
			ids = append(ids, m.ID)
		}
		a.logger.Info("bootstrapping the cluster", "expect", a.cfg.Expect, "voters", ids)
		if err := a.raft.Bootstrap(servers); err != nil {
			a.logger.Warn("bootstrap failed", "err", err)
		}
	case Join:
		jctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		self := a.members.Self()
		h, err := a.raft.History(jctx)
		if err != nil {
			a.logger.Warn("cannot read this node's history to join", "err", err)
			return
		}
		self.History = &h
		self.VoteGated = a.raft.VoteGated()
		if err := a.Join(jctx, self); err != nil {
			// Removed on request while running (errRemoved, the only
			// refusal of a join with this code): say so, and serve nothing
			// rather than answer "not caught up yet" for ever (an
			// operations review).
			if agenda.ErrorCode(err) == agenda.EFORBIDDEN {
				if a.removedHere.CompareAndSwap(false, true) {
					a.logger.Error("this node was removed from the cluster (agenda cluster remove-node) while it ran: it serves nothing; restart it to join again, or stop it",
						"action", "cluster.removed_here", "leader", act.LeaderID)
				}
				return
			}
			if agenda.ErrorCode(err) == agenda.ECONFLICT {
				a.refused.Store(true)
				if ok, _ := a.refusedJoins.Allow(act.LeaderID); ok {
					a.logger.Error("the cluster refuses this node", "leader", act.LeaderID, "err", err)
				}
				return
			}
			a.logger.Debug("join not done yet", "leader", act.LeaderID, "err", err)
			return
		}
		a.refused.Store(false)
		a.removedHere.Store(false)
		// The join is asked every round until the configuration that
		// lists this node reaches it: say so once.
		if !a.joinLogged {
			a.logger.Info("joined the cluster", "leader", act.LeaderID)
			a.joinLogged = true
		}
	}
}

func peersOf(ms []Member, self string) []Member {
	out := ms[:0:0]
	for _, m := range ms {
		if m.ID != self {
			out = append(out, m)
		}
	}
	return out
}
