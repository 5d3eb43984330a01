package main

// End-to-end tests of concurrent writes: the invariants the event log's
// expected versions protect (no double booking, unique usernames, no lost
// updates) hold when many requests race on one node.

import (
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	agendahttp "github.com/agendahq/agenda/http"
)

// race runs n requests at once (released together) and returns their
// responses in the order of i. A transport error fails the test.
func race(t *testing.T, n int, req func(i int) (*response, error)) []*response {
	t.Helper()
	out := make([]*response, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			out[i], errs[i] = req(i)
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	return out
}

// tally counts responses by status and error code ("201", "409 schedule_conflict").
func tally(rs []*response) map[string]int {
	m := map[string]int{}
	for _, r := range rs {
		k := fmt.Sprint(r.Status)
		if c := r.ErrorCode(); c != "" {
			k += " " + c
		}
		m[k]++
	}
	return m
}

// expectOnly fails the test if any response has a status/code outside allowed.
func expectOnly(t *testing.T, rs []*response, allowed ...string) map[string]int {
	t.Helper()
	m := tally(rs)
	for k := range m {
		if !slices.Contains(allowed, k) {
			for _, r := range rs {
				t.Logf("status %d: %s", r.Status, r.Body)
			}
			t.Fatalf("outcomes %v, want only %v", m, allowed)
		}
	}
	for _, r := range rs {
		if r.Status >= 300 {
			expectErrorShape(t, r)
		}
	}
	return m
}

func TestE2EConcurrentOverlappingCreates(t *testing.T) {
	t.Parallel()
	const n = 32
	shapes := []struct {
		name string
		// slot returns the interval of request i; all n overlap each other.
		slot func(i int) (time.Time, time.Duration)
	}{
		{"the same slot", func(i int) (time.Time, time.Duration) { return at(9, 0), time.Hour }},
		{"staggered, pairwise overlapping", func(i int) (time.Time, time.Duration) {
			return at(9, 0).Add(time.Duration(i) * time.Minute), time.Hour
		}},
		{"nested", func(i int) (time.Time, time.Duration) {
			return at(9, 0).Add(time.Duration(i) * time.Minute), time.Duration(2*(n-i)) * time.Minute
		}},
	}
	node := mustStartNode(t)
	for k, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			ana := registerUser(t, node, fmt.Sprintf("ana%d", k))
			before := traceOf(t, node)
			rs := race(t, n, func(i int) (*response, error) {
				start, d := sh.slot(i)
				return ana.send("POST", "/api/appointments", appointmentBody(fmt.Sprintf("try %d", i), start, d))
			})
			m := expectOnly(t, rs, "201", "409 schedule_conflict", "409 conflict")
			if m["201"] != 1 {
				t.Fatalf("outcomes %v, want exactly one 201", m)
			}
			var won apiAppointment
			for _, r := range rs {
				if r.Status == http.StatusCreated {
					won = decodeAppointment(t, r)
				}
			}
			entries := ana.withT(t).agendaOf(day, day.Add(24*time.Hour))
			if len(entries) != 1 || entries[0].AppointmentID != won.ID {
				t.Fatalf("agenda = %+v, want only the winner %s", entries, won.ID)
			}
			// One appointment is two events (appointment and agenda entry).
			if after := traceOf(t, node); after.Head != before.Head+2 {
				t.Fatalf("event store head moved %d → %d, want exactly one appointment's 2 events", before.Head, after.Head)
			}
			t.Logf("outcomes: %v", m)
		})
	}
}

func TestE2EConcurrentUsersNonOverlapping(t *testing.T) {
	t.Parallel()
	const users, perUser = 16, 6
	node := mustStartNode(t)

	// Register everyone at once.
	anon := newClient(t, node)
	rs := race(t, users, func(i int) (*response, error) {
		u := fmt.Sprintf("user%02d", i)
		return anon.send("POST", "/api/auth/register", map[string]any{"username": u, "password": "password-" + u})
	})
	if m := expectOnly(t, rs, "201"); m["201"] != users {
		t.Fatalf("registrations %v, want %d × 201", m, users)
	}
	clients := make([]*client, users)
	for i := range clients {
		clients[i] = newClient(t, node)
		clients[i].login(fmt.Sprintf("user%02d", i), fmt.Sprintf("password-user%02d", i))
	}

	// Every user books perUser back-to-back hours, all requests at once: the
	// same user's requests race on that user's agenda stream and are retried.
	// All users book the same hours: other people's time never conflicts.
	rs = race(t, users*perUser, func(i int) (*response, error) {
		u, h := i/perUser, i%perUser
		return clients[u].send("POST", "/api/appointments", appointmentBody(fmt.Sprintf("hour %d", h), at(8+h, 0), time.Hour))
	})
	if m := expectOnly(t, rs, "201"); m["201"] != users*perUser {
		t.Fatalf("outcomes %v, want %d × 201", m, users*perUser)
	}
	want := []string{}
	for h := range perUser {
		want = append(want, fmt.Sprintf("hour %d", h))
	}
	for i, c := range clients {
		if got := titles(c.agendaOf(day, day.Add(24*time.Hour))); !slices.Equal(got, want) {
			t.Fatalf("agenda of user%02d = %v, want %v", i, got, want)
		}
	}
}

func TestE2EConcurrentRegistrationSameUsername(t *testing.T) {
	t.Parallel()
	const n = 16
	cfg := testConfig(t, t.TempDir())
	cfg.Limits = agendahttp.DefaultLimits(runtime.NumCPU())
	cfg.Limits.LoginPerUser = agendahttp.Rate{} // it tries all 16 passwords
	node := startNode(t, cfg)
	anon := newClient(t, node)
	rs := race(t, n, func(i int) (*response, error) {
		return anon.send("POST", "/api/auth/register", map[string]any{"username": "zoe", "password": fmt.Sprintf("password-%d", i)})
	})
	m := expectOnly(t, rs, "201", "409 conflict")
	if m["201"] != 1 {
		t.Fatalf("outcomes %v, want exactly one 201", m)
	}
	winner := -1
	for i, r := range rs {
		if r.Status == http.StatusCreated {
			winner = i
		}
	}
	// Only the winner's password logs in.
	for i := range n {
		r := tryLogin(t, node, "zoe", fmt.Sprintf("password-%d", i))
		if i == winner {
			r.expect(t, http.StatusOK)
		} else {
			expectError(t, r, http.StatusUnauthorized, "unauthorized")
		}
	}
	var found []map[string]any
	c := newClient(t, node)
	c.login("zoe", fmt.Sprintf("password-%d", winner))
	c.do("GET", "/api/users?q=zoe", nil).expect(t, http.StatusOK).JSON(t, &found)
	if len(found) != 1 {
		t.Fatalf("search for zoe = %v, want one user", found)
	}
}

// TestE2EConcurrentIfMatch: many writers holding the same version; exactly
// one wins, the others learn their version is stale.
func TestE2EConcurrentIfMatch(t *testing.T) {
	t.Parallel()
	const n = 16
	node := mustStartNode(t)
	ana := registerUser(t, node, "ana")
	a := ana.create("Shared", at(9, 0), time.Hour)

	tests := []struct {
		name string
		req  func(i int) (*response, error)
		path string
	}{
		{"profile", func(i int) (*response, error) {
			return sendIfMatch(ana, "PATCH", "/api/me", map[string]any{"display_name": fmt.Sprintf("Ana %d", i)}, `"1"`)
		}, "/api/me"},
		{"appointment", func(i int) (*response, error) {
			return sendIfMatch(ana, "PATCH", "/api/appointments/"+a.ID, map[string]any{"title": fmt.Sprintf("Title %d", i)}, `"1"`)
		}, "/api/appointments/" + a.ID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs := race(t, n, tc.req)
			m := expectOnly(t, rs, "200", "412 precondition_failed")
			if m["200"] != 1 {
				t.Fatalf("outcomes %v, want exactly one 200", m)
			}
			var winner []byte
			for _, r := range rs {
				if r.Status == http.StatusOK {
					expectETag(t, r, 2)
					winner = r.Body
				}
			}
			// What the winner was told is what is stored.
			got := ana.withT(t).do("GET", tc.path, nil).expect(t, http.StatusOK)
			expectETag(t, got, 2)
			if string(got.Body) != string(winner) {
				t.Fatalf("stored %s, want the winner's %s", got.Body, winner)
			}
		})
	}
}

// sendIfMatch is client.send with an If-Match header.
func sendIfMatch(c *client, method, path string, v any, ifMatch string) (*response, error) {
	cp := *c
	cp.http = &http.Client{Timeout: c.http.Timeout, Transport: ifMatchTransport(ifMatch)}
	return cp.send(method, path, v)
}

// ifMatchTransport adds If-Match to every request.
type ifMatchTransport string

func (v ifMatchTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("If-Match", string(v))
	return http.DefaultTransport.RoundTrip(r)
}

func TestE2EConcurrentDelete(t *testing.T) {
	t.Parallel()
	const n = 16
	node := mustStartNode(t)
	ana := registerUser(t, node, "ana")
	a := ana.create("Doomed", at(9, 0), time.Hour)
	before := traceOf(t, node)
	rs := race(t, n, func(int) (*response, error) { return ana.send("DELETE", "/api/appointments/"+a.ID, nil) })
	m := expectOnly(t, rs, "204", "404 not_found")
	if m["204"] != 1 {
		t.Fatalf("outcomes %v, want exactly one 204", m)
	}
	// An appointment deletion is two events (appointment and agenda entry).
	if after := traceOf(t, node); after.Head != before.Head+2 {
		t.Fatalf("event store head moved %d → %d, want one deletion's 2 events", before.Head, after.Head)
	}
	ana.create("Rebooked", at(9, 0), time.Hour)
}

// TestE2EConcurrentPasswordChange: several requests change the password
// from the same current password at once. Once one has committed, that
// password is no longer current, so exactly one may succeed; the others are
// forbidden — or, arriving after the change committed, refused outright: it
// ended the token they carry. Otherwise someone who knows an old password can override a
// password change that raced with them.
func TestE2EConcurrentPasswordChange(t *testing.T) {
	t.Parallel()
	const n = 8
	node := mustStartNode(t)
	ana := registerUser(t, node, "ana")
	rs := race(t, n, func(i int) (*response, error) {
		return ana.send("PUT", "/api/me/password", map[string]any{
			"current_password": "password-ana", "new_password": fmt.Sprintf("new-password-%d", i)})
	})
	m := expectOnly(t, rs, "204", "403 forbidden", "401 unauthorized")
	if m["204"] != 1 {
		t.Fatalf("outcomes %v, want exactly one 204 (each later change used a password that was no longer current)", m)
	}
}
