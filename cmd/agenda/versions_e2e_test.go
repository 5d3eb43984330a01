package main

import (
	"net/http"
	"testing"
)

// TestE2EVersionsStartAtOneAndGuardTheirOwnRecord checks API.md's
// "version (per-record counter, starts at 1)" on every kind of record, and
// that each record's If-Match is guarded by its own counter: a group's
// creation (its creator's membership included) and a group appointment's
// (its participants included) are each version 1, and a membership counts
// only its own changes, so a change to another member does not fail an
// If-Match on this one, and counts on across a removal, so a tag of a
// membership that ended never matches the next one.
func TestE2EVersionsStartAtOneAndGuardTheirOwnRecord(t *testing.T) {
	g := newGroupPlay(t)
	ana := g.user(t, "ana")
	bob := g.user(t, "bob")
	cat := g.user(t, "cat")
	if v := ana.me().Version; v != 1 {
		t.Fatalf("a new user is at version %d, want 1", v)
	}
	if a := g.personal(t, ana, slot("Dentist", at(8, 0), at(8, 30))); a.Version != 1 {
		t.Fatalf("a new appointment is at version %d, want 1", a.Version)
	}

	team := g.createGroup(t, ana, "Team", true) // version 1, ana's membership 1 (createGroup checks)
	gp := "/api/groups/" + team.ID
	// patch sends a PATCH with If-Match etag, keeping the scenario's
	// position for the reads after it.
	patch := func(c *client, path string, body any, etag string) *response {
		t.Helper()
		r := c.withT(t).patchJSON(path, body, etag)
		if r.Status < 300 {
			if p := positionOf(t, r); p > g.pos {
				g.pos = p
			}
		}
		return r
	}
	r := patch(ana, gp, map[string]any{"name": "Team A"}, `"1"`).expect(t, http.StatusOK)
	if got := decodeGroup(t, r.Body, true); got.Version != 2 {
		t.Fatalf("renamed group at version %d, want 2", got.Version)
	}
	expectETag(t, r, 2)

	g.addMember(t, ana, team, bob, map[string]any{"username": "bob", "rank": 10}, 10) // bob: 1 invited, 2 accepted
	g.addMember(t, ana, team, cat, map[string]any{"username": "cat", "rank": 20}, 20)

	// cat's re-rank moves the group on, not bob's membership: bob's "2" holds.
	cp, bp := gp+"/members/"+cat.userID, gp+"/members/"+bob.userID
	patch(ana, cp, map[string]any{"rank": 30}, `"2"`).expect(t, http.StatusOK)
	r = patch(ana, bp, map[string]any{"rank": 40}, `"2"`).expect(t, http.StatusOK)
	if m := decodeMember(t, r.Body); m.Version != 3 || m.Rank != 40 {
		t.Fatalf("re-ranked bob = %+v, want rank 40 at version 3", m)
	}
	expectETag(t, r, 3)
	// A stale tag on bob now fails, and changes nothing.
	before := traceOf(t, g.n)
	r = patch(ana, bp, map[string]any{"rank": 50}, `"2"`)
	expectError(t, r, http.StatusPreconditionFailed, "precondition_failed")
	expectNoTrace(t, g.n, before)
	// The group's own tag moved with every membership change (its answer
	// lists the members): the "2" of its rename is stale now.
	r = patch(ana, gp, map[string]any{"name": "Team B"}, `"2"`)
	expectError(t, r, http.StatusPreconditionFailed, "precondition_failed")

	// bob leaves and is invited again: his new membership counts on from
	// where the old one ended (3), so no ETag of the old one matches it.
	g.write(t, bob, "DELETE", bp, nil, http.StatusNoContent)
	r = g.write(t, ana, "POST", gp+"/members", map[string]any{"username": "bob"}, http.StatusCreated)
	if m := decodeMember(t, r.Body); m.Version != 4 || m.Status != "invited" {
		t.Fatalf("bob invited again = %+v, want invited at version 4", m)
	}
	r = g.write(t, bob, "POST", gp+"/accept", nil, http.StatusOK)
	if m := decodeMember(t, r.Body); m.Version != 5 {
		t.Fatalf("bob back = %+v, want version 5", m)
	}
	for _, stale := range []string{`"1"`, `"2"`, `"3"`} {
		r = patch(ana, bp, map[string]any{"rank": 60}, stale)
		expectError(t, r, http.StatusPreconditionFailed, "precondition_failed")
	}

	// A group appointment is at 1 with all its participants (groupAppointment
	// checks); one participant's answer moves it to 2.
	meeting := g.groupAppointment(t, bob, team, slot("Planning", at(9, 0), at(10, 0)))
	if p := g.answer(t, ana, meeting.ID, "accept"); p.Appointment.Version != 2 {
		t.Fatalf("meeting after ana accepted at version %d, want 2", p.Appointment.Version)
	}
}
