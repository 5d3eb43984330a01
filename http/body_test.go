package http

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/agendahq/agenda/commands"
)

// TestWritesWithoutABodyRefuseOne: every write the OpenAPI document gives no
// request body, or only an optional empty one, refuses a body with 400
// invalid and changes nothing, as unknown JSON fields are refused
// everywhere else (API.md). The routes come from the document, so a write
// added later is checked too. (DELETE handlers once ignored their bodies.)
func TestWritesWithoutABodyRefuseOne(t *testing.T) {
	checked := 0
	for _, op := range openAPIOperations(t) {
		if op.method == http.MethodGet || op.RequestBody != nil && op.RequestBody.Required {
			continue
		}
		method, path := op.method, op.path
		t.Run(method+" "+path, func(t *testing.T) {
			cmds := &fakeCommands{}
			s, _ := newTestServer(t, cmds, &fakeQueries{})
			s.AuditToken = "audit-token"
			admin := &fakeAdmin{}
			s.Admin = admin
			r := httptest.NewRequest(method, concretePath(path), strings.NewReader(`{"bogus":true}`))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("Authorization", bearer(t, s))
			r.Header.Set("X-Audit-Token", s.AuditToken)
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, r)
			if body := decodeError(t, rec, http.StatusBadRequest); body.Error.Code != "invalid" {
				t.Errorf("code = %q, want invalid", body.Error.Code)
			}
			if cmds.calls != 0 || admin.rebuilds != 0 {
				t.Errorf("%d commands and %d rebuilds ran; a refused request must change nothing", cmds.calls, admin.rebuilds)
			}
		})
		checked++
	}
	if checked == 0 {
		t.Fatal("no write without a request body in openapi.json: the test checks nothing")
	}
}

// fakeAdmin has no projections and counts the rebuilds it is asked for.
type fakeAdmin struct{ rebuilds int }

func (a *fakeAdmin) Projections() []ProjectionStatus { return nil }
func (a *fakeAdmin) StartRebuild(string) (RebuildStatus, error) {
	a.rebuilds++
	return RebuildStatus{}, nil
}

// TestResourceWritesHonourIfMatch: every PATCH and DELETE of the OpenAPI
// document writes one resource, so it declares If-Match and reads it: a
// malformed one is 400 invalid before anything runs, and a well-formed one
// reaches the command. (Member PATCH and DELETE once ignored it.) That a
// stale one is 412 is each command's test.
func TestResourceWritesHonourIfMatch(t *testing.T) {
	checked := 0
	for _, op := range openAPIOperations(t) {
		if op.method != http.MethodPatch && op.method != http.MethodDelete {
			continue
		}
		method, path := op.method, op.path
		if !strings.Contains(string(op.raw), `"#/components/parameters/IfMatch"`) {
			t.Errorf("%s %s: openapi.json does not declare If-Match", method, path)
		}
		t.Run(method+" "+path, func(t *testing.T) {
			cmds := &fakeCommands{}
			s, _ := newTestServer(t, cmds, &fakeQueries{})
			body, ok := patchBodies[path]
			if method == http.MethodPatch && !ok {
				t.Fatalf("no valid body for PATCH %s in patchBodies: add one", path)
			}
			if method != http.MethodPatch {
				body = ""
			}
			r := httptest.NewRequest(method, concretePath(path), strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("Authorization", bearer(t, s))
			r.Header.Set("If-Match", "garbage!!")
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, r)
			got := decodeError(t, rec, http.StatusBadRequest)
			if got.Error.Code != "invalid" || !strings.Contains(got.Error.Message, "If-Match") {
				t.Errorf("error = %s %q, want invalid about If-Match", got.Error.Code, got.Error.Message)
			}
			if cmds.calls != 0 {
				t.Errorf("%d commands ran; a refused request must change nothing", cmds.calls)
			}

			r = httptest.NewRequest(method, concretePath(path), strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("Authorization", bearer(t, s))
			r.Header.Set("If-Match", `"7"`)
			rec = httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, r)
			if cmds.calls != 1 || !reflect.DeepEqual(cmds.ifMatch, commands.Versions(7)) {
				t.Errorf(`If-Match "7": %d commands ran, with IfMatch %+v; want one, with 7 (status %d, %s)`, cmds.calls, cmds.ifMatch, rec.Code, rec.Body)
			}
		})
		checked++
	}
	if checked == 0 {
		t.Fatal("no PATCH or DELETE in openapi.json: the test checks nothing")
	}
}

// patchBodies holds a valid body for each PATCH route, so that only the
// If-Match header can be what a request is refused for.
var patchBodies = map[string]string{
	"/api/appointments/{id}":             `{"title":"x"}`,
	"/api/groups/{id}":                   `{"name":"x"}`,
	"/api/groups/{id}/members/{user_id}": `{"rank":1}`,
	"/api/me":                            `{"display_name":"x"}`,
}

// operation is one method on one path of the OpenAPI document.
type operation struct {
	method, path string
	raw          json.RawMessage
	RequestBody  *struct {
		Required bool `json:"required"`
	} `json:"requestBody"`
}

// openAPIOperations returns every operation of openapi.json, so that a
// sweep over them covers a route added later.
func openAPIOperations(t *testing.T) []operation {
	t.Helper()
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	var ops []operation
	for path, methods := range doc.Paths {
		for method, raw := range methods {
			if method == "parameters" {
				continue
			}
			op := operation{method: strings.ToUpper(method), path: path, raw: raw}
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("%s %s: %v", op.method, path, err)
			}
			ops = append(ops, op)
		}
	}
	return ops
}

// concretePath fills a documented path's parameters ({id}) with "x".
func concretePath(path string) string { return pathParam.ReplaceAllString(path, "x") }

var pathParam = regexp.MustCompile(`\{[^}]+\}`)
