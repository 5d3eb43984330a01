package http

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/agendahq/agenda/commands"
)

func (s *Server) handleNotifications(w http.ResponseWriter, r *http.Request) {
	unread, err := queryBool(r, "unread")
	if err != nil {
		s.Error(w, r, err)
		return
	}
	limit, err := queryInt(r, "limit", 100, 1, 500)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	list, err := s.Queries.Notifications(r.Context(), userID(r), unread, limit)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) handleNotificationRead(w http.ResponseWriter, r *http.Request) {
	ifMatch, err := bodilessIfMatch(r)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	res, err := s.Commands.MarkNotificationRead(r.Context(), commands.MarkNotificationRead{
		ActorID: userID(r), NotificationID: chi.URLParam(r, "id"), IfMatch: ifMatch,
	})
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if s.committed(w, r, res) {
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *Server) handleNotificationsReadAll(w http.ResponseWriter, r *http.Request) {
	if err := emptyBody(r); err != nil {
		s.Error(w, r, err)
		return
	}
	res, err := s.Commands.MarkAllNotificationsRead(r.Context(), userID(r))
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if s.committed(w, r, res) {
		w.WriteHeader(http.StatusNoContent)
	}
}
