package main

// End-to-end scenarios of what group members see of each other: privacy in
// group agendas, busy time only for a declined invitee, free slots, and what
// someone outside a group or an appointment can learn (nothing).

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// groupAgendaLines reads grp's agenda for [from, to) as viewer and renders
// it as "member: 09:00-10:00 Title (my_status)" for an entry shown in
// detail and "member: 09:00-10:00 busy" for a masked one, checking that a
// masked entry is exactly {start, end, busy: true} and a detailed one has
// every agenda entry field and busy false. It returns the raw body too.
func (g *groupPlay) groupAgendaLines(t testing.TB, viewer *client, grp apiGroup, from, to time.Time) ([]string, []byte) {
	t.Helper()
	var members []json.RawMessage
	body := g.read(t, viewer, fmt.Sprintf("/api/groups/%s/agenda?from=%s&to=%s", grp.ID, rfc(from), rfc(to)), &members)
	detailKeys := append([]string{"busy"}, agendaEntryKeys...)
	out := []string{}
	for _, mr := range members {
		m := expectKeys(t, mr, "user_id", "username", "display_name", "entries")
		name := rawString(t, m, "username")
		var entries []json.RawMessage
		if err := json.Unmarshal(m["entries"], &entries); err != nil || entries == nil {
			t.Fatalf("entries of %s = %s, want a list", name, m["entries"])
		}
		if len(entries) == 0 {
			out = append(out, name+": -")
		}
		for _, er := range entries {
			var e struct {
				Start, End time.Time
				Busy       bool
				Title      string
				MyStatus   string `json:"my_status"`
			}
			if err := json.Unmarshal(er, &e); err != nil {
				t.Fatal(err)
			}
			span := e.Start.Format("15:04") + "-" + e.End.Format("15:04")
			var raw map[string]json.RawMessage
			json.Unmarshal(er, &raw)
			if len(raw) == 3 {
				expectKeys(t, er, "start", "end", "busy")
				if !e.Busy {
					t.Fatalf("masked entry with busy false: %s", er)
				}
				out = append(out, name+": "+span+" busy")
				continue
			}
			expectKeys(t, er, detailKeys...)
			if e.Busy {
				t.Fatalf("detailed entry with busy true: %s", er)
			}
			out = append(out, fmt.Sprintf("%s: %s %s (%s)", name, span, e.Title, e.MyStatus))
		}
	}
	return out, body
}

// expectGroupAgenda fails unless viewer's view of grp's agenda renders as
// want and the raw body contains none of hidden.
func (g *groupPlay) expectGroupAgenda(t testing.TB, viewer *client, grp apiGroup, from, to time.Time, want []string, hidden ...string) {
	t.Helper()
	got, body := g.groupAgendaLines(t, viewer, grp, from, to)
	if !slices.Equal(got, want) {
		t.Fatalf("agenda of group %q as %s =\n  %s\nwant\n  %s", grp.Name, g.who(viewer), strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	for _, h := range hidden {
		if strings.Contains(string(body), h) {
			t.Fatalf("agenda of group %q as %s leaks %q: %s", grp.Name, g.who(viewer), h, body)
		}
	}
}

// TestE2EGroupsAgendaPrivacy: who sees what of whom in a group agenda. A
// superior sees a subordinate's entries in detail when their privacy is
// full and only busy time when it is freebusy; peers and subordinates see
// only busy time of what they take no part in; taking part shows details;
// a flat group has no superiors.
func TestE2EGroupsAgendaPrivacy(t *testing.T) {
	g := newGroupPlay(t)
	boss := g.user(t, "boss") // 1000
	mona := g.user(t, "mona") // 500
	lily := g.user(t, "lily") // 100
	luke := g.user(t, "luke") // 100

	dept := g.createGroup(t, boss, "Dept", true)
	g.addMember(t, boss, dept, mona, map[string]any{"user_id": mona.userID, "rank": 500}, 500)
	g.addMember(t, boss, dept, lily, map[string]any{"user_id": lily.userID, "rank": 100}, 100)
	g.addMember(t, mona, dept, luke, map[string]any{"user_id": luke.userID, "rank": 100}, 100)

	therapy := g.personal(t, luke, slot("Therapy session", at(9, 0), at(10, 0), "privacy", "freebusy"))
	review := g.personal(t, luke, slot("Code review", at(11, 0), at(12, 0), "privacy", "full"))
	dentist := g.personal(t, lily, slot("Dentist visit", at(9, 0), at(10, 0)))
	sync := g.groupAppointment(t, mona, dept, slot("Team sync", at(14, 0), at(15, 0), "privacy", "full"))
	private := g.personal(t, mona, slot("Mona private", at(16, 0), at(17, 0), "privacy", "full"))
	board := g.personal(t, boss, slot("Board meeting", at(16, 0), at(17, 0), "privacy", "freebusy"))
	if !slices.Equal(statuses(sync), []string{"boss:pending", "lily:auto", "luke:auto", "mona:owner"}) {
		t.Fatalf("team sync participants = %v", statuses(sync))
	}
	from, to := at(8, 0), at(18, 0)

	// The boss outranks everyone: full entries in detail, freebusy ones
	// masked. His pending invitation to the sync blocks nothing, so it is
	// not in his row.
	g.expectGroupAgenda(t, boss, dept, from, to, []string{
		"boss: 16:00-17:00 Board meeting (owner)",
		"mona: 14:00-15:00 Team sync (owner)",
		"mona: 16:00-17:00 Mona private (owner)",
		"lily: 09:00-10:00 Dentist visit (owner)",
		"lily: 14:00-15:00 Team sync (auto)",
		"luke: 09:00-10:00 busy",
		"luke: 11:00-12:00 Code review (owner)",
		"luke: 14:00-15:00 Team sync (auto)",
	}, "Therapy session", therapy.ID)
	// Mona outranks lily and luke, not the boss.
	g.expectGroupAgenda(t, mona, dept, from, to, []string{
		"boss: 16:00-17:00 busy",
		"mona: 14:00-15:00 Team sync (owner)",
		"mona: 16:00-17:00 Mona private (owner)",
		"lily: 09:00-10:00 Dentist visit (owner)",
		"lily: 14:00-15:00 Team sync (auto)",
		"luke: 09:00-10:00 busy",
		"luke: 11:00-12:00 Code review (owner)",
		"luke: 14:00-15:00 Team sync (auto)",
	}, "Therapy session", therapy.ID, "Board meeting", board.ID)
	// Luke is a peer of lily and below mona: busy time only, except the
	// sync he takes part in; his own entries in full.
	g.expectGroupAgenda(t, luke, dept, from, to, []string{
		"boss: 16:00-17:00 busy",
		"mona: 14:00-15:00 Team sync (owner)",
		"mona: 16:00-17:00 busy",
		"lily: 09:00-10:00 busy",
		"lily: 14:00-15:00 Team sync (auto)",
		"luke: 09:00-10:00 Therapy session (owner)",
		"luke: 11:00-12:00 Code review (owner)",
		"luke: 14:00-15:00 Team sync (auto)",
	}, "Dentist visit", dentist.ID, "Mona private", private.ID, "Board meeting", board.ID)
	g.expectGroupAgenda(t, lily, dept, from, to, []string{
		"boss: 16:00-17:00 busy",
		"mona: 14:00-15:00 Team sync (owner)",
		"mona: 16:00-17:00 busy",
		"lily: 09:00-10:00 Dentist visit (owner)",
		"lily: 14:00-15:00 Team sync (auto)",
		"luke: 09:00-10:00 busy",
		"luke: 11:00-12:00 busy",
		"luke: 14:00-15:00 Team sync (auto)",
	}, "Therapy session", therapy.ID, "Code review", review.ID, "Mona private", private.ID, "Board meeting", board.ID)

	// Luke makes his code review freebusy: his superiors now see busy time.
	g.write(t, luke, "PATCH", "/api/appointments/"+review.ID, map[string]any{"privacy": "freebusy"}, http.StatusOK)
	g.expectGroupAgenda(t, boss, dept, at(11, 0), at(12, 0),
		[]string{"boss: -", "mona: -", "lily: -", "luke: 11:00-12:00 busy"}, "Code review", review.ID)
	g.expectGroupAgenda(t, luke, dept, at(11, 0), at(12, 0),
		[]string{"boss: -", "mona: -", "lily: -", "luke: 11:00-12:00 Code review (owner)"})

	// Once the boss accepts, the sync is blocking time of his too.
	g.answer(t, boss, sync.ID, "accept")
	g.expectGroupAgenda(t, luke, dept, at(13, 0), at(18, 0), []string{
		"boss: 14:00-15:00 Team sync (accepted)",
		"boss: 16:00-17:00 busy",
		"mona: 14:00-15:00 Team sync (owner)",
		"mona: 16:00-17:00 busy",
		"lily: 14:00-15:00 Team sync (auto)",
		"luke: 14:00-15:00 Team sync (auto)",
	}, "Board meeting", "Mona private")
	// A window shows only what overlaps it, and every member, even idle.
	g.expectGroupAgenda(t, lily, dept, at(10, 0), at(11, 0), []string{"boss: -", "mona: -", "lily: -", "luke: -"})

	// In a flat group no one outranks anyone: full privacy shows nothing to
	// the others, a shared appointment shows in detail.
	club := g.createGroup(t, mona, "Lunch club", false)
	g.addMember(t, mona, club, luke, map[string]any{"username": "luke"}, 0)
	lunch := g.groupAppointment(t, mona, club, slot("Lunch", at(12, 0), at(13, 0)))
	g.answer(t, luke, lunch.ID, "accept")
	// (Equal ranks: members by username.)
	g.expectGroupAgenda(t, mona, club, from, to, []string{
		"luke: 09:00-10:00 busy",
		"luke: 11:00-12:00 busy",
		"luke: 12:00-13:00 Lunch (accepted)",
		"luke: 14:00-15:00 Team sync (auto)",
		"mona: 12:00-13:00 Lunch (owner)",
		"mona: 14:00-15:00 Team sync (owner)",
		"mona: 16:00-17:00 Mona private (owner)",
	}, "Therapy session", "Code review", review.ID)
}

// TestE2EGroupsAgendaDeclinedInviteeSeesBusyOnly: an invitee who declined
// takes no part any more in the group agenda's eyes (commit 5a1c53f): a peer
// of the organiser sees the appointment in detail while invited, and only
// as busy time once they declined, although they can still read it with
// GET /api/appointments/{id}.
func TestE2EGroupsAgendaDeclinedInviteeSeesBusyOnly(t *testing.T) {
	g := newGroupPlay(t)
	boss := g.user(t, "boss")
	mona := g.user(t, "mona") // 500, organises
	mark := g.user(t, "mark") // 500, a peer: invited
	dept := g.createGroup(t, boss, "Dept", true)
	g.addMember(t, boss, dept, mona, map[string]any{"username": "mona", "rank": 500}, 500)
	g.addMember(t, boss, dept, mark, map[string]any{"username": "mark", "rank": 500}, 500)
	sync := g.groupAppointment(t, mona, dept, slot("Heads sync", at(14, 0), at(15, 0), "privacy", "freebusy"))

	g.expectGroupAgenda(t, mark, dept, at(8, 0), at(18, 0), // pending: takes part
		[]string{"boss: -", "mark: -", "mona: 14:00-15:00 Heads sync (owner)"})
	g.answer(t, mark, sync.ID, "decline")
	if a := g.appointment(t, mark, sync.ID); a.MyStatus != "declined" || a.Title != "Heads sync" {
		t.Fatalf("the declined invitee reads %+v", a)
	}
	g.expectGroupAgenda(t, mark, dept, at(8, 0), at(18, 0), // declined: busy time only
		[]string{"boss: -", "mark: -", "mona: 14:00-15:00 busy"}, "Heads sync", sync.ID)
	// Accepting again brings the details back.
	g.answer(t, mark, sync.ID, "accept")
	g.expectGroupAgenda(t, mark, dept, at(8, 0), at(18, 0),
		[]string{"boss: -", "mark: 14:00-15:00 Heads sync (accepted)", "mona: 14:00-15:00 Heads sync (owner)"})
}

// freeSlotsPath is the free-slots query of grp.
func freeSlotsPath(grp apiGroup, from, to time.Time, duration string) string {
	return fmt.Sprintf("/api/groups/%s/free-slots?from=%s&to=%s&duration=%s", grp.ID, rfc(from), rfc(to), duration)
}

// expectFreeSlots fails unless the free slots of grp are exactly want
// ("09:00-10:00" each), each shaped {start, end}.
func (g *groupPlay) expectFreeSlots(t testing.TB, c *client, grp apiGroup, from, to time.Time, duration string, want ...string) {
	t.Helper()
	var raw []json.RawMessage
	g.read(t, c, freeSlotsPath(grp, from, to, duration), &raw)
	got := []string{}
	for _, r := range raw {
		m := expectKeys(t, r, "start", "end")
		s, e := rawString(t, m, "start"), rawString(t, m, "end")
		st, err1 := time.Parse(time.RFC3339, s)
		en, err2 := time.Parse(time.RFC3339, e)
		if err1 != nil || err2 != nil || !strings.HasSuffix(s, "Z") || !strings.HasSuffix(e, "Z") {
			t.Fatalf("slot %s: want RFC 3339 UTC times", r)
		}
		got = append(got, st.Format("15:04")+"-"+en.Format("15:04"))
	}
	if !slices.Equal(got, append([]string{}, want...)) {
		t.Fatalf("free slots of %q [%s, %s) of %s = %v, want %v", grp.Name, from.Format("15:04"), to.Format("15:04"), duration, got, want)
	}
}

// TestE2EGroupsFreeSlots: the common free time of a group's members, from
// what blocks their time (own, imposed, accepted; not pending invitations).
func TestE2EGroupsFreeSlots(t *testing.T) {
	g := newGroupPlay(t)
	fay := g.user(t, "fay")
	gus := g.user(t, "gus")
	ida := g.user(t, "ida")
	oli := g.user(t, "oli")
	zed := g.user(t, "zed") // in no group
	team := g.createGroup(t, fay, "Planning", false)
	g.addMember(t, fay, team, gus, map[string]any{"username": "gus"}, 0)
	g.addMember(t, fay, team, ida, map[string]any{"username": "ida"}, 0)

	g.personal(t, ida, slot("early", at(7, 0), at(8, 30))) // starts before the window
	g.personal(t, fay, slot("f1", at(9, 0), at(10, 0)))
	g.personal(t, gus, slot("g1", at(9, 30), at(11, 0))) // overlaps fay's
	g.personal(t, ida, slot("i1", at(12, 0), at(12, 20)))
	g.personal(t, ida, slot("i2", at(12, 40), at(13, 0)))
	g.personal(t, gus, slot("outside", at(19, 0), at(20, 0))) // after the window
	// A pending flat-group meeting blocks its organiser only.
	g.groupAppointment(t, fay, team, slot("Planning session", at(15, 0), at(16, 0)))
	// Gus is invited elsewhere at 17:00: an invitation blocks nothing.
	side := g.createGroup(t, gus, "Side", true)
	g.addMember(t, gus, side, oli, map[string]any{"username": "oli"}, 0)
	sideMeeting := g.groupAppointment(t, oli, side, slot("Side meeting", at(17, 0), at(17, 30)))
	from, to := at(8, 0), at(18, 0)

	tests := []struct {
		duration string
		want     []string
	}{
		{"30m", []string{"08:30-09:00", "11:00-12:00", "13:00-15:00", "16:00-18:00"}},
		{"20m", []string{"08:30-09:00", "11:00-12:00", "12:20-12:40", "13:00-15:00", "16:00-18:00"}},
		{"21m", []string{"08:30-09:00", "11:00-12:00", "13:00-15:00", "16:00-18:00"}},
		{"1h", []string{"11:00-12:00", "13:00-15:00", "16:00-18:00"}},
		{"1h30m", []string{"13:00-15:00", "16:00-18:00"}},
		{"2h", []string{"13:00-15:00", "16:00-18:00"}},
		{"2h1m", []string{}},
	}
	for _, tc := range tests {
		g.expectFreeSlots(t, ida, team, from, to, tc.duration, tc.want...)
	}
	// Every member gets the same answer.
	g.expectFreeSlots(t, fay, team, from, to, "30m", "08:30-09:00", "11:00-12:00", "13:00-15:00", "16:00-18:00")
	// A window inside the day is clipped to it.
	g.expectFreeSlots(t, gus, team, at(12, 10), at(12, 50), "10m", "12:20-12:40")
	g.expectFreeSlots(t, gus, team, at(9, 15), at(10, 45), "1m")

	// Once gus accepts the side meeting, it is busy time of the team too.
	g.answer(t, gus, sideMeeting.ID, "accept")
	g.expectFreeSlots(t, ida, team, from, to, "30m", "08:30-09:00", "11:00-12:00", "13:00-15:00", "16:00-17:00", "17:30-18:00")
	// The side group sees gus's and oli's time only (gus is merely invited
	// to the planning session at 15:00).
	g.expectFreeSlots(t, oli, side, from, to, "1h", "08:00-09:30", "11:00-17:00")

	// Not a member: the same 404 as a group that does not exist.
	missing := apiGroup{ID: uuid.NewString()}
	nonMember := g.notFound(t, zed, freeSlotsPath(team, from, to, "30m"))
	noGroup := g.notFound(t, zed, freeSlotsPath(missing, from, to, "30m"))
	if string(nonMember.Body) != string(noGroup.Body) {
		t.Fatalf("non-member 404 %s differs from unknown-group 404 %s", nonMember.Body, noGroup.Body)
	}

	// Bad durations and windows.
	for _, d := range []string{"", "abc", "30", "30s", "0", "-1h", "745h"} {
		r := g.get(t, fay, freeSlotsPath(team, from, to, d))
		expectField(t, expectError(t, r, http.StatusBadRequest, "invalid"), "duration")
	}
	r := g.get(t, fay, freeSlotsPath(team, to, from, "30m"))
	expectError(t, r, http.StatusBadRequest, "invalid")
	r = g.get(t, fay, fmt.Sprintf("/api/groups/%s/free-slots?duration=30m", team.ID))
	expectError(t, r, http.StatusBadRequest, "invalid")
	g.expectFreeSlots(t, fay, team, from, to, "744h")
}

// TestE2EGroupsNeverLeak: someone outside a group gets, on every group
// endpoint, the very answer a group that does not exist gets; someone
// outside an appointment gets the answer of an appointment that does not
// exist. Nothing they send is written.
func TestE2EGroupsNeverLeak(t *testing.T) {
	g := newGroupPlay(t)
	al := g.user(t, "al_")
	bo := g.user(t, "bo_")
	eve := g.user(t, "eve")
	team := g.createGroup(t, al, "Secret team", true)
	g.addMember(t, al, team, bo, map[string]any{"username": "bo_"}, 0)
	plan := g.groupAppointment(t, al, team, slot("Secret plan", at(9, 0), at(10, 0)))
	missingGroup := uuid.NewString()
	missingAppt := uuid.NewString()
	window := fmt.Sprintf("from=%s&to=%s", rfc(at(0, 0)), rfc(at(23, 0)))

	type call struct {
		name         string
		method, path string // %s is the group or appointment ID
		body         any
	}
	groupCalls := []call{
		{"read the group", "GET", "/api/groups/%s", nil},
		{"rename the group", "PATCH", "/api/groups/%s", map[string]any{"name": "Mine"}},
		{"delete the group", "DELETE", "/api/groups/%s", nil},
		{"add herself by ID", "POST", "/api/groups/%s/members", map[string]any{"user_id": eve.userID}},
		{"add herself by name with a rank", "POST", "/api/groups/%s/members", map[string]any{"username": "eve", "rank": 5}},
		{"re-rank a member", "PATCH", "/api/groups/%s/members/" + bo.userID, map[string]any{"rank": 1}},
		{"re-rank herself", "PATCH", "/api/groups/%s/members/" + eve.userID, map[string]any{"rank": 1}},
		{"remove a member", "DELETE", "/api/groups/%s/members/" + bo.userID, nil},
		{"leave", "DELETE", "/api/groups/%s/members/" + eve.userID, nil},
		{"set an appointment", "POST", "/api/groups/%s/appointments", slot("Hijack", at(11, 0), at(12, 0))},
		{"read the agenda", "GET", "/api/groups/%s/agenda?" + window, nil},
		{"read the free slots", "GET", "/api/groups/%s/free-slots?duration=30m&" + window, nil},
	}
	apptCalls := []call{
		{"read", "GET", "/api/appointments/%s", nil},
		{"change", "PATCH", "/api/appointments/%s", map[string]any{"title": "Mine"}},
		{"cancel", "DELETE", "/api/appointments/%s", nil},
		{"accept", "POST", "/api/appointments/%s/accept", nil},
		{"decline", "POST", "/api/appointments/%s/decline", nil},
	}
	check := func(t *testing.T, c call, real, missing string) {
		_, rReal := g.refuse(t, eve, c.method, fmt.Sprintf(c.path, real), c.body, http.StatusNotFound, "not_found")
		_, rMissing := g.refuse(t, eve, c.method, fmt.Sprintf(c.path, missing), c.body, http.StatusNotFound, "not_found")
		if string(rReal.Body) != string(rMissing.Body) {
			t.Fatalf("outsider's answer %s differs from the answer for nothing %s", rReal.Body, rMissing.Body)
		}
		for _, leak := range []string{"Secret", al.userID, bo.userID, plan.ID} {
			if strings.Contains(string(rReal.Body), leak) {
				t.Fatalf("the answer leaks %q: %s", leak, rReal.Body)
			}
		}
	}
	for _, c := range groupCalls {
		t.Run("outsider: "+c.name, func(t *testing.T) { check(t, c, team.ID, missingGroup) })
	}
	for _, c := range apptCalls {
		t.Run("outsider: "+c.name+" the appointment", func(t *testing.T) { check(t, c, plan.ID, missingAppt) })
	}
	// Eve's own lists show none of it.
	var list []json.RawMessage
	g.read(t, eve, "/api/groups", &list)
	g.expectInvitations(t, eve)
	if len(list) != 0 {
		t.Fatalf("eve's groups = %s", list)
	}
	if got := g.notifications(t, eve, ""); len(got) != 0 {
		t.Fatalf("eve's notifications = %+v", got)
	}
	// And the group and the plan are as they were.
	if got := decodeGroup(t, g.read(t, al, "/api/groups/"+team.ID, nil), true); got.Name != "Secret team" ||
		!slices.Equal(ranks(got.Members), []string{"al_:1000", "bo_:0"}) {
		t.Fatalf("the group after eve's attempts = %+v", got)
	}
	if a := g.appointment(t, bo, plan.ID); a.Title != "Secret plan" || a.Status != "confirmed" || a.MyStatus != "auto" {
		t.Fatalf("the plan after eve's attempts = %+v", a)
	}

	// A member of the group who is not a participant of an appointment
	// (joined after it was set) cannot see or answer it either.
	cy := g.user(t, "cyd")
	g.addMember(t, al, team, cy, map[string]any{"username": "cyd"}, 0)
	for _, c := range apptCalls {
		t.Run("late member: "+c.name+" the appointment", func(t *testing.T) {
			before := traceOf(t, g.n)
			rReal := cy.withT(t).do(c.method, fmt.Sprintf(c.path, plan.ID), c.body)
			rMissing := cy.withT(t).do(c.method, fmt.Sprintf(c.path, missingAppt), c.body)
			expectError(t, rReal, http.StatusNotFound, "not_found")
			expectNoTrace(t, g.n, before)
			if string(rReal.Body) != string(rMissing.Body) {
				t.Fatalf("answer %s differs from the answer for nothing %s", rReal.Body, rMissing.Body)
			}
		})
	}
}
