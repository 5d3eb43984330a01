package http

import (
	"cmp"
	"context"
	"log/slog"
	"net/http"
	"runtime"
	"strconv"
	"time"

	"github.com/agendahq/agenda"
	"golang.org/x/sync/semaphore"
)

// AnswerConfig bounds what a node holds for clients that do not read their
// answers; the zero value is the default.
//
// A review asked for an 8 MB agenda on 40 connections that never read:
// each held its handler, its answer and a connection slot for good (the
// server has no WriteTimeout, which would also cut streams and slow but
// steady readers), and the node grew from 132 to 802 MB. So an answer is
// written in pieces, each of which must leave within Stall; and large
// answers (over 64 KiB) together may hold at most Budget bytes: one that
// cannot get its share within BudgetWait is refused with 503 unavailable
// before anything of it is written. Only reads take a share: a write's
// answer comes after its commit, and a 503 would tell its client that
// nothing happened (a review had a committed group appointment answered
// "busy, retry shortly").
//
// Nor may answers pile up while they are built: the reads that may build a
// large one (an agenda, a group's agenda or free slots) build at most
// Builds at once, each holding its turn until its answer is admitted to be
// written (a share of Budget, or at once for a small one). A review had 96
// group agendas of 8 MB built at once, and the node grew to about 800 MB.
// A page of the feed takes no turn: it may wait for its position first
// (5 s), and turns held so would stop every other read; its size is
// bounded by its limit.
type AnswerConfig struct {
	// Stall is how long one piece (64 KiB) of an answer may wait for the
	// client to read (default 10 s). A client that reads nothing for that
	// long is cut off; one that reads slowly but steadily is not.
	Stall time.Duration
	// Budget is the bytes of large answers being written at once
	// (default 256 MiB: 32 answers of the largest size, 8 MiB).
	Budget int64
	// BudgetWait is how long a large answer waits for its share of
	// Budget, and a read for its turn to build (default 2 s).
	BudgetWait time.Duration
	// Builds is how many reads build their answers at once (default 4 a
	// CPU: more would not build faster, only hold more memory).
	Builds int
}

const (
	defaultAnswerStall      = 10 * time.Second
	defaultAnswerBudget     = 256 << 20
	defaultAnswerBudgetWait = 2 * time.Second
	// answerPiece is both the size of the pieces an answer is written in
	// and the size above which it takes a share of the budget: smaller
	// answers fit in any socket's buffers.
	answerPiece = 64 << 10
)

// answerGate applies an AnswerConfig. Server.router puts it in front of
// every request (gatedWriter); writeBody and writeJSON find it there.
type answerGate struct {
	stall  time.Duration
	wait   time.Duration
	budget *semaphore.Weighted
	size   int64
	builds *semaphore.Weighted
}

func newAnswerGate(c AnswerConfig) *answerGate {
	g := &answerGate{stall: c.Stall, wait: c.BudgetWait, size: c.Budget}
	builds := c.Builds
	if builds <= 0 {
		builds = 4 * runtime.GOMAXPROCS(0)
	}
	g.builds = semaphore.NewWeighted(int64(builds))
	if g.stall <= 0 {
		g.stall = defaultAnswerStall
	}
	if g.wait <= 0 {
		g.wait = defaultAnswerBudgetWait
	}
	if g.size <= 0 {
		g.size = defaultAnswerBudget
	}
	g.budget = semaphore.NewWeighted(g.size)
	return g
}

// gatedWriter carries the gate down to the handlers' writes, and whether
// the request is a read (GET or HEAD: only reads take a budget share).
type gatedWriter struct {
	http.ResponseWriter
	gate *answerGate
	read bool
	// logger and req say what a refusal was for (with the request's ID).
	logger *slog.Logger
	req    *http.Request
	// armed is set once a write has put a deadline on the connection,
	// which gateAnswers lifts when the handler is done.
	armed bool
	// built, if set, ends the request's turn to build (boundBuilds); send
	// calls it once the answer may be written.
	built func()
}

// admit ends the request's turn to build, if it has one.
func (w *gatedWriter) admit() {
	if w.built != nil {
		w.built()
		w.built = nil
	}
}

// Write bounds every answer, whichever handler writes it (send, but also
// the metrics' handler and the web UI's file server, which write to the
// connection as they please): each piece of up to 64 KiB must leave within
// the gate's Stall. A review found those two unbounded: a client that
// pipelines requests and reads nothing held their handlers for good.
func (w *gatedWriter) Write(p []byte) (int, error) {
	rc := http.NewResponseController(w.ResponseWriter)
	written := 0
	for first := true; first || len(p) > 0; first = false {
		piece := p[:min(len(p), answerPiece)]
		_ = rc.SetWriteDeadline(time.Now().Add(w.gate.stall)) // unsupported: no bound, as before
		w.armed = true
		n, err := w.ResponseWriter.Write(piece)
		written += n
		if err != nil {
			return written, err
		}
		p = p[len(piece):]
	}
	return written, nil
}

// done ends an answer the handler has written: what net/http still buffers
// (under 4 KiB) leaves under the last piece's deadline too; then the
// connection has none, for its next request (and for what net/http answers
// on it by itself, such as a 400 to a malformed request).
func (w *gatedWriter) done() {
	if !w.armed {
		return
	}
	rc := http.NewResponseController(w.ResponseWriter)
	if err := rc.Flush(); err != nil {
		return // cut off, or hijacked: the connection is not for another request
	}
	_ = rc.SetWriteDeadline(time.Time{})
}

// Unwrap lets http.ResponseController (and a WebSocket's hijack) reach the
// connection.
func (w *gatedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) gateAnswers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		read := r.Method == http.MethodGet || r.Method == http.MethodHead
		gw := &gatedWriter{ResponseWriter: w, gate: s.answers, read: read, logger: cmp.Or(s.logger, slog.Default()), req: r}
		defer gw.done()
		next.ServeHTTP(gw, r)
	})
}

// gateOf finds the gated writer among the writers that wrap w (the
// metrics' and the audit trail's sit in front of it), or nil outside a
// Server.
func gateOf(w http.ResponseWriter) *gatedWriter {
	for {
		switch x := w.(type) {
		case *gatedWriter:
			return x
		case interface{ Unwrap() http.ResponseWriter }:
			w = x.Unwrap()
		default:
			return nil
		}
	}
}

// boundBuilds gives a read its turn to build its answer (AnswerConfig's
// Builds): it waits up to BudgetWait for one, else the answer is 503
// unavailable (busy, retry). The turn ends when send admits the answer, or
// when the handler returns without answering.
func (s *Server) boundBuilds(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gw := gateOf(w)
		if gw == nil {
			next.ServeHTTP(w, r)
			return
		}
		g := gw.gate
		ctx, cancel := context.WithTimeout(r.Context(), g.wait)
		err := g.builds.Acquire(ctx, 1)
		cancel()
		if err != nil {
			if r.Context().Err() != nil {
				return // the client went away
			}
			gw.logger.WarnContext(r.Context(), "refused a read: the node is building too many answers already",
				"method", r.Method, "path", r.URL.Path, "request_id", requestID(r.Context()))
			s.Error(w, r, agenda.Errorf(agenda.EUNAVAILABLE, "this node is busy building answers; retry shortly")) // with Retry-After
			return
		}
		gw.built = func() { g.builds.Release(1) }
		defer gw.admit()
		next.ServeHTTP(w, r)
	})
}

// send answers status with body, JSON already encoded, of known length:
// in pieces that must each leave within the gate's Stall, a read's large
// body only once it has its share of the budget (503 if it cannot get it).
func send(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	gw := gateOf(w) // nil outside a Server: no gate to apply
	if gw != nil && gw.read && len(body) > answerPiece {
		g, n := gw.gate, int64(len(body))
		ctx, cancel := context.WithTimeout(context.Background(), g.wait)
		err := g.budget.Acquire(ctx, n)
		cancel()
		if err != nil {
			gw.logger.WarnContext(gw.req.Context(), "refused a large answer: the node is writing too many to clients already",
				"method", gw.req.Method, "path", gw.req.URL.Path, "request_id", requestID(gw.req.Context()), "bytes", n, "budget", g.size)
			h.Del("ETag")
			h.Set("Retry-After", "1")
			send(w, http.StatusServiceUnavailable, errorJSON(agenda.EUNAVAILABLE, "this node is busy sending large answers; retry shortly"))
			return
		}
		defer g.budget.Release(n)
	}
	if gw != nil {
		gw.admit()
	}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	// A gated writer bounds each piece, and gateAnswers ends the answer.
	if _, err := w.Write(body); err != nil {
		slog.Debug("write response", "err", err)
	}
}
