package commands

import (
	"context"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/events"
)

// AnswerGroupInvitation accepts or declines the actor's invitation to a
// group.
type AnswerGroupInvitation struct {
	ActorID string
	GroupID string
	// IfMatch holds the invitation's versions (the membership not yet
	// accepted) the caller accepts, its ETag.
	IfMatch IfMatch
}

// AcceptGroupInvitation makes the actor a member of a group they were
// invited to, at the rank of the invitation. From then on the group's
// appointments may be imposed on them and its members see their busy time.
// ENOTFOUND if the actor has no pending invitation to the group (a member
// already, never invited, or the invitation withdrawn or declined).
func (h *Handlers) AcceptGroupInvitation(ctx context.Context, cmd AnswerGroupInvitation) (Result, error) {
	return h.execute(ctx, cmd.GroupID, func() (*batch, error) {
		inv, err := h.Read.GroupInvitation(ctx, cmd.GroupID, cmd.ActorID)
		if err != nil {
			return nil, err
		}
		if err := checkIfMatch("invitation", cmd.IfMatch, inv.MemberVersion); err != nil {
			return nil, err
		}
		u, err := h.Read.UserByID(ctx, cmd.ActorID)
		if err != nil {
			return nil, err
		}
		b := h.newBatch(ctx, cmd.ActorID)
		b.expect(events.GroupStream(inv.GroupID), inv.GroupVersion)
		b.add(events.GroupStream(inv.GroupID), events.GroupInvitationAccepted{GroupID: inv.GroupID, UserID: cmd.ActorID})
		// The invitee cannot read the group until this commits, so the
		// answer folds the acceptance onto the invitation alone.
		invited := agenda.Group{ID: inv.GroupID, Members: []agenda.Member{{UserID: u.ID, Username: u.Username, DisplayName: u.DisplayName,
			Rank: inv.Rank, Status: agenda.MemberInvited, JoinedAt: inv.InvitedAt, Version: inv.MemberVersion}}}
		if g, ok := groupAfter(invited, b, inv.GroupID, u.ID, nil); ok && len(g.Members) == 1 {
			b.member = &g.Members[0]
		}
		return b, nil
	})
}

// DeclineGroupInvitation ends the actor's invitation to a group unanswered.
// ENOTFOUND if the actor has no pending invitation to the group.
func (h *Handlers) DeclineGroupInvitation(ctx context.Context, cmd AnswerGroupInvitation) (Result, error) {
	return h.execute(ctx, cmd.GroupID, func() (*batch, error) {
		inv, err := h.Read.GroupInvitation(ctx, cmd.GroupID, cmd.ActorID)
		if err != nil {
			return nil, err
		}
		if err := checkIfMatch("invitation", cmd.IfMatch, inv.MemberVersion); err != nil {
			return nil, err
		}
		b := h.newBatch(ctx, cmd.ActorID)
		b.expect(events.GroupStream(inv.GroupID), inv.GroupVersion)
		b.add(events.GroupStream(inv.GroupID), events.GroupInvitationDeclined{GroupID: inv.GroupID, UserID: cmd.ActorID})
		return b, nil
	})
}
