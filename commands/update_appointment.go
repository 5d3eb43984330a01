package commands

import (
	"context"
	"time"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/events"
)

// UpdateAppointment changes an appointment; nil fields keep their value.
type UpdateAppointment struct {
	ActorID       string
	AppointmentID string
	Title         *string
	Description   *string
	Location      *string
	Start         *time.Time
	End           *time.Time
	Privacy       *string
	// IfMatch, if non-zero, is the version the caller last saw.
	IfMatch int64
}

// UpdateAppointment edits an appointment. ENOTFOUND if the caller cannot see
// it, EFORBIDDEN unless the caller owns it, EPRECONDITIONFAILED if IfMatch is
// stale, EINVALID, and ESCHEDULECONFLICT if a new time overlaps an
// appointment of the owner's. A new time reaches every participant's agenda.
func (h *Handlers) UpdateAppointment(ctx context.Context, cmd UpdateAppointment) (Result, error) {
	return h.execute(ctx, cmd.AppointmentID, func() (*batch, error) {
		a, err := h.Read.Appointment(ctx, cmd.AppointmentID, cmd.ActorID)
		if err != nil {
			return nil, err
		}
		if a.OwnerID != cmd.ActorID {
			return nil, agenda.Errorf(agenda.EFORBIDDEN, "only the owner may change an appointment")
		}
		if cmd.IfMatch != 0 && cmd.IfMatch != a.Version {
			return nil, agenda.Errorf(agenda.EPRECONDITIONFAILED, "appointment is at version %d, not %d", a.Version, cmd.IfMatch)
		}
		f := appointmentFields{Title: a.Title, Description: a.Description, Location: a.Location,
			Start: a.Start, End: a.End, Privacy: a.Privacy}
		set(&f.Title, cmd.Title)
		set(&f.Description, cmd.Description)
		set(&f.Location, cmd.Location)
		set(&f.Start, cmd.Start)
		set(&f.End, cmd.End)
		set(&f.Privacy, cmd.Privacy)
		if err := f.validate(); err != nil {
			return nil, err
		}
		b := h.newBatch(ctx, cmd.ActorID)
		b.expect(events.AppointmentStream(a.ID), a.Version)
		b.add(events.AppointmentStream(a.ID), events.AppointmentUpdated{
			AppointmentID: a.ID, Title: f.Title, Description: f.Description, Location: f.Location,
			Start: f.Start, End: f.End, Privacy: f.Privacy,
		})
		if !f.Start.Equal(a.Start) || !f.End.Equal(a.End) {
			for _, p := range a.Participants {
				s, err := h.Read.Schedule(ctx, p.UserID, f.Start, f.End, a.ID)
				if err != nil {
					return nil, err
				}
				if agenda.Blocks(p.Status) && len(s.Conflicts) > 0 {
					return nil, scheduleConflict(cmd.ActorID, p.UserID, s.Conflicts)
				}
				b.expect(events.AgendaStream(p.UserID), s.Version)
				b.add(events.AgendaStream(p.UserID), events.AgendaEntryRescheduled{
					UserID: p.UserID, AppointmentID: a.ID, Start: f.Start, End: f.End,
				})
			}
		}
		return b, nil
	})
}

func set[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

// DeleteAppointment removes an appointment from every agenda it is in.
type DeleteAppointment struct {
	ActorID       string
	AppointmentID string
	IfMatch       int64
}

// DeleteAppointment deletes an appointment. ENOTFOUND if the caller cannot
// see it, EFORBIDDEN unless the caller owns it, EPRECONDITIONFAILED.
func (h *Handlers) DeleteAppointment(ctx context.Context, cmd DeleteAppointment) (Result, error) {
	return h.execute(ctx, cmd.AppointmentID, func() (*batch, error) {
		a, err := h.Read.Appointment(ctx, cmd.AppointmentID, cmd.ActorID)
		if err != nil {
			return nil, err
		}
		if a.OwnerID != cmd.ActorID {
			return nil, agenda.Errorf(agenda.EFORBIDDEN, "only the owner may delete an appointment")
		}
		if cmd.IfMatch != 0 && cmd.IfMatch != a.Version {
			return nil, agenda.Errorf(agenda.EPRECONDITIONFAILED, "appointment is at version %d, not %d", a.Version, cmd.IfMatch)
		}
		b := h.newBatch(ctx, cmd.ActorID)
		b.expect(events.AppointmentStream(a.ID), a.Version)
		b.add(events.AppointmentStream(a.ID), events.AppointmentDeleted{AppointmentID: a.ID})
		for _, p := range a.Participants {
			v, err := h.Read.AgendaVersion(ctx, p.UserID)
			if err != nil {
				return nil, err
			}
			b.expect(events.AgendaStream(p.UserID), v)
			b.add(events.AgendaStream(p.UserID), events.AgendaEntryRemoved{UserID: p.UserID, AppointmentID: a.ID})
		}
		return b, nil
	})
}
