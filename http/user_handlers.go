package http

import (
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/commands"
)

type registerRequest struct {
	Username    *string `json:"username"`
	Password    *string `json:"password"`
	DisplayName string  `json:"display_name"`
	Email       string  `json:"email"`
}

func required(field string, v *string) error {
	if v == nil {
		return agenda.Errorf(agenda.EINVALID, "%s is required", field).WithDetails(map[string]any{"field": field})
	}
	return nil
}

func (s *Server) handleRegister(w http.ResponseWriter, r *http.Request) {
	if err := s.allowRegister(w, r); err != nil {
		s.Error(w, r, err)
		return
	}
	var req registerRequest
	if err := decodeBody(w, r, &req); err != nil {
		s.Error(w, r, err)
		return
	}
	if err := firstErr(required("username", req.Username), required("password", req.Password)); err != nil {
		s.Error(w, r, err)
		return
	}
	// The account the name stands for, as a login records it: a refused
	// "Bob" is found by a search for bob.
	noteActor(r, agenda.FoldUsername(*req.Username))
	res, err := hashing(s, r.Context(), w, func() (commands.Result, error) {
		return s.Commands.RegisterUser(r.Context(), commands.RegisterUser{
			Username: *req.Username, Password: *req.Password, DisplayName: req.DisplayName, Email: req.Email,
		})
	})
	if err != nil {
		s.Error(w, r, err)
		return
	}
	s.answerUser(w, r, res, http.StatusCreated)
}

func (s *Server) answerUser(w http.ResponseWriter, r *http.Request, res commands.Result, status int) {
	if !s.committed(w, r, res) {
		return
	}
	// The user as the write left it; only a write that changed nothing
	// reads the current state.
	var u agenda.User
	var err error
	if res.User != nil {
		u = *res.User
	} else if u, err = s.Queries.UserByID(r.Context(), res.ID); err != nil {
		s.Error(w, r, err)
		return
	}
	setETag(w, u.Version)
	writeJSON(w, status, u)
}

type loginRequest struct {
	Username *string `json:"username"`
	Password *string `json:"password"`
}

type loginResponse struct {
	Token     string      `json:"token"`
	ExpiresAt time.Time   `json:"expires_at"`
	User      agenda.User `json:"user"`
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	if err := decodeBody(w, r, &req); err != nil {
		s.Error(w, r, err)
		return
	}
	if err := firstErr(required("username", req.Username), required("password", req.Password)); err != nil {
		s.Error(w, r, err)
		return
	}
	// The account tried, as a lookup folds it, for the audit (a search for
	// ana's logins finds those typed "Ana" too) and the login limit.
	username := agenda.FoldUsername(*req.Username)
	noteActor(r, username)
	device, _ := s.knownDevice(r, username)
	attempted, err := s.allowLogin(w, r, username, device)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	failed := false
	defer func() { attempted(failed) }() // on every path, a panic included
	// The login decides on state at least as fresh as the cluster's commit
	// index, as a strong read does: the old password stops working on every
	// node once a change is acknowledged (a review logged in with it on a
	// follower, 10 times of 10, right after the change), and a refusal is
	// confirmed there too (Authenticate). Taken before a hashing slot, so
	// that a node without a quorum answers its logins 503, not the 429 of
	// slots held through the barrier's wait.
	if err := s.readBarrier(r.Context()); err != nil {
		s.Error(w, r, err)
		return
	}
	u, err := hashing(s, r.Context(), w, func() (agenda.User, error) {
		return s.Commands.Authenticate(r.Context(), username, *req.Password)
	})
	failed = agenda.ErrorCode(err) == agenda.EUNAUTHORIZED
	if err != nil {
		s.Error(w, r, err)
		return
	}
	// The token carries the epoch of the account the password was checked
	// against, not of a read after it: a password change committed during
	// the check would otherwise give the old password a token of the new
	// epoch, one the change does not end (a review found it). And it
	// carries a position at least as fresh as that account, read after it
	// (Horizon, not Position, which may lag the users projection), so that
	// a node that does not know the user yet waits for it rather than
	// refusing the token.
	token, exp, err := s.Tokens.Issue(Subject{UserID: u.ID, Username: u.Username, Epoch: u.TokenEpoch, Position: s.Queries.Horizon()})
	if err != nil {
		s.Error(w, r, err)
		return
	}
	s.rememberDevice(w, r, u, device)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, loginResponse{Token: token, ExpiresAt: exp, User: u})
}

// handleLogout ends the token the request carries, on every node: the
// revocation is committed like any write.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	if err := emptyBody(r); err != nil {
		s.Error(w, r, err)
		return
	}
	c := tokenClaims(r)
	res, err := s.Commands.RevokeToken(r.Context(), commands.RevokeToken{UserID: c.UserID, TokenID: c.TokenID, ExpiresAt: c.ExpiresAt})
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if s.committed(w, r, res) {
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *Server) handleMe(w http.ResponseWriter, r *http.Request) {
	u, err := s.Queries.UserByID(r.Context(), userID(r))
	if err != nil {
		s.Error(w, r, err)
		return
	}
	setETag(w, u.Version)
	writeJSON(w, http.StatusOK, u)
}

type profilePatch struct {
	DisplayName *string `json:"display_name"`
	Email       *string `json:"email"`
}

func (s *Server) handleMePatch(w http.ResponseWriter, r *http.Request) {
	var req profilePatch
	if err := decodeBody(w, r, &req); err != nil {
		s.Error(w, r, err)
		return
	}
	if req == (profilePatch{}) {
		s.Error(w, r, agenda.Errorf(agenda.EINVALID, "nothing to change: give display_name or email"))
		return
	}
	ifMatch, err := parseIfMatch(r)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	res, err := s.Commands.ChangeProfile(r.Context(), commands.ChangeProfile{
		UserID: userID(r), DisplayName: req.DisplayName, Email: req.Email, IfMatch: ifMatch,
	})
	if err != nil {
		s.Error(w, r, err)
		return
	}
	s.answerUser(w, r, res, http.StatusOK)
}

type passwordChange struct {
	CurrentPassword *string `json:"current_password"`
	NewPassword     *string `json:"new_password"`
}

func (s *Server) handlePasswordChange(w http.ResponseWriter, r *http.Request) {
	if err := s.allowPasswordChange(w, r); err != nil {
		s.Error(w, r, err)
		return
	}
	var req passwordChange
	if err := decodeBody(w, r, &req); err != nil {
		s.Error(w, r, err)
		return
	}
	if err := firstErr(required("current_password", req.CurrentPassword), required("new_password", req.NewPassword)); err != nil {
		s.Error(w, r, err)
		return
	}
	ifMatch, err := parseIfMatch(r)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	res, err := hashing(s, r.Context(), w, func() (commands.Result, error) {
		return s.Commands.ChangePassword(r.Context(), commands.ChangePassword{
			UserID: userID(r), CurrentPassword: *req.CurrentPassword, NewPassword: *req.NewPassword, IfMatch: ifMatch,
		})
	})
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if s.committed(w, r, res) {
		// The change ended the account's device cookies with its tokens;
		// this client, which knew the password, keeps one (at the new
		// epoch, which the read model shows once committed answers).
		if u, err := s.Queries.UserByID(r.Context(), userID(r)); err == nil {
			s.rememberDevice(w, r, u, "")
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *Server) handleUserSearch(w http.ResponseWriter, r *http.Request) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	limit := 20
	if raw := r.URL.Query().Get("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > 100 {
			s.Error(w, r, agenda.Errorf(agenda.EINVALID, "limit must be an integer from 1 to 100").WithDetails(map[string]any{"field": "limit"}))
			return
		}
		limit = n
	}
	if q == "" || utf8.RuneCountInString(q) > 64 {
		s.Error(w, r, agenda.Errorf(agenda.EINVALID, "q must be 1 to 64 characters").WithDetails(map[string]any{"field": "q"}))
		return
	}
	users, err := s.Queries.SearchUsers(r.Context(), q, limit)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, users)
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
