package http

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/agendahq/agenda"
)

// With METRICS_TOKEN set, /metrics answers only a scrape that sends it as
// a bearer token: anyone else is refused with the API's 401 and told how
// to authenticate. Without one, /metrics is open, as it always was.
func TestMetricsToken(t *testing.T) {
	const token = "metrics-token-0123456789abcdef0123"
	registry := func() *prometheus.Registry {
		reg := prometheus.NewRegistry()
		reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "agenda_test_counter", Help: "A series to find."}))
		return reg
	}
	closed := (&Server{Metrics: NewMetrics(registry()), MetricsToken: token}).Handler()
	open := (&Server{Metrics: NewMetrics(registry())}).Handler()
	for _, tc := range []struct {
		name          string
		h             http.Handler
		authorization string
		status        int
	}{
		{"no token sent", closed, "", http.StatusUnauthorized},
		{"a wrong token", closed, "Bearer " + strings.Repeat("x", len(token)), http.StatusUnauthorized},
		{"a prefix of it", closed, "Bearer " + token[:len(token)-1], http.StatusUnauthorized},
		{"another scheme", closed, "Basic " + token, http.StatusUnauthorized},
		{"the token alone", closed, token, http.StatusUnauthorized},
		{"the token", closed, "Bearer " + token, http.StatusOK},
		{"the scheme in any case", closed, "bearer " + token, http.StatusOK},
		{"none configured", open, "", http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/metrics", nil)
			if tc.authorization != "" {
				req.Header.Set("Authorization", tc.authorization)
			}
			w := httptest.NewRecorder()
			tc.h.ServeHTTP(w, req)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d; body %s", w.Code, tc.status, w.Body)
			}
			if tc.status == http.StatusOK {
				if !strings.Contains(w.Body.String(), "agenda_test_counter 0") {
					t.Fatalf("no metrics in %q", w.Body)
				}
				return
			}
			var body struct {
				Error struct{ Code, Message string }
			}
			if json.Unmarshal(w.Body.Bytes(), &body) != nil || body.Error.Code != agenda.EUNAUTHORIZED || body.Error.Message == "" {
				t.Fatalf("body %s, want the API's unauthorized error", w.Body)
			}
			if got := w.Header().Get("WWW-Authenticate"); got != `Bearer realm="metrics"` {
				t.Fatalf("WWW-Authenticate = %q", got)
			}
			if strings.Contains(w.Body.String(), "agenda_") {
				t.Fatalf("a refusal carries metrics: %s", w.Body)
			}
		})
	}
}
