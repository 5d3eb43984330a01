package main

import (
	"fmt"
	"net/http"
	"reflect"
	"testing"
	"time"
)

// TestE2EGroupPendingInvitationsBounded: an attacker's review flooded a
// member of a flat group with 10,001 one-minute appointments, each an
// invitation waiting for an answer, until the member's week could not be
// read. Now a member holds at most agenda.MaxPendingInvitations (1,000)
// invitations of one group still to come: the next appointment is refused
// whole, naming who, and answering one makes room. Those to appointments
// that have ended are not bounded, but no longer come first in the
// member's list: a later review set 1,010 of 2020, oldest first, and a real
// invitation no longer appeared in it.
func TestE2EGroupPendingInvitationsBounded(t *testing.T) {
	g := newGroupPlay(t)
	ana := g.user(t, "ana")
	bob := g.user(t, "bob")
	grp := g.createGroup(t, ana, "Flood", false)
	g.addMember(t, ana, grp, bob, map[string]any{"user_id": bob.userID}, 0)
	path := "/api/groups/" + grp.ID + "/appointments"

	base := time.Now().UTC().Truncate(time.Hour).Add(48 * time.Hour)
	minute := func(i int) map[string]any {
		start := base.Add(time.Duration(i) * time.Minute)
		return slot(fmt.Sprintf("Flood %d", i), start, start.Add(time.Minute))
	}
	// One that has ended does not count, and comes after an open one.
	longAgo := g.groupAppointment(t, ana, grp, slot("Long ago", base.Add(-96*time.Hour), base.Add(-95*time.Hour)))
	other := g.createGroup(t, bob, "Real", false)
	g.addMember(t, bob, other, ana, map[string]any{"user_id": ana.userID}, 0)
	meeting := g.groupAppointment(t, ana, other, slot("Real meeting", base.Add(24*time.Hour), base.Add(25*time.Hour)))
	var inv []struct {
		ID string `json:"id"`
	}
	g.read(t, bob, "/api/invitations", &inv)
	if len(inv) != 2 || inv[0].ID != meeting.ID || inv[1].ID != longAgo.ID {
		t.Fatalf("bob's invitations = %v, want the open one (%s), then the ended one (%s)", inv, meeting.ID, longAgo.ID)
	}
	const bound = 1000
	var first string
	for i := range bound {
		r := ana.withT(t).do("POST", path, minute(i))
		if r.Status != http.StatusCreated {
			t.Fatalf("appointment %d: %d %s", i, r.Status, r.Body)
		}
		if i == 0 {
			first = decodeAppointment(t, r).ID
		}
		if p := positionOf(t, r); p > g.pos {
			g.pos = p
		}
	}
	e, _ := g.refuse(t, ana, "POST", path, minute(bound), http.StatusConflict, "conflict")
	if got := e.Details["user_ids"]; !reflect.DeepEqual(got, []any{bob.userID}) || e.Details["max_pending_invitations"] != float64(bound) {
		t.Fatalf("details = %v, want user_ids [bob] and max_pending_invitations %d", e.Details, bound)
	}
	// Nor may the ended one be moved to a time still to come past the bound
	// (a review moved 10,400 of 2016 into one week of 2027).
	g.refuse(t, ana, "PATCH", "/api/appointments/"+longAgo.ID, minute(bound+2), http.StatusConflict, "conflict")
	// Bob answers one, which makes room for one more.
	g.answer(t, bob, first, "accept")
	g.groupAppointment(t, ana, grp, minute(bound))
	g.refuse(t, ana, "POST", path, minute(bound+1), http.StatusConflict, "conflict")
}

// An attacker's review had a member of a flat group set appointments in
// 2021, each pending for the others' answers, and be removed: leaving
// cancels only the appointments still to come, nobody else may cancel an
// ended one, and the group could not be deleted until its creator declined
// each. A flat group's pending appointment that has ended no longer keeps
// the group once its organiser is gone; while they stay, it does.
func TestE2EGroupDeletableOnceThePastOrganiserIsGone(t *testing.T) {
	g := newGroupPlay(t)
	cr := g.user(t, "cre")
	mal := g.user(t, "mal")
	grp := g.createGroup(t, cr, "Study", false)
	g.addMember(t, cr, grp, mal, map[string]any{"user_id": mal.userID}, 0)
	gp := "/api/groups/" + grp.ID
	for i := range 3 {
		start := time.Date(2021, 1, 4+i, 10, 0, 0, 0, time.UTC)
		g.groupAppointment(t, mal, grp, slot(fmt.Sprintf("Old %d", i), start, start.Add(time.Hour)))
	}
	if e, _ := g.refuse(t, cr, "DELETE", gp, nil, http.StatusConflict, "conflict"); e.Details["pending_appointments"] != float64(3) {
		t.Fatalf("details = %v, want pending_appointments 3 while their organiser is a member", e.Details)
	}
	g.write(t, cr, "DELETE", gp+"/members/"+mal.userID, nil, http.StatusNoContent)
	g.write(t, cr, "DELETE", gp, nil, http.StatusNoContent)
}
