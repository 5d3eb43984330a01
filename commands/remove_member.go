package commands

import (
	"context"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/events"
)

// RemoveMember takes a member out of a group, or lets them leave.
type RemoveMember struct {
	ActorID string
	GroupID string
	UserID  string
	// IfMatch holds the membership's versions the caller accepts (its
	// ETag).
	IfMatch IfMatch
}

// RemoveMember removes a member, or withdraws an invitation. A member may
// always leave; the last one to leave deletes the group. Removing someone
// else takes, in a hierarchical group, managing them (agenda.Group.CanManage:
// a rank strictly above theirs), and in a flat group being its creator:
// EFORBIDDEN otherwise. ENOTFOUND if the caller or the member is not in the
// group, EPRECONDITIONFAILED if IfMatch is not the membership's version.
//
// The invitations whose rank rests on the member are withdrawn with them
// (but for the creator's, whose rights pass to an heir), and leaving
// ends the member's part in the group's appointments that have not ended,
// in the same batch: imposed and accepted ones leave their agenda,
// invitations are withdrawn, those they organised are cancelled for
// everyone, and a flat group's pending appointment that now has every
// remaining answer is confirmed.
func (h *Handlers) RemoveMember(ctx context.Context, cmd RemoveMember) (Result, error) {
	return h.execute(ctx, cmd.UserID, func() (*batch, error) {
		g, m, err := h.groupMember(ctx, cmd.GroupID, cmd.ActorID, cmd.UserID)
		if err != nil {
			return nil, err
		}
		leaving := cmd.UserID == cmd.ActorID
		switch {
		case leaving:
		case g.Hierarchical && !g.CanManage(m.Rank):
			return nil, agenda.Errorf(agenda.EFORBIDDEN, "you may only remove members below your own rank (%d)", g.MyRank)
		case !g.Hierarchical && g.CreatorID != cmd.ActorID:
			return nil, agenda.Errorf(agenda.EFORBIDDEN, "in a flat group only the creator removes others")
		}
		if err := checkIfMatch("membership", cmd.IfMatch, m.Version); err != nil {
			return nil, err
		}
		b := h.newBatch(ctx, cmd.ActorID)
		b.expect(events.GroupStream(g.ID), g.Version)
		b.add(events.GroupStream(g.ID), events.GroupMemberRemoved{GroupID: g.ID, UserID: m.UserID, Left: leaving})
		if !m.Active() {
			return b, nil // an invitation withdrawn: nothing else was theirs
		}
		switch {
		case len(g.ActiveMembers()) == 1:
			b.add(events.GroupStream(g.ID), events.GroupDeleted{GroupID: g.ID})
		case m.UserID == g.CreatorID:
			// A group is never left without someone holding the creator's
			// rights: they pass to the most senior member left, who in a
			// hierarchical group also takes the top rank. The creator's
			// invitations stand: the heir holds the same rights.
			heir := successor(g, m.UserID)
			b.add(events.GroupStream(g.ID), events.GroupCreatorChanged{GroupID: g.ID, UserID: heir.UserID})
			if g.Hierarchical && heir.Rank != agenda.MaxRank {
				b.add(events.GroupStream(g.ID), events.GroupMemberRankChanged{GroupID: g.ID, UserID: heir.UserID, Rank: agenda.MaxRank})
			}
		default:
			withdrawInvitations(b, g, g.InvitationsBeyond(m.UserID, 0, false))
		}
		reason := events.ParticipantRemoved
		if leaving {
			reason = events.ParticipantLeft
		}
		if err := h.endParticipation(ctx, b, g.ID, m.UserID, reason); err != nil {
			return nil, err
		}
		return b, nil
	})
}

// withdrawInvitations withdraws, in b, invitations of g that the authority
// their rank rests on no longer covers (agenda.Group.InvitationsBeyond).
func withdrawInvitations(b *batch, g agenda.Group, invitations []agenda.Member) {
	for _, inv := range invitations {
		b.add(events.GroupStream(g.ID), events.GroupMemberRemoved{GroupID: g.ID, UserID: inv.UserID})
	}
}
