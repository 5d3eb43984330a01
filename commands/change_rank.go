package commands

import (
	"context"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/events"
)

// ChangeRank gives a member of a hierarchical group a new rank.
type ChangeRank struct {
	ActorID string
	GroupID string
	UserID  string
	Rank    int
	// IfMatch holds the membership's versions the caller accepts (its
	// ETag).
	IfMatch IfMatch
}

// ChangeRank re-ranks a member. ENOTFOUND if the caller or the member is not
// in the group, EINVALID in a flat group, EFORBIDDEN unless both the member's
// current and new rank are strictly below the caller's, EPRECONDITIONFAILED
// if IfMatch is not the membership's version. A member ranked lower loses,
// in the same batch, the invitations whose rank rests on them
// (agenda.Group.InvitationsBeyond) at a rank they may no longer give.
func (h *Handlers) ChangeRank(ctx context.Context, cmd ChangeRank) (Result, error) {
	return h.execute(ctx, cmd.UserID, func() (*batch, error) {
		g, m, err := h.groupMember(ctx, cmd.GroupID, cmd.ActorID, cmd.UserID)
		if err != nil {
			return nil, err
		}
		if !g.Hierarchical {
			return nil, invalid("rank", "members of a flat group have no rank")
		}
		if !g.CanManage(m.Rank) {
			return nil, agenda.Errorf(agenda.EFORBIDDEN, "you may only re-rank members below your own rank (%d)", g.MyRank)
		}
		if err := checkIfMatch("membership", cmd.IfMatch, m.Version); err != nil {
			return nil, err
		}
		if err := checkRank(g, cmd.Rank); err != nil {
			return nil, err
		}
		if m.Rank == cmd.Rank {
			b := unchanged() // nothing to change
			b.member = &m
			return b, nil
		}
		b := h.newBatch(ctx, cmd.ActorID)
		b.expect(events.GroupStream(g.ID), g.Version)
		b.add(events.GroupStream(g.ID), events.GroupMemberRankChanged{GroupID: g.ID, UserID: m.UserID, Rank: cmd.Rank})
		if cmd.Rank < m.Rank {
			withdrawInvitations(b, g, g.InvitationsBeyond(m.UserID, cmd.Rank, true))
		}
		if b.group = answer(groupAfter(g, b, g.ID, cmd.ActorID, nil)); b.group != nil {
			b.member = answer(b.group.Member(m.UserID))
		}
		return b, nil
	})
}
