package commands

import (
	"context"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/events"
)

// MarkNotificationRead marks one of the actor's notifications read.
type MarkNotificationRead struct {
	ActorID        string
	NotificationID string
	// IfMatch holds the notification's versions the caller accepts.
	IfMatch IfMatch
}

// MarkNotificationRead marks a notification read; marking a read one again
// changes nothing. ENOTFOUND if the actor has no such notification,
// EPRECONDITIONFAILED if IfMatch is not its version (a review found the
// header ignored here alone).
func (h *Handlers) MarkNotificationRead(ctx context.Context, cmd MarkNotificationRead) (Result, error) {
	return h.execute(ctx, cmd.NotificationID, func() (*batch, error) {
		s, err := h.Read.NotificationState(ctx, cmd.ActorID, cmd.NotificationID)
		if err != nil {
			return nil, err
		}
		if !s.Found {
			return nil, agenda.Errorf(agenda.ENOTFOUND, "notification not found")
		}
		if err := checkIfMatch("notification", cmd.IfMatch, s.Version); err != nil {
			return nil, err
		}
		if s.Read {
			return nil, nil
		}
		b := h.newBatch(ctx, cmd.ActorID)
		b.expect(events.NotificationStream(cmd.ActorID), s.StreamVersion)
		b.add(events.NotificationStream(cmd.ActorID), events.NotificationRead{
			UserID: cmd.ActorID, NotificationID: cmd.NotificationID,
		})
		return b, nil
	})
}
