package commands

import (
	"context"

	"github.com/agendahq/agenda/events"
)

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
