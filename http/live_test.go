package http

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
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
	// largestPage is the most bytes of entries one page has held.
	largestPage int
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

// Feed reads a page as the read model does: up to limit entries, stopping
// after the one whose bytes reach maxBytes.
func (f *fakeFeed) Feed(_ context.Context, user string, after, upTo int64, limit, maxBytes int) ([]agenda.FeedEntry, error) {
	if f.beforePage != nil {
		f.beforePage()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []agenda.FeedEntry{}
	size := 0
	for _, e := range f.entries {
		if size >= maxBytes || (limit >= 0 && len(out) >= limit) {
			break
		}
		if e.UserID == user && e.Position > after && e.Position <= upTo {
			out = append(out, e)
			size += e.Bytes()
		}
	}
	f.largestPage = max(f.largestPage, size)
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
		want, _ := feed.Feed(context.Background(), "ana", r.after, 1<<62, len(r.got), math.MaxInt)
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

// TestStreamHonoursTheTokenLeeway: a token accepted past its expiry for
// clock skew (TokenLeeway) opens a stream as it answers any request, and
// the stream ends with 4001 when the leeway is over, not at once.
func TestStreamHonoursTheTokenLeeway(t *testing.T) {
	s, ts := liveServer(t, &fakeFeed{}, time.Hour, 16)
	past := &Tokens{Secret: s.Tokens.Secret, TTL: time.Second, Now: func() time.Time { return time.Now().Add(-3 * time.Second) }}
	tok, _, err := past.Issue(Subject{UserID: "ana", Username: "ana"}) // expired 2 s ago
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Tokens.Verify(tok); err != nil {
		t.Fatalf("the token is refused by requests already: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(ts.URL, "http")+"/api/ws?access_token="+tok, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if f, err := readLive(t, c); err != nil || f.Type != "caught_up" {
		t.Fatalf("first frame %+v, %v (status %v); want caught_up", f, err, websocket.CloseStatus(err))
	}
	if _, err := readLive(t, c); websocket.CloseStatus(err) != StatusTokenExpired {
		t.Fatalf("then %v, want the close for an expired token once the leeway is over", err)
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
		// As on every read (an outside review found the stream took any).
		{name: "junk min_position", query: "?min_position=abc&access_token=" + tok, headers: handshake, status: 400, code: agenda.EINVALID},
		{name: "junk consistency", query: "?consistency=bogus&access_token=" + tok, headers: handshake, status: 400, code: agenda.EINVALID},
		{name: "min_position in query and header disagreeing", query: "?min_position=1&access_token=" + tok,
			headers: with("X-Agenda-Min-Position", "2"), status: 400, code: agenda.EINVALID},
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
