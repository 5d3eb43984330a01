package commands

import (
	"context"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/events"
)

// AddMember invites a user, named by ID or username, to a group.
// Membership is by consent: the user becomes a member only by accepting
// (AcceptGroupInvitation).
type AddMember struct {
	ActorID  string
	GroupID  string
	UserID   string
	Username string
	// Rank is the new member's rank; nil means the lowest rank (0).
	Rank *int
}

// AddMember invites a user to a group at a rank. ENOTFOUND if the caller is
// not an active member of the group or the user does not exist, EFORBIDDEN
// if the caller may not give that rank, ECONFLICT if the user is a member or
// invited already, EINVALID.
func (h *Handlers) AddMember(ctx context.Context, cmd AddMember) (Result, error) {
	if (cmd.UserID == "") == (cmd.Username == "") {
		return Result{}, invalid("user_id", "give exactly one of user_id and username")
	}
	rank := 0
	if cmd.Rank != nil {
		rank = *cmd.Rank
	}
	var u agenda.User
	res, err := h.execute(ctx, "", func() (*batch, error) {
		// Looked up in the decision, so that a user this node has not
		// projected yet is confirmed on fresh state, not refused.
		var err error
		if cmd.UserID != "" {
			u, err = h.Read.UserByID(ctx, cmd.UserID)
		} else {
			u, err = h.Read.UserByUsername(ctx, cmd.Username)
		}
		if agenda.ErrorCode(err) == agenda.ENOTFOUND {
			field := "user_id"
			if cmd.UserID == "" {
				field = "username"
			}
			return nil, agenda.Errorf(agenda.ENOTFOUND, "no such user").WithDetails(map[string]any{"field": field})
		} else if err != nil {
			return nil, err
		}
		g, err := h.Read.Group(ctx, cmd.GroupID, cmd.ActorID)
		if err != nil {
			return nil, err
		}
		if m, ok := g.Member(u.ID); ok {
			what := "a member"
			if !m.Active() {
				what = "invited"
			}
			return nil, agenda.Errorf(agenda.ECONFLICT, "%s is %s already", u.Username, what).
				WithDetails(map[string]any{"user_id": u.ID, "status": m.Status})
		}
		if err := checkRank(g, rank); err != nil {
			return nil, err
		}
		// Read after g: a membership ending in between moves the group
		// stream on, and the batch, which expects g's version, is decided
		// again.
		ended, err := h.Read.EndedMembershipVersion(ctx, g.ID, u.ID)
		if err != nil {
			return nil, err
		}
		b := h.newBatch(ctx, cmd.ActorID)
		b.expect(events.GroupStream(g.ID), g.Version)
		b.add(events.GroupStream(g.ID), events.GroupMemberInvited{GroupID: g.ID, UserID: u.ID, Rank: rank, InvitedBy: cmd.ActorID})
		if b.group = answer(groupAfter(g, b, g.ID, cmd.ActorID, map[string]joiner{u.ID: {who: u.Summary(), ended: ended}})); b.group != nil {
			b.member = answer(b.group.Member(u.ID))
		}
		return b, nil
	})
	res.ID = u.ID
	return res, err
}
