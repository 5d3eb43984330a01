package main

// End-to-end tests of accounts: registration, login, profile, password and
// user search, through the whole node (HTTP → command → Raft → event store
// → projector → read model → HTTP).
//
// The helpers the *_e2e_test.go files share are in assert_test.go.

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// ---------------------------------------------------------------------------
// Tests.

func TestE2EUserRegister(t *testing.T) {
	t.Parallel()
	n := mustStartNode(t)
	tests := []struct {
		name            string
		body            map[string]any
		wantDisplayName string
		wantEmail       string
	}{
		{
			name:            "display name defaults to username",
			body:            map[string]any{"username": "ana", "password": "password-ana"},
			wantDisplayName: "ana",
		},
		{
			name:            "display name and email given",
			body:            map[string]any{"username": "bob", "password": "password-bob", "display_name": "Bob Builder", "email": "bob@example.com"},
			wantDisplayName: "Bob Builder",
			wantEmail:       "bob@example.com",
		},
		{
			name:            "every allowed username character",
			body:            map[string]any{"username": "a_b.c-9", "password": "password-abc"},
			wantDisplayName: "a_b.c-9",
		},
		{
			name:            "32-character username and unicode display name",
			body:            map[string]any{"username": strings.Repeat("x", 32), "password": "ünïcödé-pässwörd", "display_name": "Zoë Ünïcode 日本"},
			wantDisplayName: "Zoë Ünïcode 日本",
		},
		{
			name:            "3-character username and 8-character password",
			body:            map[string]any{"username": "cat", "password": "12345678"},
			wantDisplayName: "cat",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := time.Now().Add(-time.Second)
			r := newClient(t, n).do("POST", "/api/auth/register", tc.body).expect(t, http.StatusCreated)
			pos := positionOf(t, r)
			expectETag(t, r, 1)
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Fatalf("Content-Type = %q, want application/json", ct)
			}
			u := decodeUser(t, r)
			if got, want := u.Username, tc.body["username"]; got != want {
				t.Errorf("username = %q, want %q", got, want)
			}
			if u.DisplayName != tc.wantDisplayName {
				t.Errorf("display_name = %q, want %q", u.DisplayName, tc.wantDisplayName)
			}
			if u.Email != tc.wantEmail {
				t.Errorf("email = %q, want %q", u.Email, tc.wantEmail)
			}
			if u.Version != 1 {
				t.Errorf("version = %d, want 1", u.Version)
			}
			if u.OriginNode != n.Config.NodeID {
				t.Errorf("origin_node = %q, want %q", u.OriginNode, n.Config.NodeID)
			}
			if u.CreatedAt.Before(before) || u.CreatedAt.After(time.Now().Add(time.Second)) {
				t.Errorf("created_at = %v, want about now", u.CreatedAt)
			}
			if tr := traceOf(t, n); tr.Head < pos {
				t.Errorf("event store head %d is behind the write's position %d", tr.Head, pos)
			}

			// The new account can log in and sees the same record.
			c := newClient(t, n)
			c.login(u.Username, tc.body["password"].(string))
			if c.userID != u.ID {
				t.Fatalf("login user id = %q, want %q", c.userID, u.ID)
			}
			if got := c.me(); got != u {
				t.Fatalf("GET /api/me = %+v, want %+v", got, u)
			}
		})
	}
}

func TestE2EUserRegisterDuplicate(t *testing.T) {
	t.Parallel()
	n := mustStartNode(t)
	registerUser(t, n, "ana")
	tests := []struct {
		name string
		body map[string]any
	}{
		{"same username and password", map[string]any{"username": "ana", "password": "password-ana"}},
		{"same username, other password and profile", map[string]any{"username": "ana", "password": "another-password", "display_name": "Other Ana", "email": "x@example.com"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := traceOf(t, n)
			r := newClient(t, n).do("POST", "/api/auth/register", tc.body)
			expectError(t, r, http.StatusConflict, "conflict")
			expectNoTrace(t, n, before)
		})
	}
	// The original password still works; the second one never did.
	tryLogin(t, n, "ana", "password-ana").expect(t, http.StatusOK)
	expectError(t, tryLogin(t, n, "ana", "another-password"), http.StatusUnauthorized, "unauthorized")
}

func TestE2ELogin(t *testing.T) {
	t.Parallel()
	n := mustStartNode(t)
	ana := registerUser(t, n, "ana")

	t.Run("right credentials", func(t *testing.T) {
		r := tryLogin(t, n, "ana", "password-ana").expect(t, http.StatusOK)
		m := expectKeys(t, r.Body, "token", "expires_at", "user")
		var out struct {
			Token     string    `json:"token"`
			ExpiresAt time.Time `json:"expires_at"`
		}
		r.JSON(t, &out)
		if strings.Count(out.Token, ".") != 2 {
			t.Errorf("token = %q, want a JWT", out.Token)
		}
		// testConfig issues tokens for an hour.
		if d := time.Until(out.ExpiresAt); d < 50*time.Minute || d > 61*time.Minute {
			t.Errorf("expires_at = %v (in %v), want in about an hour", out.ExpiresAt, d)
		}
		if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control = %q, want no-store", cc)
		}
		u := decodeUser(t, &response{Status: r.Status, Header: r.Header, Body: m["user"]})
		if u.ID != ana.userID || u.Username != "ana" {
			t.Errorf("user = %+v, want ana (%s)", u, ana.userID)
		}
		// The token works.
		c := newClient(t, n)
		c.token = out.Token
		if got := c.me(); got.ID != ana.userID {
			t.Errorf("GET /api/me with the new token: id = %q, want %q", got.ID, ana.userID)
		}
	})

	t.Run("username in another case", func(t *testing.T) {
		var out struct {
			User struct {
				ID       string `json:"id"`
				Username string `json:"username"`
			} `json:"user"`
		}
		tryLogin(t, n, "ANA", "password-ana").expect(t, http.StatusOK).JSON(t, &out)
		if out.User.ID != ana.userID || out.User.Username != "ana" {
			t.Errorf("ANA logged in as %+v, want ana (%s)", out.User, ana.userID)
		}
	})

	failures := []struct {
		name, username, password string
	}{
		{"wrong password", "ana", "password-bob"},
		{"unknown user", "nobody", "password-ana"},
		// Capitals fold (usernames are lower case), look-alikes do not.
		{"username with a look-alike capital", "\u0391NA", "password-ana"},
		{"empty password", "ana", ""},
		{"empty username", "", "password-ana"},
		{"password with a trailing space", "ana", "password-ana "},
	}
	var messages []string
	for _, tc := range failures {
		t.Run(tc.name, func(t *testing.T) {
			r := tryLogin(t, n, tc.username, tc.password)
			e := expectError(t, r, http.StatusUnauthorized, "unauthorized")
			if strings.Contains(r.Header.Get("Cache-Control"), "public") {
				t.Errorf("a failed login may not be cached publicly")
			}
			messages = append(messages, e.Message)
		})
	}
	t.Run("same message whether or not the user exists", func(t *testing.T) {
		for i, m := range messages {
			if m != messages[0] {
				t.Fatalf("message of %q = %q, want %q (as for %q)", failures[i].name, m, messages[0], failures[0].name)
			}
		}
	})
}

func TestE2EMe(t *testing.T) {
	t.Parallel()
	n := mustStartNode(t)
	ana := registerUser(t, n, "ana")
	bob := registerUser(t, n, "bob")
	tests := []struct {
		name string
		c    *client
		want string
	}{
		{"ana sees herself", ana, "ana"},
		{"bob sees himself", bob, "bob"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.c.withT(t).do("GET", "/api/me", nil).expect(t, http.StatusOK)
			expectETag(t, r, 1)
			if p := r.Header.Get("X-Agenda-Position"); p == "" {
				t.Errorf("a read should carry X-Agenda-Position")
			}
			u := decodeUser(t, r)
			if u.Username != tc.want || u.ID != tc.c.userID || u.Version != 1 {
				t.Fatalf("GET /api/me = %+v, want %s (%s) at version 1", u, tc.want, tc.c.userID)
			}
		})
	}
}

func TestE2EProfilePatch(t *testing.T) {
	t.Parallel()
	n := mustStartNode(t)
	ana := registerUser(t, n, "ana")
	registerUser(t, n, "bob")

	// The steps run in order, each on the state the previous ones left.
	steps := []struct {
		name        string
		body        any
		ifMatch     string
		wantStatus  int
		wantCode    string
		wantVersion int64 // after the step
		wantName    string
		wantEmail   string
	}{
		{name: "change display name", body: map[string]any{"display_name": "Ana Lovelace"},
			wantStatus: 200, wantVersion: 2, wantName: "Ana Lovelace"},
		{name: "change email keeps display name", body: map[string]any{"email": "ana@example.com"},
			wantStatus: 200, wantVersion: 3, wantName: "Ana Lovelace", wantEmail: "ana@example.com"},
		{name: "stale If-Match changes nothing", body: map[string]any{"display_name": "Stale"}, ifMatch: `"1"`,
			wantStatus: 412, wantCode: "precondition_failed", wantVersion: 3, wantName: "Ana Lovelace", wantEmail: "ana@example.com"},
		{name: "future If-Match changes nothing", body: map[string]any{"display_name": "Future"}, ifMatch: `"4"`,
			wantStatus: 412, wantCode: "precondition_failed", wantVersion: 3, wantName: "Ana Lovelace", wantEmail: "ana@example.com"},
		{name: "current If-Match", body: map[string]any{"display_name": "Ana L.", "email": "ana@lovelace.org"}, ifMatch: `"3"`,
			wantStatus: 200, wantVersion: 4, wantName: "Ana L.", wantEmail: "ana@lovelace.org"},
		{name: "unquoted current If-Match", body: map[string]any{"display_name": "Ana"}, ifMatch: `4`,
			wantStatus: 200, wantVersion: 5, wantName: "Ana", wantEmail: "ana@lovelace.org"},
		{name: "clear email", body: map[string]any{"email": ""},
			wantStatus: 200, wantVersion: 6, wantName: "Ana"},
		// The values it holds already: nothing to write, and the ETag
		// other clients hold stays good.
		{name: "same values make no new version", body: map[string]any{"display_name": "Ana"},
			wantStatus: 200, wantVersion: 6, wantName: "Ana"},
		{name: "same values with the current If-Match", body: map[string]any{"display_name": "Ana", "email": ""}, ifMatch: `"6"`,
			wantStatus: 200, wantVersion: 6, wantName: "Ana"},
		{name: "same values with a stale If-Match are still refused", body: map[string]any{"display_name": "Ana"}, ifMatch: `"5"`,
			wantStatus: 412, wantCode: "precondition_failed", wantVersion: 6, wantName: "Ana"},
		{name: "empty display name is invalid", body: map[string]any{"display_name": ""},
			wantStatus: 400, wantCode: "invalid", wantVersion: 6, wantName: "Ana"},
		{name: "nothing to change is invalid", body: map[string]any{},
			wantStatus: 400, wantCode: "invalid", wantVersion: 6, wantName: "Ana"},
		{name: "username cannot be changed", body: map[string]any{"username": "root"},
			wantStatus: 400, wantCode: "invalid", wantVersion: 6, wantName: "Ana"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			c := ana.withT(t)
			hdr := map[string]string{"Content-Type": "application/json"}
			if st.ifMatch != "" {
				hdr["If-Match"] = st.ifMatch
			}
			body, _ := json.Marshal(st.body)
			before := traceOf(t, n)
			r := c.raw("PATCH", "/api/me", body, hdr)
			if st.wantCode != "" {
				expectError(t, r, st.wantStatus, st.wantCode)
				expectNoTrace(t, n, before)
			} else {
				r.expect(t, st.wantStatus)
				positionOf(t, r)
				expectETag(t, r, st.wantVersion)
				if got := decodeUser(t, r); got.Version != st.wantVersion {
					t.Fatalf("response version = %d, want %d", got.Version, st.wantVersion)
				}
			}
			u := c.me()
			if u.Version != st.wantVersion || u.DisplayName != st.wantName || u.Email != st.wantEmail {
				t.Fatalf("after the step GET /api/me = {version %d, display_name %q, email %q}, want {%d, %q, %q}",
					u.Version, u.DisplayName, u.Email, st.wantVersion, st.wantName, st.wantEmail)
			}
			if u.Username != "ana" {
				t.Fatalf("username = %q, want ana", u.Username)
			}
		})
	}
}

func TestE2EPasswordChange(t *testing.T) {
	t.Parallel()
	n := mustStartNode(t)
	ana := registerUser(t, n, "ana")

	steps := []struct {
		name       string
		body       map[string]any
		wantStatus int
		wantCode   string
		wantField  string
		// After the step, these passwords must log in / must not.
		loginOK, loginFails []string
	}{
		{name: "wrong current password is forbidden",
			body:       map[string]any{"current_password": "not-my-password", "new_password": "brand-new-password"},
			wantStatus: 403, wantCode: "forbidden", wantField: "current_password",
			loginOK: []string{"password-ana"}, loginFails: []string{"brand-new-password"}},
		{name: "weak new password is invalid",
			body:       map[string]any{"current_password": "password-ana", "new_password": "short"},
			wantStatus: 400, wantCode: "invalid", wantField: "new_password",
			loginOK: []string{"password-ana"}, loginFails: []string{"short"}},
		{name: "new password over 72 bytes is invalid",
			body:       map[string]any{"current_password": "password-ana", "new_password": strings.Repeat("p", 73)},
			wantStatus: 400, wantCode: "invalid", wantField: "new_password",
			loginOK: []string{"password-ana"}},
		{name: "missing new password is invalid",
			body:       map[string]any{"current_password": "password-ana"},
			wantStatus: 400, wantCode: "invalid", wantField: "new_password",
			loginOK: []string{"password-ana"}},
		{name: "success",
			body:       map[string]any{"current_password": "password-ana", "new_password": "brand-new-password"},
			wantStatus: 204,
			loginOK:    []string{"brand-new-password"}, loginFails: []string{"password-ana"}},
		{name: "the old password is no longer current",
			body:       map[string]any{"current_password": "password-ana", "new_password": "third-password"},
			wantStatus: 403, wantCode: "forbidden", wantField: "current_password",
			loginOK: []string{"brand-new-password"}, loginFails: []string{"password-ana", "third-password"}},
		{name: "change again from the new password",
			body:       map[string]any{"current_password": "brand-new-password", "new_password": "third-password"},
			wantStatus: 204,
			loginOK:    []string{"third-password"}, loginFails: []string{"password-ana", "brand-new-password"}},
	}
	version := int64(1)
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			before := traceOf(t, n)
			r := ana.withT(t).do("PUT", "/api/me/password", st.body)
			if st.wantCode != "" {
				e := expectError(t, r, st.wantStatus, st.wantCode)
				expectField(t, e, st.wantField)
				expectNoTrace(t, n, before)
			} else {
				r.expect(t, st.wantStatus)
				if len(r.Body) != 0 {
					t.Errorf("204 with a body: %q", r.Body)
				}
				if p := positionOf(t, r); p <= before.Head {
					t.Errorf("X-Agenda-Position = %d, want > %d", p, before.Head)
				}
				version++
				// The change ended every older token, this one too.
				expectError(t, ana.withT(t).do("GET", "/api/me", nil), http.StatusUnauthorized, "unauthorized")
				fresh := ana.withT(t)
				fresh.login("ana", st.loginOK[0])
				ana.token = fresh.token
			}
			for _, p := range st.loginOK {
				tryLogin(t, n, "ana", p).expect(t, http.StatusOK)
			}
			for _, p := range st.loginFails {
				expectError(t, tryLogin(t, n, "ana", p), http.StatusUnauthorized, "unauthorized")
			}
			// A password change is a change of the user resource.
			if u := ana.withT(t).me(); u.Version != version {
				t.Errorf("user version = %d, want %d", u.Version, version)
			}
		})
	}
}

func TestE2EUserSearch(t *testing.T) {
	t.Parallel()
	n := mustStartNode(t)
	ana := registerUser(t, n, "ana")
	for _, u := range []struct{ username, display string }{
		{"anabel", "Anabel"}, {"bob", "Bob"}, {"carl", "Anatole Carl"}, {"dora_x", "Dora"}, {"eve", "eve@home"},
	} {
		newClient(t, n).do("POST", "/api/auth/register", map[string]any{
			"username": u.username, "password": "password-" + u.username, "display_name": u.display,
			"email": u.username + "@example.com",
		}).expect(t, http.StatusCreated)
	}

	tests := []struct {
		name      string
		query     string
		want      []string // usernames, in order
		wantCode  string
		wantField string
	}{
		{name: "username prefix", query: "q=ana", want: []string{"ana", "anabel", "carl"}},
		{name: "prefix is case-insensitive", query: "q=ANA", want: []string{"ana", "anabel", "carl"}},
		{name: "display name prefix", query: "q=anat", want: []string{"carl"}},
		{name: "exact username", query: "q=bob", want: []string{"bob"}},
		{name: "not a prefix", query: "q=nab", want: []string{}},
		{name: "no match", query: "q=zzz", want: []string{}},
		{name: "surrounding spaces are trimmed", query: "q=%20bob%20", want: []string{"bob"}},
		{name: "percent is literal", query: "q=%25", want: []string{}},
		{name: "underscore is literal", query: "q=dora_", want: []string{"dora_x"}},
		{name: "underscore matches nothing else", query: "q=_", want: []string{}},
		{name: "backslash is literal", query: `q=%5C`, want: []string{}},
		{name: "limit", query: "q=ana&limit=2", want: []string{"ana", "anabel"}},
		{name: "limit 100", query: "q=a&limit=100", want: []string{"ana", "anabel", "carl"}},
		{name: "64-character query", query: "q=" + strings.Repeat("a", 64), want: []string{}},
		{name: "limit 0", query: "q=a&limit=0", wantCode: "invalid", wantField: "limit"},
		{name: "limit 101", query: "q=a&limit=101", wantCode: "invalid", wantField: "limit"},
		{name: "negative limit", query: "q=a&limit=-1", wantCode: "invalid", wantField: "limit"},
		{name: "limit not a number", query: "q=a&limit=ten", wantCode: "invalid", wantField: "limit"},
		{name: "65-character query", query: "q=" + strings.Repeat("a", 65), wantCode: "invalid", wantField: "q"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := ana.withT(t).do("GET", "/api/users?"+tc.query, nil)
			if tc.wantCode != "" {
				expectField(t, expectError(t, r, http.StatusBadRequest, tc.wantCode), tc.wantField)
				return
			}
			r.expect(t, http.StatusOK)
			var raw []map[string]json.RawMessage
			r.JSON(t, &raw)
			got := []string{}
			for i, m := range raw {
				// Other people see only id, username and display name.
				if keys := sortedKeys(m); !slices.Equal(keys, []string{"display_name", "id", "username"}) {
					t.Fatalf("result %d has keys %v, want [display_name id username]", i, keys)
				}
				got = append(got, rawString(t, m, "username"))
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("usernames = %v, want %v", got, tc.want)
			}
		})
	}
}
