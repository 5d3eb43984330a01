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
}

// MarkNotificationRead marks a notification read; marking a read one again
// changes nothing. ENOTFOUND if the actor has no such notification.
func (h *Handlers) MarkNotificationRead(ctx context.Context, cmd MarkNotificationRead) (Result, error) {
	return h.execute(ctx, cmd.NotificationID, func() (*batch, error) {
		s, err := h.Read.NotificationState(ctx, cmd.ActorID, cmd.NotificationID)
		if err != nil {
			return nil, err
		}
		if !s.Found {
			return nil, agenda.Errorf(agenda.ENOTFOUND, "notification not found")
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

// MarkAllNotificationsRead marks read every notification the actor could
// have seen when they asked: those up to the newest the read model had for
// them. Later ones stay unread.
func (h *Handlers) MarkAllNotificationsRead(ctx context.Context, actorID string) (Result, error) {
	return h.execute(ctx, "", func() (*batch, error) {
		s, err := h.Read.NotificationState(ctx, actorID, "")
		if err != nil {
			return nil, err
		}
		if s.Unread == 0 {
			return nil, nil
		}
		b := h.newBatch(ctx, actorID)
		b.expect(events.NotificationStream(actorID), s.StreamVersion)
		b.add(events.NotificationStream(actorID), events.NotificationsAllRead{UserID: actorID, UpToPosition: s.Latest})
		return b, nil
	})
}
