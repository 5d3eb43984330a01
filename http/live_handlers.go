package http

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/agendahq/agenda"
)

// Close codes of the live stream beyond the standard ones. A client that
// sees StatusTokenExpired must log in again; after any other close it
// reconnects with the last position it saw.
const (
	// StatusTokenExpired closes a stream whose token has expired.
	StatusTokenExpired websocket.StatusCode = 4001
)

// Defaults of the live stream.
const (
	defaultPingInterval = 25 * time.Second
	defaultWriteTimeout = 10 * time.Second
	// defaultBehindLimit: a client behind the live events for longer than
	// this is closed as too slow (see stream).
	defaultBehindLimit = 10 * time.Second
	feedPageLimit      = 500
)

// LiveConfig tunes the live stream; the zero value is the default.
type LiveConfig struct {
	// PingInterval is how often the server pings an idle connection (and
	// drops it if the ping is not answered in time).
	PingInterval time.Duration
	// OriginPatterns lists the other origins whose pages may open the stream
	// (the node's own origin always may).
	OriginPatterns []string
	// MaxStreamsPerUser bounds the streams one user holds open on this
	// node; more are refused with rate_limited (default
	// DefaultMaxStreamsPerUser).
	MaxStreamsPerUser int
	// WriteTimeout is how long one frame may take to reach a client before
	// the connection is cut: what ends a client that stops reading
	// (default 10 s).
	WriteTimeout time.Duration
	// behindLimit is how long a client may stay behind the live events
	// before it is closed as too slow (default 10 s; shorter in tests).
	behindLimit time.Duration
}

func (s *Server) pingInterval() time.Duration {
	if s.Live.PingInterval > 0 {
		return s.Live.PingInterval
	}
	return defaultPingInterval
}

// What stops a stream (mayGoOn): a token logged out or ended by a
// password change, a token expired, the node shutting down. Each is
// checked before every frame, of history (its first, or what it missed
// once behind by more than its buffer) as of live events: a review kept a
// client in catch-up for 12 s past its token's expiry.
var (
	errTokenEnded   = errors.New("token no longer valid")
	errTokenExpired = errors.New("token expired")
	errShuttingDown = errors.New("node shutting down")
)

// streamPath is where the live stream is served.
const streamPath = "/api/ws"

// handshakeWriter holds back what websocket.Accept answers when it refuses
// a handshake (a bad version or key, a missing Connection: Upgrade, an
// origin not allowed: http.Error's text/plain), so that the client gets
// the API's JSON error instead, with the library's words.
type handshakeWriter struct {
	http.ResponseWriter
	status int
	msg    strings.Builder
}

func (h *handshakeWriter) WriteHeader(code int) {
	if code >= 400 {
		h.status = code
		return
	}
	h.ResponseWriter.WriteHeader(code)
}

func (h *handshakeWriter) Write(b []byte) (int, error) {
	if h.status != 0 {
		return h.msg.Write(b)
	}
	return h.ResponseWriter.Write(b)
}

// Unwrap lets Accept reach the connection to hijack it.
func (h *handshakeWriter) Unwrap() http.ResponseWriter { return h.ResponseWriter }

// refusal is the error Accept answered with.
func (h *handshakeWriter) refusal() error {
	msg := strings.TrimSpace(h.msg.String())
	switch {
	case h.status == http.StatusForbidden:
		return agenda.Errorf(agenda.EFORBIDDEN, "%s", msg)
	case h.status < 500:
		return agenda.Errorf(agenda.EINVALID, "%s", msg)
	}
	return fmt.Errorf("websocket handshake: %d %s", h.status, msg)
}

// streamToken authenticates a stream request: the Authorization header or,
// for browsers (which cannot set headers on a WebSocket), ?access_token=.
// The token is checked as every request's is (signature, expiry, epoch,
// logout).
func (s *Server) streamToken(r *http.Request) (Claims, error) {
	token := r.URL.Query().Get("access_token")
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, t, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(t) == "" {
			return Claims{}, agenda.Errorf(agenda.EUNAUTHORIZED, "Authorization must be Bearer <token>")
		}
		token = strings.TrimSpace(t)
	}
	if token == "" {
		return Claims{}, agenda.Errorf(agenda.EUNAUTHORIZED, "missing Authorization: Bearer <token> (or access_token)")
	}
	claims, err := s.Tokens.Verify(token)
	if err != nil {
		return Claims{}, err
	}
	noteUser(r, claims.UserID)
	if err := s.checkToken(r.Context(), claims); err != nil {
		return Claims{}, err
	}
	return claims, nil
}

// handleStream serves GET /api/ws: the caller's feed after ?after= from the
// read model, then {"type":"caught_up","position":n}, then live frames as
// the local read model takes in new events. Without after it starts at the
// present. If entries after `after` are no longer kept it sends
// {"type":"reset","position":n} and continues from n: first, or amid the
// history if they were pruned while it was being sent.
func (s *Server) handleStream(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet { // HEAD, which the router answers as GET: a stream has no head
		w.Header().Set("Allow", "GET")
		s.Error(w, r, agenda.Errorf(agenda.EMETHODNOTALLOWED, "%s is not allowed here; open the stream with GET", r.Method))
		return
	}
	if s.Hub == nil || s.Feed == nil {
		s.Error(w, r, agenda.Errorf(agenda.EUNAVAILABLE, "the live stream is not served by this node"))
		return
	}
	claims, err := s.streamToken(r)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	user := claims.UserID
	after, given, err := parseAfter(r)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	// min_position and consistency=strong, as on every read: the history
	// then holds what they ask for (an outside review's stream opened on a
	// follower just behind, with the position of a write acknowledged
	// elsewhere, did not show it, and took any value of either).
	if err := s.awaitRequested(r, claims, true); err != nil {
		s.Error(w, r, err)
		return
	}
	reset := false
	if given {
		if reset, err = s.feedStart(r.Context(), user, after); err != nil {
			s.Error(w, r, err)
			return
		}
	}
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		s.Error(w, r, agenda.Errorf(agenda.EINVALID, "this endpoint is a WebSocket: open it with a WebSocket client (Upgrade: websocket)"))
		return
	}
	done, ok := s.streams.open(user, cmp.Or(s.Live.MaxStreamsPerUser, DefaultMaxStreamsPerUser))
	if !ok {
		s.Error(w, r, rateLimited(w, 5*time.Second, limitLiveStreams, "live streams open for this user"))
		return
	}
	defer done()
	// Counted once the stream has its place: a refusal for the streams
	// open at once spends nothing of the user's opens (a review).
	opened, err := s.allowStreamOpen(w, user)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	// The server's read and write timeouts would otherwise cut the stream.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	hw := &handshakeWriter{ResponseWriter: w}
	c, err := websocket.Accept(hw, r, &websocket.AcceptOptions{OriginPatterns: s.Live.OriginPatterns})
	opened(err == nil)
	if err != nil {
		if hw.status != 0 {
			// Not switching protocols after all: the library's upgrade
			// headers would say otherwise.
			w.Header().Del("Connection")
			w.Header().Del("Upgrade")
			s.Error(w, r, hw.refusal())
		}
		return
	}
	c.SetReadLimit(4 << 10)
	ctx := c.CloseRead(context.WithoutCancel(r.Context()))
	code, why := s.stream(ctx, c, claims, after, given && !reset, reset)
	if s.streamEnded != nil {
		s.streamEnded(code)
	}
	c.Close(code, why)
}

// stream runs one live connection; it returns how to close it.
func (s *Server) stream(ctx context.Context, c *websocket.Conn, claims Claims, after int64, history, reset bool) (websocket.StatusCode, string) {
	user := claims.UserID
	write := func(body []byte) error {
		wctx, cancel := context.WithTimeout(ctx, cmp.Or(s.Live.WriteTimeout, defaultWriteTimeout))
		defer cancel()
		return c.Write(wctx, websocket.MessageText, body)
	}
	// control sends a reset or caught_up frame, unless the stream is to
	// end (mayGoOn): they carry no user data, but "nothing after a
	// logout" means no frame at all (a review saw both sent after one).
	control := func(typ string, pos int64) error {
		if err := s.mayGoOn(ctx, claims); err != nil {
			return err
		}
		b, _ := json.Marshal(controlFrame{Type: typ, Position: pos})
		return write(b)
	}
	// resetTo tells the client to reload and go on from the read model's
	// position, and returns it.
	resetTo := func() (int64, error) {
		p, err := s.resetPosition(ctx, user)
		if err != nil {
			return 0, err
		}
		return p, control("reset", p)
	}
	// sendHistory sends the entries in (from, upTo] and returns the
	// position to go on from: upTo, or where a reset put the client if
	// entries it had not been sent were pruned meanwhile.
	sendHistory := func(from, upTo int64) (int64, error) {
		for from < upTo {
			// Before a page too: a reset it may lead to is a frame.
			if err := s.mayGoOn(ctx, claims); err != nil {
				return from, err
			}
			page, pruned, err := s.readFeedPage(ctx, user, from, upTo, feedPageLimit, agenda.MaxStreamPageBytes)
			if err != nil {
				return from, err
			}
			if pruned {
				return resetTo()
			}
			for i := range page {
				if err := s.mayGoOn(ctx, claims); err != nil {
					return from, err
				}
				b, err := json.Marshal(&page[i])
				if err != nil {
					return from, err
				}
				if err := write(b); err != nil {
					return from, err
				}
				from = page[i].Position
			}
			if !agenda.FeedPageFull(page, feedPageLimit, agenda.MaxStreamPageBytes) {
				return upTo, nil
			}
		}
		return from, nil
	}
	fail := func(err error) (websocket.StatusCode, string) {
		switch {
		case errors.Is(err, errTokenEnded):
			return StatusTokenExpired, "token no longer valid; log in again"
		case errors.Is(err, errTokenExpired):
			return StatusTokenExpired, "token expired; log in again"
		case errors.Is(err, errShuttingDown):
			return endStatus(endShutdown)
		}
		if ctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) && websocket.CloseStatus(err) == -1 {
			s.logger.Warn("live stream failed", "user", user, "err", err)
		}
		return websocket.StatusInternalError, "stream failed; reconnect with the last position"
	}

	if reset {
		var err error
		if after, err = resetTo(); err != nil {
			return fail(err)
		}
	}
	cursor := after
	if history {
		// Most of a long history goes out before subscribing, so that the
		// live buffer does not fill while it is sent.
		var err error
		if cursor, err = sendHistory(cursor, s.Feed.Position()); err != nil {
			return fail(err)
		}
	}
	sub, start, ok := s.Hub.subscribe(user)
	if !ok {
		return websocket.StatusGoingAway, "node shutting down"
	}
	defer func() { s.Hub.unsubscribe(sub) }()
	if !history && !reset {
		cursor = start
	}
	// upTo sends what lies between cursor and start from the feed: the hub
	// hands the subscriber every entry after start, and the read model
	// holds every entry up to start (after a rebuild, once it is back
	// there). It returns where to go on from, or how to close.
	upTo := func(cursor, start int64) (int64, websocket.StatusCode, string) {
		wctx, cancel := context.WithTimeout(ctx, s.readWait())
		err := s.Feed.WaitFor(wctx, start)
		cancel()
		if err != nil {
			return cursor, websocket.StatusTryAgainLater, "read model catching up; reconnect with the last position"
		}
		if cursor < start {
			if cursor, err = sendHistory(cursor, start); err != nil {
				code, why := fail(err)
				return cursor, code, why
			}
		}
		return max(cursor, start), 0, ""
	}
	var code websocket.StatusCode
	var why string
	if cursor, code, why = upTo(cursor, start); code != 0 {
		return code, why
	}
	if err := control("caught_up", cursor); err != nil {
		return fail(err)
	}
	// ended handles a subscription the hub dropped: closing, or, for a
	// client that fell more than its buffer behind, following the hub
	// again after sending what it missed from the feed, on the same
	// connection, as a resume would. A review's client that read without
	// pause was closed "too slow" by one removal from a group, which
	// withdrew 450 appointments at once (901 frames). A client behind for
	// longer than behindLimit (falling behind again within it of its last
	// catching up, which a burst of several hub steps does too) cannot
	// keep up, and is closed as the contract says (API.md: disconnected,
	// never silently skipped): it resumes from its last position, and
	// costs the node no endless catching up. One that stops reading is cut
	// off by the write timeout.
	limit := cmp.Or(s.Live.behindLimit, defaultBehindLimit)
	var behindSince, caughtUp time.Time
	ended := func() (websocket.StatusCode, string) {
		if sub.why != endTooSlow {
			return endStatus(sub.why)
		}
		now := time.Now()
		if caughtUp.IsZero() || now.Sub(caughtUp) > limit {
			behindSince = now // behind anew, not still
		}
		if now.Sub(behindSince) > limit {
			return websocket.StatusPolicyViolation, "too slow: behind the live events for " + limit.String() + "; reconnect with the last position"
		}
		next, start, ok := s.Hub.subscribe(user)
		if !ok {
			return endStatus(endShutdown)
		}
		sub = next
		var code websocket.StatusCode
		var why string
		cursor, code, why = upTo(cursor, start)
		caughtUp = time.Now()
		return code, why
	}

	ping := time.NewTicker(s.pingInterval())
	defer ping.Stop()
	expiry := time.NewTimer(time.Until(claims.usableUntil()))
	defer expiry.Stop()
	for {
		// An ended subscription goes first: a client too slow for its
		// buffer goes on from the feed rather than from what is left of
		// the buffer.
		select {
		case <-sub.ended:
			if code, why := ended(); code != 0 {
				return code, why
			}
			continue
		default:
		}
		select {
		case <-sub.ended:
			if code, why := ended(); code != 0 {
				return code, why
			}
		case f := <-sub.frames:
			sub.received(f)
			if f.position <= cursor {
				continue // already sent as history
			}
			// A token logged out, or ended by a password change, sends
			// nothing more: every frame asks (a cached look-up while no
			// user changes). At each ping only, a review saw a logged-out
			// stream go on for 25 s.
			if err := s.mayGoOn(ctx, claims); err != nil {
				return fail(err)
			}
			if err := write(f.body); err != nil {
				return fail(err)
			}
			cursor = f.position
		case <-ping.C:
			// And with no frame to send, at each ping.
			if err := s.mayGoOn(ctx, claims); err != nil {
				return fail(err)
			}
			pctx, cancel := context.WithTimeout(ctx, s.pingInterval())
			err := c.Ping(pctx)
			cancel()
			if err != nil {
				return websocket.StatusPolicyViolation, "no answer to ping"
			}
		case <-expiry.C:
			return fail(errTokenExpired)
		case <-ctx.Done():
			return websocket.StatusNormalClosure, ""
		}
	}
}

// mayGoOn reports what stops a stream from sending its next frame of
// history, if anything does (see errTokenEnded).
func (s *Server) mayGoOn(ctx context.Context, claims Claims) error {
	select {
	case <-s.Hub.stop:
		return errShuttingDown
	default:
	}
	if !time.Now().Before(claims.usableUntil()) {
		return errTokenExpired
	}
	if err := s.checkToken(ctx, claims); agenda.ErrorCode(err) == agenda.EUNAUTHORIZED {
		return errTokenEnded
	}
	return nil
}

// controlFrame is a caught_up or reset frame.
type controlFrame struct {
	Type     string `json:"type"`
	Position int64  `json:"position"`
}

func endStatus(why string) (websocket.StatusCode, string) {
	switch why {
	case endShutdown:
		return websocket.StatusGoingAway, "node shutting down; reconnect with the last position"
	}
	return websocket.StatusNormalClosure, ""
}
