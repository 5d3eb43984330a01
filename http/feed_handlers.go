package http

import (
	"context"
	"net/http"
	"strconv"

	"github.com/agendahq/agenda"
)

// parseAfter reads ?after=: a non-negative position, or absent.
func parseAfter(r *http.Request) (int64, bool, error) {
	raw := r.URL.Query().Get("after")
	if raw == "" {
		return 0, false, nil
	}
	p, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || p < 0 {
		return 0, false, agenda.Errorf(agenda.EINVALID, "after must be a non-negative integer (a position)").
			WithDetails(map[string]any{"field": "after"})
	}
	return p, true, nil
}

// feedStart checks that the feed can be served from after: it waits (up to
// the read wait) for the local read model to reach after, and reports
// whether entries after it have been pruned (the client must reset).
func (s *Server) feedStart(ctx context.Context, user string, after int64) (reset bool, err error) {
	if after > s.Feed.Position() {
		if err := s.plausiblePosition("after", after); err != nil {
			return false, err
		}
		wctx, cancel := context.WithTimeout(ctx, s.readWait())
		err := s.Feed.WaitFor(wctx, after)
		cancel()
		if err != nil {
			return false, agenda.Errorf(agenda.EUNAVAILABLE,
				"this node's read model has not reached position %d yet (at %d)", after, s.Feed.Position())
		}
	}
	pruned, err := s.Feed.FeedPruned(ctx, user)
	if err != nil {
		return false, err
	}
	return after < pruned, nil
}

// resetPosition is where a client told to reset goes on from: the read
// model's position, or the user's mark in feed_pruned if that is beyond it.
// The projection that closes a feed (RevokeFeed) may be ahead of the
// others, whose slowest sets the position; a client sent on from below
// the mark would be told to reset again.
func (s *Server) resetPosition(ctx context.Context, user string) (int64, error) {
	p := s.Feed.Position()
	pruned, err := s.Feed.FeedPruned(ctx, user)
	if err != nil || pruned <= p {
		return p, err
	}
	wctx, cancel := context.WithTimeout(ctx, s.readWait())
	defer cancel()
	if err := s.Feed.WaitFor(wctx, pruned); err != nil {
		return 0, agenda.Errorf(agenda.EUNAVAILABLE, "this node's read model has not reached position %d yet (at %d)", pruned, s.Feed.Position())
	}
	return s.Feed.Position(), nil
}

// readFeedPage reads up to limit of userID's feed entries in (after, upTo],
// at most maxBytes of them (agenda.FeedPageFull), and
// reports whether any after `after` have been pruned. That is asked after
// the read, not only before it (feedStart): a projection's transaction may
// prune between the two, and the page would then start later without a
// word (a review found it). A prune that comes after the read has taken
// nothing from the page, but is answered the same.
func (s *Server) readFeedPage(ctx context.Context, userID string, after, upTo int64, limit, maxBytes int) ([]agenda.FeedEntry, bool, error) {
	page, err := s.Feed.Feed(ctx, userID, after, upTo, limit, maxBytes)
	if err != nil {
		return nil, false, err
	}
	pruned, err := s.Feed.FeedPruned(ctx, userID)
	if err != nil {
		return nil, false, err
	}
	return page, after < pruned, nil
}

// feedPage is the body of GET /api/events.
type feedPage struct {
	Events   []agenda.FeedEntry `json:"events"`
	Position int64              `json:"position"`
	// Reset is true when entries after `after` are no longer kept: reload
	// the state and continue from position.
	Reset bool `json:"reset,omitempty"`
}

// handleEvents serves GET /api/events: the caller's feed entries after a
// position, in order, and the position to ask from next.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	if s.Feed == nil {
		s.Error(w, r, agenda.Errorf(agenda.EUNAVAILABLE, "the event feed is not served by this node"))
		return
	}
	after, given, err := parseAfter(r)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	limit, err := queryInt(r, "limit", 100, 1, 1000)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	user := userID(r)
	reset, err := s.feedStart(r.Context(), user, after)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	// Read the position first: every entry up to it is in the feed.
	top := s.Feed.Position()
	resetAnswer := func() {
		p, err := s.resetPosition(r.Context(), user)
		if err != nil {
			s.Error(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, feedPage{Events: []agenda.FeedEntry{}, Position: p, Reset: true})
	}
	// Without an `after`, the page starts at the oldest entry kept.
	if reset && given {
		resetAnswer()
		return
	}
	list, pruned, err := s.readFeedPage(r.Context(), user, after, top, limit, agenda.MaxFeedPageBytes)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if pruned && given {
		resetAnswer()
		return
	}
	next := max(top, after)
	if agenda.FeedPageFull(list, limit, agenda.MaxFeedPageBytes) {
		next = list[len(list)-1].Position
	}
	w.Header().Set("X-Agenda-Position", strconv.FormatInt(top, 10))
	writeJSON(w, http.StatusOK, feedPage{Events: list, Position: next})
}
