package commands

import (
	"context"
	"fmt"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/events"
)

// DeleteGroup deletes a group.
type DeleteGroup struct {
	ActorID string
	GroupID string
	IfMatch IfMatch
}

// DeleteGroup deletes a group. ENOTFOUND for non-members, EFORBIDDEN unless
// the caller created it, ECONFLICT while appointments of the group still
// wait for answers — a flat group's not yet accepted by all (unless it has
// ended and its organiser is gone: readmodel.PendingGroupAppointments), or
// one that has not ended with an invitation unanswered (cancel them first:
// deleting the group would leave them pending forever). Appointments already confirmed
// stay in the agendas.
func (h *Handlers) DeleteGroup(ctx context.Context, cmd DeleteGroup) (Result, error) {
	return h.execute(ctx, cmd.GroupID, func() (*batch, error) {
		g, err := h.Read.Group(ctx, cmd.GroupID, cmd.ActorID)
		if err != nil {
			return nil, err
		}
		if g.CreatorID != cmd.ActorID {
			return nil, agenda.Errorf(agenda.EFORBIDDEN, "only the group's creator may delete it")
		}
		if err := checkIfMatch("group", cmd.IfMatch, g.Version); err != nil {
			return nil, err
		}
		// Setting an appointment in the group writes to every active
		// member's agenda stream and leaves the group stream as it is, so
		// the streams that vouch for "nothing pending" are the members'
		// agendas: read before the appointments and expected, an
		// appointment set meanwhile makes the deletion decide again.
		members := g.ActiveMembers()
		agendas := make([]int64, len(members))
		for i, m := range members {
			if agendas[i], err = h.Read.ScheduleVersion(ctx, m.UserID); err != nil {
				return nil, err
			}
		}
		pending, err := h.Read.PendingGroupAppointments(ctx, g.ID, h.now())
		if err != nil {
			return nil, err
		}
		if pending > 0 {
			// The creator may not be their organiser: the way out is theirs
			// to take, or the invitees'.
			msg := "the group has an appointment still waiting for answers: it can be deleted once everyone invited has answered, or its organiser cancels it"
			if pending > 1 {
				msg = fmt.Sprintf("the group has %d appointments still waiting for answers: it can be deleted once everyone invited has answered, or their organisers cancel them", pending)
			}
			return nil, agenda.Errorf(agenda.ECONFLICT, "%s", msg).WithDetails(map[string]any{"pending_appointments": pending})
		}
		b := h.newBatch(ctx, cmd.ActorID)
		b.expect(events.GroupStream(g.ID), g.Version)
		for i, m := range members {
			b.expect(events.ScheduleStream(m.UserID), agendas[i])
		}
		b.add(events.GroupStream(g.ID), events.GroupDeleted{GroupID: g.ID})
		return b, nil
	})
}
