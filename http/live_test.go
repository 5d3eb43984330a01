package http

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/internal/notify"
)

// fakeFeed is an in-memory feed: entries are appended in position order and
// the position moves once they are stored, as the read model's does.
type fakeFeed struct {
	mu      sync.Mutex
	entries []agenda.FeedEntry
	pruned  map[string]int64
	pos     notify.Position
	// beforePage, if set, runs (unlocked) before a user's page is read:
	// the read model committing something between two reads.
	beforePage func()
}

// prune drops every entry at or below floor, recording it per user, as a
// projection's transaction prunes the feed.
func (f *fakeFeed) prune(floor int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	kept := f.entries[:0]
	for _, e := range f.entries {
		if e.Position > floor {
			kept = append(kept, e)
			continue
		}
		f.pruned[e.UserID] = max(f.pruned[e.UserID], e.Position)
	}
	f.entries = kept
}

func (f *fakeFeed) append(user string, data string) int64 {
	f.mu.Lock()
	p := f.pos.Get() + 1
	f.entries = append(f.entries, agenda.FeedEntry{Type: agenda.FeedEvent, UserID: user, Position: p,
		EventType: "test.happened", Stream: "s", Version: p, Data: json.RawMessage(data)})
	f.mu.Unlock()
	f.pos.Set(p)
	return p
}

func (f *fakeFeed) Feed(_ context.Context, user string, after, upTo int64, limit int) ([]agenda.FeedEntry, error) {
	if f.beforePage != nil {
		f.beforePage()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []agenda.FeedEntry{}
	for _, e := range f.entries {
		if e.UserID == user && e.Position > after && e.Position <= upTo && (limit < 0 || len(out) < limit) {
			out = append(out, e)
		}
	}
	return out, nil
}

func (f *fakeFeed) FeedRange(_ context.Context, after, upTo int64, limit int) ([]agenda.FeedEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []agenda.FeedEntry
	for _, e := range f.entries {
		if e.Position > after && e.Position <= upTo {
			out = append(out, e)
		}
	}
	return out, nil
}

func (f *fakeFeed) FeedPruned(_ context.Context, user string) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pruned[user], nil
}

func (f *fakeFeed) FeedRetention() int64 { return 1000 }
func (f *fakeFeed) Position() int64      { return f.pos.Get() }
func (f *fakeFeed) WaitFor(ctx context.Context, p int64) error {
	if err := f.pos.Wait(ctx, p); err != nil {
		return agenda.Errorf(agenda.EUNAVAILABLE, "not there")
	}
	return nil
}

// liveServer serves a hub over feed; tokens are issued with ttl.
func liveServer(t *testing.T, feed *fakeFeed, ttl time.Duration, buffer int) (*Server, *httptest.Server) {
	t.Helper()
	s, _ := newTestServer(t, &fakeCommands{}, &fakeQueries{})
	s.Tokens.TTL = ttl
	s.Feed = feed
	s.Hub = NewHub(feed, s.logger)
	s.Hub.Buffer = buffer
	ctx, cancel := context.WithCancel(context.Background())
	go s.Hub.Run(ctx)
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		ts.Close()
		s.Hub.Close()
		cancel()
		<-s.Hub.Done()
	})
	return s, ts
}

func dialLive(t *testing.T, s *Server, ts *httptest.Server, user, query string) *websocket.Conn {
	t.Helper()
	c, _, err := dialAs(t, s, ts, user, query)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c.SetReadLimit(1 << 20)
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// dialAs opens a stream with a fresh token of user, with query after it.
func dialAs(t *testing.T, s *Server, ts *httptest.Server, user, query string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	tok, _, err := s.Tokens.Issue(Subject{UserID: user, Username: user})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return websocket.Dial(ctx, "ws"+strings.TrimPrefix(ts.URL, "http")+"/api/ws?access_token="+tok+query, nil)
}

type testFrame struct {
	Type     string          `json:"type"`
	Position int64           `json:"position"`
	Data     json.RawMessage `json:"data"`
}

func readLive(t *testing.T, c *websocket.Conn) (testFrame, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, b, err := c.Read(ctx)
	if err != nil {
		return testFrame{}, err
	}
	var f testFrame
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("frame %s: %v", b, err)
	}
	return f, nil
}

// TestStreamSwitchNoGapNoDuplicate connects clients from various positions
// while entries are appended without pause: each sees exactly its user's
// entries after its position, in order, across the switch from history to
// live frames.
func TestStreamSwitchNoGapNoDuplicate(t *testing.T) {
	feed := &fakeFeed{}
	s, ts := liveServer(t, feed, time.Hour, 4096)
	for i := 0; i < 300; i++ {
		feed.append([]string{"ana", "bob"}[i%2], `{}`)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			feed.append([]string{"ana", "bob", "cleo"}[i%3], `{}`)
			if i%20 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	}()
	type run struct {
		after int64
		got   []int64
	}
	runs := []*run{{after: 0}, {after: 7}, {after: 150}, {after: 299}}
	conns := make([]*websocket.Conn, len(runs))
	for i, r := range runs {
		conns[i] = dialLive(t, s, ts, "ana", fmt.Sprintf("&after=%d", r.after))
	}
	for i, r := range runs {
		caught := false
		for len(r.got) < 400 {
			f, err := readLive(t, conns[i])
			if err != nil {
				t.Fatalf("after=%d: read: %v", r.after, err)
			}
			if f.Type == "caught_up" {
				caught = true
				continue
			}
			r.got = append(r.got, f.Position)
		}
		if !caught {
			t.Errorf("after=%d: no caught_up frame", r.after)
		}
	}
	close(stop)
	<-done
	for _, r := range runs {
		want, _ := feed.Feed(context.Background(), "ana", r.after, 1<<62, len(r.got))
		if len(want) != len(r.got) {
			t.Fatalf("after=%d: got %d entries, feed has %d", r.after, len(r.got), len(want))
		}
		for i := range want {
			if want[i].Position != r.got[i] {
				t.Fatalf("after=%d: entry %d at position %d, want %d (gap or duplicate)", r.after, i, r.got[i], want[i].Position)
			}
		}
	}
}

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
// is still closed at its token's expiry (4001) and at the node's shutdown
// (1001), not after the whole history: a review kept one open 12 s past a
// 2 s token, and another 21 s after its hub closed.
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
			ends := time.Now().Add(tc.ttl)
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

// TestStreamClosesWhenTokenExpires: the stream ends with StatusTokenExpired
// once the token it was opened with expires.
func TestStreamClosesWhenTokenExpires(t *testing.T) {
	feed := &fakeFeed{}
	s, ts := liveServer(t, feed, 2*time.Second, 16)
	c := dialLive(t, s, ts, "ana", "")
	for {
		_, err := readLive(t, c)
		if err != nil {
			if got := websocket.CloseStatus(err); got != StatusTokenExpired {
				t.Fatalf("close status = %v (%v), want %d (token expired)", got, err, StatusTokenExpired)
			}
			return
		}
	}
}

// TestStreamRefusals: a stream request without a valid token, or with a bad
// position, is answered with the contract's JSON error before any upgrade.
func TestStreamRefusals(t *testing.T) {
	feed := &fakeFeed{pruned: map[string]int64{"ana": 5}}
	for i := 0; i < 10; i++ {
		feed.append("ana", `{}`)
	}
	s, ts := liveServer(t, feed, time.Hour, 16)
	tok, _, _ := s.Tokens.Issue(Subject{UserID: "ana", Username: "ana"})
	// A handshake as a browser sends it, but for what each case changes:
	// the library's own refusals are JSON errors too (a review found them
	// text/plain).
	handshake := map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
		"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
	with := func(k, v string) map[string]string {
		h := maps.Clone(handshake)
		h[k] = v
		return h
	}
	for _, tc := range []struct {
		name, method, query, auth string
		headers                   map[string]string
		status                    int
		code, allow               string
	}{
		{name: "no token", status: 401, code: agenda.EUNAUTHORIZED},
		{name: "bad token", query: "?access_token=nope", status: 401, code: agenda.EUNAUTHORIZED},
		{name: "bad scheme", auth: "Basic abc", status: 401, code: agenda.EUNAUTHORIZED},
		{name: "negative after", query: "?after=-1&access_token=" + tok, status: 400, code: agenda.EINVALID},
		{name: "junk after", query: "?after=x&access_token=" + tok, status: 400, code: agenda.EINVALID},
		{name: "not a websocket", query: "?access_token=" + tok, status: 400, code: agenda.EINVALID},
		{name: "another origin", query: "?access_token=" + tok, headers: with("Origin", "http://evil.example"), status: 403, code: agenda.EFORBIDDEN},
		{name: "an old version", query: "?access_token=" + tok, headers: with("Sec-WebSocket-Version", "8"), status: 400, code: agenda.EINVALID},
		{name: "no Connection: Upgrade", query: "?access_token=" + tok, headers: with("Connection", "keep-alive"), status: 400, code: agenda.EINVALID},
		{name: "a bad key", query: "?access_token=" + tok, headers: with("Sec-WebSocket-Key", "short"), status: 400, code: agenda.EINVALID},
		{name: "HEAD", method: "HEAD", query: "?access_token=" + tok, status: 405, allow: "GET"},
		{name: "POST", method: "POST", query: "?access_token=" + tok, status: 405, code: agenda.EMETHODNOTALLOWED, allow: "GET"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(cmp.Or(tc.method, "GET"), ts.URL+"/api/ws"+tc.query, nil)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body errorBody
			json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != tc.status || body.Error.Code != tc.code {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, body.Error.Code, tc.status, tc.code)
			}
			if ct := resp.Header.Get("Content-Type"); tc.method != "HEAD" && ct != "application/json" {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
			if got := resp.Header.Get("Allow"); got != tc.allow {
				t.Errorf("Allow %q, want %q", got, tc.allow)
			}
			if up := resp.Header.Get("Upgrade"); up != "" {
				t.Errorf("a refusal says Upgrade: %s", up)
			}
		})
	}
	t.Run("reset when pruned", func(t *testing.T) {
		c := dialLive(t, s, ts, "ana", "&after=2")
		f, err := readLive(t, c)
		if err != nil || f.Type != "reset" || f.Position != 10 {
			t.Fatalf("first frame %+v, %v; want reset at 10", f, err)
		}
		if f, err := readLive(t, c); err != nil || f.Type != "caught_up" || f.Position != 10 {
			t.Fatalf("then %+v, %v; want caught_up at 10", f, err)
		}
		c2 := dialLive(t, s, ts, "ana", "&after=5")
		if f, err := readLive(t, c2); err != nil || f.Position != 6 {
			t.Fatalf("from the floor: %+v, %v; want the entry at 6", f, err)
		}
	})
}

// TestEventsPage: GET /api/events pages through the caller's feed only,
// says where to continue, and says reset when entries were pruned.
func TestEventsPage(t *testing.T) {
	feed := &fakeFeed{pruned: map[string]int64{"bob": 3}}
	for i := 0; i < 10; i++ {
		feed.append([]string{"ana", "bob"}[i%2], `{}`)
	}
	s, ts := liveServer(t, feed, time.Hour, 16)
	get := func(user, query string) (int, feedPage) {
		t.Helper()
		return getEvents(t, s, ts, user, query)
	}
	status, p := get("ana", "?after=0&limit=3")
	if status != 200 || len(p.Events) != 3 || p.Events[0].Position != 1 || p.Events[2].Position != 5 || p.Position != 5 {
		t.Fatalf("first page: %d %+v", status, p)
	}
	status, p = get("ana", "?after=5&limit=3")
	if status != 200 || len(p.Events) != 2 || p.Events[1].Position != 9 || p.Position != 10 {
		t.Fatalf("last page: %d %+v (position must be the read model's, 10)", status, p)
	}
	if _, p = get("bob", "?after=1"); !p.Reset || len(p.Events) != 0 || p.Position != 10 {
		t.Fatalf("bob after a pruned position: %+v, want reset", p)
	}
	if _, p = get("bob", ""); p.Reset || len(p.Events) != 5 {
		t.Fatalf("bob from the oldest kept: %+v", p)
	}
	for _, q := range []string{"?after=-1", "?after=x", "?limit=0", "?limit=1001"} {
		if status, _ := get("ana", q); status != 400 {
			t.Errorf("%s: status %d, want 400", q, status)
		}
	}
}

// getEvents asks GET /api/events?query as user, and returns the status and
// the page (empty unless it decodes as one).
func getEvents(t *testing.T, s *Server, ts *httptest.Server, user, query string) (int, feedPage) {
	t.Helper()
	tok, _, _ := s.Tokens.Issue(Subject{UserID: user, Username: user})
	req, _ := http.NewRequest("GET", ts.URL+"/api/events"+query, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var p feedPage
	json.NewDecoder(resp.Body).Decode(&p)
	return resp.StatusCode, p
}

// TestUIServed: / and /ui redirect to /ui/; the UI's files come with a
// content security policy; anything else under /ui/ is a plain 404.
func TestUIServed(t *testing.T) {
	s, _ := newTestServer(t, &fakeCommands{}, &fakeQueries{})
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, p := range []string{"/", "/ui"} {
		resp, err := noFollow.Get(ts.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/ui/" {
			t.Errorf("GET %s: %d to %q, want 302 to /ui/", p, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	for path, ctype := range map[string]string{"/ui/": "text/html", "/ui/app.js": "text/javascript", "/ui/style.css": "text/css"} {
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), ctype) ||
			!strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'self'") {
			t.Errorf("GET %s: %d %q CSP %q", path, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Security-Policy"))
		}
	}
	if resp, _ := http.Get(ts.URL + "/ui/nope.js"); resp.StatusCode != 404 {
		t.Errorf("missing file: %d", resp.StatusCode)
	}
	if resp, _ := http.Post(ts.URL+"/ui/", "text/plain", nil); resp.StatusCode != 405 {
		t.Errorf("POST /ui/: %d", resp.StatusCode)
	}
	// The API is still the API.
	if resp, _ := http.Get(ts.URL + "/api/nope"); resp.StatusCode != 404 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("GET /api/nope: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

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

// A page of the feed is pruned after the check that its start is still
// kept, and before it is read: the answer is a reset, not a page that
// silently starts later (a review found both the events page and the
// stream's history trusting the check made before the read).
func TestFeedPrunedWhileItsPageIsRead(t *testing.T) {
	newFeed := func() *fakeFeed {
		feed := &fakeFeed{pruned: map[string]int64{}}
		for range 10 {
			feed.append("ana", `{}`)
		}
		var once sync.Once
		feed.beforePage = func() { once.Do(func() { feed.prune(5) }) }
		return feed
	}
	t.Run("events page", func(t *testing.T) {
		s, ts := liveServer(t, newFeed(), time.Hour, 16)
		if _, p := getEvents(t, s, ts, "ana", "?after=2"); !p.Reset || len(p.Events) != 0 || p.Position != 10 {
			t.Fatalf("page = %+v, want a reset at 10 (entries 3 to 5 were pruned while it was read)", p)
		}
	})
	t.Run("stream history", func(t *testing.T) {
		s, ts := liveServer(t, newFeed(), time.Hour, 16)
		c := dialLive(t, s, ts, "ana", "&after=2")
		f, err := readLive(t, c)
		if err != nil {
			t.Fatal(err)
		}
		if f.Type != "reset" || f.Position != 10 {
			t.Fatalf("first frame = %+v, want a reset at 10 (entries 3 to 5 were pruned while history was read)", f)
		}
		if f, err = readLive(t, c); err != nil || f.Type != "caught_up" || f.Position != 10 {
			t.Fatalf("then %+v, %v; want caught_up at 10", f, err)
		}
	})
}

// count reports how many live streams user holds open.
func (c *streamCounts) count(user string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byUser[user]
}

// revokableQueries answers every token as valid until out is set, then as
// logged out.
type revokableQueries struct {
	*fakeQueries
	out atomic.Bool
}

func (q *revokableQueries) TokenState(context.Context, string, string) (agenda.TokenState, error) {
	return agenda.TokenState{Revoked: q.out.Load()}, nil
}

// TestStreamSendsNothingAfterALogout: a logout that lands while history is
// about to be read sends no frame at all, not even a reset (the entries
// were pruned meanwhile) or caught_up, which carry no user data but break
// "4001 before the next frame" (a review of the catch-up saw both).
func TestStreamSendsNothingAfterALogout(t *testing.T) {
	feed := &fakeFeed{pruned: map[string]int64{}}
	for range 10 {
		feed.append("ana", `{}`)
	}
	s, ts := liveServer(t, feed, time.Hour, 16)
	q := &revokableQueries{fakeQueries: &fakeQueries{}}
	s.Queries = q
	var once sync.Once
	feed.beforePage = func() { once.Do(func() { q.out.Store(true); feed.prune(5) }) }
	c := dialLive(t, s, ts, "ana", "&after=2")
	for {
		f, err := readLive(t, c)
		if err != nil {
			if got := websocket.CloseStatus(err); got != StatusTokenExpired {
				t.Fatalf("closed with %v (%v), want 4001", got, err)
			}
			return
		}
		t.Errorf("a %s frame at %d was sent after the logout", f.Type, f.Position)
	}
}
