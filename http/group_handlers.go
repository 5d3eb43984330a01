package http

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/commands"
)

// groupRequest is the body of POST /api/groups and PATCH /api/groups/{id}.
type groupRequest struct {
	Name         *string `json:"name"`
	Description  *string `json:"description"`
	Hierarchical *bool   `json:"hierarchical"`
}

func (s *Server) handleGroupCreate(w http.ResponseWriter, r *http.Request) {
	var req groupRequest
	if err := decodeBody(w, r, &req); err != nil {
		s.Error(w, r, err)
		return
	}
	if err := required("name", req.Name); err != nil {
		s.Error(w, r, err)
		return
	}
	if req.Hierarchical == nil {
		s.Error(w, r, agenda.Errorf(agenda.EINVALID, "hierarchical is required (true or false)").
			WithDetails(map[string]any{"field": "hierarchical"}))
		return
	}
	res, err := s.Commands.CreateGroup(r.Context(), commands.CreateGroup{
		ActorID: userID(r), Name: *req.Name, Description: deref(req.Description), Hierarchical: *req.Hierarchical,
	})
	if err != nil {
		s.Error(w, r, err)
		return
	}
	s.answerGroup(w, r, res, http.StatusCreated)
}

func (s *Server) answerGroup(w http.ResponseWriter, r *http.Request, res commands.Result, status int) {
	if !s.committed(w, r, res) {
		return
	}
	// The group as the write left it; only a write that changed nothing
	// reads the current state.
	var g agenda.Group
	var err error
	if res.Group != nil {
		g = *res.Group
	} else if g, err = s.Queries.Group(r.Context(), res.ID, userID(r)); err != nil {
		s.Error(w, r, err)
		return
	}
	setETag(w, g.Version)
	if status == http.StatusCreated {
		w.Header().Set("Location", "/api/groups/"+g.ID)
	}
	writeJSON(w, status, g)
}

func (s *Server) handleGroupList(w http.ResponseWriter, r *http.Request) {
	groups, err := s.Queries.GroupsOf(r.Context(), userID(r))
	if err != nil {
		s.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, groups)
}

func (s *Server) handleGroupGet(w http.ResponseWriter, r *http.Request) {
	g, err := s.Queries.Group(r.Context(), chi.URLParam(r, "id"), userID(r))
	if err != nil {
		s.Error(w, r, err)
		return
	}
	setETag(w, g.Version)
	writeJSON(w, http.StatusOK, g)
}

func (s *Server) handleGroupPatch(w http.ResponseWriter, r *http.Request) {
	var req groupRequest
	if err := decodeBody(w, r, &req); err != nil {
		s.Error(w, r, err)
		return
	}
	ifMatch, err := parseIfMatch(r)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if req.Hierarchical != nil {
		s.Error(w, r, agenda.Errorf(agenda.EINVALID, "a group's kind cannot change; create another group").
			WithDetails(map[string]any{"field": "hierarchical"}))
		return
	}
	if req.Name == nil && req.Description == nil {
		s.Error(w, r, agenda.Errorf(agenda.EINVALID, "nothing to change: give name or description"))
		return
	}
	res, err := s.Commands.UpdateGroup(r.Context(), commands.UpdateGroup{
		ActorID: userID(r), GroupID: chi.URLParam(r, "id"), Name: req.Name, Description: req.Description, IfMatch: ifMatch,
	})
	if err != nil {
		s.Error(w, r, err)
		return
	}
	s.answerGroup(w, r, res, http.StatusOK)
}

func (s *Server) handleGroupDelete(w http.ResponseWriter, r *http.Request) {
	ifMatch, err := bodilessIfMatch(r)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	res, err := s.Commands.DeleteGroup(r.Context(), commands.DeleteGroup{
		ActorID: userID(r), GroupID: chi.URLParam(r, "id"), IfMatch: ifMatch,
	})
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if s.committed(w, r, res) {
		w.WriteHeader(http.StatusNoContent)
	}
}

// memberRequest is the body of POST /api/groups/{id}/members and PATCH
// /api/groups/{id}/members/{user_id}.
type memberRequest struct {
	UserID   *string `json:"user_id"`
	Username *string `json:"username"`
	Rank     *int    `json:"rank"`
}

func (s *Server) handleMemberAdd(w http.ResponseWriter, r *http.Request) {
	var req memberRequest
	if err := decodeBody(w, r, &req); err != nil {
		s.Error(w, r, err)
		return
	}
	if (req.UserID == nil) == (req.Username == nil) {
		s.Error(w, r, agenda.Errorf(agenda.EINVALID, "give exactly one of user_id and username").
			WithDetails(map[string]any{"field": "user_id"}))
		return
	}
	// Counted against the person invited, however named: by ID, or by a
	// username this node knows (a name it does not know yet counts apart).
	invitee := deref(req.UserID)
	if req.Username != nil {
		invitee = "username:" + agenda.FoldUsername(*req.Username)
		if u, err := s.Queries.UserByUsername(r.Context(), *req.Username); err == nil {
			invitee = u.ID
		}
	}
	sent, err := s.allowMembership(w, userID(r), invitee)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	res, err := s.Commands.AddMember(r.Context(), commands.AddMember{
		ActorID: userID(r), GroupID: chi.URLParam(r, "id"), UserID: deref(req.UserID), Username: deref(req.Username), Rank: req.Rank,
	})
	sent(err == nil)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	s.answerMember(w, r, res, chi.URLParam(r, "id"), "", http.StatusCreated)
}

// answerMember answers with one member of a group: userID, or the member
// the command added (the newest one) if userID is empty.
func (s *Server) answerMember(w http.ResponseWriter, r *http.Request, res commands.Result, groupID, memberID string, status int) {
	if !s.committed(w, r, res) {
		return
	}
	if memberID == "" {
		memberID = res.ID
	}
	if m := res.Member; m != nil {
		// The membership as the write left it.
		setETag(w, m.Version)
		if status == http.StatusCreated {
			w.Header().Set("Location", "/api/groups/"+groupID+"/members/"+m.UserID)
		}
		writeJSON(w, status, m)
		return
	}
	s.writeMember(w, r, groupID, memberID, status)
}

// writeMember answers with one member of a group as the caller sees it.
func (s *Server) writeMember(w http.ResponseWriter, r *http.Request, groupID, memberID string, status int) {
	g, err := s.Queries.Group(r.Context(), groupID, userID(r))
	if err != nil {
		s.Error(w, r, err)
		return
	}
	for _, m := range g.Members {
		if m.UserID == memberID {
			setETag(w, m.Version)
			if status == http.StatusCreated {
				w.Header().Set("Location", "/api/groups/"+g.ID+"/members/"+m.UserID)
			}
			writeJSON(w, status, m)
			return
		}
	}
	s.Error(w, r, errNotFound("member not found"))
}

func (s *Server) handleGroupInvitations(w http.ResponseWriter, r *http.Request) {
	invs, err := s.Queries.GroupInvitations(r.Context(), userID(r))
	if err != nil {
		s.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, invs)
}

// handleGroupAccept makes the caller a member of a group they are invited
// to, and answers with their membership (status active).
func (s *Server) handleGroupAccept(w http.ResponseWriter, r *http.Request) {
	ifMatch, err := bodilessIfMatch(r)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	groupID := chi.URLParam(r, "id")
	res, err := s.Commands.AcceptGroupInvitation(r.Context(), commands.AnswerGroupInvitation{ActorID: userID(r), GroupID: groupID, IfMatch: ifMatch})
	if err != nil {
		s.Error(w, r, err)
		return
	}
	s.answerMember(w, r, res, groupID, userID(r), http.StatusOK)
}

func (s *Server) handleGroupDecline(w http.ResponseWriter, r *http.Request) {
	ifMatch, err := bodilessIfMatch(r)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	res, err := s.Commands.DeclineGroupInvitation(r.Context(), commands.AnswerGroupInvitation{ActorID: userID(r), GroupID: chi.URLParam(r, "id"), IfMatch: ifMatch})
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if s.committed(w, r, res) {
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *Server) handleMemberGet(w http.ResponseWriter, r *http.Request) {
	s.writeMember(w, r, chi.URLParam(r, "id"), chi.URLParam(r, "user_id"), http.StatusOK)
}

func (s *Server) handleMemberPatch(w http.ResponseWriter, r *http.Request) {
	var req memberRequest
	if err := decodeBody(w, r, &req); err != nil {
		s.Error(w, r, err)
		return
	}
	if req.UserID != nil || req.Username != nil {
		s.Error(w, r, agenda.Errorf(agenda.EINVALID, "only rank can change").WithDetails(map[string]any{"field": "rank"}))
		return
	}
	if req.Rank == nil {
		s.Error(w, r, agenda.Errorf(agenda.EINVALID, "rank is required").WithDetails(map[string]any{"field": "rank"}))
		return
	}
	ifMatch, err := parseIfMatch(r)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	member := chi.URLParam(r, "user_id")
	changed, err := s.allowMembership(w, userID(r), member)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	res, err := s.Commands.ChangeRank(r.Context(), commands.ChangeRank{
		ActorID: userID(r), GroupID: chi.URLParam(r, "id"), UserID: member, Rank: *req.Rank, IfMatch: ifMatch,
	})
	changed(err == nil && res.Position != 0) // a rank set to what it was tells no one
	if err != nil {
		s.Error(w, r, err)
		return
	}
	s.answerMember(w, r, res, chi.URLParam(r, "id"), member, http.StatusOK)
}

func (s *Server) handleMemberDelete(w http.ResponseWriter, r *http.Request) {
	ifMatch, err := bodilessIfMatch(r)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	res, err := s.Commands.RemoveMember(r.Context(), commands.RemoveMember{
		ActorID: userID(r), GroupID: chi.URLParam(r, "id"), UserID: chi.URLParam(r, "user_id"), IfMatch: ifMatch,
	})
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if s.committed(w, r, res) {
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *Server) handleGroupAppointmentCreate(w http.ResponseWriter, r *http.Request) {
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
	res, err := s.Commands.CreateGroupAppointment(r.Context(), commands.CreateGroupAppointment{
		ActorID: userID(r), GroupID: chi.URLParam(r, "id"), Title: *req.Title, Description: deref(req.Description),
		Location: deref(req.Location), Start: start, End: end, Privacy: deref(req.Privacy),
	})
	if err != nil {
		s.Error(w, r, err)
		return
	}
	s.answerAppointment(w, r, res, http.StatusCreated)
}

func (s *Server) handleGroupAgenda(w http.ResponseWriter, r *http.Request) {
	from, to, err := parseWindow(r)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	view, err := s.Queries.GroupAgenda(r.Context(), chi.URLParam(r, "id"), userID(r), from, to)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	body, err := groupAgendaJSON(view)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	writeBody(w, body)
}

// maxFreeSlotsDuration bounds the duration asked of a free slot.
const maxFreeSlotsDuration = agenda.MaxAppointmentDuration

func (s *Server) handleFreeSlots(w http.ResponseWriter, r *http.Request) {
	from, to, err := parseWindow(r)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	d, err := parseSlotDuration(r.URL.Query().Get("duration"))
	if err != nil {
		s.Error(w, r, err)
		return
	}
	busy, err := s.Queries.GroupBusy(r.Context(), chi.URLParam(r, "id"), userID(r), from, to)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, agenda.FreeSlots(busy, from, to, d))
}

// parseSlotDuration reads the duration asked of a free slot. Each refusal
// is built as the invalid error it is, naming the field, so nothing has to
// assert an error's type afterwards (which a wrapped error would defeat).
func parseSlotDuration(raw string) (time.Duration, error) {
	field := map[string]any{"field": "duration"}
	d, err := time.ParseDuration(raw)
	switch {
	case raw == "":
		return 0, agenda.Errorf(agenda.EINVALID, "duration is required, such as 45m or 1h30m").WithDetails(field)
	case err != nil:
		return 0, agenda.Errorf(agenda.EINVALID, "duration must be a duration such as 45m or 1h30m").WithDetails(field)
	case d < time.Minute:
		return 0, agenda.Errorf(agenda.EINVALID, "duration must be at least 1m").WithDetails(field)
	case d > maxFreeSlotsDuration:
		return 0, agenda.Errorf(agenda.EINVALID, "duration may be at most %dh (%s)", maxFreeSlotsDuration/time.Hour, agenda.SpanWords(maxFreeSlotsDuration)).WithDetails(field)
	}
	return d, nil
}
