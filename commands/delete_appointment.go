package commands

import (
	"context"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/events"
)

// DeleteAppointment removes an appointment from every agenda it is in.
type DeleteAppointment struct {
	ActorID       string
	AppointmentID string
	IfMatch       IfMatch
}

// DeleteAppointment deletes a personal appointment, or cancels a group
// appointment for everyone (it stays readable by its participants, with
// status cancelled). ENOTFOUND if the caller cannot see it, EFORBIDDEN
// unless the caller owns it, EPRECONDITIONFAILED, ECONFLICT if it is
// cancelled already.
func (h *Handlers) DeleteAppointment(ctx context.Context, cmd DeleteAppointment) (Result, error) {
	return h.execute(ctx, cmd.AppointmentID, func() (*batch, error) {
		a, err := h.Read.Appointment(ctx, cmd.AppointmentID, cmd.ActorID)
		if err != nil {
			return nil, err
		}
		if a.OwnerID != cmd.ActorID {
			return nil, agenda.Errorf(agenda.EFORBIDDEN, "only the owner may delete an appointment")
		}
		if err := checkIfMatch("appointment", cmd.IfMatch, a.Version); err != nil {
			return nil, err
		}
		if a.Status == agenda.StatusCancelled {
			return nil, agenda.Errorf(agenda.ECONFLICT, "the appointment is cancelled already")
		}
		b := h.newBatch(ctx, cmd.ActorID)
		b.expect(events.AppointmentStream(a.ID), a.Version)
		if a.GroupID == nil {
			b.add(events.AppointmentStream(a.ID), events.AppointmentDeleted{AppointmentID: a.ID})
		} else {
			b.add(events.AppointmentStream(a.ID), events.AppointmentCancelled{AppointmentID: a.ID, Reason: events.CancelledDeleted})
		}
		if err := h.removeEntries(ctx, b, a.ID, a.Participants); err != nil {
			return nil, err
		}
		return b, nil
	})
}
