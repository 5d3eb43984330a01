package main

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
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
	dia := g.user(t, "dia") // 500, later removed
	cyd := g.user(t, "cyd") // 500, organises, later outranked
	bob := g.user(t, "bob") // 10, later leaves
	eda := g.user(t, "eda") // 10, later ranked above cyd
	team := g.createGroup(t, ann, "Team", true)
	gp := "/api/groups/" + team.ID
	g.addMember(t, ann, team, dia, map[string]any{"user_id": dia.userID, "rank": 500}, 500)
	g.addMember(t, ann, team, cyd, map[string]any{"user_id": cyd.userID, "rank": 500}, 500)
	g.addMember(t, ann, team, bob, map[string]any{"user_id": bob.userID, "rank": 10}, 10)
	g.addMember(t, ann, team, eda, map[string]any{"user_id": eda.userID, "rank": 10}, 10)

	past := time.Date(2021, 1, 4, 10, 0, 0, 0, time.UTC)
	future := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 1, 0).Add(9 * time.Hour)
	move := func(start time.Time) map[string]any {
		return map[string]any{"start": rfc(start), "end": rfc(start.Add(time.Hour))}
	}

	// dia's past meeting, imposed on bob and eda; then dia is removed.
	old := g.groupAppointment(t, dia, team, slot("Old meeting", past, past.Add(time.Hour)))
	if a := g.appointment(t, bob, old.ID); a.MyStatus != "auto" {
		t.Fatalf("bob's part in dia's meeting = %q, want auto", a.MyStatus)
	}
	g.write(t, ann, "DELETE", gp+"/members/"+dia.userID, nil, http.StatusNoContent)
	// A former organiser may no longer move or retitle it: a move would
	// impose it anew and tell them who is busy when.
	g.refuse(t, dia, "PATCH", "/api/appointments/"+old.ID, move(future), http.StatusForbidden, "forbidden")
	g.refuse(t, dia, "PATCH", "/api/appointments/"+old.ID, map[string]any{"title": "Mandatory"}, http.StatusForbidden, "forbidden")
	// And it binds no one any more: bob may decline it.
	if p := g.answer(t, bob, old.ID, "decline"); p.Status != "declined" {
		t.Fatalf("bob's decline = %+v", p)
	}
	// dia may still cancel it.
	g.write(t, dia, "DELETE", "/api/appointments/"+old.ID, nil, http.StatusNoContent)

	// ann's past meeting, imposed on bob; bob books his own time, then leaves.
	ann1 := g.groupAppointment(t, ann, team, slot("Retro", past.Add(2*time.Hour), past.Add(3*time.Hour)))
	own := g.personal(t, bob, slot("Dentist", future, future.Add(time.Hour), "privacy", "freebusy"))
	g.write(t, bob, "DELETE", gp+"/members/"+bob.userID, nil, http.StatusNoContent)
	// Moved onto bob's dentist: bob is no longer in the group, so he stops
	// taking part rather than clash (which would show ann his busy time),
	// and before the change, so that he learns nothing of it.
	change := move(future)
	change["title"] = "Secret offsite"
	r := g.write(t, ann, "PATCH", "/api/appointments/"+ann1.ID, change, http.StatusOK)
	moved := decodeAppointment(t, r)
	for _, p := range moved.Participants {
		if p.UserID == bob.userID {
			t.Fatalf("moved meeting still lists bob: %v", statuses(moved))
		}
	}
	if want := []string{"ann:owner", "cyd:auto", "eda:auto"}; !slices.Equal(statuses(moved), want) {
		t.Fatalf("moved meeting participants = %v, want %v", statuses(moved), want)
	}
	g.expectAgenda(t, bob, future.Add(-time.Hour), future.Add(2*time.Hour), "Dentist "+future.Format("15:04")+"-"+future.Add(time.Hour).Format("15:04")+" owner/confirmed pending=false")
	g.notFound(t, bob, "/api/appointments/"+ann1.ID)
	_ = own
	for _, n := range g.notifications(t, bob, "") {
		if n.Type == "updated" || fmt.Sprint(n.Payload["title"]) == "Secret offsite" {
			t.Errorf("bob, no longer in the group, was told of the change: %+v", n)
		}
	}
	frames, _, _ := feedPage(t, bob, 0, 1000, g.pos)
	for _, f := range frames {
		if strings.Contains(f.raw, "Secret offsite") {
			t.Errorf("bob's feed carries the change: %s", f.raw)
		}
	}

	// cyd's meeting is imposed on eda; a new rank puts eda above cyd.
	meet := g.groupAppointment(t, cyd, team, slot("Standup", future.Add(3*time.Hour), future.Add(4*time.Hour)))
	if a := g.appointment(t, eda, meet.ID); a.MyStatus != "auto" {
		t.Fatalf("eda's part in cyd's standup = %q, want auto", a.MyStatus)
	}
	g.refuse(t, eda, "POST", "/api/appointments/"+meet.ID+"/decline", nil, http.StatusConflict, "conflict")
	g.write(t, ann, "PATCH", gp+"/members/"+eda.userID, map[string]any{"rank": 800}, http.StatusOK)
	if p := g.answer(t, eda, meet.ID, "decline"); p.Status != "declined" {
		t.Fatalf("eda's decline = %+v", p)
	}
}
