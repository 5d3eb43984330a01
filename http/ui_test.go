package http

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
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
		header       string // "Name: value", or none
		status       int
		code         string
	}{
		{"POST", "/ui/", "", http.StatusMethodNotAllowed, agenda.EMETHODNOTALLOWED},
		{"DELETE", "/ui/app.js", "", http.StatusMethodNotAllowed, agenda.EMETHODNOTALLOWED},
		{"GET", "/ui/nope.js", "", http.StatusNotFound, agenda.ENOTFOUND},
		{"GET", "/ui/nope/", "", http.StatusNotFound, agenda.ENOTFOUND},
		// net/http's own answers were an empty 412 (an attacker's review).
		{"GET", "/ui/app.js", `If-Match: "x"`, http.StatusPreconditionFailed, agenda.EPRECONDITIONFAILED},
	} {
		w := httptest.NewRecorder()
		req := httptest.NewRequest(tc.method, tc.path, nil)
		if name, value, ok := strings.Cut(tc.header, ": "); ok {
			req.Header.Set(name, value)
		}
		h.ServeHTTP(w, req)
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
	// A range is ignored, as RFC 9110 allows, rather than refused with
	// net/http's plain-text 416; If-Match: * matches a file that exists.
	full := httptest.NewRecorder()
	h.ServeHTTP(full, httptest.NewRequest("GET", "/ui/app.js", nil))
	for _, header := range []string{"Range: bytes=999999-", "Range: bytes=abc", "Range: bytes=0-9", "If-Match: *"} {
		w := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/ui/app.js", nil)
		name, value, _ := strings.Cut(header, ": ")
		req.Header.Set(name, value)
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK || w.Body.String() != full.Body.String() {
			t.Errorf("GET /ui/app.js with %s: %d, %d bytes; want 200 with the whole file (%d bytes)", header, w.Code, w.Body.Len(), full.Body.Len())
		}
	}
}

// TestUIServed: / and /ui redirect to /ui/; the UI's files come with a
// content security policy; anything else under /ui/ is a plain 404.
func TestUIServed(t *testing.T) {
	s, _ := newTestServer(t, &fakeCommands{}, &fakeQueries{})
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, p := range []string{"/", "/ui"} {
		resp, err := noFollow.Get(ts.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/ui/" {
			t.Errorf("GET %s: %d to %q, want 302 to /ui/", p, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	for path, ctype := range map[string]string{"/ui/": "text/html", "/ui/app.js": "text/javascript", "/ui/style.css": "text/css"} {
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), ctype) ||
			!strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'self'") {
			t.Errorf("GET %s: %d %q CSP %q", path, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Security-Policy"))
		}
	}
	if resp, _ := http.Get(ts.URL + "/ui/nope.js"); resp.StatusCode != 404 {
		t.Errorf("missing file: %d", resp.StatusCode)
	}
	if resp, _ := http.Post(ts.URL+"/ui/", "text/plain", nil); resp.StatusCode != 405 {
		t.Errorf("POST /ui/: %d", resp.StatusCode)
	}
	// The API is still the API.
	if resp, _ := http.Get(ts.URL + "/api/nope"); resp.StatusCode != 404 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("GET /api/nope: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

// TestUIFilesRevalidateAndCompress: each file of the UI carries a strong
// ETag, so that a browser's revalidation (Cache-Control: no-cache) is a
// 304, and comes gzipped to a client that takes it, with an ETag of its
// own. An outside review found every page load fetching all the modules
// again in full: no validator, nothing compressed.
func TestUIFilesRevalidateAndCompress(t *testing.T) {
	h := (&Server{Metrics: NewMetrics(prometheus.NewRegistry())}).Handler()
	file, err := uiFiles.ReadFile("ui/app.js")
	if err != nil {
		t.Fatal(err)
	}
	get := func(headers ...string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/ui/app.js", nil)
		for _, header := range headers {
			name, value, _ := strings.Cut(header, ": ")
			req.Header.Set(name, value)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	plain := get()
	etag := plain.Header().Get("ETag")
	if plain.Code != 200 || !bytes.Equal(plain.Body.Bytes(), file) || !strings.HasPrefix(etag, `"`) || plain.Header().Get("Content-Encoding") != "" {
		t.Fatalf("GET: %d, %d bytes, ETag %q, Content-Encoding %q; want the file, plain, with a strong ETag",
			plain.Code, plain.Body.Len(), etag, plain.Header().Get("Content-Encoding"))
	}
	if w := get("If-None-Match: " + etag); w.Code != http.StatusNotModified || w.Body.Len() != 0 {
		t.Errorf("revalidated with its ETag: %d, %d bytes; want 304, empty", w.Code, w.Body.Len())
	}
	for _, header := range []string{"If-Match: " + etag, `If-Match: "other", ` + etag} {
		if w := get(header); w.Code != 200 {
			t.Errorf("%s: %d, want 200", header, w.Code)
		}
	}
	zipped := get("Accept-Encoding: br, gzip")
	zetag := zipped.Header().Get("ETag")
	if zipped.Header().Get("Content-Encoding") != "gzip" || zetag == etag || zetag == "" ||
		!strings.Contains(zipped.Header().Get("Vary"), "Accept-Encoding") || zipped.Body.Len() >= len(file) {
		t.Fatalf("gzip asked: Content-Encoding %q, ETag %q (plain %q), Vary %q, %d bytes of %d",
			zipped.Header().Get("Content-Encoding"), zetag, etag, zipped.Header().Get("Vary"), zipped.Body.Len(), len(file))
	}
	zr, err := gzip.NewReader(zipped.Body)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(zr); err != nil || !bytes.Equal(got, file) {
		t.Fatalf("the gzipped body is not the file: %d bytes, %v", len(got), err)
	}
	if w := get("Accept-Encoding: gzip", "If-None-Match: "+zetag); w.Code != http.StatusNotModified {
		t.Errorf("revalidated gzipped: %d, want 304", w.Code)
	}
	for _, ae := range []string{"gzip;q=0", "identity", "br", "*;q=0"} {
		if w := get("Accept-Encoding: " + ae); w.Header().Get("Content-Encoding") != "" || !bytes.Equal(w.Body.Bytes(), file) {
			t.Errorf("Accept-Encoding %q: answered %q", ae, w.Header().Get("Content-Encoding"))
		}
	}
	if w := get("Accept-Encoding: *"); w.Header().Get("Content-Encoding") != "gzip" {
		t.Errorf("Accept-Encoding *: answered %q, want gzip", w.Header().Get("Content-Encoding"))
	}
}
