package commands

import (
	"context"
	"time"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/events"
)

// CreateAppointment books a personal appointment in the owner's agenda.
type CreateAppointment struct {
	OwnerID     string
	Title       string
	Description string
	Location    string
	Start       time.Time
	End         time.Time
	Privacy     string // "" means full
}

// CreateAppointment creates a personal appointment. EINVALID for bad fields,
// ESCHEDULECONFLICT if it overlaps the owner's confirmed, imposed or accepted
// appointments. Two concurrent overlapping creations cannot both succeed:
// each expects the owner's schedule stream at the version it checked.
func (h *Handlers) CreateAppointment(ctx context.Context, cmd CreateAppointment) (Result, error) {
	f := appointmentFields{Title: cmd.Title, Description: cmd.Description, Location: cmd.Location,
		Start: cmd.Start, End: cmd.End, Privacy: cmd.Privacy}
	if err := f.validate(nil); err != nil {
		return Result{}, err
	}
	id := h.newID()
	return h.execute(ctx, id, func() (*batch, error) {
		// The owner's username is part of the answer; a node that has
		// not projected the account yet confirms on fresh state first.
		owner, err := h.Read.UserByID(ctx, cmd.OwnerID)
		if err != nil {
			return nil, err
		}
		s, err := h.Read.Schedule(ctx, cmd.OwnerID, f.Start, f.End, "")
		if err != nil {
			return nil, err
		}
		if len(s.Conflicts) > 0 {
			return nil, scheduleConflict(cmd.OwnerID, clash{cmd.OwnerID, s.Conflicts})
		}
		b := h.newBatch(ctx, cmd.OwnerID)
		b.expect(events.AppointmentStream(id), 0)
		b.expect(events.ScheduleStream(cmd.OwnerID), s.Version)
		b.add(events.AppointmentStream(id), events.AppointmentCreated{
			AppointmentID: id, OwnerID: cmd.OwnerID, Title: f.Title, Description: f.Description,
			Location: f.Location, Start: f.Start, End: f.End, Privacy: f.Privacy, Status: agenda.StatusConfirmed,
		})
		b.add(events.ScheduleStream(cmd.OwnerID), events.AgendaEntryAdded{
			UserID: cmd.OwnerID, AppointmentID: id, Start: f.Start, End: f.End, Role: agenda.RoleOwner,
		})
		b.appointment = answer(appointmentAfter(agenda.Appointment{}, b, id, cmd.OwnerID, map[string]agenda.UserSummary{owner.ID: owner.Summary()}))
		return b, nil
	})
}
