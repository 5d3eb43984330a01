package commands

import (
	"context"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/events"
)

// AnswerInvitation accepts or declines an appointment the actor is invited
// to.
type AnswerInvitation struct {
	ActorID       string
	AppointmentID string
	// IfMatch holds the appointment's versions the caller accepts (its
	// ETag).
	IfMatch IfMatch
}

// AcceptAppointment accepts an invitation: the appointment enters the
// actor's agenda as blocking time, which must be free (ESCHEDULECONFLICT).
// In a flat group, the last acceptance confirms the appointment for all.
// ENOTFOUND if the actor takes no part in it; ECONFLICT if there is nothing
// to accept (already accepted, organiser, imposed, or cancelled).
//
// The batch expects the appointment stream, so two answers to the same
// appointment are decided one after the other: of two last acceptances,
// exactly one confirms.
func (h *Handlers) AcceptAppointment(ctx context.Context, cmd AnswerInvitation) (Result, error) {
	return h.execute(ctx, cmd.AppointmentID, func() (*batch, error) {
		a, err := h.Read.Appointment(ctx, cmd.AppointmentID, cmd.ActorID)
		if err != nil {
			return nil, err
		}
		if err := answerable(a, true); err != nil {
			return nil, err
		}
		switch a.MyStatus {
		case agenda.RoleAccepted:
			return nil, agenda.Errorf(agenda.ECONFLICT, "you have already accepted this appointment")
		}
		if err := checkIfMatch("appointment", cmd.IfMatch, a.Version); err != nil {
			return nil, err
		}
		s, err := h.Read.Schedule(ctx, cmd.ActorID, a.Start, a.End, a.ID)
		if err != nil {
			return nil, err
		}
		if len(s.Conflicts) > 0 {
			return nil, scheduleConflict(cmd.ActorID, clash{cmd.ActorID, s.Conflicts})
		}
		b := h.newBatch(ctx, cmd.ActorID)
		b.expect(events.AppointmentStream(a.ID), a.Version)
		b.expect(events.ScheduleStream(cmd.ActorID), s.Version)
		b.add(events.AppointmentStream(a.ID), events.AppointmentAccepted{AppointmentID: a.ID, UserID: cmd.ActorID})
		if a.MyStatus == agenda.RoleDeclined { // a declined invitation left the agenda
			b.add(events.ScheduleStream(cmd.ActorID), events.AgendaEntryAdded{
				UserID: cmd.ActorID, AppointmentID: a.ID, Start: a.Start, End: a.End, Role: agenda.RoleAccepted,
			})
		} else {
			b.add(events.ScheduleStream(cmd.ActorID), events.AgendaEntryRoleChanged{
				UserID: cmd.ActorID, AppointmentID: a.ID, Role: agenda.RoleAccepted,
			})
		}
		if a.Status == agenda.StatusPending && allAcceptedBut(a, cmd.ActorID) {
			b.add(events.AppointmentStream(a.ID), events.AppointmentConfirmed{AppointmentID: a.ID})
		}
		b.appointment = answer(appointmentAfter(a, b, a.ID, cmd.ActorID, nil))
		return b, nil
	})
}

// DeclineAppointment declines an invitation, or withdraws an acceptance:
// the appointment leaves the actor's agenda. In a flat group a decline
// cancels the appointment for everyone. ENOTFOUND if the actor takes no part
// in it; ECONFLICT for the organiser, a second decline, a cancelled
// appointment, or an imposed participant whom the imposition still binds
// (agenda.Group.Imposes). One that binds no more — the actor or the organiser
// is no longer in the group, the group was deleted, or the organiser no
// longer ranks above the actor — may be declined like an invitation.
func (h *Handlers) DeclineAppointment(ctx context.Context, cmd AnswerInvitation) (Result, error) {
	return h.execute(ctx, cmd.AppointmentID, func() (*batch, error) {
		a, err := h.Read.Appointment(ctx, cmd.AppointmentID, cmd.ActorID)
		if err != nil {
			return nil, err
		}
		var g agenda.Group
		binding := false
		if a.MyStatus == agenda.RoleAuto {
			if g, binding, err = h.imposition(ctx, a, cmd.ActorID); err != nil {
				return nil, err
			}
		}
		if err := answerable(a, binding); err != nil {
			return nil, err
		}
		if a.MyStatus == agenda.RoleDeclined {
			return nil, agenda.Errorf(agenda.ECONFLICT, "you have already declined this appointment")
		}
		if err := checkIfMatch("appointment", cmd.IfMatch, a.Version); err != nil {
			return nil, err
		}
		b := h.newBatch(ctx, cmd.ActorID)
		b.expect(events.AppointmentStream(a.ID), a.Version)
		if g.ID != "" {
			// Freed by the group as it stands: a rank change racing with
			// this answer makes it decide again.
			b.expect(events.GroupStream(g.ID), g.Version)
		}
		b.add(events.AppointmentStream(a.ID), events.AppointmentDeclined{AppointmentID: a.ID, UserID: cmd.ActorID})
		if err := h.removeEntries(ctx, b, a.ID, []agenda.Participant{{UserID: cmd.ActorID, Status: a.MyStatus}}); err != nil {
			return nil, err
		}
		if a.NeedsAll {
			b.add(events.AppointmentStream(a.ID), events.AppointmentCancelled{AppointmentID: a.ID, Reason: events.CancelledDeclined})
			var others []agenda.Participant
			for _, p := range a.Participants {
				if p.UserID != cmd.ActorID {
					others = append(others, p)
				}
			}
			if err := h.removeEntries(ctx, b, a.ID, others); err != nil {
				return nil, err
			}
		}
		b.appointment = answer(appointmentAfter(a, b, a.ID, cmd.ActorID, nil))
		return b, nil
	})
}

// answerable refuses answers that make no sense whatever the actor's
// history: to a cancelled appointment, from its organiser, or from someone
// it was imposed on while the imposition binds them (imposedBinds: they are
// still a member of its group).
func answerable(a agenda.Appointment, imposedBinds bool) error {
	switch {
	case a.Status == agenda.StatusCancelled:
		return agenda.Errorf(agenda.ECONFLICT, "the appointment is cancelled")
	case a.MyStatus == agenda.RoleOwner:
		return agenda.Errorf(agenda.ECONFLICT, "you organise this appointment; change or delete it instead")
	case a.MyStatus == agenda.RoleAuto && imposedBinds:
		return agenda.Errorf(agenda.ECONFLICT, "this appointment was set by a superior and cannot be answered")
	}
	return nil
}
