package http

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agendahq/agenda"
	"github.com/coder/websocket"
)

// TestStreamCatchesUpAClientFallenBehind: a client that reads, but falls
// more frames behind than its buffer holds (one large change: a review's
// removal from a group withdrew 450 appointments at once), goes on from the
// feed on the same connection, every frame in order, none skipped or
// repeated, and then follows the hub again. It was closed "too slow".
func TestStreamCatchesUpAClientFallenBehind(t *testing.T) {
	feed := &fakeFeed{}
	s, ts := liveServer(t, feed, time.Hour, 4)
	c := dialLive(t, s, ts, "ana", "")
	if f, err := readLive(t, c); err != nil || f.Type != "caught_up" {
		t.Fatalf("first frame = %+v, %v; want caught_up", f, err)
	}
	for range 300 {
		feed.append("ana", `{"n":1}`)
	}
	var last int64
	for last < 300 {
		f, err := readLive(t, c)
		if err != nil {
			t.Fatalf("after frame %d: %v (status %v)", last, err, websocket.CloseStatus(err))
		}
		if f.Position != last+1 {
			t.Fatalf("frame at %d after %d: a frame was skipped or repeated", f.Position, last)
		}
		last = f.Position
		if last%50 == 0 {
			time.Sleep(20 * time.Millisecond) // behind, while the hub goes on
		}
	}
	// Following the hub again: a later change comes live.
	feed.append("ana", `{"n":2}`)
	if f, err := readLive(t, c); err != nil || f.Position != 301 {
		t.Fatalf("after catching up: %+v, %v; want position 301", f, err)
	}
	if n := s.Hub.Subscribers(); n != 1 {
		t.Fatalf("subscribers = %d, want the one client", n)
	}
}

// TestStreamCatchUpEnds: a client sent a long history (from its last
// position, or what it fell behind on, the same sendHistory), read slowly,
// is still closed at its token's expiry, once the leeway is over (4001),
// and at the node's shutdown (1001), not after the whole history: a review
// kept one open 12 s past a 2 s token, and another 21 s after its hub
// closed.
func TestStreamCatchUpEnds(t *testing.T) {
	for _, tc := range []struct {
		name     string
		ttl      time.Duration
		shutdown bool
		want     websocket.StatusCode
	}{
		{"the token expires", 3 * time.Second, false, StatusTokenExpired},
		{"the node shuts down", time.Hour, true, websocket.StatusGoingAway},
	} {
		t.Run(tc.name, func(t *testing.T) {
			feed := &fakeFeed{}
			s, ts := liveServer(t, feed, tc.ttl, 4)
			endedWith := make(chan websocket.StatusCode, 1)
			s.streamEnded = func(code websocket.StatusCode) { endedWith <- code }
			// 1 KiB frames, more than the sockets' buffers hold, read at
			// a thousand a second: a history of twenty seconds.
			pad := `{"pad":"` + strings.Repeat("x", 1<<10) + `"}`
			for range 20000 {
				feed.append("ana", pad)
			}
			c := dialLive(t, s, ts, "ana", "&after=0")
			closed := make(chan error, 1)
			var drain atomic.Bool // read at full speed from now on
			go func() {
				var last int64
				for {
					f, err := readLive(t, c)
					if err != nil {
						closed <- err
						return
					}
					if f.Position != last+1 {
						closed <- fmt.Errorf("frame at %d after %d", f.Position, last)
						return
					}
					last = f.Position
					if !drain.Load() {
						time.Sleep(time.Millisecond)
					}
				}
			}()
			ends := time.Now().Add(tc.ttl + TokenLeeway)
			if tc.shutdown {
				time.Sleep(2 * time.Second)
				s.Hub.Close()
				ends = time.Now()
			}
			// The server ends the stream in time (what the client still
			// reads was already in the sockets' buffers, and the close
			// handshake waits for it).
			select {
			case code := <-endedWith:
				// A frame being written is let finish (up to the write
				// timeout): a review saw 2 s late under load.
				if late := time.Since(ends); late > 5*time.Second {
					t.Fatalf("the stream ended %v after it should have", late)
				}
				if code != tc.want {
					t.Fatalf("the stream ended with %v, want %v", code, tc.want)
				}
			case <-time.After(time.Until(ends) + 8*time.Second):
				t.Fatalf("the stream was still open 8 s after it should have ended")
			}
			drain.Store(true)
			select {
			case err := <-closed:
				if got := websocket.CloseStatus(err); got != tc.want {
					t.Fatalf("closed with %v (%v), want %v", got, err, tc.want)
				}
			case <-time.After(60 * time.Second):
				t.Fatal("the client never saw the close")
			}
		})
	}
}

// TestStreamClientThatCannotKeepUpClosed: a client that reads, but slower
// than its user's changes come, stays behind however often it is caught
// up; past the limit it cannot keep up and is closed, as the contract
// says, with 1008 and a reason that says why, every frame before it in
// order, and resumes from its last position on a new connection.
func TestStreamClientThatCannotKeepUpClosed(t *testing.T) {
	feed := &fakeFeed{}
	s, ts := liveServer(t, feed, time.Hour, 4)
	s.Live.behindLimit = time.Second
	endedWith := make(chan websocket.StatusCode, 1)
	s.streamEnded = func(code websocket.StatusCode) { endedWith <- code }
	c := dialLive(t, s, ts, "ana", "")
	if f, err := readLive(t, c); err != nil || f.Type != "caught_up" {
		t.Fatalf("first frame = %+v, %v; want caught_up", f, err)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
			for range 20 {
				feed.append("ana", `{"n":1}`)
			}
		}
	}()
	// The client reads in order, slowly until the server has decided.
	var drain atomic.Bool
	type result struct {
		last int64
		err  error
	}
	done := make(chan result, 1)
	go func() {
		var last int64
		for {
			f, err := readLive(t, c)
			if err != nil {
				done <- result{last, err}
				return
			}
			if f.Position != last+1 {
				done <- result{last, fmt.Errorf("frame at %d after %d: a frame was skipped or repeated", f.Position, last)}
				return
			}
			last = f.Position
			if !drain.Load() {
				time.Sleep(200 * time.Microsecond)
			}
		}
	}()
	select {
	case code := <-endedWith:
		if code != websocket.StatusPolicyViolation {
			t.Fatalf("the stream ended with %v, want 1008", code)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a client reading slower than the changes come was still served after 20 s")
	}
	drain.Store(true)
	r := <-done
	var ce websocket.CloseError
	if !errors.As(r.err, &ce) || ce.Code != websocket.StatusPolicyViolation || !strings.Contains(ce.Reason, "too slow") {
		t.Fatalf("closed with %v, want 1008 saying too slow", r.err)
	}
	last := r.last
	c2 := dialLive(t, s, ts, "ana", fmt.Sprintf("&after=%d", last))
	if f, err := readLive(t, c2); err != nil || f.Position != last+1 {
		t.Fatalf("after reconnect: %+v, %v; want position %d", f, err, last+1)
	}
}

// TestStreamClientNotReadingCut: a client that stops reading is cut off by
// the write timeout, holding the hub nothing (its subscription dropped
// when its buffer filled), and reconnecting from the last position seen
// delivers the rest: never silently skipped.
func TestStreamClientNotReadingCut(t *testing.T) {
	feed := &fakeFeed{}
	s, ts := liveServer(t, feed, time.Hour, 4)
	s.Live.WriteTimeout = 500 * time.Millisecond
	c := dialLive(t, s, ts, "ana", "")
	if f, err := readLive(t, c); err != nil || f.Type != "caught_up" {
		t.Fatalf("first frame = %+v, %v; want caught_up", f, err)
	}
	big := `{"pad":"` + strings.Repeat("x", 64<<10) + `"}`
	// Far more than socket buffers and the 4-frame buffer hold.
	for range 400 {
		feed.append("ana", big)
	}
	deadline := time.Now().Add(20 * time.Second)
	for s.streams.count("ana") > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := s.streams.count("ana"); n != 0 {
		t.Fatalf("streams open = %d, want the client that stopped reading cut off", n)
	}
	if n := s.Hub.Subscribers(); n != 0 {
		t.Fatalf("subscribers = %d, want none", n)
	}
	var last int64
	for {
		f, err := readLive(t, c)
		if err != nil {
			break // cut, maybe in the middle of a frame
		}
		if f.Position != last+1 {
			t.Fatalf("frame at %d after %d: a frame was skipped", f.Position, last)
		}
		last = f.Position
	}
	c2 := dialLive(t, s, ts, "ana", fmt.Sprintf("&after=%d", last))
	f, err := readLive(t, c2)
	if err != nil || f.Position != last+1 {
		t.Fatalf("after reconnect: %+v, %v; want position %d", f, err, last+1)
	}
}

// TestStreamHistoryPagesAreSmall: a stream reads its history in pages of
// at most agenda.MaxStreamPageBytes (and one entry past it), not of the
// events page's MaxFeedPageBytes. A stream holds its page while it writes
// it, and one that never reads holds it until the write timeout: an
// outside review's 128 such streams held 2 MB each, outside the answer
// budget. Every entry still arrives, in order.
func TestStreamHistoryPagesAreSmall(t *testing.T) {
	feed := &fakeFeed{}
	entry := `{"description":"` + strings.Repeat("x", 5000) + `"}`
	const n = 200 // a megabyte of history
	for range n {
		feed.append("ana", entry)
	}
	s, ts := liveServer(t, feed, time.Hour, 16)
	c := dialLive(t, s, ts, "ana", "&after=0")
	for want := int64(1); ; want++ {
		f, err := readLive(t, c)
		if err != nil {
			t.Fatalf("after frame %d: %v", want-1, err)
		}
		if f.Type == "caught_up" {
			if want != n+1 {
				t.Fatalf("caught up after %d frames, want %d", want-1, n)
			}
			break
		}
		if f.Position != want {
			t.Fatalf("frame at %d, want %d", f.Position, want)
		}
	}
	feed.mu.Lock()
	largest := feed.largestPage
	feed.mu.Unlock()
	if limit := agenda.MaxStreamPageBytes + len(entry); largest > limit {
		t.Fatalf("the stream read a page of %d bytes, want at most %d", largest, limit)
	}
}
