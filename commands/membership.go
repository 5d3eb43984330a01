package commands

import (
	"context"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/events"
)

// checkRank checks a rank the actor wants to give in g: a hierarchical group
// takes ranks in [MinRank, MaxRank) that the actor would manage
// (agenda.Group.CanManage: strictly below their own); a flat one has no
// ranks.
func checkRank(g agenda.Group, rank int) error {
	if !g.Hierarchical {
		if rank != 0 {
			return invalid("rank", "members of a flat group have no rank")
		}
		return nil
	}
	if rank < agenda.MinRank || rank >= agenda.MaxRank {
		return invalid("rank", "rank must be between %d and %d", agenda.MinRank, agenda.MaxRank-1)
	}
	if !g.CanManage(rank) {
		return agenda.Errorf(agenda.EFORBIDDEN, "you may only give ranks below your own (%d)", g.MyRank).
			WithDetails(map[string]any{"field": "rank", "your_rank": g.MyRank})
	}
	return nil
}

// groupMember reads a group as actorID sees it and one of its members or
// invited people. ENOTFOUND if either is not in the group.
func (h *Handlers) groupMember(ctx context.Context, groupID, actorID, userID string) (agenda.Group, agenda.Member, error) {
	g, err := h.Read.Group(ctx, groupID, actorID)
	if err != nil {
		return g, agenda.Member{}, err
	}
	m, ok := g.Member(userID)
	if !ok {
		return g, m, agenda.Errorf(agenda.ENOTFOUND, "no such member")
	}
	return g, m, nil
}

// endParticipation adds to b what ends userID's part in the appointments of
// group groupID that have not ended: each is expected at the version read,
// so an answer or a change racing with the departure makes the command
// decide again. So is userID's agenda stream, read first: an appointment
// set in the group or moved meanwhile writes to it (not to the group
// stream), and would otherwise outlive the departure in their agenda.
func (h *Handlers) endParticipation(ctx context.Context, b *batch, groupID, userID, reason string) error {
	v, err := h.Read.ScheduleVersion(ctx, userID)
	if err != nil {
		return err
	}
	b.expect(events.ScheduleStream(userID), v)
	appts, err := h.Read.GroupParticipations(ctx, groupID, userID, h.now())
	if err != nil {
		return err
	}
	for _, a := range appts {
		b.expect(events.AppointmentStream(a.ID), a.Version)
		if a.OwnerID == userID {
			// An appointment without its organiser holds for no one.
			b.add(events.AppointmentStream(a.ID), events.AppointmentCancelled{AppointmentID: a.ID, Reason: events.CancelledOrganiserLeft})
			if err := h.removeEntries(ctx, b, a.ID, a.Participants); err != nil {
				return err
			}
			continue
		}
		b.add(events.AppointmentStream(a.ID), events.AppointmentParticipantRemoved{AppointmentID: a.ID, UserID: userID, Reason: reason})
		if err := h.removeEntries(ctx, b, a.ID, []agenda.Participant{{UserID: userID, Status: a.MyStatus}}); err != nil {
			return err
		}
		if a.Status == agenda.StatusPending && allAcceptedBut(a, userID) {
			// A flat group's appointment waited for this member's answer
			// only: decided again among those who remain, it holds.
			b.add(events.AppointmentStream(a.ID), events.AppointmentConfirmed{AppointmentID: a.ID})
		}
	}
	return nil
}

// successor is the member who takes over from a leaving creator: the most
// senior, the earliest to join among equals, then the lowest user ID.
func successor(g agenda.Group, leaving string) agenda.Member {
	var best agenda.Member
	found := false
	for _, m := range g.ActiveMembers() {
		if m.UserID == leaving {
			continue
		}
		better := !found || m.Rank > best.Rank ||
			(m.Rank == best.Rank && (m.JoinedAt.Before(best.JoinedAt) ||
				(m.JoinedAt.Equal(best.JoinedAt) && m.UserID < best.UserID)))
		if better {
			best, found = m, true
		}
	}
	return best
}

// imposition reads the group of appointment a as userID sees it and says
// whether a binds them now (agenda.Group.Imposes). A group they are no longer
// in, or one deleted, binds no one. The group comes back when it was read,
// so that a batch deciding on the answer can expect its version.
func (h *Handlers) imposition(ctx context.Context, a agenda.Appointment, userID string) (g agenda.Group, binds bool, err error) {
	if a.GroupID == nil {
		return g, false, nil
	}
	g, err = h.Read.Group(ctx, *a.GroupID, userID)
	switch agenda.ErrorCode(err) {
	case "":
		return g, g.Imposes(a.OwnerID, userID), nil
	case agenda.ENOTFOUND:
		return agenda.Group{}, false, nil
	}
	return agenda.Group{}, false, err
}
