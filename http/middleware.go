package http

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/commands"
	"github.com/agendahq/agenda/internal/reqid"
)

type ctxKey int

const (
	userKey ctxKey = iota
	requestIDKey
	claimsKey
)

func errNotFound(msg string) error { return agenda.Errorf(agenda.ENOTFOUND, "%s", msg) }

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// withRequestID gives every request an ID (the client's X-Request-ID if it
// is sane), echoes it, and makes it the correlation ID of any events the
// request causes.
func (s *Server) withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-ID")
		if len(id) == 0 || len(id) > 64 || strings.ContainsFunc(id, func(c rune) bool { return c < 0x21 || c > 0x7e }) {
			id = uuid.NewString()
		}
		w.Header().Set("X-Request-ID", id)
		ctx := context.WithValue(r.Context(), requestIDKey, id)
		ctx = commands.WithCorrelationID(ctx, id)
		ctx = reqid.With(ctx, id)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// recoverer turns a panic in a handler into a logged 500, never a dropped
// connection.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.Error(w, r, fmt.Errorf("panic: %v\n%s", v, debug.Stack()))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// requireAuth admits requests with a valid bearer token and puts the user ID
// (and the token's claims) in the context. A validly signed token is
// refused too if its user does not exist, if it predates the user's last
// password change, or if it was logged out (checkToken).
func (s *Server) requireAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		scheme, token, ok := strings.Cut(h, " ")
		if h == "" {
			s.Error(w, r, agenda.Errorf(agenda.EUNAUTHORIZED, "missing Authorization: Bearer <token>"))
			return
		}
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
			s.Error(w, r, agenda.Errorf(agenda.EUNAUTHORIZED, "Authorization must be Bearer <token>"))
			return
		}
		claims, err := s.Tokens.Verify(strings.TrimSpace(token))
		if err != nil {
			s.Error(w, r, err)
			return
		}
		noteUser(r, claims.UserID)
		if err := s.checkToken(r.Context(), claims); err != nil {
			s.Error(w, r, err)
			return
		}
		ctx := context.WithValue(r.Context(), userKey, claims.UserID)
		next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, claimsKey, claims)))
	})
}

// checkToken checks a verified token against the read model: the user must
// exist, the token's epoch must be the user's current one (a password
// change moves it) and the token must not be logged out. All of it comes
// from committed events, so every node of a cluster decides alike once it
// has applied them. A node that does not know the user or the epoch yet
// (the login was decided on a node further ahead) waits, briefly, for the
// position the token was issued at before refusing it.
//
// The position is read before the state, never after: the read model
// commits a projection's rows before its position moves, so a state read
// after a position reflects at least that position. Read the other way
// round, the users projection could commit the token's user between the
// two reads, and a state from before the user beside a position past the
// token's refused a valid token without waiting (seen in CI: a create on a
// follower a few milliseconds behind answered 401 "invalid token").
func (s *Server) checkToken(ctx context.Context, c Claims) error {
	pos := s.Queries.Position()
	st, err := s.Queries.TokenState(ctx, c.UserID, c.TokenID)
	behind := agenda.ErrorCode(err) == agenda.ENOTFOUND || (err == nil && st.Epoch < c.Epoch)
	if behind && c.Position > pos {
		wctx, cancel := context.WithTimeout(ctx, s.readWait())
		werr := s.Queries.WaitFor(wctx, c.Position)
		cancel()
		if werr != nil {
			return werr
		}
		st, err = s.Queries.TokenState(ctx, c.UserID, c.TokenID)
	}
	switch {
	case agenda.ErrorCode(err) == agenda.ENOTFOUND:
		return agenda.Errorf(agenda.EUNAUTHORIZED, "invalid token")
	case err != nil:
		return err
	case st.Epoch > c.Epoch:
		return agenda.Errorf(agenda.EUNAUTHORIZED, "token ended by a password change; log in again")
	case st.Epoch < c.Epoch:
		return agenda.Errorf(agenda.EUNAUTHORIZED, "invalid token")
	case st.Revoked:
		return agenda.Errorf(agenda.EUNAUTHORIZED, "token logged out; log in again")
	}
	return nil
}

// tokenClaims returns the claims of the request's verified token.
func tokenClaims(r *http.Request) Claims {
	c, _ := r.Context().Value(claimsKey).(Claims)
	return c
}

func userID(r *http.Request) string {
	id, _ := r.Context().Value(userKey).(string)
	return id
}

// queryOnce refuses a query string that does not parse, one that gives a
// parameter twice (the handlers read one value each, and a review found
// "from=…&from=…" answered from the first without a word; nothing here
// takes a list), and one that is not UTF-8 once unescaped (a search for
// "%FF" answered an empty list, as request bodies that are not UTF-8 are
// refused).
func (s *Server) queryOnce(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.ContainsAny(r.URL.RawQuery, "&;%") && utf8.ValidString(r.URL.RawQuery) {
			// One parameter at most, nothing escaped: nothing to refuse,
			// and most requests need no parse here.
			next.ServeHTTP(w, r)
			return
		}
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			s.Error(w, r, agenda.Errorf(agenda.EINVALID, "the query string is malformed (escape %% as %%25 and ; as %%3B)"))
			return
		}
		keys := make([]string, 0, len(q))
		for k := range q {
			keys = append(keys, k)
		}
		sort.Strings(keys) // the same answer for the same query
		for _, k := range keys {
			if len(q[k]) > 1 {
				s.Error(w, r, agenda.Errorf(agenda.EINVALID, "query parameter %q is given %d times; give it once", k, len(q[k])).
					WithDetails(map[string]any{"field": k}))
				return
			}
			if !utf8.ValidString(k) || !utf8.ValidString(q[k][0]) {
				field := strings.ToValidUTF8(k, "\uFFFD")
				s.Error(w, r, agenda.Errorf(agenda.EINVALID, "query parameter %q is not valid UTF-8", field).
					WithDetails(map[string]any{"field": field}))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// minPosition makes a request wait until the local read model has reached
// the position the client asks for (?min_position= or X-Agenda-Min-Position):
// read-your-writes on any node, and for a write, a decision taken on state
// that includes what the client saw. With ?consistency=strong (or
// X-Agenda-Consistency: strong) it then waits for a linearizable read
// barrier: the answer reflects every write acknowledged anywhere before the
// request, or the read fails with unavailable — never a stale answer.
//
// Either wait moves the read model on, and the request's token is checked
// again on what it reached: a logout or a password change acknowledged
// before the request ends its token for it too. requireAuth checked the
// token on the state before the wait, and a review's strong reads on a
// follower kept answering a token logged out on the leader (150 of 150,
// and 20 creates of 20).
func (s *Server) minPosition(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := r.Context().Value(claimsKey).(Claims)
		if err := s.awaitRequested(r, c, ok); err != nil {
			s.Error(w, r, err)
			return
		}
		w.Header().Set("X-Agenda-Position", strconv.FormatInt(s.Queries.Position(), 10))
		next.ServeHTTP(w, r)
	})
}

// waitParams are the query parameters every route takes to say what to
// wait for before it answers (awaitRequested); each may come as a header
// too.
var waitParams = []string{"min_position", "consistency"}

// awaitRequested parses the request's min_position and consistency (query
// or header) and waits as they ask; after a wait, the token (claims, if
// authed) is checked again on the state reached. minPosition runs it
// before every API route; the live stream, which authenticates itself,
// runs it once the token is known.
func (s *Server) awaitRequested(r *http.Request, claims Claims, authed bool) error {
	waited := false
	raw, err := queryOrHeader(r, "min_position", "X-Agenda-Min-Position")
	if err != nil {
		return err
	}
	if raw != "" {
		p, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || p < 0 {
			return agenda.Errorf(agenda.EINVALID, "min_position must be a non-negative integer").
				WithDetails(map[string]any{"field": "min_position"})
		}
		if err := s.plausiblePosition("min_position", p); err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(r.Context(), s.readWait())
		err = s.Queries.WaitFor(ctx, p)
		cancel()
		if err != nil {
			return err
		}
		waited = true
	}
	strong, err := strongConsistency(r)
	if err != nil {
		return err
	}
	if strong && s.Reads != nil {
		if err := s.readBarrier(r.Context()); err != nil {
			return err
		}
		waited = true
	}
	if waited && authed {
		return s.checkToken(r.Context(), claims)
	}
	return nil
}

// readBarrier waits, up to the read wait, until the local read model
// reflects every write committed anywhere before the call (Reads): what a
// strong request and a login decide on. Without Reads (one node, whose
// state is the cluster's) it returns at once.
func (s *Server) readBarrier(ctx context.Context) error {
	if s.Reads == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.readWait())
	defer cancel()
	return s.Reads.ReadBarrier(ctx)
}

// FutureSlack is how far beyond a caught-up node's event store head a
// min_position may lie and still be waited for: writes other nodes
// acknowledged that this node has not heard of yet (a heartbeat's worth of
// commits, even under load, is far less). A position further ahead was
// never handed to any client.
const FutureSlack = 10_000

// plausiblePosition answers at once, instead of holding the request for the
// whole read wait, a position (min_position, or the feed's after) that no
// write of this cluster can have returned: beyond the event store head of a
// node that has applied every entry it knows to be committed, by more than
// FutureSlack. A node that is not caught up cannot tell, and waits as usual.
func (s *Server) plausiblePosition(field string, p int64) error {
	if s.Node == nil || p <= s.Queries.Position() {
		return nil
	}
	rd := s.Node.Readiness()
	if rd.CaughtUp && p > rd.Head+FutureSlack {
		return agenda.Errorf(agenda.EINVALID, "%s %d is beyond this cluster's log (head %d)", field, p, rd.Head).
			WithDetails(map[string]any{"field": field, "head": rd.Head})
	}
	return nil
}

// fenced refuses every request while Fence says this node must not serve.
func (s *Server) fenced(next http.Handler) http.Handler {
	if s.Fence == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.Fence(); err != nil {
			s.Error(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}
