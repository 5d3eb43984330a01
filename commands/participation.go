package commands

import (
	"context"
	"slices"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/events"
)

// allAcceptedBut reports whether every invitee but those named has
// accepted.
func allAcceptedBut(a agenda.Appointment, userIDs ...string) bool {
	for _, p := range a.Participants {
		if !slices.Contains(userIDs, p.UserID) && p.Status != agenda.RoleOwner && p.Status != agenda.RoleAccepted {
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
