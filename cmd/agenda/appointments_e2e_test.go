package main

// End-to-end tests of personal appointments and the agenda: create, read,
// edit, delete, overlap rules, agenda windows, read-your-writes with
// min_position, and a node restart.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestE2EAppointmentCreate(t *testing.T) {
	t.Parallel()
	n := mustStartNode(t)
	ana := registerUser(t, n, "ana")

	tests := []struct {
		name                     string
		body                     map[string]any
		wantStart, wantEnd       time.Time
		wantPrivacy              string
		wantDescription, wantLoc string
		wantTitle                string
	}{
		{
			name:      "minimal, privacy defaults to full",
			body:      map[string]any{"title": "Dentist", "start": "2026-12-01T09:00:00Z", "end": "2026-12-01T10:00:00Z"},
			wantStart: at(9, 0), wantEnd: at(10, 0), wantPrivacy: "full", wantTitle: "Dentist",
		},
		{
			name:      "times with an offset come back in UTC",
			body:      map[string]any{"title": "Paris call", "start": "2026-12-01T12:00:00+01:00", "end": "2026-12-01T13:30:00+01:00"},
			wantStart: at(11, 0), wantEnd: at(12, 30), wantPrivacy: "full", wantTitle: "Paris call",
		},
		{
			name:      "negative offset crossing midnight",
			body:      map[string]any{"title": "Late NYC", "start": "2026-12-01T19:00:00-05:00", "end": "2026-12-01T20:00:00-05:00"},
			wantStart: at(24, 0), wantEnd: at(25, 0), wantPrivacy: "full", wantTitle: "Late NYC",
		},
		{
			name: "every field, freebusy privacy",
			body: map[string]any{"title": "Therapy", "description": "bring notes\nand the form", "location": "Room 4",
				"start": "2026-12-01T14:00:00Z", "end": "2026-12-01T15:00:00Z", "privacy": "freebusy"},
			wantStart: at(14, 0), wantEnd: at(15, 0), wantPrivacy: "freebusy",
			wantDescription: "bring notes\nand the form", wantLoc: "Room 4", wantTitle: "Therapy",
		},
		{
			name:      "title is trimmed",
			body:      map[string]any{"title": "  Gym  ", "start": "2026-12-01T16:00:00Z", "end": "2026-12-01T17:00:00Z", "privacy": "full"},
			wantStart: at(16, 0), wantEnd: at(17, 0), wantPrivacy: "full", wantTitle: "Gym",
		},
		{
			name:      "exactly 31 days long",
			body:      map[string]any{"title": "Sabbatical", "start": "2027-01-01T00:00:00Z", "end": "2027-02-01T00:00:00Z"},
			wantStart: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), wantEnd: time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC),
			wantPrivacy: "full", wantTitle: "Sabbatical",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := ana.withT(t)
			before := time.Now().Add(-time.Second)
			r := c.do("POST", "/api/appointments", tc.body).expect(t, http.StatusCreated)
			pos := positionOf(t, r)
			expectETag(t, r, 1)
			a := decodeAppointment(t, r)
			if got, want := r.Header.Get("Location"), "/api/appointments/"+a.ID; got != want {
				t.Errorf("Location = %q, want %q", got, want)
			}
			if !a.Start.Equal(tc.wantStart) || !a.End.Equal(tc.wantEnd) {
				t.Errorf("interval = [%v, %v), want [%v, %v)", a.Start, a.End, tc.wantStart, tc.wantEnd)
			}
			want := apiAppointment{
				ID: a.ID, OwnerID: ana.userID, Title: tc.wantTitle, Description: tc.wantDescription, Location: tc.wantLoc,
				Start: a.Start, End: a.End, Privacy: tc.wantPrivacy, Status: "confirmed", MyStatus: "owner",
				Participants: []apiParticipant{{UserID: ana.userID, Username: "ana", Status: "owner"}},
				CreatedAt:    a.CreatedAt, UpdatedAt: a.UpdatedAt, Version: 1, OriginNode: n.Config.NodeID,
			}
			if fmt.Sprint(a) != fmt.Sprint(want) {
				t.Errorf("appointment =\n%+v\nwant\n%+v", a, want)
			}
			if a.GroupID != nil {
				t.Errorf("group_id = %q, want null", *a.GroupID)
			}
			if a.CreatedAt.Before(before) || a.CreatedAt.After(time.Now().Add(time.Second)) || !a.UpdatedAt.Equal(a.CreatedAt) {
				t.Errorf("created_at, updated_at = %v, %v; want both about now and equal", a.CreatedAt, a.UpdatedAt)
			}

			// What the Location names is what was answered.
			g := c.do("GET", r.Header.Get("Location")+"?min_position="+strconv.FormatInt(pos, 10), nil).expect(t, http.StatusOK)
			expectETag(t, g, 1)
			if got := decodeAppointment(t, g); fmt.Sprint(got) != fmt.Sprint(a) {
				t.Errorf("GET after create =\n%+v\nwant\n%+v", got, a)
			}
			// And it is in the agenda.
			entries := c.agendaOf(tc.wantStart, tc.wantEnd)
			if len(entries) != 1 || entries[0].AppointmentID != a.ID || entries[0].MyStatus != "owner" || entries[0].Pending {
				t.Errorf("agenda of the slot = %+v, want only %s as owner", entries, a.ID)
			}
		})
	}
}

func TestE2EAppointmentGet(t *testing.T) {
	t.Parallel()
	n := mustStartNode(t)
	ana := registerUser(t, n, "ana")
	bob := registerUser(t, n, "bob")
	a := ana.create("Dentist", at(9, 0), time.Hour)

	tests := []struct {
		name       string
		c          *client
		path       string
		wantStatus int
	}{
		{"owner", ana, "/api/appointments/" + a.ID, 200},
		{"owner, trailing slash", ana, "/api/appointments/" + a.ID + "/", 200},
		{"another user cannot see it", bob, "/api/appointments/" + a.ID, 404},
		{"unknown id", ana, "/api/appointments/00000000-0000-0000-0000-000000000000", 404},
		{"not a uuid", ana, "/api/appointments/not-an-id", 404},
		{"sql-looking id", ana, "/api/appointments/x'%20OR%20'1'='1", 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.c.withT(t).do("GET", tc.path, nil)
			if tc.wantStatus != 200 {
				e := expectError(t, r, tc.wantStatus, "not_found")
				if strings.Contains(e.Message, "Dentist") || strings.Contains(string(r.Body), ana.userID) {
					t.Errorf("a 404 leaks the appointment: %s", r.Body)
				}
				return
			}
			r.expect(t, http.StatusOK)
			expectETag(t, r, 1)
			if got := decodeAppointment(t, r); fmt.Sprint(got) != fmt.Sprint(a) {
				t.Errorf("GET =\n%+v\nwant\n%+v", got, a)
			}
		})
	}
}

func TestE2EAppointmentPatch(t *testing.T) {
	t.Parallel()
	n := mustStartNode(t)
	ana := registerUser(t, n, "ana")
	bob := registerUser(t, n, "bob")
	a := ana.create("Dentist", at(9, 0), time.Hour)
	other := ana.create("Lunch", at(12, 0), time.Hour)
	path := "/api/appointments/" + a.ID

	// The steps run in order on the same appointment.
	steps := []struct {
		name       string
		c          *client
		body       any
		ifMatch    string
		wantStatus int
		wantCode   string
		// The appointment after the step.
		wantVersion        int64
		wantTitle          string
		wantStart, wantEnd time.Time
		wantPrivacy        string
	}{
		{name: "owner renames", c: ana, body: map[string]any{"title": "Dentist (Dr. Who)"},
			wantStatus: 200, wantVersion: 2, wantTitle: "Dentist (Dr. Who)", wantStart: at(9, 0), wantEnd: at(10, 0), wantPrivacy: "full"},
		{name: "stale If-Match", c: ana, body: map[string]any{"title": "Stale"}, ifMatch: `"1"`,
			wantStatus: 412, wantCode: "precondition_failed",
			wantVersion: 2, wantTitle: "Dentist (Dr. Who)", wantStart: at(9, 0), wantEnd: at(10, 0), wantPrivacy: "full"},
		{name: "current If-Match", c: ana, body: map[string]any{"privacy": "freebusy", "location": "Main St"}, ifMatch: `"2"`,
			wantStatus: 200, wantVersion: 3, wantTitle: "Dentist (Dr. Who)", wantStart: at(9, 0), wantEnd: at(10, 0), wantPrivacy: "freebusy"},
		{name: "another user cannot see it", c: bob, body: map[string]any{"title": "Mine now"},
			wantStatus: 404, wantCode: "not_found",
			wantVersion: 3, wantTitle: "Dentist (Dr. Who)", wantStart: at(9, 0), wantEnd: at(10, 0), wantPrivacy: "freebusy"},
		{name: "another user with the current If-Match", c: bob, body: map[string]any{"title": "Mine now"}, ifMatch: `"3"`,
			wantStatus: 404, wantCode: "not_found",
			wantVersion: 3, wantTitle: "Dentist (Dr. Who)", wantStart: at(9, 0), wantEnd: at(10, 0), wantPrivacy: "freebusy"},
		{name: "move into an overlap", c: ana, body: map[string]any{"start": rfc(at(11, 30)), "end": rfc(at(12, 30))},
			wantStatus: 409, wantCode: "schedule_conflict",
			wantVersion: 3, wantTitle: "Dentist (Dr. Who)", wantStart: at(9, 0), wantEnd: at(10, 0), wantPrivacy: "freebusy"},
		{name: "stretch the end into an overlap", c: ana, body: map[string]any{"end": rfc(at(12, 1))},
			wantStatus: 409, wantCode: "schedule_conflict",
			wantVersion: 3, wantTitle: "Dentist (Dr. Who)", wantStart: at(9, 0), wantEnd: at(10, 0), wantPrivacy: "freebusy"},
		{name: "move to touch the other appointment", c: ana, body: map[string]any{"start": rfc(at(11, 0)), "end": rfc(at(12, 0))},
			wantStatus: 200, wantVersion: 4, wantTitle: "Dentist (Dr. Who)", wantStart: at(11, 0), wantEnd: at(12, 0), wantPrivacy: "freebusy"},
		{name: "overlapping its own old slot is fine", c: ana, body: map[string]any{"start": rfc(at(10, 30)), "end": rfc(at(11, 30))},
			wantStatus: 200, wantVersion: 5, wantTitle: "Dentist (Dr. Who)", wantStart: at(10, 30), wantEnd: at(11, 30), wantPrivacy: "freebusy"},
		{name: "only a new start, with an offset", c: ana, body: map[string]any{"start": "2026-12-01T10:00:00+01:00"},
			wantStatus: 200, wantVersion: 6, wantTitle: "Dentist (Dr. Who)", wantStart: at(9, 0), wantEnd: at(11, 30), wantPrivacy: "freebusy"},
		{name: "a start after the end is invalid", c: ana, body: map[string]any{"start": rfc(at(11, 30))},
			wantStatus: 400, wantCode: "invalid",
			wantVersion: 6, wantTitle: "Dentist (Dr. Who)", wantStart: at(9, 0), wantEnd: at(11, 30), wantPrivacy: "freebusy"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			c := st.c.withT(t)
			before := traceOf(t, n)
			r := c.patchJSON(path, st.body, st.ifMatch)
			if st.wantCode != "" {
				e := expectError(t, r, st.wantStatus, st.wantCode)
				expectNoTrace(t, n, before)
				if st.wantCode == "schedule_conflict" {
					conflicts, _ := e.Details["conflicts"].([]any)
					if len(conflicts) != 1 || !strings.Contains(fmt.Sprint(conflicts[0]), other.ID) {
						t.Errorf("details.conflicts = %v, want the Lunch appointment %s", e.Details["conflicts"], other.ID)
					}
				}
			} else {
				r.expect(t, st.wantStatus)
				positionOf(t, r)
				expectETag(t, r, st.wantVersion)
				got := decodeAppointment(t, r)
				if got.Version != st.wantVersion || !got.UpdatedAt.After(got.CreatedAt) {
					t.Errorf("response version %d, updated_at %v (created %v); want version %d and a later updated_at",
						got.Version, got.UpdatedAt, got.CreatedAt, st.wantVersion)
				}
			}
			g := decodeAppointment(t, ana.withT(t).do("GET", path, nil).expect(t, http.StatusOK))
			if g.Version != st.wantVersion || g.Title != st.wantTitle || !g.Start.Equal(st.wantStart) ||
				!g.End.Equal(st.wantEnd) || g.Privacy != st.wantPrivacy {
				t.Fatalf("after the step: {v%d %q [%v, %v) %s}, want {v%d %q [%v, %v) %s}",
					g.Version, g.Title, g.Start, g.End, g.Privacy,
					st.wantVersion, st.wantTitle, st.wantStart, st.wantEnd, st.wantPrivacy)
			}
			// The agenda follows the appointment.
			entries := ana.withT(t).agendaOf(day, day.Add(24*time.Hour))
			var found bool
			for _, e := range entries {
				if e.AppointmentID == a.ID {
					found = true
					if !e.Start.Equal(st.wantStart) || !e.End.Equal(st.wantEnd) || e.Title != st.wantTitle {
						t.Fatalf("agenda entry = %+v, want [%v, %v) %q", e, st.wantStart, st.wantEnd, st.wantTitle)
					}
				}
			}
			if !found {
				t.Fatalf("appointment missing from the agenda: %+v", entries)
			}
		})
	}
}

func TestE2EAppointmentDelete(t *testing.T) {
	t.Parallel()
	n := mustStartNode(t)
	ana := registerUser(t, n, "ana")
	bob := registerUser(t, n, "bob")
	a := ana.create("Dentist", at(9, 0), time.Hour)
	path := "/api/appointments/" + a.ID

	steps := []struct {
		name       string
		c          *client
		ifMatch    string
		wantStatus int
		wantCode   string
	}{
		{"another user cannot see it", bob, "", 404, "not_found"},
		{"stale If-Match", ana, `"2"`, 412, "precondition_failed"},
		{"owner with the current If-Match", ana, `"1"`, 204, ""},
		{"twice", ana, "", 404, "not_found"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			hdr := map[string]string{}
			if st.ifMatch != "" {
				hdr["If-Match"] = st.ifMatch
			}
			before := traceOf(t, n)
			r := st.c.withT(t).raw("DELETE", path, nil, hdr)
			if st.wantCode != "" {
				expectError(t, r, st.wantStatus, st.wantCode)
				expectNoTrace(t, n, before)
				return
			}
			r.expect(t, st.wantStatus)
			positionOf(t, r)
			if len(r.Body) != 0 {
				t.Errorf("204 with a body: %q", r.Body)
			}
		})
	}

	t.Run("gone afterwards", func(t *testing.T) {
		expectError(t, ana.withT(t).do("GET", path, nil), http.StatusNotFound, "not_found")
		expectError(t, ana.withT(t).patchJSON(path, map[string]any{"title": "x"}, ""), http.StatusNotFound, "not_found")
		if entries := ana.withT(t).agendaOf(day, day.Add(24*time.Hour)); len(entries) != 0 {
			t.Fatalf("agenda after delete = %+v, want empty", entries)
		}
	})
	t.Run("the freed slot can be booked again", func(t *testing.T) {
		b := ana.withT(t).create("Dentist again", at(9, 0), time.Hour)
		if b.ID == a.ID {
			t.Fatalf("new appointment reuses id %s", a.ID)
		}
		if entries := ana.withT(t).agendaOf(day, day.Add(24*time.Hour)); len(entries) != 1 || entries[0].AppointmentID != b.ID {
			t.Fatalf("agenda = %+v, want only %s", entries, b.ID)
		}
	})
}

func TestE2EScheduleConflict(t *testing.T) {
	t.Parallel()
	n := mustStartNode(t)
	ana := registerUser(t, n, "ana")
	bob := registerUser(t, n, "bob")
	first := ana.create("First 9-10", at(9, 0), time.Hour)
	second := ana.create("Second 11-12", at(11, 0), time.Hour)
	bob.create("Bob 9-12", at(9, 0), 3*time.Hour) // other people's time never conflicts

	type slot struct {
		ID         string
		Start, End time.Time
	}
	s1 := slot{first.ID, at(9, 0), at(10, 0)}
	s2 := slot{second.ID, at(11, 0), at(12, 0)}
	tests := []struct {
		name       string
		start, end time.Time
		want       []slot // nil: no conflict
	}{
		{"same slot", at(9, 0), at(10, 0), []slot{s1}},
		{"inside", at(9, 15), at(9, 45), []slot{s1}},
		{"enclosing", at(8, 0), at(11, 0), []slot{s1}},
		{"overlapping the start", at(8, 30), at(9, 1), []slot{s1}},
		{"overlapping the end", at(9, 59), at(10, 30), []slot{s1}},
		{"spanning both, listed by start", at(9, 30), at(11, 30), []slot{s1, s2}},
		{"touching the end", at(10, 0), at(11, 0), nil},
		{"touching the start", at(8, 0), at(9, 0), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := ana.withT(t)
			before := traceOf(t, n)
			body := map[string]any{"title": tc.name, "start": rfc(tc.start), "end": rfc(tc.end)}
			r := c.do("POST", "/api/appointments", body)
			if tc.want == nil {
				a := decodeAppointment(t, r.expect(t, http.StatusCreated))
				// Free the slot again for the next cases.
				c.do("DELETE", "/api/appointments/"+a.ID, nil).expect(t, http.StatusNoContent)
				return
			}
			e := expectError(t, r, http.StatusConflict, "schedule_conflict")
			expectNoTrace(t, n, before)
			var details struct {
				Conflicts []struct {
					AppointmentID string    `json:"appointment_id"`
					Start         time.Time `json:"start"`
					End           time.Time `json:"end"`
				} `json:"conflicts"`
			}
			raw, _ := json.Marshal(e.Details)
			if err := json.Unmarshal(raw, &details); err != nil {
				t.Fatalf("details = %s: %v", raw, err)
			}
			var got []slot
			for _, c := range details.Conflicts {
				got = append(got, slot{c.AppointmentID, c.Start, c.End})
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("details.conflicts = %+v, want %+v", got, tc.want)
			}
		})
	}
	if got := titles(ana.agendaOf(day, day.Add(24*time.Hour))); !slices.Equal(got, []string{"First 9-10", "Second 11-12"}) {
		t.Fatalf("agenda = %v, want only the two first appointments", got)
	}
}

func TestE2EMinPosition(t *testing.T) {
	t.Parallel()
	n := mustStartNode(t)
	ana := registerUser(t, n, "ana")
	w := ana.do("POST", "/api/appointments", appointmentBody("Written", at(9, 0), time.Hour)).expect(t, http.StatusCreated)
	pos := positionOf(t, w)
	id := decodeAppointment(t, w).ID
	agenda := agendaPath(day, day.Add(24*time.Hour))

	ok := []struct {
		name   string
		path   string
		header map[string]string
	}{
		{"agenda at the write's position", agenda + "&min_position=" + strconv.FormatInt(pos, 10), nil},
		{"agenda at position 0", agenda + "&min_position=0", nil},
		{"agenda with the header", agenda, map[string]string{"X-Agenda-Min-Position": strconv.FormatInt(pos, 10)}},
		{"appointment at the write's position", "/api/appointments/" + id + "?min_position=" + strconv.FormatInt(pos, 10), nil},
		{"me at the write's position", "/api/me?min_position=" + strconv.FormatInt(pos, 10), nil},
		{"users at the write's position", "/api/users?q=a&min_position=" + strconv.FormatInt(pos, 10), nil},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			r := ana.withT(t).raw("GET", tc.path, nil, tc.header).expect(t, http.StatusOK)
			if got := positionOf(t, r); got < pos {
				t.Errorf("X-Agenda-Position = %d, want ≥ %d", got, pos)
			}
			if strings.HasPrefix(tc.path, "/api/agenda") && !strings.Contains(string(r.Body), id) {
				t.Errorf("the read does not include the write %s: %s", id, r.Body)
			}
		})
	}

	bad := []struct {
		name   string
		path   string
		header map[string]string
	}{
		{"negative", agenda + "&min_position=-1", nil},
		{"not a number", agenda + "&min_position=abc", nil},
		{"a fraction", agenda + "&min_position=1.5", nil},
		{"too big for int64", agenda + "&min_position=99999999999999999999", nil},
		{"bad header", agenda, map[string]string{"X-Agenda-Min-Position": "soon"}},
		{"on another read", "/api/me?min_position=-5", nil},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			r := ana.withT(t).raw("GET", tc.path, nil, tc.header)
			expectField(t, expectError(t, r, http.StatusBadRequest, "invalid"), "min_position")
		})
	}

	// The server waits up to its ReadWait (5s by default) before giving up,
	// so this case runs in parallel with the rest of the package.
	t.Run("far beyond the log is refused at once", func(t *testing.T) {
		e := expectError(t, ana.withT(t).do("GET", agenda+"&min_position="+strconv.FormatInt(pos+1_000_000, 10), nil),
			http.StatusBadRequest, "invalid")
		expectField(t, e, "min_position")
		if h, _ := e.Details["head"].(float64); int64(h) < pos {
			t.Errorf("details.head = %v, want at least %d", e.Details["head"], pos)
		}
	})

	t.Run("a little in the future is waited for, then unavailable", func(t *testing.T) {
		t.Parallel()
		c := newClient(t, n)
		c.token = ana.token
		start := time.Now()
		r := c.do("GET", agenda+"&min_position="+strconv.FormatInt(pos+100, 10), nil)
		elapsed := time.Since(start)
		expectError(t, r, http.StatusServiceUnavailable, "unavailable")
		if ra := r.Header.Get("Retry-After"); ra == "" {
			t.Errorf("503 without Retry-After")
		} else if s, err := strconv.Atoi(ra); err != nil || s < 0 {
			t.Errorf("Retry-After = %q, want a number of seconds", ra)
		}
		if elapsed < time.Second {
			t.Errorf("answered after %v; the server should wait for the read model a while first", elapsed)
		}
	})
}

// TestE2ERestart stops a node and starts it again on the same data: the
// users, tokens, appointments, versions and overlap rules are all still there.
func TestE2ERestart(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, t.TempDir())
	n := startNode(t, cfg)
	ana := registerUser(t, n, "ana")
	bob := registerUser(t, n, "bob")
	ana.do("PATCH", "/api/me", map[string]any{"display_name": "Ana Restarted"}).expect(t, http.StatusOK)
	a := ana.create("Before restart", at(9, 0), time.Hour)
	a = decodeAppointment(t, ana.patchJSON("/api/appointments/"+a.ID, map[string]any{"title": "Renamed before restart"}, `"1"`).
		expect(t, http.StatusOK))
	gone := ana.create("Deleted before restart", at(15, 0), time.Hour)
	ana.do("DELETE", "/api/appointments/"+gone.ID, nil).expect(t, http.StatusNoContent)
	bobAppt := bob.create("Bob's", at(9, 0), time.Hour)
	beforeMe := ana.me()
	beforeTrace := traceOf(t, n)
	if err := n.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}

	n2 := startNode(t, cfg)
	for _, c := range []*client{ana, bob} {
		c.base = "http://" + n2.HTTPAddr()
	}
	if tr := traceOf(t, n2); tr != beforeTrace {
		t.Fatalf("after restart head/position = %+v, want %+v", tr, beforeTrace)
	}

	checks := []struct {
		name  string
		check func(t *testing.T)
	}{
		{"the old token still works and the profile is intact", func(t *testing.T) {
			if got := ana.withT(t).me(); got != beforeMe {
				t.Fatalf("GET /api/me = %+v, want %+v", got, beforeMe)
			}
		}},
		{"the password still logs in", func(t *testing.T) {
			tryLogin(t, n2, "ana", "password-ana").expect(t, http.StatusOK)
		}},
		{"the username is still taken", func(t *testing.T) {
			r := newClient(t, n2).do("POST", "/api/auth/register", map[string]any{"username": "ana", "password": "password-x1"})
			expectError(t, r, http.StatusConflict, "conflict")
		}},
		{"the appointment and its version are intact", func(t *testing.T) {
			r := ana.withT(t).do("GET", "/api/appointments/"+a.ID, nil).expect(t, http.StatusOK)
			expectETag(t, r, 2)
			if got := decodeAppointment(t, r); fmt.Sprint(got) != fmt.Sprint(a) {
				t.Fatalf("GET =\n%+v\nwant\n%+v", got, a)
			}
		}},
		{"the deleted appointment stays deleted", func(t *testing.T) {
			expectError(t, ana.withT(t).do("GET", "/api/appointments/"+gone.ID, nil), http.StatusNotFound, "not_found")
		}},
		{"the agenda is intact", func(t *testing.T) {
			if got := titles(ana.withT(t).agendaOf(day, day.Add(24*time.Hour))); !slices.Equal(got, []string{"Renamed before restart"}) {
				t.Fatalf("agenda = %v", got)
			}
			if got := titles(bob.withT(t).agendaOf(day, day.Add(24*time.Hour))); !slices.Equal(got, []string{bobAppt.Title}) {
				t.Fatalf("bob's agenda = %v", got)
			}
		}},
		{"the overlap rule still holds", func(t *testing.T) {
			r := ana.withT(t).do("POST", "/api/appointments", appointmentBody("Clash", at(9, 30), time.Hour))
			expectError(t, r, http.StatusConflict, "schedule_conflict")
		}},
		{"new writes work and continue the log", func(t *testing.T) {
			r := ana.withT(t).do("POST", "/api/appointments", appointmentBody("After restart", at(10, 0), time.Hour)).
				expect(t, http.StatusCreated)
			if p := positionOf(t, r); p <= beforeTrace.Head {
				t.Fatalf("X-Agenda-Position = %d, want > %d", p, beforeTrace.Head)
			}
			u := decodeUser(t, ana.withT(t).do("PATCH", "/api/me", map[string]any{"email": "ana@example.com"}).expect(t, http.StatusOK))
			if u.Version != beforeMe.Version+1 {
				t.Fatalf("version after restart = %d, want %d", u.Version, beforeMe.Version+1)
			}
			r = ana.withT(t).patchJSON("/api/appointments/"+a.ID, map[string]any{"title": "Renamed after restart"}, `"2"`)
			expectETag(t, r.expect(t, http.StatusOK), 3)
		}},
		{"a new user can register", func(t *testing.T) {
			registerUser(t, n2, "carl")
		}},
	}
	for _, tc := range checks {
		t.Run(tc.name, tc.check)
	}
}

// TestE2EAPatchThatChangesNothingWritesNothing: a PATCH to the values an
// appointment or a group holds answers them as they are, at the same
// version, and tells no one: a review found each repeat making a new
// version (staling every other client's ETag) and an "updated" notice for
// every participant.
func TestE2EAPatchThatChangesNothingWritesNothing(t *testing.T) {
	n := mustStartNode(t)
	ana, bob := registerUser(t, n, "ana"), registerUser(t, n, "bob")
	team := createGroup(t, ana, "Team", true)
	joinGroup(t, ana, bob, team, 10)
	start := time.Date(2031, 5, 5, 9, 0, 0, 0, time.UTC)
	var appt struct {
		ID      string `json:"id"`
		Version int64  `json:"version"`
	}
	ana.withT(t).do("POST", "/api/groups/"+team+"/appointments", map[string]any{"title": "Sync", "location": "Room 1",
		"start": start.Format(time.RFC3339), "end": start.Add(time.Hour).Format(time.RFC3339)}).expect(t, http.StatusCreated).JSON(t, &appt)
	notes := func() int {
		var list []map[string]any
		bob.withT(t).do("GET", "/api/notifications", nil).expect(t, http.StatusOK).JSON(t, &list)
		return len(list)
	}
	before := notes()
	for _, body := range []map[string]any{
		{"title": "Sync"},
		{"title": "Sync", "location": "Room 1", "privacy": "full"},
		{"start": start.Format(time.RFC3339), "end": start.Add(time.Hour).Format(time.RFC3339)},
		{"start": start.In(time.FixedZone("", 2*3600)).Format(time.RFC3339)}, // the same instant
	} {
		r := ana.withT(t).do("PATCH", "/api/appointments/"+appt.ID, body).expect(t, http.StatusOK)
		expectETag(t, r, appt.Version)
	}
	if after := notes(); after != before {
		t.Errorf("bob has %d notifications after the PATCHes that changed nothing, want %d", after, before)
	}
	var g struct{ Version int64 }
	ana.withT(t).do("GET", "/api/groups/"+team, nil).expect(t, http.StatusOK).JSON(t, &g)
	r := ana.withT(t).do("PATCH", "/api/groups/"+team, map[string]any{"name": "Team"}).expect(t, http.StatusOK)
	expectETag(t, r, g.Version)
	// A real change still is one.
	r = ana.withT(t).do("PATCH", "/api/appointments/"+appt.ID, map[string]any{"title": "Sync, moved"}).expect(t, http.StatusOK)
	expectETag(t, r, appt.Version+1)
	if after := notes(); after != before+1 {
		t.Errorf("bob has %d notifications after a real change, want %d", after, before+1)
	}
}
