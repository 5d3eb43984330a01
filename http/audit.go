package http

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/agendahq/agenda"
)

// AuditLog is the audit trail as the HTTP layer uses it. Record must not
// block: it is called on the request path.
type AuditLog interface {
	Record(agenda.AuditEntry)
	Query(ctx context.Context, q agenda.AuditQuery) ([]agenda.AuditEntry, int64, error)
}

// auditNote collects, while a request runs, what its audit entry needs and
// only inner layers know: the authenticated actor, the error code.
type auditNote struct {
	actor  string
	named  bool // actor is the user of a token this cluster signed, not a name claimed
	target string
	code   string
}

const auditNoteKey ctxKey = 100

func noteOf(r *http.Request) *auditNote {
	n, _ := r.Context().Value(auditNoteKey).(*auditNote)
	return n
}

// noteActor names the actor of a request that is not authenticated by a
// token (a login, a registration): the username it claims.
func noteActor(r *http.Request, actor string) {
	if n := noteOf(r); n != nil {
		n.actor = actor
	}
}

// noteUser names the actor of a request by the user of its token, whose
// signature has been checked.
func noteUser(r *http.Request, userID string) {
	if n := noteOf(r); n != nil {
		n.actor, n.named = userID, true
	}
}

// commandActions names the audit action of each command route; a route
// missing here is recorded as "<METHOD> <route>".
var commandActions = map[string]string{
	"POST /api/auth/register":                    "user.register",
	"POST /api/auth/login":                       "auth.login",
	"PATCH /api/me":                              "user.change_profile",
	"PUT /api/me/password":                       "user.change_password",
	"POST /api/appointments":                     "appointment.create",
	"PATCH /api/appointments/{id}":               "appointment.update",
	"DELETE /api/appointments/{id}":              "appointment.delete",
	"POST /api/appointments/{id}/accept":         "appointment.accept",
	"POST /api/appointments/{id}/decline":        "appointment.decline",
	"POST /api/groups":                           "group.create",
	"PATCH /api/groups/{id}":                     "group.update",
	"DELETE /api/groups/{id}":                    "group.delete",
	"POST /api/groups/{id}/members":              "group.add_member",
	"PATCH /api/groups/{id}/members/{user_id}":   "group.change_rank",
	"DELETE /api/groups/{id}/members/{user_id}":  "group.remove_member",
	"POST /api/groups/{id}/appointments":         "group.create_appointment",
	"POST /api/groups/{id}/accept":               "group.accept",
	"POST /api/groups/{id}/decline":              "group.decline",
	"POST /api/notifications/read-all":           "notification.read_all",
	"POST /api/notifications/{id}/read":          "notification.read",
	"GET /api/admin/audit/logs":                  "admin.audit_logs",
	"GET /api/admin/projections":                 "admin.projections",
	"POST /api/admin/projections/{name}/rebuild": "projection.rebuild",
}

// auditTrail records every command (any /api request that is not a plain
// read, accepted or refused) and every admin request in the audit trail,
// after it has been answered. Recording only queues the entry.
func (s *Server) auditTrail(next http.Handler) http.Handler {
	if s.Audit == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		admin := strings.HasPrefix(r.URL.Path, "/api/admin")
		read := r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodOptions
		if !strings.HasPrefix(r.URL.Path, "/api/") || (read && !admin) {
			next.ServeHTTP(w, r)
			return
		}
		note := &auditNote{}
		sw, ok := w.(*statusWriter)
		if !ok {
			sw = &statusWriter{ResponseWriter: w, status: http.StatusOK}
		}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), auditNoteKey, note)))

		route := r.URL.Path
		var targets []string
		if rc := chi.RouteContext(r.Context()); rc != nil {
			if p := rc.RoutePattern(); p != "" {
				route = p
			}
			for i, k := range rc.URLParams.Keys {
				if k != "*" && i < len(rc.URLParams.Values) {
					targets = append(targets, rc.URLParams.Values[i])
				}
			}
		}
		method := r.Method
		if method == http.MethodHead {
			method = http.MethodGet // answered as GET: the same action
		}
		if rc := chi.RouteContext(r.Context()); strings.HasSuffix(route, "/*") && rc != nil && rc.Routes != nil {
			// Refused by a middleware before its route was matched (a
			// missing audit token, say): recorded under the action the
			// route names all the same, as the docs list them.
			if p := rc.Routes.Find(chi.NewRouteContext(), method, r.URL.Path); p != "" {
				route = p
			}
		}
		action, known := commandActions[method+" "+route]
		if !known {
			action = methodLabel(r.Method) + " " + route
		}
		target := note.target
		if target == "" {
			target = strings.Join(targets, "/")
		}
		result := agenda.AuditAccepted
		if sw.status >= 400 {
			result = agenda.AuditRefused
		}
		if action == "auth.login" {
			result = agenda.AuditSuccess
			if sw.status >= 400 {
				result = agenda.AuditFailure
			}
		}
		details := map[string]any{"method": r.Method, "route": route, "status": sw.status, "remote": r.RemoteAddr}
		if note.code != "" {
			details["code"] = note.code
		}
		if p := sw.Header().Get("X-Agenda-Position"); p != "" && result == agenda.AuditAccepted && !read {
			if n, err := strconv.ParseInt(p, 10, 64); err == nil {
				details["position"] = n
			}
		}
		e := agenda.AuditEntry{Actor: note.actor, Action: action, Target: target, Result: result,
			RequestID: requestID(r.Context()), Details: details}
		now := time.Now()
		record, summaries := true, s.auditRefusals.sweep(now)
		if sw.status >= 400 && !(action == "auth.login" && sw.status == http.StatusUnauthorized) {
			// Refusals are throttled per kind (see refusalThrottle): who
			// (a token's user, else the client's network, never a name
			// the request claims), action (one for every path no route
			// knows, which the request chooses) and status. A login whose
			// password was checked and failed stays one row each: the
			// evidence of guessing, bounded by the login limits.
			who := "user " + note.actor
			if !note.named {
				who = "network " + s.limits().ClientNetwork(r)
			}
			kind := action
			if !known {
				kind = methodLabel(r.Method) + " (no command)"
			}
			var closed []agenda.AuditEntry
			record, closed = s.auditRefusals.admit(who+"\x00"+kind+"\x00"+strconv.Itoa(sw.status), e, note.named, now)
			summaries = append(summaries, closed...)
		}
		for _, sum := range summaries {
			s.Audit.Record(sum)
		}
		if record {
			s.Audit.Record(e)
		}
	})
}
