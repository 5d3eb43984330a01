package http

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestLiveStreamsPerUserAreBounded: one user's token cannot hold more than
// MaxStreamsPerUser streams open on a node (an attacker's review: one token
// could open as many as the listener lets an address, 1024); another user
// is not affected, and a stream closed frees its place.
func TestLiveStreamsPerUserAreBounded(t *testing.T) {
	s, ts := liveServer(t, &fakeFeed{}, time.Hour, 64)
	s.Live.MaxStreamsPerUser = 2
	a1 := dialLive(t, s, ts, "ana", "")
	defer a1.CloseNow()
	a2 := dialLive(t, s, ts, "ana", "")
	defer a2.CloseNow()
	dialRefused(t, s, ts, "ana", "a third stream for ana")
	b := dialLive(t, s, ts, "bob", "")
	defer b.CloseNow()
	a1.Close(websocket.StatusNormalClosure, "")
	dialEventually(t, s, ts, "ana", "ana's place was not freed when a stream closed")
}

// TestLiveStreamOpensPerUserAreBounded: each stream replays the feed from
// where it starts, so one user opening streams without pause (a review: 32
// reconnecting from 0, 798 replays in 45 s) is refused past
// StreamOpensPerUser, with 429 before the handshake; another user is not.
func TestLiveStreamOpensPerUserAreBounded(t *testing.T) {
	s, ts := liveServer(t, &fakeFeed{}, time.Hour, 64)
	s.Limits = &Limits{StreamOpensPerUser: Rate{2, time.Minute}}
	for range 2 {
		dialLive(t, s, ts, "ana", "").CloseNow()
	}
	dialRefused(t, s, ts, "ana", "a third stream opened by ana within the minute")
	dialLive(t, s, ts, "bob", "").CloseNow()

	// A stream refused because the user holds as many open as allowed
	// spends nothing of their opens.
	s.Live.MaxStreamsPerUser = 1
	kept := dialLive(t, s, ts, "cleo", "")
	for range 3 {
		dialRefused(t, s, ts, "cleo", "a second stream for cleo")
	}
	kept.Close(websocket.StatusNormalClosure, "")
	dialEventually(t, s, ts, "cleo", "cleo's second open, after refusals for the streams open at once")

	// Nor does a handshake the WebSocket library refuses.
	s.Live.MaxStreamsPerUser = 0
	tok, _, err := s.Tokens.Issue(Subject{UserID: "dan", Username: "dan"})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		req, _ := http.NewRequest("GET", ts.URL+"/api/ws?access_token="+tok, nil)
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Sec-WebSocket-Version", "8")
		req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("a handshake of WebSocket version 8: %d, want 400", resp.StatusCode)
		}
	}
	for range 2 {
		dialLive(t, s, ts, "dan", "").CloseNow()
	}
	dialRefused(t, s, ts, "dan", "a third stream opened by dan within the minute")
}

// dialRefused opens a stream as user and expects 429 with Retry-After.
func dialRefused(t *testing.T, s *Server, ts *httptest.Server, user, what string) {
	t.Helper()
	_, resp, err := dialAs(t, s, ts, user, "")
	if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("%s: %v, %+v; want 429 with Retry-After", what, err, resp)
	}
}

// dialEventually opens a stream as user within 10 s (a place freed by a
// close is given back once the server sees it), and closes it.
func dialEventually(t *testing.T, s *Server, ts *httptest.Server, user, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, resp, err := dialAs(t, s, ts, user, "")
		if err == nil {
			c.CloseNow()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v, %+v", what, err, resp)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
