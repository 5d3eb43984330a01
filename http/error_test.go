package http

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/commands"
)

func TestErrorStatus(t *testing.T) {
	want := map[string]int{
		agenda.EINVALID:              http.StatusBadRequest,
		agenda.EMETHODNOTALLOWED:     http.StatusMethodNotAllowed,
		agenda.EUNAUTHORIZED:         http.StatusUnauthorized,
		agenda.EFORBIDDEN:            http.StatusForbidden,
		agenda.ENOTFOUND:             http.StatusNotFound,
		agenda.ECONFLICT:             http.StatusConflict,
		agenda.ESCHEDULECONFLICT:     http.StatusConflict,
		agenda.EPRECONDITIONFAILED:   http.StatusPreconditionFailed,
		agenda.ETOOLARGE:             http.StatusRequestEntityTooLarge,
		agenda.EUNSUPPORTEDMEDIATYPE: http.StatusUnsupportedMediaType,
		agenda.ERATELIMITED:          http.StatusTooManyRequests,
		agenda.EUNAVAILABLE:          http.StatusServiceUnavailable,
		agenda.EINTERNAL:             http.StatusInternalServerError,
		"":                           http.StatusInternalServerError,
		"no_such_code":               http.StatusInternalServerError,
	}
	for code, status := range want {
		t.Run("code "+strconv.Quote(code), func(t *testing.T) {
			if got := ErrorStatus(code); got != status {
				t.Errorf("ErrorStatus(%q) = %d, want %d", code, got, status)
			}
		})
	}

	// Every code package agenda declares must be mapped on purpose: a new
	// code that falls through to 500 would turn a client error into an
	// internal one.
	t.Run("every declared code is mapped", func(t *testing.T) {
		declared := declaredErrorCodes(t)
		if len(declared) < 12 {
			t.Fatalf("found only %d codes in package agenda: %v", len(declared), declared)
		}
		for name, code := range declared {
			if _, ok := want[code]; !ok {
				t.Errorf("agenda.%s = %q has no expected status in this test", name, code)
			}
			if code != agenda.EINTERNAL && ErrorStatus(code) == http.StatusInternalServerError {
				t.Errorf("agenda.%s = %q maps to 500", name, code)
			}
		}
	})
}

// declaredErrorCodes reads the E* string constants of package agenda from
// its source.
func declaredErrorCodes(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("list package agenda's files: %v", err)
	}
	fset := token.NewFileSet()
	out := map[string]string{}
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			t.Fatalf("parse %s: %v", path, err)
		}
		if file.Name.Name != "agenda" {
			continue
		}
		for _, decl := range file.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, id := range vs.Names {
					if !strings.HasPrefix(id.Name, "E") || i >= len(vs.Values) {
						continue
					}
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						s, _ := strconv.Unquote(lit.Value)
						out[id.Name] = s
					}
				}
			}
		}
	}
	return out
}

// errorResponse is the contract's error body, decoded strictly.
type errorResponse struct {
	Error struct {
		Code    string         `json:"code"`
		Message string         `json:"message"`
		Details map[string]any `json:"details"`
	} `json:"error"`
}

// decodeError checks a response is a JSON error with the given status and
// returns its body.
func decodeError(t *testing.T, rec *httptest.ResponseRecorder, status int) errorResponse {
	t.Helper()
	if rec.Code != status {
		t.Errorf("status = %d, want %d (body %s)", rec.Code, status, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var raw map[string]map[string]json.RawMessage
	if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil {
		t.Fatalf("body %s is not an error object: %v", rec.Body, err)
	}
	if len(raw) != 1 || raw["error"] == nil {
		t.Fatalf("body %s: want exactly one top-level key, \"error\"", rec.Body)
	}
	for k := range raw["error"] {
		if k != "code" && k != "message" && k != "details" {
			t.Errorf("error object has unexpected key %q", k)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
	dec.DisallowUnknownFields()
	var body errorResponse
	if err := dec.Decode(&body); err != nil {
		t.Fatalf("decode error body %s: %v", rec.Body, err)
	}
	return body
}

func TestErrorJSONShape(t *testing.T) {
	s, _ := newTestServer(t, &fakeCommands{}, &fakeQueries{})
	tests := []struct {
		name       string
		err        error
		status     int
		code       string
		message    string
		details    map[string]any
		retryAfter string
	}{
		{name: "invalid with a field", err: agenda.Errorf(agenda.EINVALID, "title is required").WithDetails(map[string]any{"field": "title"}),
			status: 400, code: "invalid", message: "title is required", details: map[string]any{"field": "title"}},
		{name: "not found without details", err: agenda.Errorf(agenda.ENOTFOUND, "appointment not found"),
			status: 404, code: "not_found", message: "appointment not found"},
		{name: "wrapped application error keeps its code", err: fmt.Errorf("update: %w", agenda.Errorf(agenda.EPRECONDITIONFAILED, "stale")),
			status: 412, code: "precondition_failed", message: "stale"},
		{name: "unavailable asks to retry", err: agenda.Errorf(agenda.EUNAVAILABLE, "no leader"),
			status: 503, code: "unavailable", message: "no leader", retryAfter: "1"},
		{name: "rate limited asks to retry", err: agenda.Errorf(agenda.ERATELIMITED, "slow down"),
			status: 429, code: "rate_limited", message: "slow down", retryAfter: "1"},
		{name: "internal error is generic", err: errors.New("open /var/lib/agenda/events.db: permission denied"),
			status: 500, code: "internal", message: "internal error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			s.Error(rec, httptest.NewRequest(http.MethodGet, "/api/me", nil), tc.err)
			body := decodeError(t, rec, tc.status)
			if body.Error.Code != tc.code || body.Error.Message != tc.message {
				t.Errorf("error = %s/%q, want %s/%q", body.Error.Code, body.Error.Message, tc.code, tc.message)
			}
			if fmt.Sprint(body.Error.Details) != fmt.Sprint(tc.details) || (tc.details == nil) != (body.Error.Details == nil) {
				t.Errorf("details = %#v, want %#v (absent when there are none)", body.Error.Details, tc.details)
			}
			if got := rec.Header().Get("Retry-After"); got != tc.retryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tc.retryAfter)
			}
		})
	}
}

// fakeCommands answers every command with err, or panics with panicWith.
type fakeCommands struct {
	err       error
	panicWith any
	userID    string
	calls     int              // commands run
	ifMatch   commands.IfMatch // the IfMatch of the last single-resource write
	unchanged bool             // writes change nothing (position 0)
	account   agenda.User      // what Authenticate checked, if set
}

func (c *fakeCommands) answer() (commands.Result, error) {
	c.calls++
	if c.panicWith != nil {
		panic(c.panicWith)
	}
	if c.unchanged {
		return commands.Result{ID: "x"}, c.err
	}
	return commands.Result{ID: "x", Position: 1}, c.err
}

func (c *fakeCommands) RegisterUser(context.Context, commands.RegisterUser) (commands.Result, error) {
	return c.answer()
}
func (c *fakeCommands) Authenticate(context.Context, string, string) (agenda.User, error) {
	_, err := c.answer()
	if c.account.ID != "" {
		return c.account, err
	}
	return agenda.User{ID: c.userID, Username: "ana", Version: 1}, err
}
func (c *fakeCommands) ChangeProfile(_ context.Context, cmd commands.ChangeProfile) (commands.Result, error) {
	c.ifMatch = cmd.IfMatch
	return c.answer()
}
func (c *fakeCommands) ChangePassword(context.Context, commands.ChangePassword) (commands.Result, error) {
	return c.answer()
}
func (c *fakeCommands) CreateAppointment(context.Context, commands.CreateAppointment) (commands.Result, error) {
	return c.answer()
}
func (c *fakeCommands) UpdateAppointment(_ context.Context, cmd commands.UpdateAppointment) (commands.Result, error) {
	c.ifMatch = cmd.IfMatch
	return c.answer()
}
func (c *fakeCommands) DeleteAppointment(_ context.Context, cmd commands.DeleteAppointment) (commands.Result, error) {
	c.ifMatch = cmd.IfMatch
	return c.answer()
}
func (c *fakeCommands) AcceptAppointment(context.Context, commands.AnswerInvitation) (commands.Result, error) {
	return c.answer()
}
func (c *fakeCommands) DeclineAppointment(context.Context, commands.AnswerInvitation) (commands.Result, error) {
	return c.answer()
}
func (c *fakeCommands) CreateGroup(context.Context, commands.CreateGroup) (commands.Result, error) {
	return c.answer()
}
func (c *fakeCommands) UpdateGroup(_ context.Context, cmd commands.UpdateGroup) (commands.Result, error) {
	c.ifMatch = cmd.IfMatch
	return c.answer()
}
func (c *fakeCommands) DeleteGroup(_ context.Context, cmd commands.DeleteGroup) (commands.Result, error) {
	c.ifMatch = cmd.IfMatch
	return c.answer()
}
func (c *fakeCommands) AddMember(context.Context, commands.AddMember) (commands.Result, error) {
	return c.answer()
}
func (c *fakeCommands) ChangeRank(_ context.Context, cmd commands.ChangeRank) (commands.Result, error) {
	c.ifMatch = cmd.IfMatch
	return c.answer()
}
func (c *fakeCommands) RemoveMember(_ context.Context, cmd commands.RemoveMember) (commands.Result, error) {
	c.ifMatch = cmd.IfMatch
	return c.answer()
}
func (c *fakeCommands) CreateGroupAppointment(context.Context, commands.CreateGroupAppointment) (commands.Result, error) {
	return c.answer()
}
func (c *fakeCommands) MarkNotificationRead(context.Context, commands.MarkNotificationRead) (commands.Result, error) {
	return c.answer()
}
func (c *fakeCommands) MarkAllNotificationsRead(context.Context, string) (commands.Result, error) {
	return c.answer()
}
func (c *fakeCommands) AcceptGroupInvitation(context.Context, commands.AnswerGroupInvitation) (commands.Result, error) {
	return c.answer()
}
func (c *fakeCommands) DeclineGroupInvitation(context.Context, commands.AnswerGroupInvitation) (commands.Result, error) {
	return c.answer()
}
func (c *fakeCommands) RevokeToken(context.Context, commands.RevokeToken) (commands.Result, error) {
	return c.answer()
}

// fakeQueries answers every query with err (and otherwise empty results).
type fakeQueries struct{ err error }

func (q *fakeQueries) UserByUsername(context.Context, string) (agenda.User, error) {
	return agenda.User{}, agenda.Errorf(agenda.ENOTFOUND, "no such user")
}
func (q *fakeQueries) UserByID(context.Context, string) (agenda.User, error) {
	return agenda.User{ID: "u1", Username: "ana", Version: 1}, q.err
}
func (q *fakeQueries) SearchUsers(context.Context, string, int) ([]agenda.UserSummary, error) {
	return []agenda.UserSummary{}, q.err
}
func (q *fakeQueries) Appointment(context.Context, string, string) (agenda.Appointment, error) {
	return agenda.Appointment{}, q.err
}
func (q *fakeQueries) EachAgendaEntry(context.Context, string, time.Time, time.Time, func(*agenda.Entry) error) error {
	return q.err
}
func (q *fakeQueries) Invitations(context.Context, string, time.Time) ([]agenda.Appointment, error) {
	return []agenda.Appointment{}, q.err
}
func (q *fakeQueries) Group(context.Context, string, string) (agenda.Group, error) {
	return agenda.Group{}, q.err
}
func (q *fakeQueries) GroupsOf(context.Context, string) ([]agenda.Group, error) {
	return []agenda.Group{}, q.err
}
func (q *fakeQueries) GroupInvitations(context.Context, string) ([]agenda.GroupInvitation, error) {
	return []agenda.GroupInvitation{}, q.err
}
func (q *fakeQueries) TokenState(context.Context, string, string) (agenda.TokenState, error) {
	return agenda.TokenState{}, q.err
}
func (q *fakeQueries) GroupAgenda(context.Context, string, string, time.Time, time.Time) ([]agenda.MemberAgenda, error) {
	return []agenda.MemberAgenda{}, q.err
}
func (q *fakeQueries) GroupBusy(context.Context, string, string, time.Time, time.Time) ([]agenda.Interval, error) {
	return []agenda.Interval{}, q.err
}
func (q *fakeQueries) Notifications(context.Context, string, bool, int) ([]agenda.Notification, error) {
	return []agenda.Notification{}, q.err
}
func (q *fakeQueries) WaitFor(context.Context, int64) error { return nil }
func (q *fakeQueries) Position() int64                      { return 1 }
func (q *fakeQueries) Horizon() int64                       { return 1 }

var testSecret = []byte("test-secret-0123456789abcdef0123456789")

// newTestServer returns a server over fakes and the buffer its logger
// writes to.
func newTestServer(t *testing.T, c Commands, q Queries) (*Server, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	s := &Server{Commands: c, Queries: q, Tokens: &Tokens{Secret: testSecret, TTL: time.Hour},
		Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	s.Handler() // sets up the logger
	return s, &logs
}

func bearer(t *testing.T, s *Server) string {
	t.Helper()
	tok, _, err := s.Tokens.Issue(Subject{UserID: "u1", Username: "ana"})
	if err != nil {
		t.Fatalf("issue token: %v", err)
	}
	return "Bearer " + tok
}

func TestInternalErrorsDoNotLeak(t *testing.T) {
	const secret = "secret db path /x"
	tests := []struct {
		name    string
		cmds    *fakeCommands
		queries *fakeQueries
		method  string
		path    string
		body    string
		auth    bool
	}{
		{name: "register fails internally", cmds: &fakeCommands{err: errors.New(secret)},
			method: "POST", path: "/api/auth/register", body: `{"username":"ana","password":"12345678"}`},
		{name: "register fails with a wrapped internal error", cmds: &fakeCommands{err: fmt.Errorf("register: %w", errors.New(secret))},
			method: "POST", path: "/api/auth/register", body: `{"username":"ana","password":"12345678"}`},
		{name: "login fails internally", cmds: &fakeCommands{err: errors.New(secret)},
			method: "POST", path: "/api/auth/login", body: `{"username":"ana","password":"12345678"}`},
		{name: "creating an appointment fails internally", cmds: &fakeCommands{err: errors.New(secret)}, auth: true,
			method: "POST", path: "/api/appointments", body: `{"title":"Lunch","start":"2026-06-01T12:00:00Z","end":"2026-06-01T13:00:00Z"}`},
		{name: "a command panics", cmds: &fakeCommands{panicWith: secret},
			method: "POST", path: "/api/auth/register", body: `{"username":"ana","password":"12345678"}`},
		{name: "a query fails internally", cmds: &fakeCommands{}, queries: &fakeQueries{err: errors.New(secret)}, auth: true,
			method: "GET", path: "/api/me"},
		{name: "the agenda query fails internally", cmds: &fakeCommands{}, queries: &fakeQueries{err: errors.New(secret)}, auth: true,
			method: "GET", path: "/api/agenda?from=2026-06-01T00:00:00Z&to=2026-06-08T00:00:00Z"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := tc.queries
			if q == nil {
				q = &fakeQueries{}
			}
			s, logs := newTestServer(t, tc.cmds, q)
			r := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
			r.Header.Set("Content-Type", "application/json")
			if tc.auth {
				r.Header.Set("Authorization", bearer(t, s))
			}
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, r)

			body := decodeError(t, rec, http.StatusInternalServerError)
			if body.Error.Code != "internal" || body.Error.Message != "internal error" || body.Error.Details != nil {
				t.Errorf("error = %+v, want code internal, message \"internal error\", no details", body.Error)
			}
			for _, leak := range []string{"secret", "/x", "panic", "goroutine"} {
				if strings.Contains(rec.Body.String(), leak) {
					t.Errorf("body %s leaks %q", rec.Body, leak)
				}
			}
			if !strings.Contains(logs.String(), secret) {
				t.Errorf("the internal error was not logged; log: %s", logs)
			}
		})
	}

	t.Run("client errors are answered but not logged", func(t *testing.T) {
		s, logs := newTestServer(t, &fakeCommands{err: fmt.Errorf("register: %w", agenda.Errorf(agenda.ECONFLICT, "username \"ana\" is taken"))}, &fakeQueries{})
		r := httptest.NewRequest("POST", "/api/auth/register", strings.NewReader(`{"username":"ana","password":"12345678"}`))
		r.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, r)
		body := decodeError(t, rec, http.StatusConflict)
		if body.Error.Code != "conflict" || body.Error.Message != `username "ana" is taken` {
			t.Errorf("error = %+v, want the conflict's own message", body.Error)
		}
		if logs.Len() != 0 {
			t.Errorf("a client error was logged: %s", logs)
		}
	})
}

func TestRequestErrorsThroughTheRouter(t *testing.T) {
	s, _ := newTestServer(t, &fakeCommands{}, &fakeQueries{})
	expired := &Tokens{Secret: testSecret, TTL: time.Minute, Now: func() time.Time { return time.Now().Add(-time.Hour) }}
	old, _, err := expired.Issue(Subject{UserID: "u1", Username: "ana"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		method      string
		path        string
		contentType string
		auth        string
		header      string // "Name: value", or none
		body        string
		status      int
		code        string
		field       string
	}{
		{name: "text/plain body", method: "POST", path: "/api/auth/register", contentType: "text/plain",
			body: `{"username":"ana","password":"12345678"}`, status: 415, code: "unsupported_media_type"},
		{name: "body too large", method: "POST", path: "/api/auth/register", contentType: "application/json",
			body: `{"username":"` + strings.Repeat("a", maxBodyBytes) + `"}`, status: 413, code: "too_large"},
		{name: "unknown field", method: "POST", path: "/api/auth/register", contentType: "application/json",
			body: `{"username":"ana","password":"12345678","role":"admin"}`, status: 400, code: "invalid", field: "role"},
		{name: "missing required field", method: "POST", path: "/api/auth/register", contentType: "application/json",
			body: `{"username":"ana"}`, status: 400, code: "invalid", field: "password"},
		{name: "no token", method: "GET", path: "/api/me", status: 401, code: "unauthorized"},
		{name: "not a bearer token", method: "GET", path: "/api/me", auth: "Basic YW5hOnB3", status: 401, code: "unauthorized"},
		{name: "expired token", method: "GET", path: "/api/me", auth: "Bearer " + old, status: 401, code: "unauthorized"},
		{name: "bad min_position", method: "GET", path: "/api/me?min_position=-1", auth: "valid", status: 400, code: "invalid", field: "min_position"},
		{name: "min_position in query and header disagreeing", method: "GET", path: "/api/me?min_position=1", header: "X-Agenda-Min-Position: 2",
			auth: "valid", status: 400, code: "invalid", field: "min_position"},
		{name: "consistency in query and header disagreeing", method: "GET", path: "/api/me?consistency=default", header: "X-Agenda-Consistency: strong",
			auth: "valid", status: 400, code: "invalid", field: "consistency"},
		{name: "bad min_position on a login", method: "POST", path: "/api/auth/login?min_position=abc", contentType: "application/json",
			body: `{"username":"ana","password":"12345678"}`, status: 400, code: "invalid", field: "min_position"},
		{name: "bad consistency on a registration", method: "POST", path: "/api/auth/register?consistency=eventual", contentType: "application/json",
			body: `{"username":"ana","password":"12345678"}`, status: 400, code: "invalid", field: "consistency"},
		{name: "agenda window backwards", method: "GET", path: "/api/agenda?from=2026-06-08T00:00:00Z&to=2026-06-01T00:00:00Z", auth: "valid", status: 400, code: "invalid", field: "to"},
		{name: "agenda time not RFC 3339", method: "GET", path: "/api/agenda?from=yesterday&to=2026-06-01T00:00:00Z", auth: "valid", status: 400, code: "invalid", field: "from"},
		{name: "unknown endpoint", method: "GET", path: "/api/nope", status: 404, code: "not_found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			if name, value, ok := strings.Cut(tc.header, ": "); ok {
				r.Header.Set(name, value)
			}
			switch tc.auth {
			case "":
			case "valid":
				r.Header.Set("Authorization", bearer(t, s))
			default:
				r.Header.Set("Authorization", tc.auth)
			}
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, r)
			body := decodeError(t, rec, tc.status)
			if body.Error.Code != tc.code {
				t.Errorf("code = %q (%q), want %q", body.Error.Code, body.Error.Message, tc.code)
			}
			if got, _ := body.Error.Details["field"].(string); got != tc.field {
				t.Errorf("details.field = %q, want %q", got, tc.field)
			}
		})
	}
}

func TestMethodLabelIsBounded(t *testing.T) {
	for m, want := range map[string]string{"GET": "GET", "DELETE": "DELETE", "BREW": "OTHER", "get": "OTHER", "": "OTHER"} {
		if got := methodLabel(m); got != want {
			t.Errorf("methodLabel(%q) = %q, want %q", m, got, want)
		}
	}
}

// movingQueries is fakeQueries at a read position and horizon a test
// moves.
type movingQueries struct {
	fakeQueries
	pos, horizon int64
}

func (q *movingQueries) Position() int64 { return q.pos }
func (q *movingQueries) Horizon() int64  { return q.horizon }

// TestRefusedWritesCarryAFreshPosition: a refused write names a position
// at least as fresh as the state it was decided on. The read middleware
// sets the position a request was admitted at, but a refusal may be
// decided on fresher state (confirmed after the read model caught up),
// and refusals before that middleware (401, a bad query, registration)
// had none (a review found both).
//
// Fresh is the read model's horizon, not its position (the lowest
// checkpoint, here 40), which may lag the projection the refusal read.
func TestRefusedWritesCarryAFreshPosition(t *testing.T) {
	q := &movingQueries{pos: 40, horizon: 42}
	s, _ := newTestServer(t, &fakeCommands{}, q)
	for _, tc := range []struct {
		name, method, before, want string
	}{
		{"admitted at an older position", http.MethodPatch, "7", "42"},
		{"refused before the read middleware", http.MethodPost, "", "42"},
		{"a write that committed further keeps its own", http.MethodPost, "50", "50"},
		{"a read is left as it was", http.MethodGet, "7", "7"},
		{"a read without one gets none", http.MethodGet, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			if tc.before != "" {
				rec.Header().Set("X-Agenda-Position", tc.before)
			}
			s.Error(rec, httptest.NewRequest(tc.method, "/api/appointments/a1", nil), agenda.Errorf(agenda.EPRECONDITIONFAILED, "stale"))
			if got := rec.Header().Get("X-Agenda-Position"); got != tc.want {
				t.Errorf("X-Agenda-Position = %q, want %q", got, tc.want)
			}
		})
	}
	t.Run("through the router", func(t *testing.T) {
		for _, r := range []*http.Request{
			httptest.NewRequest(http.MethodPost, "/api/auth/register", strings.NewReader(`{"username": 1}`)),
			httptest.NewRequest(http.MethodPost, "/api/appointments", strings.NewReader(`{}`)), // no token: 401
			httptest.NewRequest(http.MethodDelete, "/api/no-such-thing", nil),
		} {
			r.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, r)
			if rec.Code < 400 || rec.Header().Get("X-Agenda-Position") != "42" {
				t.Errorf("%s %s: %d with X-Agenda-Position %q, want a refusal with 42", r.Method, r.URL, rec.Code, rec.Header().Get("X-Agenda-Position"))
			}
		}
	})
	t.Run("a refusal decided on the leader's log names its position", func(t *testing.T) {
		rec := httptest.NewRecorder()
		s.Error(rec, httptest.NewRequest(http.MethodPost, "/api/appointments", nil),
			agenda.Errorf(agenda.ECONFLICT, "too many concurrent changes; retry").At(60))
		if got := rec.Header().Get("X-Agenda-Position"); got != "60" {
			t.Errorf("X-Agenda-Position = %q, want 60", got)
		}
	})
}

// A write that changed nothing answers with the state its decision read,
// and names the read model's horizon: its position (the lowest
// checkpoint) may lag the projection that state came from.
func TestUnchangedWriteNamesTheHorizon(t *testing.T) {
	s, _ := newTestServer(t, &fakeCommands{unchanged: true}, &movingQueries{pos: 40, horizon: 42})
	tok, _, err := s.Tokens.Issue(Subject{UserID: "u1", Username: "ana"})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPatch, "/api/me", strings.NewReader(`{"display_name": "Ana"}`))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Authorization", "Bearer "+tok)
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, r)
	if rec.Code != http.StatusOK || rec.Header().Get("X-Agenda-Position") != "42" {
		t.Fatalf("%d with X-Agenda-Position %q, want 200 with 42; body %s", rec.Code, rec.Header().Get("X-Agenda-Position"), rec.Body)
	}
}

// A login token carries the epoch of the account the password was checked
// against (not of a read after the check, which a password change may have
// moved: the old password would get a token the change does not end) and
// a position at least as fresh as that account: the horizon, read after
// the check, not the lowest checkpoint.
func TestLoginTokenVouchesForTheAccountChecked(t *testing.T) {
	c := &fakeCommands{account: agenda.User{ID: "u1", Username: "ana", TokenEpoch: 3, Version: 4}}
	s, _ := newTestServer(t, c, &movingQueries{pos: 40, horizon: 42}) // UserByID answers epoch 0
	r := httptest.NewRequest(http.MethodPost, "/api/auth/login", strings.NewReader(`{"username": "ana", "password": "password-ana"}`))
	r.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, r)
	var out loginResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &out); rec.Code != http.StatusOK || err != nil {
		t.Fatalf("login: %d %s", rec.Code, rec.Body)
	}
	claims, err := s.Tokens.Verify(out.Token)
	if err != nil {
		t.Fatal(err)
	}
	if claims.Epoch != 3 || claims.Position != 42 {
		t.Fatalf("token epoch %d at position %d, want epoch 3 at 42", claims.Epoch, claims.Position)
	}
	if out.User.ID != "u1" || out.User.Version != 4 {
		t.Errorf("answered user %+v, want the account checked", out.User)
	}
}
