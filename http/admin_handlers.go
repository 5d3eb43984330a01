package http

import (
	"crypto/subtle"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/agendahq/agenda"
)

// Admin runs operations on the local node; every answer describes this node
// only (another node's projections are its own business).
type Admin interface {
	// Projections reports each projection of the local read model.
	Projections() []ProjectionStatus
	// StartRebuild starts an online blue/green rebuild of a projection:
	// ENOTFOUND for an unknown name, ECONFLICT while a rebuild runs.
	StartRebuild(name string) (RebuildStatus, error)
}

// ProjectionStatus is one projection in GET /api/admin/projections.
type ProjectionStatus struct {
	Name        string         `json:"name"`
	Position    int64          `json:"position"`
	Head        int64          `json:"head"`
	Lag         int64          `json:"lag"`
	State       string         `json:"state"`
	LastError   string         `json:"last_error,omitempty"`
	Rebuild     *RebuildStatus `json:"rebuild"`
	LastRebuild *RebuildStatus `json:"last_rebuild"`
}

// RebuildStatus describes an online rebuild.
type RebuildStatus struct {
	Projection      string     `json:"projection"`
	State           string     `json:"state"`
	Position        int64      `json:"position"`
	Target          int64      `json:"target"`
	EventsPerSecond float64    `json:"events_per_second"`
	StartedAt       time.Time  `json:"started_at"`
	FinishedAt      *time.Time `json:"finished_at,omitempty"`
	PausedSeconds   float64    `json:"paused_seconds"`
	Error           string     `json:"error,omitempty"`
}

func (s *Server) adminRoutes(r chi.Router) {
	// min_position and consistency as on every route: validated (an
	// outside review found them ignored here, whatever their value) and
	// waited for, so that a projection's status holds a write just made.
	r.Use(s.requireAuditToken, s.requireAuth, s.checkAuditToken, s.minPosition)
	r.Get("/audit/logs", s.handleAuditLogs)
	r.Get("/projections", s.handleProjections)
	r.Post("/projections/{name}/rebuild", s.handleProjectionRebuild)
}

// requireAuditToken hides the admin API (404) unless AUDIT_API_TOKEN is set.
func (s *Server) requireAuditToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.AuditToken == "" {
			s.Error(w, r, errNotFound("no such endpoint"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// checkAuditToken admits a request (already holding a valid JWT) whose
// X-Audit-Token equals AUDIT_API_TOKEN, compared in constant time.
func (s *Server) checkAuditToken(next http.Handler) http.Handler {
	want := []byte(s.AuditToken)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := r.Header.Get("X-Audit-Token")
		if got == "" {
			s.Error(w, r, agenda.Errorf(agenda.EFORBIDDEN, "the admin API needs X-Audit-Token"))
			return
		}
		if subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			s.Error(w, r, agenda.Errorf(agenda.EFORBIDDEN, "wrong X-Audit-Token"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// auditFilters are the query parameters of GET /api/admin/audit/logs.
var auditFilters = []string{"since", "actor", "action", "node", "limit", "cursor"}

func (s *Server) handleAuditLogs(w http.ResponseWriter, r *http.Request) {
	if s.Audit == nil {
		s.Error(w, r, errNotFound("no audit trail on this node"))
		return
	}
	// Every parameter here filters: one it does not know (a typo, "result")
	// would answer every entry as if it had filtered them (a review). But
	// the parameters every route takes (minPosition).
	for k := range r.URL.Query() {
		if !slices.Contains(auditFilters, k) && !slices.Contains(waitParams, k) {
			s.Error(w, r, agenda.Errorf(agenda.EINVALID, "unknown filter %q: the audit logs filter by %s", k, strings.Join(auditFilters, ", ")).
				WithDetails(map[string]any{"field": k}))
			return
		}
	}
	var q agenda.AuditQuery
	var err error
	if v := r.URL.Query().Get("since"); v != "" {
		if q.Since, err = parseQueryTime("since", v); err != nil {
			s.Error(w, r, err)
			return
		}
	}
	if q.Limit, err = queryInt(r, "limit", 100, 1, 1000); err != nil {
		s.Error(w, r, err)
		return
	}
	cursor, err := queryInt(r, "cursor", 0, 0, 1<<62)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	q.Before = int64(cursor)
	q.Actor, q.Action, q.Node = r.URL.Query().Get("actor"), r.URL.Query().Get("action"), r.URL.Query().Get("node")
	logs, next, err := s.Audit.Query(r.Context(), q)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	body := map[string]any{"logs": logs, "next_cursor": nil}
	if next != 0 {
		body["next_cursor"] = next
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) handleProjections(w http.ResponseWriter, r *http.Request) {
	if s.Admin == nil {
		s.Error(w, r, errNotFound("no projections on this node"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"projections": s.Admin.Projections()})
}

func (s *Server) handleProjectionRebuild(w http.ResponseWriter, r *http.Request) {
	if s.Admin == nil {
		s.Error(w, r, errNotFound("no projections on this node"))
		return
	}
	if err := emptyBody(r); err != nil {
		s.Error(w, r, err)
		return
	}
	st, err := s.Admin.StartRebuild(chi.URLParam(r, "name"))
	if err != nil {
		s.Error(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/admin/projections")
	writeJSON(w, http.StatusAccepted, st)
}
