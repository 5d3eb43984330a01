package http

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agendahq/agenda"
)

// Feed is the per-user event feed of the local read model, as the live
// endpoints use it.
type Feed interface {
	// Feed returns up to limit of userID's entries in (after, upTo], in
	// order, stopping after the one whose bytes reach maxBytes (see
	// agenda.FeedPageFull).
	Feed(ctx context.Context, userID string, after, upTo int64, limit, maxBytes int) ([]agenda.FeedEntry, error)
	// FeedRange returns every user's entries in (after, upTo], in order.
	FeedRange(ctx context.Context, after, upTo int64, limit int) ([]agenda.FeedEntry, error)
	// FeedPruned returns the newest position of userID's feed that is no
	// longer kept (0 if none).
	FeedPruned(ctx context.Context, userID string) (int64, error)
	// FeedRetention reports how many log positions of feed are kept.
	FeedRetention() int64
	Position() int64
	WaitFor(ctx context.Context, position int64) error
}

// DefaultSubscriberBuffer is how many frames a live connection may have
// waiting before the hub drops it as too slow (the connection then goes on
// from the feed: Server.stream).
const DefaultSubscriberBuffer = 256

// subscriberBufferBytes bounds, beside their count, the bytes of the
// frames a subscriber may have waiting: a frame of a large group's
// appointment holds some 5 KB, and 256 of them waiting for each client
// that stopped reading, until the write timeout cuts it off, would hold
// gigabytes over a node's connections (an outside review found a stream's
// history pages held that way: MaxStreamPageBytes). One frame alone is
// always let through.
const subscriberBufferBytes = 256 << 10

// hubStep bounds how many log positions the hub reads at once.
const hubStep = 256

// Hub fans the feed out to live subscribers. One goroutine follows the
// local read model: whenever its position advances, it reads the new feed
// entries once, for every user, and hands each to the subscribers of its
// user. A subscriber whose buffer is full is dropped — never skipped
// silently, never waited for (one slow client must not hold up the
// others); its connection then sends what it missed from the feed.
type Hub struct {
	feed   Feed
	logger *slog.Logger
	// Buffer is each subscriber's buffer in frames (DefaultSubscriberBuffer
	// if 0); set before Run.
	Buffer int

	mu     sync.Mutex
	pos    int64 // every entry up to pos has been handed out
	subs   map[string]map[*subscriber]struct{}
	closed bool
	count  atomic.Int64

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// NewHub returns a hub over feed, starting from its current position.
func NewHub(feed Feed, logger *slog.Logger) *Hub {
	if logger == nil {
		logger = slog.Default()
	}
	return &Hub{feed: feed, logger: logger, pos: feed.Position(), subs: map[string]map[*subscriber]struct{}{},
		stop: make(chan struct{}), done: make(chan struct{})}
}

// Subscribers reports how many live connections the hub serves (for
// metrics).
func (h *Hub) Subscribers() int { return int(h.count.Load()) }

// liveFrame is one encoded event frame.
type liveFrame struct {
	position int64
	body     []byte
}

// Why a subscription ended, as told to its client.
const (
	endTooSlow  = "too slow"
	endShutdown = "shutdown"
)

type subscriber struct {
	user   string
	frames chan *liveFrame
	queued atomic.Int64  // bytes of the frames waiting in frames
	ended  chan struct{} // closed when the hub drops the subscriber
	why    string        // set before ended is closed
}

// received is told of each frame the subscriber takes from frames.
func (s *subscriber) received(f *liveFrame) { s.queued.Add(-int64(len(f.body))) }

// subscribe registers a subscriber for user and returns it with the
// position from which it will receive every entry (those after it).
func (h *Hub) subscribe(user string) (*subscriber, int64, bool) {
	size := h.Buffer
	if size <= 0 {
		size = DefaultSubscriberBuffer
	}
	s := &subscriber{user: user, frames: make(chan *liveFrame, size), ended: make(chan struct{})}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, 0, false
	}
	m := h.subs[user]
	if m == nil {
		m = map[*subscriber]struct{}{}
		h.subs[user] = m
	}
	m[s] = struct{}{}
	h.count.Add(1)
	return s, h.pos, true
}

// unsubscribe removes s (if the hub has not already dropped it).
func (h *Hub) unsubscribe(s *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.dropLocked(s, "")
}

func (h *Hub) dropLocked(s *subscriber, why string) {
	m := h.subs[s.user]
	if _, ok := m[s]; !ok {
		return
	}
	delete(m, s)
	if len(m) == 0 {
		delete(h.subs, s.user)
	}
	h.count.Add(-1)
	s.why = why
	close(s.ended)
}

// Run follows the read model until ctx ends or Close is called.
func (h *Hub) Run(ctx context.Context) {
	defer close(h.done)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-h.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	for ctx.Err() == nil {
		h.mu.Lock()
		pos := h.pos
		h.mu.Unlock()
		if err := h.feed.WaitFor(ctx, pos+1); err != nil {
			continue // ctx ended, or a rebuild is under way: wait again
		}
		target := h.feed.Position()
		if h.skipUnwatched(target) {
			continue
		}
		for pos < target && ctx.Err() == nil {
			upTo := min(target, pos+hubStep)
			entries, err := h.feed.FeedRange(context.WithoutCancel(ctx), pos, upTo, -1)
			if err != nil {
				h.logger.Error("live hub: read feed", "after", pos, "err", err)
				select {
				case <-time.After(time.Second):
				case <-ctx.Done():
				}
				break
			}
			h.dispatch(entries, upTo)
			pos = upTo
		}
	}
}

// skipUnwatched advances the hub to target without reading the feed if
// nobody is subscribed: every write would otherwise cost a feed read that
// no one receives. It holds the lock while it checks and advances, so a
// subscriber either came first (and the entries are read for it) or comes
// after and starts from target (its handler reads the backlog up to there).
func (h *Hub) skipUnwatched(target int64) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.subs) > 0 {
		return false
	}
	if target > h.pos {
		h.pos = target
	}
	return true
}

// dispatch hands entries to their users' subscribers and records that
// everything up to upTo has been handed out.
func (h *Hub) dispatch(entries []agenda.FeedEntry, upTo int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range entries {
		e := &entries[i]
		subs := h.subs[e.UserID]
		if len(subs) == 0 {
			continue
		}
		body, err := json.Marshal(e)
		if err != nil {
			h.logger.Error("live hub: encode frame", "position", e.Position, "err", err)
			continue
		}
		f := &liveFrame{position: e.Position, body: body}
		for s := range subs {
			if len(s.frames) > 0 && s.queued.Load()+int64(len(body)) > subscriberBufferBytes {
				h.dropLocked(s, endTooSlow)
				continue
			}
			select {
			case s.frames <- f:
				s.queued.Add(int64(len(body)))
			default:
				h.dropLocked(s, endTooSlow)
			}
		}
	}
	if upTo > h.pos {
		h.pos = upTo
	}
}

// Close stops the hub and ends every subscription.
func (h *Hub) Close() {
	h.once.Do(func() {
		close(h.stop)
		h.mu.Lock()
		h.closed = true
		for _, m := range h.subs {
			for s := range m {
				h.dropLocked(s, endShutdown)
			}
		}
		h.mu.Unlock()
	})
}

// Done is closed when Run has returned.
func (h *Hub) Done() <-chan struct{} { return h.done }
