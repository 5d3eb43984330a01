package main

import (
	"net/http"
	"slices"
	"testing"
	"time"
)

// TestE2EGroupAppointmentsFollowTheGroupAsItIs: what a group appointment
// imposes, and who may move it, are decided by the group as it is now, not
// as it was when the appointment was set. Found by an attacker's review:
// leaving ends participation only in appointments that have not ended, and a
// past one could be moved into the future by an organiser removed from the
// group (imposing it again on people who could not decline it, and probing
// their busy times through schedule_conflict), or by its organiser onto
// someone who had left; and an imposition stayed binding after a new rank
// put the organiser below its participant.
func TestE2EGroupAppointmentsFollowTheGroupAsItIs(t *testing.T) {
	g := newGroupPlay(t)
	ann := g.user(t, "ann") // creator, 1000
	di := g.user(t, "dia")  // 500, later removed
	cy := g.user(t, "cyd")  // 500, organises, later outranked
	bo := g.user(t, "bob")  // 10, later leaves
	ed := g.user(t, "eda")  // 10, later ranked above cy
	team := g.createGroup(t, ann, "Team", true)
	gp := "/api/groups/" + team.ID
	g.addMember(t, ann, team, di, map[string]any{"user_id": di.userID, "rank": 500}, 500)
	g.addMember(t, ann, team, cy, map[string]any{"user_id": cy.userID, "rank": 500}, 500)
	g.addMember(t, ann, team, bo, map[string]any{"user_id": bo.userID, "rank": 10}, 10)
	g.addMember(t, ann, team, ed, map[string]any{"user_id": ed.userID, "rank": 10}, 10)

	past := time.Date(2021, 1, 4, 10, 0, 0, 0, time.UTC)
	future := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 1, 0).Add(9 * time.Hour)
	move := func(start time.Time) map[string]any {
		return map[string]any{"start": rfc(start), "end": rfc(start.Add(time.Hour))}
	}

	// di's past meeting, imposed on bo and ed; then di is removed.
	old := g.groupAppointment(t, di, team, slot("Old meeting", past, past.Add(time.Hour)))
	if a := g.appointment(t, bo, old.ID); a.MyStatus != "auto" {
		t.Fatalf("bo's part in di's meeting = %q, want auto", a.MyStatus)
	}
	g.write(t, ann, "DELETE", gp+"/members/"+di.userID, nil, http.StatusNoContent)
	// A former organiser may no longer move or retitle it: a move would
	// impose it anew and tell them who is busy when.
	g.refuse(t, di, "PATCH", "/api/appointments/"+old.ID, move(future), http.StatusForbidden, "forbidden")
	g.refuse(t, di, "PATCH", "/api/appointments/"+old.ID, map[string]any{"title": "Mandatory"}, http.StatusForbidden, "forbidden")
	// And it binds no one any more: bo may decline it.
	if p := g.answer(t, bo, old.ID, "decline"); p.Status != "declined" {
		t.Fatalf("bo's decline = %+v", p)
	}
	// di may still cancel it.
	g.write(t, di, "DELETE", "/api/appointments/"+old.ID, nil, http.StatusNoContent)

	// ann's past meeting, imposed on bo; bo books his own time, then leaves.
	ann1 := g.groupAppointment(t, ann, team, slot("Retro", past.Add(2*time.Hour), past.Add(3*time.Hour)))
	own := g.personal(t, bo, slot("Dentist", future, future.Add(time.Hour), "privacy", "freebusy"))
	g.write(t, bo, "DELETE", gp+"/members/"+bo.userID, nil, http.StatusNoContent)
	// Moved onto bo's dentist: bo is no longer in the group, so he stops
	// taking part rather than clash (which would show ann his busy time).
	r := g.write(t, ann, "PATCH", "/api/appointments/"+ann1.ID, move(future), http.StatusOK)
	moved := decodeAppointment(t, r)
	for _, p := range moved.Participants {
		if p.UserID == bo.userID {
			t.Fatalf("moved meeting still lists bo: %v", statuses(moved))
		}
	}
	if want := []string{"ann:owner", "cyd:auto", "eda:auto"}; !slices.Equal(statuses(moved), want) {
		t.Fatalf("moved meeting participants = %v, want %v", statuses(moved), want)
	}
	g.expectAgenda(t, bo, future.Add(-time.Hour), future.Add(2*time.Hour), "Dentist "+future.Format("15:04")+"-"+future.Add(time.Hour).Format("15:04")+" owner/confirmed pending=false")
	g.notFound(t, bo, "/api/appointments/"+ann1.ID)
	_ = own

	// cy's meeting is imposed on ed; a new rank puts ed above cy.
	meet := g.groupAppointment(t, cy, team, slot("Standup", future.Add(3*time.Hour), future.Add(4*time.Hour)))
	if a := g.appointment(t, ed, meet.ID); a.MyStatus != "auto" {
		t.Fatalf("ed's part in cy's standup = %q, want auto", a.MyStatus)
	}
	g.refuse(t, ed, "POST", "/api/appointments/"+meet.ID+"/decline", nil, http.StatusConflict, "conflict")
	g.write(t, ann, "PATCH", gp+"/members/"+ed.userID, map[string]any{"rank": 800}, http.StatusOK)
	if p := g.answer(t, ed, meet.ID, "decline"); p.Status != "declined" {
		t.Fatalf("ed's decline = %+v", p)
	}
}
