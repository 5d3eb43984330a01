package http

import (
	"encoding/json"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
)

// TestOpenAPIMatchesRoutes keeps the OpenAPI document in step with the
// router: every route is documented with its method, and nothing documented
// is missing from the router.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" {
				continue
			}
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	s := &Server{Metrics: NewMetrics(prometheus.NewRegistry())}
	routed := map[string]bool{}
	err := chi.Walk(s.router(), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		route = strings.TrimSuffix(regexp.MustCompile(`/\*$`).ReplaceAllString(route, ""), "/")
		routed[method+" "+route] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var missing, extra []string
	for r := range routed {
		if !documented[r] {
			missing = append(missing, r)
		}
	}
	for d := range documented {
		if !routed[d] {
			extra = append(extra, d)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		t.Errorf("routes missing from openapi.json:\n\t%s", strings.Join(missing, "\n\t"))
	}
	if len(extra) > 0 {
		t.Errorf("openapi.json documents routes the server lacks:\n\t%s", strings.Join(extra, "\n\t"))
	}
}

// singleResourceWrite reports whether a route writes one resource that
// carries a version, and so takes If-Match (API.md, Conventions): every
// PATCH, PUT and DELETE, and the answers to invitations. The other POSTs
// create in a collection, or change what If-Match does not guard (a
// notification's read mark, a token, a projection).
func singleResourceWrite(method, path string) bool {
	switch method {
	case "PATCH", "PUT", "DELETE":
		return true
	case "POST":
		return strings.HasSuffix(path, "/accept") || strings.HasSuffix(path, "/decline")
	}
	return false
}

// TestEveryWriteToOneResourceDocumentsIfMatch: the contract says writes to
// a single resource accept If-Match. An attacker's review found accept and
// decline ignoring it; cmd/agenda's TestE2EEveryWriteToOneResourceHonoursIfMatch
// sends a stale tag to each of these routes.
func TestEveryWriteToOneResourceDocumentsIfMatch(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	n := 0
	for path, ops := range doc.Paths {
		for method, raw := range ops {
			if method == "parameters" || !singleResourceWrite(strings.ToUpper(method), path) {
				continue
			}
			var op struct {
				Parameters []struct {
					Ref string `json:"$ref"`
				} `json:"parameters"`
				Responses map[string]json.RawMessage `json:"responses"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			n++
			takes := false
			for _, p := range op.Parameters {
				takes = takes || p.Ref == "#/components/parameters/IfMatch"
			}
			if _, ok := op.Responses["412"]; !ok || !takes {
				t.Errorf("%s %s: If-Match parameter %v, 412 documented %v; want both", strings.ToUpper(method), path, takes, ok)
			}
		}
	}
	if n < 11 {
		t.Errorf("found %d writes to one resource, want at least 11", n)
	}
}
