package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// ---------------------------------------------------------------------------
// Assertions and helpers shared by the end-to-end tests.

// withT returns a copy of c that reports to t, for use inside subtests (a
// subtest must not call FailNow on its parent's T).
func (c *client) withT(t testing.TB) *client {
	cp := *c
	cp.t = t
	return &cp
}

// send is the goroutine-safe counterpart of client.do: it never touches the
// test and returns the transport error instead. Concurrency tests use it.
func (c *client) send(method, path string, v any) (*response, error) {
	return c.sendHeaders(method, path, v, nil)
}

// sendHeaders is send with extra request headers.
func (c *client) sendHeaders(method, path string, v any, hdr map[string]string) (*response, error) {
	var body io.Reader
	if v != nil {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	if v != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for k, val := range hdr {
		req.Header.Set(k, val)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: read body: %w", method, path, err)
	}
	return &response{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// apiError is the contract's error body.
type apiError struct {
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details"`
}

// expectError fails the test unless r is a JSON error with the given status
// and code, shaped {"error":{"code","message"[,"details"]}}.
func expectError(t testing.TB, r *response, status int, code string) apiError {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d; body: %s", r.Status, status, r.Body)
	}
	e := expectErrorShape(t, r)
	if e.Code != code {
		t.Fatalf("error code = %q, want %q; body: %s", e.Code, code, r.Body)
	}
	return e
}

// expectErrorShape fails the test unless r is a JSON error body of the
// contract's shape, and returns it.
func expectErrorShape(t testing.TB, r *response) apiError {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type = %q, want application/json; status %d, body: %q", ct, r.Status, r.Body)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(r.Body, &raw); err != nil {
		t.Fatalf("error body is not a JSON object: %v; body: %q", err, r.Body)
	}
	if keys := sortedKeys(raw); !slices.Equal(keys, []string{"error"}) {
		t.Fatalf("error body has keys %v, want [error]; body: %s", keys, r.Body)
	}
	var inner map[string]json.RawMessage
	if err := json.Unmarshal(raw["error"], &inner); err != nil {
		t.Fatalf(`"error" is not an object: %v; body: %s`, err, r.Body)
	}
	for _, k := range sortedKeys(inner) {
		if k != "code" && k != "message" && k != "details" {
			t.Fatalf("error object has unexpected key %q; body: %s", k, r.Body)
		}
	}
	var e struct {
		Error apiError `json:"error"`
	}
	if err := json.Unmarshal(r.Body, &e); err != nil {
		t.Fatalf("decode error body: %v; body: %s", err, r.Body)
	}
	if e.Error.Code == "" || strings.TrimSpace(e.Error.Message) == "" {
		t.Fatalf("error body needs a code and a message; body: %s", r.Body)
	}
	if r.Status >= 500 && r.Status != http.StatusServiceUnavailable {
		t.Fatalf("server error %d; body: %s", r.Status, r.Body)
	}
	return e.Error
}

// expectField fails the test unless the error's details name field.
func expectField(t testing.TB, e apiError, field string) {
	t.Helper()
	if got, _ := e.Details["field"].(string); got != field {
		t.Fatalf("details.field = %q, want %q (error %+v)", got, field, e)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// expectKeys fails the test unless body is a JSON object with exactly the
// given keys (so nothing is missing and nothing leaks, e.g. a password hash).
func expectKeys(t testing.TB, body []byte, want ...string) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v; body: %s", err, body)
	}
	want = slices.Clone(want)
	slices.Sort(want)
	if got := sortedKeys(m); !slices.Equal(got, want) {
		t.Fatalf("keys = %v, want %v; body: %s", got, want, body)
	}
	return m
}

// rawString returns the JSON string m[key] as sent (to check time formats).
func rawString(t testing.TB, m map[string]json.RawMessage, key string) string {
	t.Helper()
	var s string
	if err := json.Unmarshal(m[key], &s); err != nil {
		t.Fatalf("%s = %s, want a JSON string", key, m[key])
	}
	return s
}

// positionOf returns the X-Agenda-Position of r, which must be an integer > 0.
func positionOf(t testing.TB, r *response) int64 {
	t.Helper()
	raw := r.Header.Get("X-Agenda-Position")
	p, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || p <= 0 {
		t.Fatalf("X-Agenda-Position = %q, want an integer > 0 (status %d)", raw, r.Status)
	}
	return p
}

// expectETag fails the test unless r carries ETag: "<version>".
func expectETag(t testing.TB, r *response, version int64) {
	t.Helper()
	if got, want := r.Header.Get("ETag"), fmt.Sprintf(`"%d"`, version); got != want {
		t.Fatalf("ETag = %s, want %s", got, want)
	}
}

// nodeTrace is what a request that fails must leave untouched: the event
// store's head and the read model's position.
type nodeTrace struct {
	Head     int64 `json:"head"`
	Position int64 `json:"position"`
}

// traceOf reads the node's event store head and read-model position from
// /readyz.
func traceOf(t testing.TB, n *Node) nodeTrace {
	t.Helper()
	var tr nodeTrace
	newClient(t, n).do("GET", "/readyz", nil).expect(t, http.StatusOK).JSON(t, &tr)
	return tr
}

// expectNoTrace fails the test if the node's log moved since before.
func expectNoTrace(t testing.TB, n *Node, before nodeTrace) {
	t.Helper()
	if after := traceOf(t, n); after != before {
		t.Fatalf("the request left a trace: event store head/read model position %d/%d, was %d/%d",
			after.Head, after.Position, before.Head, before.Position)
	}
}

// ---------------------------------------------------------------------------
// User resources.

// apiUser is the contract's User.
type apiUser struct {
	ID          string    `json:"id"`
	Username    string    `json:"username"`
	DisplayName string    `json:"display_name"`
	Email       string    `json:"email"`
	CreatedAt   time.Time `json:"created_at"`
	Version     int64     `json:"version"`
	OriginNode  string    `json:"origin_node"`
}

var userKeys = []string{"id", "username", "display_name", "email", "created_at", "version", "origin_node"}

// decodeUser checks that r's body has exactly the User shape and decodes it.
func decodeUser(t testing.TB, r *response) apiUser {
	t.Helper()
	m := expectKeys(t, r.Body, userKeys...)
	if s := rawString(t, m, "created_at"); !strings.HasSuffix(s, "Z") {
		t.Fatalf("created_at = %q, want UTC (ending in Z)", s)
	}
	var u apiUser
	r.JSON(t, &u)
	if u.OriginNode == "" {
		t.Fatalf("origin_node is empty; body: %s", r.Body)
	}
	if _, err := uuid.Parse(u.ID); err != nil {
		t.Fatalf("id = %q, want a UUID", u.ID)
	}
	return u
}

// me returns the caller's profile.
func (c *client) me() apiUser {
	c.t.Helper()
	return decodeUser(c.t, c.do("GET", "/api/me", nil).expect(c.t, http.StatusOK))
}

// tryLogin returns the status of a login attempt.
func tryLogin(t testing.TB, n *Node, username, password string) *response {
	t.Helper()
	return newClient(t, n).do("POST", "/api/auth/login", map[string]any{"username": username, "password": password})
}
