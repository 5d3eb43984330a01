package main

// End-to-end scenarios of groups (issue 3), each played by several people on
// one real node through HTTP. This file: a hierarchy imposing and inviting,
// a flat study group confirming and cancelling, and schedule conflicts
// across people. groups_visibility_e2e_test.go holds what members see of
// each other (group agendas, free slots, nothing for outsiders),
// groups_lifecycle_e2e_test.go a group's life and an organiser moving and
// cancelling, groups_play_test.go the plumbing they share.
//
// Every read asks for the position of the scenario's last write
// (min_position), so each step sees what the steps before it wrote.

import (
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// ---------------------------------------------------------------------------
// Scenarios.

// TestE2EGroupsHierarchyImposes: a director's department; one head of
// department sets a meeting. The three people below the head have it in
// their agendas at once (auto, not pending, blocking); the director above
// and the other head at the same rank get invitations instead. Everyone is
// told, and the head hears of each answer.
func TestE2EGroupsHierarchyImposes(t *testing.T) {
	g := newGroupPlay(t)
	dora := g.user(t, "dora") // director: creates the department, rank 1000
	hugo := g.user(t, "hugo") // head of department, rank 500, organises
	pia := g.user(t, "pia")   // another head, rank 500: level with the organiser
	sam := g.user(t, "sam")   // rank 100
	sue := g.user(t, "sue")   // rank 100
	syd := g.user(t, "syd")   // rank 0 (the default)

	dept := g.createGroup(t, dora, "Engineering", true)
	gp := "/api/groups/" + dept.ID
	g.addMember(t, dora, dept, hugo, map[string]any{"username": "hugo", "rank": 500}, 500)
	g.addMember(t, dora, dept, pia, map[string]any{"user_id": pia.userID, "rank": 500}, 500)
	g.addMember(t, dora, dept, sam, map[string]any{"user_id": sam.userID, "rank": 100}, 100)
	g.addMember(t, dora, dept, sue, map[string]any{"username": "sue", "rank": 100}, 100)
	g.addMember(t, dora, dept, syd, map[string]any{"user_id": syd.userID}, 0)

	// The department as its lowest member sees it: most senior first.
	r := g.get(t, syd, gp).expect(t, http.StatusOK)
	got := decodeGroup(t, r.Body, true)
	expectETag(t, r, got.Version)
	if want := []string{"dora:1000", "hugo:500", "pia:500", "sam:100", "sue:100", "syd:0"}; !slices.Equal(ranks(got.Members), want) {
		t.Fatalf("members = %v, want %v", ranks(got.Members), want)
	}
	if got.MyRank != 0 || got.MemberCount != 6 || got.CreatorID != dora.userID || !got.Hierarchical {
		t.Fatalf("group as syd = %+v", got)
	}
	var list []json.RawMessage
	g.read(t, syd, "/api/groups", &list)
	if len(list) != 1 {
		t.Fatalf("syd's groups = %d, want 1", len(list))
	}
	if lg := decodeGroup(t, list[0], false); lg.ID != dept.ID || lg.MyRank != 0 || lg.MemberCount != 6 {
		t.Fatalf("syd's group in the list = %+v", lg)
	}

	// Hugo sets the meeting.
	meeting := g.groupAppointment(t, hugo, dept, slot("Quarterly planning", at(9, 0), at(10, 30),
		"description", "bring the numbers", "location", "Room 1"))
	if meeting.Status != "confirmed" || meeting.Privacy != "full" || meeting.Description != "bring the numbers" || meeting.Location != "Room 1" {
		t.Fatalf("meeting = %+v", meeting)
	}
	wantParts := []string{"dora:pending", "hugo:owner", "pia:pending", "sam:auto", "sue:auto", "syd:auto"}
	if got := statuses(meeting); !slices.Equal(got, wantParts) {
		t.Fatalf("participants = %v, want %v", got, wantParts)
	}
	morning, noon := at(8, 0), at(12, 0)

	// Below the organiser: in the agenda at once, imposed, not an invitation.
	for _, c := range []*client{sam, sue, syd} {
		entries := g.expectAgenda(t, c, morning, noon, "Quarterly planning 09:00-10:30 auto/confirmed pending=false")
		if entries[0].AppointmentID != meeting.ID {
			t.Fatalf("%s's entry is %s, want %s", g.who(c), entries[0].AppointmentID, meeting.ID)
		}
		g.expectInvitations(t, c)
		if a := g.appointment(t, c, meeting.ID); a.MyStatus != "auto" || a.Status != "confirmed" || !slices.Equal(statuses(a), wantParts) {
			t.Fatalf("meeting as %s = %+v", g.who(c), a)
		}
	}
	// Level with or above the organiser: an invitation, pending in the agenda.
	for _, c := range []*client{dora, pia} {
		g.expectAgenda(t, c, morning, noon, "Quarterly planning 09:00-10:30 pending/confirmed pending=true")
		g.expectInvitations(t, c, meeting.ID)
	}
	g.expectAgenda(t, hugo, morning, noon, "Quarterly planning 09:00-10:30 owner/confirmed pending=false")

	// Who was told what.
	imposed := note{"imposed", apptNote(meeting, "confirmed", hugo.userID)}
	invited := note{"invitation", apptNote(meeting, "confirmed", hugo.userID)}
	// Membership is by consent: each was invited by dora, and dora heard
	// of each acceptance.
	added := func(c *client, rank int) note {
		return note{"group_invitation", map[string]any{"group_id": dept.ID, "group_name": "Engineering", "by": dora.userID,
			"rank": rank, "hierarchical": true}}
	}
	joined := func(c *client, rank int) note {
		return note{"member_added", groupNote(dept, "Engineering", c.userID, c.userID, "rank", rank)}
	}
	g.expectNotes(t, sam, imposed, added(sam, 100))
	g.expectNotes(t, sue, imposed, added(sue, 100))
	g.expectNotes(t, syd, imposed, added(syd, 0))
	g.expectNotes(t, pia, invited, added(pia, 500))
	g.expectNotes(t, dora, invited, joined(syd, 0), joined(sue, 100), joined(sam, 100), joined(pia, 500), joined(hugo, 500))
	g.expectNotes(t, hugo, added(hugo, 500))

	// Imposed time blocks: syd cannot book over it, and sees why in full.
	e, _ := g.refuse(t, syd, "POST", "/api/appointments", slot("Gym", at(10, 0), at(11, 0)), http.StatusConflict, "schedule_conflict")
	cs := conflictsOf(t, e, syd.userID)
	if len(cs) != 1 || cs[0]["appointment_id"] != meeting.ID || cs[0]["title"] != "Quarterly planning" ||
		cs[0]["start"] != rfc(at(9, 0)) || cs[0]["end"] != rfc(at(10, 30)) {
		t.Fatalf("conflicts = %v, want the meeting", cs)
	}
	// An imposed meeting cannot be answered.
	g.refuse(t, sam, "POST", "/api/appointments/"+meeting.ID+"/accept", nil, http.StatusConflict, "conflict")
	g.refuse(t, sam, "POST", "/api/appointments/"+meeting.ID+"/decline", nil, http.StatusConflict, "conflict")

	// Pia accepts: it becomes blocking time of hers, and hugo hears of it.
	p := g.answer(t, pia, meeting.ID, "accept")
	if p.Status != "accepted" || p.Appointment.Status != "confirmed" {
		t.Fatalf("accept = %+v", p)
	}
	g.expectAgenda(t, pia, morning, noon, "Quarterly planning 09:00-10:30 accepted/confirmed pending=false")
	g.expectInvitations(t, pia)
	g.expectNotes(t, hugo, note{"accepted", apptNote(meeting, "confirmed", pia.userID, "user_id", pia.userID)}, added(hugo, 500))

	// Dora declines: it leaves her agenda; she can still read it.
	p = g.answer(t, dora, meeting.ID, "decline")
	if p.Status != "declined" || p.Appointment.Status != "confirmed" {
		t.Fatalf("decline = %+v", p)
	}
	g.expectAgenda(t, dora, morning, noon)
	g.expectInvitations(t, dora)
	a := g.appointment(t, dora, meeting.ID)
	wantParts = []string{"dora:declined", "hugo:owner", "pia:accepted", "sam:auto", "sue:auto", "syd:auto"}
	if a.MyStatus != "declined" || a.Status != "confirmed" || !slices.Equal(statuses(a), wantParts) {
		t.Fatalf("meeting as dora after declining = %+v", a)
	}
	g.expectNotes(t, hugo,
		note{"declined", apptNote(meeting, "confirmed", dora.userID, "user_id", dora.userID)},
		note{"accepted", apptNote(meeting, "confirmed", pia.userID, "user_id", pia.userID)},
		added(hugo, 500))
	// The others heard nothing of the answers.
	g.expectNotes(t, sam, imposed, added(sam, 100))
}

// TestE2EGroupsFlatStudyGroup: in a flat group everyone is invited; a
// meeting holds only once all accept, and one refusal cancels it for all.
func TestE2EGroupsFlatStudyGroup(t *testing.T) {
	g := newGroupPlay(t)
	lea := g.user(t, "lea")
	max := g.user(t, "max")
	noa := g.user(t, "noa")
	ola := g.user(t, "ola")

	club := g.createGroup(t, lea, "Study group", false)
	g.addMember(t, lea, club, max, map[string]any{"username": "max"}, 0)
	g.addMember(t, max, club, noa, map[string]any{"user_id": noa.userID}, 0)        // any member may add
	g.addMember(t, noa, club, ola, map[string]any{"username": "ola", "rank": 0}, 0) // rank 0 is the only rank
	grp := decodeGroup(t, g.read(t, ola, "/api/groups/"+club.ID, nil), true)
	if want := []string{"lea:0", "max:0", "noa:0", "ola:0"}; !slices.Equal(ranks(grp.Members), want) || grp.Hierarchical {
		t.Fatalf("members = %v, want %v", ranks(grp.Members), want)
	}
	evening, night := at(17, 0), at(23, 0)
	// Membership by consent: each was invited (group_invitation) and whoever
	// invited them heard they joined (member_added); newest first.
	invitedBy := func(by *client) note {
		return note{"group_invitation", map[string]any{"group_id": club.ID, "group_name": "Study group", "by": by.userID,
			"rank": 0, "hierarchical": false}}
	}
	joined := func(c *client) note {
		return note{"member_added", groupNote(club, "Study group", c.userID, c.userID, "rank", 0)}
	}
	addedBy := map[string][]note{lea.userID: {joined(max)}, max.userID: {joined(noa), invitedBy(lea)},
		noa.userID: {joined(ola), invitedBy(max)}, ola.userID: {invitedBy(noa)}}

	// Meeting 1: pending until everyone accepted.
	m1 := g.groupAppointment(t, max, club, slot("Study session", at(18, 0), at(20, 0)))
	if m1.Status != "pending" || !slices.Equal(statuses(m1), []string{"lea:pending", "max:owner", "noa:pending", "ola:pending"}) {
		t.Fatalf("meeting 1 = %+v", m1)
	}
	for _, c := range []*client{lea, noa, ola} {
		g.expectAgenda(t, c, evening, night, "Study session 18:00-20:00 pending/pending pending=true")
		g.expectInvitations(t, c, m1.ID)
		g.expectNotes(t, c, append([]note{{"invitation", apptNote(m1, "pending", max.userID)}}, addedBy[c.userID]...)...)
	}
	g.expectAgenda(t, max, evening, night, "Study session 18:00-20:00 owner/pending pending=false")

	for i, c := range []*client{lea, noa} {
		p := g.answer(t, c, m1.ID, "accept")
		if p.Status != "accepted" || p.Appointment.Status != "pending" {
			t.Fatalf("acceptance %d by %s = %+v, want the meeting still pending", i+1, g.who(c), p)
		}
		if a := g.appointment(t, max, m1.ID); a.Status != "pending" {
			t.Fatalf("after %s accepted, status = %q, want pending", g.who(c), a.Status)
		}
	}
	p := g.answer(t, ola, m1.ID, "accept") // the last one
	if p.Status != "accepted" || p.Appointment.Status != "confirmed" {
		t.Fatalf("last acceptance = %+v, want the meeting confirmed", p)
	}
	for _, c := range []*client{lea, max, noa, ola} {
		a := g.appointment(t, c, m1.ID)
		if a.Status != "confirmed" || !slices.Equal(statuses(a), []string{"lea:accepted", "max:owner", "noa:accepted", "ola:accepted"}) {
			t.Fatalf("meeting 1 as %s = %+v", g.who(c), a)
		}
		g.expectInvitations(t, c)
	}
	for _, c := range []*client{lea, noa, ola} {
		g.expectAgenda(t, c, evening, night, "Study session 18:00-20:00 accepted/confirmed pending=false")
	}
	g.expectAgenda(t, max, evening, night, "Study session 18:00-20:00 owner/confirmed pending=false")
	confirmed := note{"confirmed", apptNote(m1, "confirmed", ola.userID)}
	accepted := func(c *client) note {
		return note{"accepted", apptNote(m1, "pending", c.userID, "user_id", c.userID)}
	}
	g.expectNotes(t, max, append([]note{confirmed, accepted(ola), accepted(noa), accepted(lea)}, addedBy[max.userID]...)...)
	for _, c := range []*client{lea, noa} {
		g.expectNotes(t, c, append([]note{confirmed, {"invitation", apptNote(m1, "pending", max.userID)}}, addedBy[c.userID]...)...)
	}
	// Ola confirmed it herself: not told.
	g.expectNotes(t, ola, append([]note{{"invitation", apptNote(m1, "pending", max.userID)}}, addedBy[ola.userID]...)...)
	notesBefore := map[string][]apiNotification{}
	for _, c := range []*client{lea, max, noa, ola} {
		notesBefore[c.userID] = g.notifications(t, c, "")
	}

	// Meeting 2: one refusal cancels it for everyone.
	m2 := g.groupAppointment(t, lea, club, slot("Exam prep", at(21, 0), at(22, 0)))
	g.answer(t, noa, m2.ID, "accept")
	p = g.answer(t, ola, m2.ID, "decline")
	if p.Status != "declined" || p.Appointment.Status != "cancelled" {
		t.Fatalf("decline = %+v, want the meeting cancelled", p)
	}
	for _, c := range []*client{lea, max, noa, ola} {
		a := g.appointment(t, c, m2.ID)
		if a.Status != "cancelled" || !slices.Equal(statuses(a), []string{"lea:owner", "max:pending", "noa:accepted", "ola:declined"}) {
			t.Fatalf("meeting 2 as %s = %+v", g.who(c), a)
		}
		g.expectAgenda(t, c, at(20, 30), night) // gone from every agenda
		g.expectInvitations(t, c)
	}
	cancelled := note{"cancelled", apptNote(m2, "cancelled", ola.userID, "reason", "declined")}
	invitedTo2 := note{"invitation", apptNote(m2, "pending", lea.userID)}
	noteTypes := func(ns []apiNotification) []note {
		var out []note
		for _, n := range ns {
			out = append(out, note{n.Type, n.Payload})
		}
		return out
	}
	g.expectNotes(t, max, append([]note{cancelled, invitedTo2}, noteTypes(notesBefore[max.userID])...)...)
	g.expectNotes(t, noa, append([]note{cancelled, invitedTo2}, noteTypes(notesBefore[noa.userID])...)...)
	g.expectNotes(t, lea, append([]note{cancelled,
		{"declined", apptNote(m2, "pending", ola.userID, "user_id", ola.userID)},
		{"accepted", apptNote(m2, "pending", noa.userID, "user_id", noa.userID)},
	}, noteTypes(notesBefore[lea.userID])...)...)
	g.expectNotes(t, ola, append([]note{invitedTo2}, noteTypes(notesBefore[ola.userID])...)...)

	// Nothing more to answer, and nothing more to cancel.
	path := "/api/appointments/" + m2.ID
	g.refuse(t, max, "POST", path+"/accept", nil, http.StatusConflict, "conflict")
	g.refuse(t, max, "POST", path+"/decline", nil, http.StatusConflict, "conflict")
	g.refuse(t, noa, "POST", path+"/decline", nil, http.StatusConflict, "conflict")
	g.refuse(t, ola, "POST", path+"/accept", nil, http.StatusConflict, "conflict")
	g.refuse(t, lea, "DELETE", path, nil, http.StatusConflict, "conflict")
	// The evening is free again for everyone but the confirmed session.
	g.personal(t, max, slot("Max's run", at(21, 0), at(22, 0)))

	// A flat group of one: nobody to wait for, confirmed at once.
	solo := g.createGroup(t, noa, "Just me", false)
	if a := g.groupAppointment(t, noa, solo, slot("Revision", at(21, 0), at(22, 0))); a.Status != "confirmed" ||
		!slices.Equal(statuses(a), []string{"noa:owner"}) {
		t.Fatalf("a one-member flat group's appointment = %s %v, want confirmed", a.Status, statuses(a))
	}
}

// TestE2EGroupsConflictsAcrossPeople: imposing a meeting checks every
// imposed person's agenda and reports their clashes as busy time only,
// never what they are; nothing is committed. Accepting into an overlap is
// refused the same way; touching intervals never clash.
func TestE2EGroupsConflictsAcrossPeople(t *testing.T) {
	g := newGroupPlay(t)
	chief := g.user(t, "chief")
	ann := g.user(t, "ann")
	ben := g.user(t, "ben")
	team := g.createGroup(t, chief, "Team", true)
	g.addMember(t, chief, team, ann, map[string]any{"username": "ann"}, 0)
	g.addMember(t, chief, team, ben, map[string]any{"username": "ben"}, 0)
	interview := g.personal(t, ben, slot("Ben's job interview", at(10, 0), at(11, 0)))
	gp := "/api/groups/" + team.ID + "/appointments"
	dayStart, dayEnd := at(0, 0), at(23, 59)
	annNotes := g.notifications(t, ann, "")
	benNotes := g.notifications(t, ben, "")

	// Imposing over ben's interview: refused, and the answer shows chief only
	// that ben is busy then.
	e, r := g.refuse(t, chief, "POST", gp, slot("All hands", at(10, 30), at(11, 30)), http.StatusConflict, "schedule_conflict")
	cs := conflictsOf(t, e, chief.userID)
	want := []map[string]any{{"user_id": ben.userID, "start": rfc(at(10, 0)), "end": rfc(at(11, 0)), "busy": true}}
	if !reflect.DeepEqual(cs, want) {
		t.Fatalf("details.conflicts = %v, want %v", cs, want)
	}
	for _, leak := range []string{"job interview", interview.ID} {
		if strings.Contains(string(r.Body), leak) {
			t.Fatalf("the conflict leaks %q: %s", leak, r.Body)
		}
	}
	// Nothing was committed: no entries, no invitations, no notifications.
	for _, c := range []*client{chief, ann} {
		g.expectAgenda(t, c, dayStart, dayEnd)
		g.expectInvitations(t, c)
	}
	g.expectAgenda(t, ben, dayStart, dayEnd, "Ben's job interview 10:00-11:00 owner/confirmed pending=false")
	if got := g.notifications(t, ann, ""); !reflect.DeepEqual(got, annNotes) {
		t.Fatalf("ann's notifications changed: %+v", got)
	}
	if got := g.notifications(t, ben, ""); !reflect.DeepEqual(got, benNotes) {
		t.Fatalf("ben's notifications changed: %+v", got)
	}

	// Clashes of the organiser (in full) and of an imposed member (busy
	// only), in one answer, organiser first.
	lunch := g.personal(t, chief, slot("Chief lunch", at(12, 0), at(13, 0)))
	doctor := g.personal(t, ben, slot("Ben's doctor", at(12, 30), at(13, 30)))
	e, r = g.refuse(t, chief, "POST", gp, slot("Budget", at(12, 15), at(12, 45)), http.StatusConflict, "schedule_conflict")
	cs = conflictsOf(t, e, chief.userID)
	want = []map[string]any{
		{"user_id": chief.userID, "appointment_id": lunch.ID, "title": "Chief lunch", "start": rfc(at(12, 0)), "end": rfc(at(13, 0))},
		{"user_id": ben.userID, "start": rfc(at(12, 30)), "end": rfc(at(13, 30)), "busy": true},
	}
	if !reflect.DeepEqual(cs, want) {
		t.Fatalf("details.conflicts = %v, want %v", cs, want)
	}
	if strings.Contains(string(r.Body), "doctor") || strings.Contains(string(r.Body), doctor.ID) {
		t.Fatalf("the conflict leaks ben's appointment: %s", r.Body)
	}

	// Touching both ben's interview and chief's lunch: fine.
	standup := g.groupAppointment(t, chief, team, slot("Standup", at(11, 0), at(12, 0)))
	for _, c := range []*client{ann, ben} {
		if a := g.appointment(t, c, standup.ID); a.MyStatus != "auto" {
			t.Fatalf("standup as %s: my_status %q, want auto", g.who(c), a.MyStatus)
		}
	}
	g.expectAgenda(t, ben, dayStart, dayEnd,
		"Ben's job interview 10:00-11:00 owner/confirmed pending=false",
		"Standup 11:00-12:00 auto/confirmed pending=false",
		"Ben's doctor 12:30-13:30 owner/confirmed pending=false")

	// Ann (rank 0) invites: chief above her and ben level with her are
	// invited. An invitation blocks nothing, so ben books over it; then he
	// cannot accept it.
	retro := g.groupAppointment(t, ann, team, slot("Ann's retro", at(15, 0), at(16, 0)))
	if !slices.Equal(statuses(retro), []string{"ann:owner", "ben:pending", "chief:pending"}) {
		t.Fatalf("retro participants = %v", statuses(retro))
	}
	gym := g.personal(t, ben, slot("Ben's gym", at(15, 30), at(16, 30)))
	e, _ = g.refuse(t, ben, "POST", "/api/appointments/"+retro.ID+"/accept", nil, http.StatusConflict, "schedule_conflict")
	cs = conflictsOf(t, e, ben.userID)
	want = []map[string]any{{"user_id": ben.userID, "appointment_id": gym.ID, "title": "Ben's gym", "start": rfc(at(15, 30)), "end": rfc(at(16, 30))}}
	if !reflect.DeepEqual(cs, want) {
		t.Fatalf("details.conflicts = %v, want %v", cs, want)
	}
	g.expectInvitations(t, ben, retro.ID)
	if a := g.appointment(t, ben, retro.ID); a.MyStatus != "pending" {
		t.Fatalf("after the refused acceptance ben is %q, want pending", a.MyStatus)
	}
	// Moving the gym to touch the retro frees him to accept.
	g.write(t, ben, "PATCH", "/api/appointments/"+gym.ID, map[string]any{"start": rfc(at(16, 0)), "end": rfc(at(17, 0))}, http.StatusOK)
	g.answer(t, ben, retro.ID, "accept")
	// Chief accepts into a slot touching his own call.
	g.personal(t, chief, slot("Chief call", at(14, 0), at(15, 0)))
	g.answer(t, chief, retro.ID, "accept")
	g.expectAgenda(t, ben, at(14, 0), at(18, 0),
		"Ann's retro 15:00-16:00 accepted/confirmed pending=false",
		"Ben's gym 16:00-17:00 owner/confirmed pending=false")
}
