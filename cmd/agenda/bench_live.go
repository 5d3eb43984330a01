package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// benchLiveScenario: -subscribers users each hold a WebSocket on /api/ws
// (spread over the nodes); each client writes, in turn, as the
// subscribers it owns, and an operation ends when the write's frame
// reaches its subscriber. Its latency is from the write's acknowledgement
// to that frame (0 when the frame came first).
type benchLiveScenario struct {
	o     benchOptions
	api   *benchAPI
	subs  []*benchSubscriber
	slots []int
	wg    sync.WaitGroup
	// early counts frames that arrived before their write's answer: a
	// latency of 0 says no more than that.
	early atomic.Int64
}

// benchSubscriber is one open stream and the event frames it received.
type benchSubscriber struct {
	user   *benchUser
	conn   *websocket.Conn
	frames chan benchFrame
	done   chan struct{} // closed when the stream ends
	err    error         // why it ended, set before done closes
}

// benchFrame is an event frame's position and when it arrived.
type benchFrame struct {
	position int64
	at       time.Time
}

func (s *benchLiveScenario) setup(ctx context.Context, log io.Writer) error {
	names := make([]string, s.o.Subscribers)
	for i := range names {
		names[i] = fmt.Sprintf("%s-s%d", s.o.Prefix, i)
	}
	fmt.Fprintf(log, "bench: registering %d users\n", len(names))
	users, err := s.api.registerAll(ctx, names)
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "bench: opening %d WebSocket streams\n", len(users))
	s.subs = make([]*benchSubscriber, len(users))
	s.slots = make([]int, len(users))
	return benchParallel(ctx, len(users), 16, func(ctx context.Context, i int) error {
		sub, err := s.subscribe(ctx, s.o.Nodes[i%len(s.o.Nodes)], users[i])
		s.subs[i] = sub
		return err
	})
}

// subscribe opens user's stream on node and waits for its caught_up frame.
func (s *benchLiveScenario) subscribe(ctx context.Context, node string, u *benchUser) (*benchSubscriber, error) {
	dctx, cancel := context.WithTimeout(ctx, s.o.Timeout)
	defer cancel()
	wsURL := "ws" + strings.TrimPrefix(node, "http") + "/api/ws"
	conn, resp, err := websocket.Dial(dctx, wsURL, &websocket.DialOptions{
		HTTPClient: s.api.http,
		HTTPHeader: http.Header{"Authorization": {"Bearer " + u.token}},
	})
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("open %s as %s: status %d: %w", wsURL, u.name, resp.StatusCode, err)
		}
		return nil, fmt.Errorf("open %s as %s: %w", wsURL, u.name, err)
	}
	conn.SetReadLimit(1 << 20)
	sub := &benchSubscriber{user: u, conn: conn, frames: make(chan benchFrame, 1024), done: make(chan struct{})}
	caughtUp := make(chan struct{})
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		sub.read(caughtUp)
	}()
	select {
	case <-caughtUp:
		return sub, nil
	case <-sub.done:
		return nil, fmt.Errorf("stream of %s: %w", u.name, sub.err)
	case <-dctx.Done():
		conn.CloseNow()
		return nil, fmt.Errorf("stream of %s: no caught_up frame: %w", u.name, dctx.Err())
	}
}

// read receives frames until the stream ends.
func (sub *benchSubscriber) read(caughtUp chan struct{}) {
	defer close(sub.done)
	for {
		_, b, err := sub.conn.Read(context.Background())
		if err != nil {
			sub.err = err
			return
		}
		at := time.Now()
		var f struct {
			Type     string `json:"type"`
			Position int64  `json:"position"`
		}
		if err := json.Unmarshal(b, &f); err != nil {
			sub.err = fmt.Errorf("undecodable frame %q: %w", b, err)
			sub.conn.CloseNow()
			return
		}
		switch f.Type {
		case "caught_up":
			if caughtUp != nil {
				close(caughtUp)
				caughtUp = nil
			}
		case "event":
			sub.frames <- benchFrame{position: f.Position, at: at}
		}
	}
}

func (s *benchLiveScenario) op(ctx context.Context, w, k int) (string, time.Duration, error) {
	// Client w owns subscribers w, w+c, w+2c, … and writes as each in turn.
	owned := (len(s.subs) - w + s.o.Concurrency - 1) / s.o.Concurrency
	i := w + (k%owned)*s.o.Concurrency
	sub := s.subs[i]
	n := s.slots[i]
	s.slots[i]++
	ans, err := s.api.call(ctx, sub.user, "POST", "/api/appointments", benchSlot("live", n), false)
	acked := time.Now()
	if err != nil {
		return "ws", 0, err
	}
	if ans.position == 0 {
		return "ws", 0, benchErrorKind("no_position_header")
	}
	timeout := time.NewTimer(s.o.Timeout)
	defer timeout.Stop()
	for {
		select {
		case f := <-sub.frames:
			if f.position < ans.position {
				continue // an earlier event of this write
			}
			if f.at.Before(acked) {
				s.early.Add(1)
				return "ws", 0, nil
			}
			return "ws", f.at.Sub(acked), nil
		case <-sub.done:
			return "ws", 0, benchErrorKind("ws_closed")
		case <-timeout.C:
			return "ws", 0, benchErrorKind("ws_frame_timeout")
		case <-ctx.Done():
			return "ws", 0, ctx.Err()
		}
	}
}

func (s *benchLiveScenario) params() map[string]any {
	return map[string]any{"subscribers": s.o.Subscribers, "frames_before_ack": s.early.Load()}
}

// close ends every stream and waits for their readers.
func (s *benchLiveScenario) close() {
	for _, sub := range s.subs {
		if sub != nil {
			sub.conn.Close(websocket.StatusNormalClosure, "")
		}
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		for _, sub := range s.subs {
			if sub != nil {
				sub.conn.CloseNow()
			}
		}
	}
}
