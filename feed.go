package agenda

import (
	"encoding/json"
	"time"
)

// FeedEvent is the type of a feed entry (and of its WebSocket frame).
const FeedEvent = "event"

// FeedEntry is one committed event as one user may see it: an entry of
// GET /api/events and, as it is, a WebSocket "event" frame. Data is the
// event's data for those who may see it in full, or, for someone else's
// agenda entry they may only see as busy, {user_id, start, end, busy}.
// Notification is the notification the event gave this user, if any.
type FeedEntry struct {
	Type         string          `json:"type"`
	Position     int64           `json:"position"`
	EventType    string          `json:"event_type"`
	Stream       string          `json:"stream"`
	Version      int64           `json:"version"`
	Time         time.Time       `json:"time"`
	Data         json.RawMessage `json:"data"`
	Notification json.RawMessage `json:"notification,omitempty"`
	// UserID is whose view this is; it is never sent.
	UserID string `json:"-"`
}
