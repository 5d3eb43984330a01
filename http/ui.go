package http

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"

	"github.com/agendahq/agenda"
)

// uiFiles is the web UI: plain HTML, CSS and JavaScript modules, served as
// they are (no build step).
//
//go:embed ui
var uiFiles embed.FS

// uiPolicy keeps the UI to its own files: no inline script, no third-party
// origin; the live stream connects back to the same host.
const uiPolicy = "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; " +
	"style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// withUI serves the web UI under /ui/ and redirects / to it; every other
// path goes to api. Its errors are the API's: JSON, in the one vocabulary.
func (s *Server) withUI(api http.Handler) http.Handler {
	sub, err := fs.Sub(uiFiles, "ui")
	if err != nil {
		panic(err) // the embedded tree always has ui/
	}
	files := http.StripPrefix("/ui/", http.FileServerFS(sub))
	// Its answers are bounded as the API's are (answer_gate.go).
	ui := s.gateAnswers(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			s.Error(w, r, agenda.Errorf(agenda.EMETHODNOTALLOWED, "%s is not allowed here; use GET", r.Method))
			return
		}
		if p == "/" || p == "/ui" {
			http.Redirect(w, r, "/ui/", http.StatusFound)
			return
		}
		if name := strings.TrimPrefix(p, "/ui/"); name != "" {
			if fi, err := fs.Stat(sub, name); err != nil || fi.IsDir() {
				s.Error(w, r, errNotFound("no such file in the web UI"))
				return
			}
		}
		// The files carry no ETag (embedded, they have no time either), so
		// only If-Match: * matches; net/http would answer an empty 412.
		if im := strings.TrimSpace(r.Header.Get("If-Match")); im != "" && im != "*" {
			s.Error(w, r, agenda.Errorf(agenda.EPRECONDITIONFAILED, "the web UI's files carry no ETag: only If-Match: * matches"))
			return
		}
		// A range is ignored, as RFC 9110 allows: the files are small, and
		// net/http refuses a range it cannot serve in plain text (416).
		if r.Header.Get("Range") != "" {
			r = r.Clone(r.Context())
			r.Header.Del("Range")
		}
		h := w.Header()
		h.Set("Content-Security-Policy", uiPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if p != "/" && p != "/ui" && !strings.HasPrefix(p, "/ui/") {
			api.ServeHTTP(w, r)
			return
		}
		ui.ServeHTTP(w, r)
	})
}
