package main

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// TestE2EEveryWriteToOneResourceHonoursIfMatch: the contract says writes to
// a single resource accept If-Match. An attacker's review found accept and
// decline ignoring a stale tag (200 where PATCH gave 412). Every such route
// (the http package's TestEveryWriteToOneResourceDocumentsIfMatch lists them
// from the OpenAPI document) refuses a stale tag with 412 and changes
// nothing, and the answers take the right tag.
func TestE2EEveryWriteToOneResourceHonoursIfMatch(t *testing.T) {
	g := newGroupPlay(t)
	ann := g.user(t, "ann")
	bob := g.user(t, "bob")
	cyd := g.user(t, "cyd")
	team := g.createGroup(t, ann, "Team", true)
	g.addMember(t, ann, team, bob, map[string]any{"user_id": bob.userID, "rank": 10}, 10)
	g.invite(t, ann, team, cyd, map[string]any{"user_id": cyd.userID, "rank": 5}, 5)
	club := g.createGroup(t, ann, "Club", false)
	g.addMember(t, ann, club, bob, map[string]any{"user_id": bob.userID}, 0)
	start := time.Now().UTC().Truncate(time.Hour).AddDate(0, 0, 7)
	own := g.personal(t, ann, slot("Own", start, start.Add(time.Hour)))
	meet := g.groupAppointment(t, ann, club, slot("Meet", start.Add(2*time.Hour), start.Add(3*time.Hour)))

	stale := map[string]string{"If-Match": `"999"`}
	for _, tc := range []struct {
		c            *client
		method, path string
		body         any
	}{
		{ann, "PATCH", "/api/me", map[string]any{"display_name": "Ann"}},
		{ann, "PUT", "/api/me/password", map[string]any{"current_password": "password-ann", "new_password": "another password"}},
		{ann, "PATCH", "/api/appointments/" + own.ID, map[string]any{"title": "x"}},
		{ann, "DELETE", "/api/appointments/" + own.ID, nil},
		{bob, "POST", "/api/appointments/" + meet.ID + "/accept", nil},
		{bob, "POST", "/api/appointments/" + meet.ID + "/decline", nil},
		{ann, "PATCH", "/api/groups/" + team.ID, map[string]any{"name": "x"}},
		{ann, "DELETE", "/api/groups/" + team.ID, nil},
		{ann, "PATCH", "/api/groups/" + team.ID + "/members/" + bob.userID, map[string]any{"rank": 20}},
		{ann, "DELETE", "/api/groups/" + team.ID + "/members/" + bob.userID, nil},
		{cyd, "POST", "/api/groups/" + team.ID + "/accept", nil},
		{cyd, "POST", "/api/groups/" + team.ID + "/decline", nil},
	} {
		before := traceOf(t, g.n)
		r, err := tc.c.sendHeaders(tc.method, tc.path, tc.body, stale)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != http.StatusPreconditionFailed {
			t.Errorf("%s %s with a stale If-Match: %d %s, want 412", tc.method, tc.path, r.Status, r.Body)
			continue
		}
		expectError(t, r, http.StatusPreconditionFailed, "precondition_failed")
		expectNoTrace(t, g.n, before)
	}

	// The answers take the tag they are given, in a list (RFC 9110: any
	// tag of it may match; a review found a list of two refused with 400).
	r, err := bob.sendHeaders("POST", "/api/appointments/"+meet.ID+"/accept", nil, map[string]string{"If-Match": fmt.Sprintf(`"999", "%d"`, meet.Version)})
	if err != nil || r.Status != http.StatusOK {
		t.Fatalf("accept with the current tag: %v %+v", err, r)
	}
	// An invitation's version is listed to the person invited, who cannot
	// read the membership itself (a review: If-Match on a group answer was
	// otherwise unusable after a second invitation, which counts on).
	g.write(t, cyd, "POST", "/api/groups/"+team.ID+"/decline", nil, http.StatusNoContent)
	g.write(t, ann, "POST", "/api/groups/"+team.ID+"/members", map[string]any{"user_id": cyd.userID, "rank": 5}, http.StatusCreated)
	var invs []struct {
		GroupID string `json:"group_id"`
		Version int64  `json:"version"`
	}
	g.read(t, cyd, "/api/group-invitations", &invs)
	if len(invs) != 1 || invs[0].GroupID != team.ID || invs[0].Version < 2 {
		t.Fatalf("cyd's invitations = %+v, want the second one to the team, at version 2 or more", invs)
	}
	r, err = cyd.sendHeaders("POST", "/api/groups/"+team.ID+"/accept", nil, map[string]string{"If-Match": fmt.Sprintf(`"%d"`, invs[0].Version)})
	if err != nil || r.Status != http.StatusOK {
		t.Fatalf("group accept with the listed tag: %v %+v", err, r)
	}
}
