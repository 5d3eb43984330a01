package http

import (
	"context"
	"net/http"
	"net/http/httptest"
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
