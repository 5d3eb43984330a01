package http

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

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

// uiAsset is one file of the web UI as it is served: its bytes and, where
// gzip makes them smaller, their gzip, each with a strong ETag of its own
// (a hash of the file, so that a new build's file has a new one).
type uiAsset struct {
	plain, gzipped []byte
	etag, gzipETag string
}

// uiAssets prepares every file of the web UI once, at the first request: a
// browser revalidates each at every load (Cache-Control: no-cache), and an
// outside review found every load fetching all of them again in full (no
// validator), uncompressed.
var uiAssets = sync.OnceValues(func() (map[string]*uiAsset, error) {
	sub, err := fs.Sub(uiFiles, "ui")
	if err != nil {
		return nil, err
	}
	assets := map[string]*uiAsset{}
	err = fs.WalkDir(sub, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(sub, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		tag := hex.EncodeToString(sum[:12])
		a := &uiAsset{plain: b, etag: strconv.Quote(tag)}
		var z bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
		if _, err := zw.Write(b); err != nil {
			return err
		}
		if err := zw.Close(); err != nil {
			return err
		}
		if z.Len() < len(b) {
			a.gzipped, a.gzipETag = z.Bytes(), strconv.Quote(tag+"-gz")
		}
		assets[name] = a
		return nil
	})
	return assets, err
})

// withUI serves the web UI under /ui/ and redirects / to it; every other
// path goes to api. Its errors are the API's: JSON, in the one vocabulary.
func (s *Server) withUI(api http.Handler) http.Handler {
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
		assets, err := uiAssets()
		if err != nil {
			s.Error(w, r, err)
			return
		}
		name := cmp.Or(strings.TrimPrefix(p, "/ui/"), "index.html")
		a, ok := assets[name]
		if !ok {
			s.Error(w, r, errNotFound("no such file in the web UI"))
			return
		}
		h := w.Header()
		body, etag := a.plain, a.etag
		if a.gzipped != nil {
			h.Add("Vary", "Accept-Encoding")
			if acceptsGzip(r) {
				body, etag = a.gzipped, a.gzipETag
				h.Set("Content-Encoding", "gzip")
			}
		}
		// net/http would answer a failed If-Match with an empty 412.
		if !ifMatches(r.Header.Get("If-Match"), etag) {
			h.Del("Content-Encoding")
			s.Error(w, r, agenda.Errorf(agenda.EPRECONDITIONFAILED, "the file has changed: its ETag is %s", etag))
			return
		}
		// A range is ignored, as RFC 9110 allows: the files are small, and
		// net/http refuses a range it cannot serve in plain text (416).
		if r.Header.Get("Range") != "" {
			r = r.Clone(r.Context())
			r.Header.Del("Range")
		}
		h.Set("Content-Security-Policy", uiPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", etag) // If-None-Match then answers 304 (http.ServeContent)
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(body))
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

// acceptsGzip reports whether the request's Accept-Encoding takes gzip:
// named, or through *, with a q above 0.
func acceptsGzip(r *http.Request) bool {
	gzipQ, anyQ := -1.0, -1.0
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, params, _ := strings.Cut(part, ";")
		q := 1.0
		if k, v, ok := strings.Cut(strings.TrimSpace(params), "="); ok && strings.EqualFold(strings.TrimSpace(k), "q") {
			if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
				q = f
			}
		}
		switch strings.ToLower(strings.TrimSpace(coding)) {
		case "gzip", "x-gzip":
			gzipQ = q
		case "*":
			anyQ = q
		}
	}
	if gzipQ >= 0 {
		return gzipQ > 0
	}
	return anyQ > 0
}

// ifMatches reports whether an If-Match header (absent, *, or a list of
// entity tags) matches etag, by strong comparison (RFC 9110, 13.1.1).
func ifMatches(header, etag string) bool {
	header = strings.TrimSpace(header)
	if header == "" || header == "*" {
		return true
	}
	for _, t := range strings.Split(header, ",") {
		if strings.TrimSpace(t) == etag {
			return true
		}
	}
	return false
}
