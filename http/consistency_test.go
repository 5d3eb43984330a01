package http

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/agendahq/agenda"
)

// fakeReads counts strong-read barriers and answers err.
type fakeReads struct {
	calls int
	err   error
}

func (f *fakeReads) ReadBarrier(context.Context) error { f.calls++; return f.err }

func TestConsistencyParameter(t *testing.T) {
	unavailable := agenda.Errorf(agenda.EUNAVAILABLE, "no leader")
	tests := []struct {
		name      string
		query     string
		header    string
		barrier   error
		status    int
		barriers  int
		retryHint bool
	}{
		{"default read", "", "", nil, http.StatusOK, 0, false},
		{"explicit default", "?consistency=default", "", nil, http.StatusOK, 0, false},
		{"strong by query", "?consistency=strong", "", nil, http.StatusOK, 1, false},
		{"strong by header", "", "strong", nil, http.StatusOK, 1, false},
		{"strong without a leader", "?consistency=strong", "", unavailable, http.StatusServiceUnavailable, 1, true},
		{"unknown value", "?consistency=eventual", "", nil, http.StatusBadRequest, 0, false},
		{"unknown header value", "", "STRONG", nil, http.StatusBadRequest, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newTestServer(t, &fakeCommands{}, &fakeQueries{})
			reads := &fakeReads{err: tt.barrier}
			s.Reads = reads
			req := httptest.NewRequest("GET", "/api/me"+tt.query, nil)
			req.Header.Set("Authorization", bearer(t, s))
			if tt.header != "" {
				req.Header.Set("X-Agenda-Consistency", tt.header)
			}
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.status, rec.Body)
			}
			if reads.calls != tt.barriers {
				t.Errorf("read barriers = %d, want %d", reads.calls, tt.barriers)
			}
			if got := rec.Header().Get("Retry-After") != ""; got != tt.retryHint {
				t.Errorf("Retry-After present = %v, want %v", got, tt.retryHint)
			}
		})
	}
}

// loggingOutQueries is a read model that does not show a logout yet: the
// token is current until the read model is waited on (a min_position, or
// a strong read's barrier), and logged out from then on.
type loggingOutQueries struct {
	fakeQueries
	caughtUp bool
}

func (q *loggingOutQueries) TokenState(context.Context, string, string) (agenda.TokenState, error) {
	return agenda.TokenState{Revoked: q.caughtUp}, nil
}
func (q *loggingOutQueries) WaitFor(context.Context, int64) error { q.caughtUp = true; return nil }

// barrierCatchesUp is a strong-read barrier that brings the read model up
// to the cluster's commit index: here, to the logout.
type barrierCatchesUp struct{ q *loggingOutQueries }

func (b barrierCatchesUp) ReadBarrier(context.Context) error { b.q.caughtUp = true; return nil }

// A token logged out (or ended by a password change) before a request that
// asks for strong consistency, or for a position past the logout, is
// refused: the token is checked again on the state the wait reached. A
// plain request is answered from the node's state, as Known limits says.
func TestWaitedRequestsCheckTheTokenAgain(t *testing.T) {
	for _, tc := range []struct {
		name, method, target string
		status               int
	}{
		{"plain read", "GET", "/api/me", http.StatusOK},
		{"strong read", "GET", "/api/me?consistency=strong", http.StatusUnauthorized},
		{"read at a position", "GET", "/api/me?min_position=1", http.StatusUnauthorized},
		{"strong write", "POST", "/api/appointments?consistency=strong", http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := &loggingOutQueries{}
			cmds := &fakeCommands{}
			s, _ := newTestServer(t, cmds, q)
			s.Reads = barrierCatchesUp{q}
			var body *strings.Reader
			if tc.method == "POST" {
				body = strings.NewReader(`{"title":"x","start":"2030-01-01T10:00:00Z","end":"2030-01-01T11:00:00Z"}`)
			} else {
				body = strings.NewReader("")
			}
			req := httptest.NewRequest(tc.method, tc.target, body)
			req.Header.Set("Authorization", bearer(t, s))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tc.status, rec.Body)
			}
			if tc.status == http.StatusUnauthorized && cmds.calls != 0 {
				t.Errorf("%d commands ran for a logged-out token", cmds.calls)
			}
		})
	}
}
