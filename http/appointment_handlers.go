package http

import (
	"context"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/commands"
)

// appointmentRequest is the body of POST /api/appointments and PATCH
// /api/appointments/{id}. Times are strings so a bad one gets a clear error.
type appointmentRequest struct {
	Title       *string `json:"title"`
	Description *string `json:"description"`
	Location    *string `json:"location"`
	Start       *string `json:"start"`
	End         *string `json:"end"`
	Privacy     *string `json:"privacy"`
}

// givenPrivacy refuses an explicit empty privacy: leaving the field out
// means full, but "" is no privacy level, and reading it as full would
// reveal what the client may have meant to hide.
func givenPrivacy(p *string) error {
	if p != nil && *p == "" {
		return agenda.Errorf(agenda.EINVALID, "privacy must be %q or %q (or left out for %q)",
			agenda.PrivacyFull, agenda.PrivacyFreeBusy, agenda.PrivacyFull).WithDetails(map[string]any{"field": "privacy"})
	}
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (s *Server) handleAppointmentCreate(w http.ResponseWriter, r *http.Request) {
	var req appointmentRequest
	if err := decodeBody(w, r, &req); err != nil {
		s.Error(w, r, err)
		return
	}
	if err := firstErr(required("title", req.Title), givenPrivacy(req.Privacy)); err != nil {
		s.Error(w, r, err)
		return
	}
	start, err := parseTime("start", deref(req.Start))
	if err != nil {
		s.Error(w, r, err)
		return
	}
	end, err := parseTime("end", deref(req.End))
	if err != nil {
		s.Error(w, r, err)
		return
	}
	res, err := s.Commands.CreateAppointment(r.Context(), commands.CreateAppointment{
		OwnerID: userID(r), Title: *req.Title, Description: deref(req.Description), Location: deref(req.Location),
		Start: start, End: end, Privacy: deref(req.Privacy),
	})
	if err != nil {
		s.Error(w, r, err)
		return
	}
	s.answerAppointment(w, r, res, http.StatusCreated)
}

func (s *Server) answerAppointment(w http.ResponseWriter, r *http.Request, res commands.Result, status int) {
	if !s.committed(w, r, res) {
		return
	}
	a, err := s.writtenAppointment(r, res)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	setETag(w, a.Version)
	if status == http.StatusCreated {
		w.Header().Set("Location", "/api/appointments/"+a.ID)
	}
	writeJSON(w, status, a)
}

func (s *Server) handleAppointmentGet(w http.ResponseWriter, r *http.Request) {
	a, err := s.Queries.Appointment(r.Context(), chi.URLParam(r, "id"), userID(r))
	if err != nil {
		s.Error(w, r, err)
		return
	}
	setETag(w, a.Version)
	writeJSON(w, http.StatusOK, a)
}

func (s *Server) handleAppointmentPatch(w http.ResponseWriter, r *http.Request) {
	var req appointmentRequest
	if err := decodeBody(w, r, &req); err != nil {
		s.Error(w, r, err)
		return
	}
	ifMatch, err := parseIfMatch(r)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	start, err := optionalTime("start", req.Start)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	end, err := optionalTime("end", req.End)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if req == (appointmentRequest{}) {
		s.Error(w, r, agenda.Errorf(agenda.EINVALID, "nothing to change: give at least one field"))
		return
	}
	res, err := s.Commands.UpdateAppointment(r.Context(), commands.UpdateAppointment{
		ActorID: userID(r), AppointmentID: chi.URLParam(r, "id"), Title: req.Title, Description: req.Description,
		Location: req.Location, Start: start, End: end, Privacy: req.Privacy, IfMatch: ifMatch,
	})
	if err != nil {
		s.Error(w, r, err)
		return
	}
	s.answerAppointment(w, r, res, http.StatusOK)
}

func (s *Server) handleAppointmentDelete(w http.ResponseWriter, r *http.Request) {
	ifMatch, err := bodilessIfMatch(r)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	res, err := s.Commands.DeleteAppointment(r.Context(), commands.DeleteAppointment{
		ActorID: userID(r), AppointmentID: chi.URLParam(r, "id"), IfMatch: ifMatch,
	})
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if s.committed(w, r, res) {
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *Server) handleAgenda(w http.ResponseWriter, r *http.Request) {
	from, to, err := parseWindow(r)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	list := newEntriesJSON()
	defer list.release()
	if err := s.Queries.EachAgendaEntry(r.Context(), userID(r), from, to, list.add); err != nil {
		s.Error(w, r, err)
		return
	}
	list.write(w)
}

// parseWindow reads the from and to parameters of an agenda query: both
// required, to after from, at most MaxAgendaWindow apart.
func parseWindow(r *http.Request) (from, to time.Time, err error) {
	from, err = parseQueryTime("from", r.URL.Query().Get("from"))
	if err != nil {
		return from, to, err
	}
	to, err = parseQueryTime("to", r.URL.Query().Get("to"))
	if err != nil {
		return from, to, err
	}
	if !to.After(from) {
		return from, to, agenda.Errorf(agenda.EINVALID, "to must be after from").WithDetails(map[string]any{"field": "to"})
	}
	if to.Sub(from) > agenda.MaxAgendaWindow {
		return from, to, agenda.Errorf(agenda.EINVALID, "the window may span at most 366 days").WithDetails(map[string]any{"field": "to"})
	}
	return from, to, nil
}

// participation is the answer to accept and decline: the caller's part in
// the appointment, and the appointment as it now stands.
type participation struct {
	AppointmentID string             `json:"appointment_id"`
	UserID        string             `json:"user_id"`
	Status        string             `json:"status"`
	Appointment   agenda.Appointment `json:"appointment"`
}

func (s *Server) handleAppointmentAccept(w http.ResponseWriter, r *http.Request) {
	s.answerInvitation(w, r, s.Commands.AcceptAppointment)
}

func (s *Server) handleAppointmentDecline(w http.ResponseWriter, r *http.Request) {
	s.answerInvitation(w, r, s.Commands.DeclineAppointment)
}

func (s *Server) answerInvitation(w http.ResponseWriter, r *http.Request,
	answer func(context.Context, commands.AnswerInvitation) (commands.Result, error)) {
	ifMatch, err := bodilessIfMatch(r)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	res, err := answer(r.Context(), commands.AnswerInvitation{ActorID: userID(r), AppointmentID: chi.URLParam(r, "id"), IfMatch: ifMatch})
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if !s.committed(w, r, res) {
		return
	}
	a, err := s.writtenAppointment(r, res)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	setETag(w, a.Version)
	writeJSON(w, http.StatusOK, participation{AppointmentID: a.ID, UserID: userID(r), Status: a.MyStatus, Appointment: a})
}

func (s *Server) handleInvitations(w http.ResponseWriter, r *http.Request) {
	list, err := s.Queries.Invitations(r.Context(), userID(r), time.Now())
	if err != nil {
		s.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, list)
}

// writtenAppointment is the appointment a write answers with: as the
// write's own events left it, never as a later write left it. Only a write
// that changed nothing reads the current state.
func (s *Server) writtenAppointment(r *http.Request, res commands.Result) (agenda.Appointment, error) {
	if res.Appointment != nil {
		return *res.Appointment, nil
	}
	return s.Queries.Appointment(r.Context(), res.ID, userID(r))
}
