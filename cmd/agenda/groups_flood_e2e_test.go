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
// whole, naming who, and answering one makes room.
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
	// One that has ended does not count.
	g.groupAppointment(t, ana, grp, slot("Long ago", base.Add(-96*time.Hour), base.Add(-95*time.Hour)))
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
	// Bob answers one, which makes room for one more.
	g.answer(t, bob, first, "accept")
	g.groupAppointment(t, ana, grp, minute(bound))
	g.refuse(t, ana, "POST", path, minute(bound+1), http.StatusConflict, "conflict")
}
