package http

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/agendahq/agenda"
	"github.com/prometheus/client_golang/prometheus"
)

// TestUIHasATextForEveryNotification: the web UI showed a notification type
// it did not know (group_invitation_declined) as "Something changed".
func TestUIHasATextForEveryNotification(t *testing.T) {
	app, err := uiFiles.ReadFile("ui/app.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range agenda.NotificationTypes {
		if !strings.Contains(string(app), "case '"+typ+"':") {
			t.Errorf("ui/app.js has no text for notifications of type %q", typ)
		}
	}
}

// TestUIKnowsTheTopRank: the UI bounds the ranks one may give, and tells
// a creator's heir apart, by the domain's top rank.
func TestUIKnowsTheTopRank(t *testing.T) {
	groups, err := uiFiles.ReadFile("ui/groups.js")
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("export const TOP_RANK = %d;", agenda.MaxRank); !strings.Contains(string(groups), want) {
		t.Errorf("ui/groups.js does not say %q", want)
	}
}

// TestUIErrorsAreTheAPIs: under /ui/ too, an error is the contract's JSON
// body in the one vocabulary (a newcomer's walk-through found text/plain
// 404 and 405 answers there).
func TestUIErrorsAreTheAPIs(t *testing.T) {
	h := (&Server{Metrics: NewMetrics(prometheus.NewRegistry())}).Handler()
	for _, tc := range []struct {
		method, path string
		status       int
		code         string
	}{
		{"POST", "/ui/", http.StatusMethodNotAllowed, agenda.EMETHODNOTALLOWED},
		{"DELETE", "/ui/app.js", http.StatusMethodNotAllowed, agenda.EMETHODNOTALLOWED},
		{"GET", "/ui/nope.js", http.StatusNotFound, agenda.ENOTFOUND},
		{"GET", "/ui/nope/", http.StatusNotFound, agenda.ENOTFOUND},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(tc.method, tc.path, nil))
		var body struct {
			Error struct{ Code, Message string }
		}
		if w.Code != tc.status || json.Unmarshal(w.Body.Bytes(), &body) != nil || body.Error.Code != tc.code || body.Error.Message == "" {
			t.Errorf("%s %s: %d %q, want %d with a JSON %s error", tc.method, tc.path, w.Code, w.Body.String(), tc.status, tc.code)
		}
	}
	for _, path := range []string{"/ui/", "/ui/app.js", "/ui/style.css"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		if w.Code != http.StatusOK {
			t.Errorf("GET %s: %d, want 200", path, w.Code)
		}
	}
}
