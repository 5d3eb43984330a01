package commands

import (
	"context"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/events"
)

// allAcceptedBut reports whether every invitee other than userID has
// accepted.
func allAcceptedBut(a agenda.Appointment, userID string) bool {
	for _, p := range a.Participants {
		if p.UserID != userID && p.Status != agenda.RoleOwner && p.Status != agenda.RoleAccepted {
			return false
		}
	}
	return true
}

// removeEntries takes appointment id out of the agenda of every participant
// who still has it there (everyone but those who declined).
func (h *Handlers) removeEntries(ctx context.Context, b *batch, id string, ps []agenda.Participant) error {
	for _, p := range ps {
		if p.Status == agenda.RoleDeclined {
			continue
		}
		v, err := h.Read.ScheduleVersion(ctx, p.UserID)
		if err != nil {
			return err
		}
		b.expect(events.ScheduleStream(p.UserID), v)
		b.add(events.ScheduleStream(p.UserID), events.AgendaEntryRemoved{UserID: p.UserID, AppointmentID: id})
	}
	return nil
}
