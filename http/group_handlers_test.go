package http

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/agendahq/agenda"
)

// busyQueries answers GroupBusy with err and every other query as
// fakeQueries does (so the caller's token is valid).
type busyQueries struct {
	fakeQueries
	err error
}

func (q *busyQueries) GroupBusy(context.Context, string, string, time.Time, time.Time) ([]agenda.Interval, error) {
	return nil, q.err
}

// TestFreeSlotsErrors checks that every refusal of a free-slots request is
// a clear JSON error, that an application error the query returns wrapped
// keeps its code and message (the handler once type-asserted its error,
// which a wrapped one would have turned into a panic), and that an internal
// one stays generic.
func TestFreeSlotsErrors(t *testing.T) {
	const window = "from=2026-06-01T00:00:00Z&to=2026-06-02T00:00:00Z"
	duration := map[string]any{"field": "duration"}
	tests := []struct {
		name     string
		query    string
		queryErr error
		status   int
		code     string
		message  string
		details  map[string]any
	}{
		{name: "no duration", query: window, status: 400, code: agenda.EINVALID,
			message: "duration is required, such as 45m or 1h30m", details: duration},
		{name: "not a duration", query: window + "&duration=soon", status: 400, code: agenda.EINVALID,
			message: "duration must be a duration such as 45m or 1h30m", details: duration},
		{name: "under a minute", query: window + "&duration=30s", status: 400, code: agenda.EINVALID,
			message: "duration must be at least 1m", details: duration},
		{name: "longer than an appointment", query: window + "&duration=745h", status: 400, code: agenda.EINVALID,
			message: "duration may be at most 744h (31 days)", details: duration},
		{name: "bad window before the duration", query: "from=x&to=y&duration=1h", status: 400, code: agenda.EINVALID},
		{name: "wrapped not found", query: window + "&duration=1h",
			queryErr: fmt.Errorf("read busy time of group g: %w", agenda.Errorf(agenda.ENOTFOUND, "group not found")),
			status:   404, code: agenda.ENOTFOUND, message: "group not found"},
		{name: "twice-wrapped invalid keeps its details", query: window + "&duration=1h",
			queryErr: fmt.Errorf("outer: %w", fmt.Errorf("inner: %w",
				agenda.Errorf(agenda.EINVALID, "bad window").WithDetails(map[string]any{"field": "to"}))),
			status: 400, code: agenda.EINVALID, message: "bad window", details: map[string]any{"field": "to"}},
		{name: "wrapped internal error stays generic", query: window + "&duration=1h",
			queryErr: fmt.Errorf("read busy time: %w", errors.New("disk I/O error at /var/lib/agenda")),
			status:   500, code: agenda.EINTERNAL, message: "internal error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newTestServer(t, &fakeCommands{}, &busyQueries{err: tc.queryErr})
			r := httptest.NewRequest(http.MethodGet, "/api/groups/g/free-slots?"+tc.query, nil)
			r.Header.Set("Authorization", bearer(t, s))
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, r)
			body := decodeError(t, rec, tc.status)
			if body.Error.Code != tc.code {
				t.Errorf("code = %q, want %q", body.Error.Code, tc.code)
			}
			if tc.message != "" && body.Error.Message != tc.message {
				t.Errorf("message = %q, want %q", body.Error.Message, tc.message)
			}
			if tc.details != nil && fmt.Sprint(body.Error.Details) != fmt.Sprint(tc.details) {
				t.Errorf("details = %v, want %v", body.Error.Details, tc.details)
			}
		})
	}
}

// TestFreeSlotsAnswers checks the good path beside the refusals: a valid
// request gets the window's free slots.
func TestFreeSlotsAnswers(t *testing.T) {
	s, _ := newTestServer(t, &fakeCommands{}, &fakeQueries{})
	r := httptest.NewRequest(http.MethodGet,
		"/api/groups/g/free-slots?from=2026-06-01T09:00:00Z&to=2026-06-01T10:00:00Z&duration=30m", nil)
	r.Header.Set("Authorization", bearer(t, s))
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, r)
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d, want 200; body %s", rec.Code, rec.Body)
	}
	if want := `[{"start":"2026-06-01T09:00:00Z","end":"2026-06-01T10:00:00Z"}]`; rec.Body.String() != want+"\n" && rec.Body.String() != want {
		t.Errorf("body = %s, want %s", rec.Body, want)
	}
}
