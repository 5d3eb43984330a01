package events

// NotificationStream is the stream of what one user did with their
// notifications. The notifications themselves are not events: the
// projection derives them from the domain events that concern the user,
// with IDs that a rebuild derives again identically.
func NotificationStream(userID string) string { return "notifications-" + userID }

// NotificationRead marks one notification read.
type NotificationRead struct {
	UserID         string `json:"user_id"`
	NotificationID string `json:"notification_id"`
}

// NotificationsAllRead marks read every notification of the user derived
// from an event at or before UpToPosition: what the user had been shown
// when they asked, and nothing that arrived after.
type NotificationsAllRead struct {
	UserID       string `json:"user_id"`
	UpToPosition int64  `json:"up_to_position"`
}

// EventType implements Event; the names are the registered type names.
func (NotificationRead) EventType() string     { return "notification.read" }
func (NotificationsAllRead) EventType() string { return "notification.all_read" }

func init() {
	register[NotificationRead]("notification.read", 1)
	register[NotificationsAllRead]("notification.all_read", 1)
}
