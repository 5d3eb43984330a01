package http

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/agendahq/agenda"
)

// Node reports the state of the local node for the operational endpoints.
type Node interface {
	ClusterStatus() ClusterStatus
	// Readiness reports whether the node can serve: a leader is known and the
	// read model has caught up with the event store.
	Readiness() Readiness
}

// Reads serves linearizable reads (?consistency=strong).
type Reads interface {
	// ReadBarrier returns once the local read model reflects every write
	// acknowledged before it was called, or an EUNAVAILABLE error.
	ReadBarrier(ctx context.Context) error
}

// Server serves the HTTP API.
type Server struct {
	Commands Commands
	Queries  Queries
	Node     Node
	Tokens   *Tokens
	Metrics  *Metrics
	Logger   *slog.Logger
	// Internal, if set, serves the signed node-to-node endpoints under
	// /internal; it authenticates every request itself.
	Internal http.Handler
	// Reads, if set, serves strong reads; without it (one node, tests) a
	// strong read is a local one.
	Reads Reads
	// Audit, if set, records every command and admin request (audit.go)
	// and serves GET /api/admin/audit/logs; Admin serves the projection
	// endpoints. Both are reachable only when AuditToken (AUDIT_API_TOKEN)
	// is set, with a valid JWT and X-Audit-Token (admin_handlers.go).
	Audit      AuditLog
	Admin      Admin
	AuditToken string
	// MetricsToken (METRICS_TOKEN), if set, is what GET /metrics asks of
	// a scraper as `Authorization: Bearer`; without it /metrics is open,
	// as a Prometheus target is unless told otherwise (metrics.go).
	MetricsToken string
	// Limits, if set, rate-limits logins, registrations and password
	// changes, and bounds the password hashing done at once.
	Limits *Limits
	// ReadWait bounds how long a read waits for min_position, and a write for
	// the local read model to show what it committed (default 5s).
	ReadWait time.Duration
	// Fence, if set, is asked before every API request; an error (503
	// unavailable) refuses it. A node whose history the cluster refuses must
	// serve nothing from it.
	Fence func() error
	// Feed and Hub serve /api/events and the live stream /api/ws (see
	// feed_handlers.go and live_handlers.go); Live tunes the stream.
	Feed Feed
	Hub  *Hub
	Live LiveConfig
	// Answers bounds what the node holds for clients that do not read
	// their answers (answer_gate.go).
	Answers AnswerConfig

	logger  *slog.Logger
	answers *answerGate
	streams streamCounts
	// streamEnded, if set (by tests), is told how each live stream ends,
	// when it ends: before the close handshake, which waits for a client
	// still reading what the sockets hold.
	streamEnded func(websocket.StatusCode)
	// auditRefusals throttles the audit rows of refusals (see
	// refusalThrottle).
	auditRefusals refusalThrottle
}

func (s *Server) readWait() time.Duration {
	if s.ReadWait > 0 {
		return s.ReadWait
	}
	return 5 * time.Second
}

// Handler returns the routed handler: the API, and the web UI under /ui/.
func (s *Server) Handler() http.Handler {
	return s.withUI(middleware.StripSlashes(s.router()))
}

func (s *Server) router() chi.Router {
	s.logger = s.Logger
	if s.logger == nil {
		s.logger = slog.Default()
	}
	r := chi.NewRouter()
	// HEAD is answered as GET without the body (RFC 9110 9.3.2: every
	// general-purpose server supports it; probes such as wget --spider
	// use it).
	s.answers = newAnswerGate(s.Answers)
	r.Use(middleware.GetHead, s.withRequestID, s.gateAnswers, s.recoverer)
	if s.Metrics != nil {
		r.Use(s.Metrics.middleware)
	}
	r.Use(s.auditTrail)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		s.Error(w, r, errNotFound("no such endpoint"))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, req *http.Request) {
		// The path as chi routed it: the raw one when it escapes a
		// character ("a%2Fb" is one segment, not two).
		path := req.URL.RawPath
		if path == "" {
			path = req.URL.Path
		}
		var allowed []string
		for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
			if r.Match(chi.NewRouteContext(), m, path) {
				allowed = append(allowed, m)
				if m == "GET" && path != streamPath {
					// Answered as GET (GetHead); a stream has no head.
					allowed = append(allowed, "HEAD")
				}
			}
		}
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		s.Error(w, req, agenda.Errorf(agenda.EMETHODNOTALLOWED, "%s is not allowed here; use %s", req.Method, strings.Join(allowed, " or ")))
	})

	r.Get("/healthz", s.handleHealthz)
	r.Get("/readyz", s.handleReadyz)
	r.Get("/cluster/status", s.handleClusterStatus)
	if s.Internal != nil {
		r.Mount("/internal", s.Internal)
	}
	if s.Metrics != nil {
		r.With(s.requireMetricsToken).Method(http.MethodGet, "/metrics", s.Metrics.Handler())
	}

	r.Route("/api", func(r chi.Router) {
		r.Use(s.queryOnce, s.fenced)
		r.Get("/openapi.json", s.handleOpenAPI)
		// Without a token, but with min_position and consistency like every
		// other write: a login always decides on fresh state (handleLogin),
		// yet a malformed one is refused as elsewhere, not ignored (an
		// attacker's review).
		r.With(s.minPosition).Post("/auth/register", s.handleRegister)
		r.With(s.minPosition).Post("/auth/login", s.handleLogin)
		r.Route("/admin", s.adminRoutes)
		r.Group(func(r chi.Router) {
			// Writes take min_position and consistency too: a command then
			// decides on a read model that has reached them.
			r.Use(s.requireAuth, s.minPosition)
			r.Post("/auth/logout", s.handleLogout)
			r.Get("/me", s.handleMe)
			r.Patch("/me", s.handleMePatch)
			r.Put("/me/password", s.handlePasswordChange)
			r.Get("/users", s.handleUserSearch)
			r.Post("/appointments", s.handleAppointmentCreate)
			r.Get("/appointments/{id}", s.handleAppointmentGet)
			r.Patch("/appointments/{id}", s.handleAppointmentPatch)
			r.Delete("/appointments/{id}", s.handleAppointmentDelete)
			r.Post("/appointments/{id}/accept", s.handleAppointmentAccept)
			r.Post("/appointments/{id}/decline", s.handleAppointmentDecline)
			r.With(s.boundBuilds).Get("/agenda", s.handleAgenda)
			r.Get("/invitations", s.handleInvitations)

			r.Post("/groups", s.handleGroupCreate)
			r.Get("/groups", s.handleGroupList)
			r.Get("/groups/{id}", s.handleGroupGet)
			r.Patch("/groups/{id}", s.handleGroupPatch)
			r.Delete("/groups/{id}", s.handleGroupDelete)
			r.Post("/groups/{id}/members", s.handleMemberAdd)
			r.Post("/groups/{id}/accept", s.handleGroupAccept)
			r.Post("/groups/{id}/decline", s.handleGroupDecline)
			r.Get("/group-invitations", s.handleGroupInvitations)
			r.Get("/groups/{id}/members/{user_id}", s.handleMemberGet)
			r.Patch("/groups/{id}/members/{user_id}", s.handleMemberPatch)
			r.Delete("/groups/{id}/members/{user_id}", s.handleMemberDelete)
			r.Post("/groups/{id}/appointments", s.handleGroupAppointmentCreate)
			r.With(s.boundBuilds).Get("/groups/{id}/agenda", s.handleGroupAgenda)
			r.With(s.boundBuilds).Get("/groups/{id}/free-slots", s.handleFreeSlots)

			r.Get("/notifications", s.handleNotifications)
			r.Post("/notifications/read-all", s.handleNotificationsReadAll)
			r.Post("/notifications/{id}/read", s.handleNotificationRead)
			r.Get("/events", s.handleEvents)
		})
		// The stream authenticates itself: browsers pass the token in the query.
		r.Get(strings.TrimPrefix(streamPath, "/api"), s.handleStream)
	})
	return r
}
