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

// MaxFeedPageBytes bounds a page of one user's feed (GET /api/events) by
// the bytes of its entries' data and notifications, beside its count: an
// entry of a 200-member group's appointment holds some 5 KB, and a
// review's 96 concurrent pages of 1,000 of them (5.4 MB each) took a node
// from 830 MB to 2.7 GB. A page holds at least one entry, and stops after
// the one that reaches the bound; the next page goes on from it.
const MaxFeedPageBytes = 1 << 20

// MaxStreamPageBytes bounds, the same way, each page a live stream's
// history is read in. A stream holds its page while it writes the page's
// frames, and a client that stops reading keeps it held until the write
// timeout cuts the stream off. An outside review's streams that never
// read held 2 MB each (a page of MaxFeedPageBytes), outside the answer
// budget, which sees only answers written through the router: 128 of them
// took a node from 80 to 335 MB. A page of 64 KiB is no more than the
// answers the budget lets through uncounted.
const MaxStreamPageBytes = 64 << 10

// FeedPageFull reports whether a page read with limit and maxBytes may
// have stopped before the end of what was asked: it holds limit entries,
// or reached maxBytes. A page that is not full holds everything up to
// where it was read.
func FeedPageFull(page []FeedEntry, limit, maxBytes int) bool {
	if len(page) >= limit {
		return true
	}
	n := 0
	for i := range page {
		n += page[i].Bytes()
	}
	return n >= maxBytes
}

// Bytes is what an entry counts towards a page's bytes.
func (e *FeedEntry) Bytes() int { return len(e.Data) + len(e.Notification) }
