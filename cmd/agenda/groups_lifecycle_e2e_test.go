package main

// End-to-end scenarios of a group's life, from creation to deletion with its
// notifications, and of an organiser moving and cancelling a group appointment.

import (
	"database/sql"
	"fmt"
	"net/http"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	_ "github.com/mattn/go-sqlite3"
)

// groupRows counts the rows of the read model's groups and group_members
// tables for a group: a group deleted is gone from both, which no member can
// see through the API any more.
func groupRows(t testing.TB, n *Node, groupID string) (groups, members int) {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(n.Config.DataDir, "readmodel.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.QueryRow(`SELECT (SELECT COUNT(*) FROM groups WHERE id = ?1), (SELECT COUNT(*) FROM group_members WHERE group_id = ?1)`,
		groupID).Scan(&groups, &members); err != nil {
		t.Fatalf("read the read model: %v", err)
	}
	return groups, members
}

// TestE2EGroupsLifecycle: a flat book club is renamed by its creator only,
// loses a member who leaves and one who is removed, cannot be deleted while
// a meeting waits for answers, and is deleted once it is cancelled. A
// hierarchical team re-ranks, and is deleted when its last member leaves.
// Everyone concerned is told, and reads and clears their notifications.
func TestE2EGroupsLifecycle(t *testing.T) {
	g := newGroupPlay(t)
	kim := g.user(t, "kim")
	lou := g.user(t, "lou")
	mia := g.user(t, "mia")
	ned := g.user(t, "ned")

	e, _ := g.refuse(t, kim, "POST", "/api/groups", map[string]any{"name": "No kind"}, http.StatusBadRequest, "invalid")
	expectField(t, e, "hierarchical")
	e, _ = g.refuse(t, kim, "POST", "/api/groups", map[string]any{"name": "  ", "hierarchical": false}, http.StatusBadRequest, "invalid")
	expectField(t, e, "name")
	club := g.createGroup(t, kim, "Book club", false)
	gp := "/api/groups/" + club.ID
	for _, c := range []*client{lou, mia, ned} {
		g.addMember(t, kim, club, c, map[string]any{"user_id": c.userID}, 0)
		g.expectNotes(t, c, note{"group_invitation", map[string]any{"group_id": club.ID, "group_name": "Book club",
			"by": kim.userID, "rank": 0, "hierarchical": false}})
	}

	// Renaming: the creator only, If-Match honoured.
	g.refuse(t, lou, "PATCH", gp, map[string]any{"name": "Lou's club"}, http.StatusForbidden, "forbidden")
	g.refuse(t, kim, "PATCH", gp, map[string]any{}, http.StatusBadRequest, "invalid")
	e, _ = g.refuse(t, kim, "PATCH", gp, map[string]any{"hierarchical": true}, http.StatusBadRequest, "invalid")
	expectField(t, e, "hierarchical")
	cur := decodeGroup(t, g.read(t, kim, gp, nil), true)
	before := traceOf(t, g.n)
	r := kim.patchJSON(gp, map[string]any{"name": "Stale"}, fmt.Sprintf(`"%d"`, cur.Version-1))
	expectError(t, r, http.StatusPreconditionFailed, "precondition_failed")
	expectNoTrace(t, g.n, before)
	r = kim.patchJSON(gp, map[string]any{"name": "Readers", "description": "Monthly"}, fmt.Sprintf(`"%d"`, cur.Version))
	if r.Status != http.StatusOK {
		t.Fatalf("rename: %d %s", r.Status, r.Body)
	}
	g.pos = positionOf(t, r)
	renamed := decodeGroup(t, r.Body, true)
	expectETag(t, r, cur.Version+1)
	if renamed.Name != "Readers" || renamed.Description != "Monthly" || renamed.Version != cur.Version+1 || renamed.MemberCount != 4 {
		t.Fatalf("renamed group = %+v", renamed)
	}
	if got := decodeGroup(t, g.read(t, lou, gp, nil), true); got.Name != "Readers" || got.Description != "Monthly" || got.MyRank != 0 {
		t.Fatalf("the group as lou = %+v", got)
	}
	var list []apiGroup
	g.read(t, mia, "/api/groups", &list)
	if len(list) != 1 || list[0].Name != "Readers" {
		t.Fatalf("mia's groups = %+v", list)
	}

	// Mia leaves: 204, and the group is gone for her; kim is told.
	r = g.write(t, mia, "DELETE", gp+"/members/"+mia.userID, nil, http.StatusNoContent)
	if len(r.Body) != 0 {
		t.Fatalf("204 with a body: %s", r.Body)
	}
	g.notFound(t, mia, gp)
	g.read(t, mia, "/api/groups", &list)
	if len(list) != 0 {
		t.Fatalf("mia's groups after leaving = %+v", list)
	}
	// Kim invited them all, and heard as each joined.
	joined := func(c *client) note {
		return note{"member_added", groupNote(club, "Book club", c.userID, c.userID, "rank", 0)}
	}
	g.expectNotes(t, kim, note{"member_removed", groupNote(club, "Readers", mia.userID, mia.userID, "left", true)},
		joined(ned), joined(mia), joined(lou))
	// Kim removes ned: ned is told, and is out.
	g.write(t, kim, "DELETE", gp+"/members/"+ned.userID, nil, http.StatusNoContent)
	g.expectNotes(t, ned,
		note{"member_removed", groupNote(club, "Readers", kim.userID, ned.userID, "left", false)},
		note{"group_invitation", map[string]any{"group_id": club.ID, "group_name": "Book club", "by": kim.userID, "rank": 0, "hierarchical": false}})
	g.notFound(t, ned, gp)
	if got := decodeGroup(t, g.read(t, lou, gp, nil), true); !slices.Equal(ranks(got.Members), []string{"kim:0", "lou:0"}) || got.MemberCount != 2 {
		t.Fatalf("members after mia and ned = %v (count %d)", ranks(got.Members), got.MemberCount)
	}

	// A meeting waiting for kim's answer keeps the group alive.
	chapter := g.groupAppointment(t, lou, club, slot("Chapter 1", at(19, 0), at(20, 0)))
	e, _ = g.refuse(t, kim, "DELETE", gp, nil, http.StatusConflict, "conflict")
	if n, _ := e.Details["pending_appointments"].(float64); n != 1 {
		t.Fatalf("details = %v, want pending_appointments 1", e.Details)
	}
	g.write(t, lou, "DELETE", "/api/appointments/"+chapter.ID, nil, http.StatusNoContent)
	if a := g.appointment(t, kim, chapter.ID); a.Status != "cancelled" {
		t.Fatalf("chapter 1 after its organiser deleted it: %q", a.Status)
	}
	g.refuse(t, lou, "DELETE", gp, nil, http.StatusForbidden, "forbidden")
	g.write(t, kim, "DELETE", gp, nil, http.StatusNoContent)
	for _, c := range []*client{kim, lou} {
		g.notFound(t, c, gp)
		g.read(t, c, "/api/groups", &list)
		if len(list) != 0 {
			t.Fatalf("%s's groups after the deletion = %+v", g.who(c), list)
		}
	}
	if gr, mr := groupRows(t, g.n, club.ID); gr != 0 || mr != 0 {
		t.Fatalf("after DELETE the read model holds %d group and %d member rows", gr, mr)
	}
	// Chapter 1 stays readable, cancelled, for its participants.
	if a := g.appointment(t, lou, chapter.ID); a.Status != "cancelled" {
		t.Fatalf("chapter 1 after the group's deletion: %q", a.Status)
	}
	g.expectNotes(t, kim,
		note{"cancelled", apptNote(chapter, "cancelled", lou.userID, "reason", "deleted")},
		note{"invitation", apptNote(chapter, "pending", lou.userID)},
		note{"member_removed", groupNote(club, "Readers", mia.userID, mia.userID, "left", true)},
		joined(ned), joined(mia), joined(lou))

	// A hierarchical team: ranks change, and the last one out deletes it.
	ops := g.createGroup(t, kim, "Ops", true)
	op := "/api/groups/" + ops.ID
	g.addMember(t, kim, ops, lou, map[string]any{"username": "lou", "rank": 10}, 10)
	r = g.write(t, kim, "PATCH", op+"/members/"+lou.userID, map[string]any{"rank": 20}, http.StatusOK)
	if m := decodeMember(t, r.Body); m.UserID != lou.userID || m.Rank != 20 {
		t.Fatalf("re-ranked member = %+v", m)
	}
	before = traceOf(t, g.n)
	r = kim.do("PATCH", op+"/members/"+lou.userID, map[string]any{"rank": 20}) // the same rank: nothing to write
	if r.Status != http.StatusOK || decodeMember(t, r.Body).Rank != 20 {
		t.Fatalf("re-rank to the same rank: %d %s", r.Status, r.Body)
	}
	expectNoTrace(t, g.n, before)
	g.expectNotes(t, lou,
		note{"rank_changed", groupNote(ops, "Ops", kim.userID, lou.userID, "rank", 20)},
		note{"group_invitation", map[string]any{"group_id": ops.ID, "group_name": "Ops", "by": kim.userID, "rank": 10, "hierarchical": true}},
		// lou was still a member of the club when kim deleted it.
		note{"group_deleted", groupNote(club, "Readers", kim.userID, lou.userID)},
		note{"group_invitation", map[string]any{"group_id": club.ID, "group_name": "Book club", "by": kim.userID, "rank": 0, "hierarchical": false}})
	g.write(t, lou, "DELETE", op+"/members/"+lou.userID, nil, http.StatusNoContent)
	g.notFound(t, lou, op)
	leftOps := note{"member_removed", groupNote(ops, "Ops", lou.userID, lou.userID, "left", true)}
	// kim: 3 notes of the club, 3 club members joining, lou joining Ops, lou leaving it.
	if got := g.notifications(t, kim, ""); len(got) != 8 || !reflect.DeepEqual(note{got[0].Type, got[0].Payload}, g.roundTrip(leftOps)) {
		t.Fatalf("kim's notifications after lou left Ops: %+v", got)
	}
	g.write(t, kim, "DELETE", op+"/members/"+kim.userID, nil, http.StatusNoContent) // the last one
	g.notFound(t, kim, op)
	if got := g.notifications(t, kim, ""); len(got) != 8 { // no one is told of the last one leaving
		t.Fatalf("kim's notifications after leaving Ops last: %+v", got)
	}
	if gr, mr := groupRows(t, g.n, ops.ID); gr != 0 || mr != 0 {
		t.Fatalf("after the last member left the read model holds %d group and %d member rows", gr, mr)
	}

	// Lou reads and clears notifications.
	all := g.notifications(t, lou, "")
	if len(all) < 3 {
		t.Fatalf("lou has %d notifications, want at least 3", len(all))
	}
	for _, n := range all {
		if n.ReadAt != nil {
			t.Fatalf("notification %s read before anyone read it", n.ID)
		}
	}
	newest := all[0]
	np := "/api/notifications/" + newest.ID + "/read"
	// If-Match is compared here as on every write to one resource (a
	// review found it ignored): a version it is not at, and no tag at all.
	ifMatch := func(v string) map[string]string { return map[string]string{"If-Match": v} }
	expectError(t, lou.withT(t).raw("POST", np, nil, ifMatch(fmt.Sprintf(`"%d"`, newest.Version+1))), http.StatusPreconditionFailed, "precondition_failed")
	expectError(t, lou.withT(t).raw("POST", np, nil, ifMatch("garbage")), http.StatusBadRequest, "invalid")
	lou.withT(t).raw("POST", np, nil, ifMatch(fmt.Sprintf(`"%d"`, newest.Version))).expect(t, http.StatusNoContent)
	g.write(t, lou, "POST", np, nil, http.StatusNoContent) // again: nothing to change
	unread := g.notifications(t, lou, "?unread=true")
	if len(unread) != len(all)-1 || slices.ContainsFunc(unread, func(n apiNotification) bool { return n.ID == newest.ID }) {
		t.Fatalf("unread after reading one: %d (of %d), want all but %s", len(unread), len(all), newest.ID)
	}
	again := g.notifications(t, lou, "")
	if again[0].ID != newest.ID || again[0].ReadAt == nil || again[0].Version != newest.Version+1 || again[1].ReadAt != nil {
		t.Fatalf("after reading the newest: %+v", again[:2])
	}
	if got := g.notifications(t, lou, "?unread=false"); len(got) != len(all) {
		t.Fatalf("unread=false lists %d, want all %d", len(got), len(all))
	}
	if got := g.notifications(t, lou, "?limit=1"); len(got) != 1 || got[0].ID != newest.ID {
		t.Fatalf("limit=1 = %+v", got)
	}
	// Reading it again changes nothing; someone else's or an unknown one is
	// not found.
	before = traceOf(t, g.n)
	lou.do("POST", np, nil).expect(t, http.StatusNoContent)
	expectNoTrace(t, g.n, before)
	kimsNote := g.notifications(t, kim, "")[0]
	g.refuse(t, lou, "POST", "/api/notifications/"+kimsNote.ID+"/read", nil, http.StatusNotFound, "not_found")
	g.refuse(t, lou, "POST", "/api/notifications/"+uuid.NewString()+"/read", nil, http.StatusNotFound, "not_found")
	for _, q := range []string{"?unread=maybe", "?limit=0", "?limit=501", "?limit=ten"} {
		g.refuse(t, lou, "GET", "/api/notifications"+q, nil, http.StatusBadRequest, "invalid")
	}
	// Read them all.
	g.write(t, lou, "POST", "/api/notifications/read-all", nil, http.StatusNoContent)
	if got := g.notifications(t, lou, "?unread=true"); len(got) != 0 {
		t.Fatalf("unread after read-all: %+v", got)
	}
	for _, n := range g.notifications(t, lou, "") {
		if n.ReadAt == nil {
			t.Fatalf("notification %s unread after read-all", n.ID)
		}
	}
	before = traceOf(t, g.n)
	lou.do("POST", "/api/notifications/read-all", nil).expect(t, http.StatusNoContent) // nothing left to read
	expectNoTrace(t, g.n, before)
	// Kim's were not touched.
	if got := g.notifications(t, kim, "?unread=true"); len(got) != len(g.notifications(t, kim, "")) {
		t.Fatalf("kim's notifications were marked read by lou's read-all")
	}
	// New ones after read-all are unread.
	g.addMember(t, kim, g.createGroup(t, kim, "Later", false), lou, map[string]any{"username": "lou"}, 0)
	if got := g.notifications(t, lou, "?unread=true"); len(got) != 1 || got[0].Type != "group_invitation" {
		t.Fatalf("unread after a new membership: %+v", got)
	}
}

// TestE2EGroupsOrganiserMovesAndCancels: the organiser of a group
// appointment moves it in every participant's agenda (refused if it would
// clash with an imposed member's time) and cancels it for all; the cancelled
// appointment stays readable, leaves every agenda, and cannot be cancelled,
// moved or answered again.
func TestE2EGroupsOrganiserMovesAndCancels(t *testing.T) {
	g := newGroupPlay(t)
	pat := g.user(t, "pat")   // 1000
	vic := g.user(t, "vic")   // 500, organises
	quin := g.user(t, "quin") // 0
	rex := g.user(t, "rex")   // 0
	una := g.user(t, "una")   // 500, invited, declines
	team := g.createGroup(t, pat, "Team", true)
	g.addMember(t, pat, team, vic, map[string]any{"username": "vic", "rank": 500}, 500)
	g.addMember(t, pat, team, quin, map[string]any{"username": "quin"}, 0)
	g.addMember(t, vic, team, rex, map[string]any{"username": "rex"}, 0)
	g.addMember(t, pat, team, una, map[string]any{"username": "una", "rank": 500}, 500)
	dentist := g.personal(t, quin, slot("Quin's dentist", at(11, 0), at(12, 0)))
	standup := g.groupAppointment(t, vic, team, slot("Standup", at(9, 0), at(9, 15)))
	if !slices.Equal(statuses(standup), []string{"pat:pending", "quin:auto", "rex:auto", "una:pending", "vic:owner"}) {
		t.Fatalf("participants = %v", statuses(standup))
	}
	g.answer(t, una, standup.ID, "decline")
	path := "/api/appointments/" + standup.ID
	morning, noon := at(8, 0), at(13, 0)
	notesBefore := map[string]int{}
	for _, c := range []*client{pat, quin, rex, una, vic} {
		notesBefore[c.userID] = len(g.notifications(t, c, ""))
	}

	// Only the organiser changes it.
	g.refuse(t, quin, "PATCH", path, map[string]any{"title": "Quin's standup"}, http.StatusForbidden, "forbidden")
	g.refuse(t, pat, "PATCH", path, map[string]any{"start": rfc(at(10, 0)), "end": rfc(at(10, 15))}, http.StatusForbidden, "forbidden")
	// Not onto quin's dentist: busy time, not what it is.
	e, r := g.refuse(t, vic, "PATCH", path, map[string]any{"start": rfc(at(11, 30)), "end": rfc(at(11, 45))}, http.StatusConflict, "schedule_conflict")
	cs := conflictsOf(t, e, vic.userID)
	want := []map[string]any{{"user_id": quin.userID, "start": rfc(at(11, 0)), "end": rfc(at(12, 0)), "busy": true}}
	if !reflect.DeepEqual(cs, want) {
		t.Fatalf("details.conflicts = %v, want %v", cs, want)
	}
	if strings.Contains(string(r.Body), "dentist") || strings.Contains(string(r.Body), dentist.ID) {
		t.Fatalf("the conflict leaks quin's appointment: %s", r.Body)
	}

	// Moved to 09:30: in every agenda, the pending invitation included.
	r = g.write(t, vic, "PATCH", path, map[string]any{"start": rfc(at(9, 30)), "end": rfc(at(9, 45)), "title": "Standup (late)"}, http.StatusOK)
	moved := decodeAppointment(t, r)
	expectETag(t, r, moved.Version)
	if !moved.Start.Equal(at(9, 30)) || !moved.End.Equal(at(9, 45)) || moved.Title != "Standup (late)" || moved.Version <= standup.Version {
		t.Fatalf("moved = %+v", moved)
	}
	g.expectAgenda(t, vic, morning, noon, "Standup (late) 09:30-09:45 owner/confirmed pending=false")
	g.expectAgenda(t, quin, morning, noon,
		"Standup (late) 09:30-09:45 auto/confirmed pending=false",
		"Quin's dentist 11:00-12:00 owner/confirmed pending=false")
	g.expectAgenda(t, rex, morning, noon, "Standup (late) 09:30-09:45 auto/confirmed pending=false")
	g.expectAgenda(t, pat, morning, noon, "Standup (late) 09:30-09:45 pending/confirmed pending=true")
	for _, c := range []*client{pat, quin, rex} {
		got := g.notifications(t, c, "")
		if len(got) != notesBefore[c.userID]+1 || !reflect.DeepEqual(note{got[0].Type, got[0].Payload},
			g.roundTrip(note{"updated", apptNote(moved, "confirmed", vic.userID)})) {
			t.Fatalf("%s's notifications after the move: %+v", g.who(c), got)
		}
	}
	if got := g.notifications(t, vic, ""); len(got) != notesBefore[vic.userID] {
		t.Fatalf("the organiser was told of her own move: %+v", got[0])
	}
	// Una declined: it stays out of her agenda, and she is not told.
	g.expectAgenda(t, una, morning, noon)
	if got := g.notifications(t, una, ""); len(got) != notesBefore[una.userID] {
		t.Fatalf("una, who declined, was told of the move: %+v", got[0])
	}
	// Once pat accepts, his time blocks a move too (busy only, no title).
	g.answer(t, pat, standup.ID, "accept")
	board := g.personal(t, pat, slot("Pat's board meeting", at(10, 0), at(11, 0)))
	e, r = g.refuse(t, vic, "PATCH", path, map[string]any{"start": rfc(at(10, 30)), "end": rfc(at(10, 45))}, http.StatusConflict, "schedule_conflict")
	want = []map[string]any{{"user_id": pat.userID, "start": rfc(at(10, 0)), "end": rfc(at(11, 0)), "busy": true}}
	if cs := conflictsOf(t, e, vic.userID); !reflect.DeepEqual(cs, want) {
		t.Fatalf("details.conflicts = %v, want %v", cs, want)
	}
	if strings.Contains(string(r.Body), "board") || strings.Contains(string(r.Body), board.ID) {
		t.Fatalf("the conflict leaks pat's appointment: %s", r.Body)
	}
	// The old slot is free for the imposed members.
	g.personal(t, rex, slot("Rex's coffee", at(9, 0), at(9, 30)))

	// Only the organiser cancels it.
	g.refuse(t, quin, "DELETE", path, nil, http.StatusForbidden, "forbidden")
	g.refuse(t, pat, "DELETE", path, nil, http.StatusForbidden, "forbidden")
	g.write(t, vic, "DELETE", path, nil, http.StatusNoContent)
	for _, c := range []*client{pat, quin, rex, una, vic} {
		a := g.appointment(t, c, standup.ID)
		if a.Status != "cancelled" || a.Title != "Standup (late)" {
			t.Fatalf("after the cancellation %s reads %+v", g.who(c), a)
		}
		g.expectInvitations(t, c)
	}
	g.expectAgenda(t, vic, morning, noon)
	g.expectAgenda(t, pat, morning, noon, "Pat's board meeting 10:00-11:00 owner/confirmed pending=false")
	g.expectAgenda(t, rex, morning, noon, "Rex's coffee 09:00-09:30 owner/confirmed pending=false")
	g.expectAgenda(t, quin, morning, noon, "Quin's dentist 11:00-12:00 owner/confirmed pending=false")
	cancelled := g.roundTrip(note{"cancelled", apptNote(moved, "cancelled", vic.userID, "reason", "deleted")})
	for _, c := range []*client{pat, quin, rex} {
		got := g.notifications(t, c, "")
		if len(got) != notesBefore[c.userID]+2 || !reflect.DeepEqual(note{got[0].Type, got[0].Payload}, cancelled) {
			t.Fatalf("%s's notifications after the cancellation: %+v", g.who(c), got)
		}
	}
	if got := g.notifications(t, una, ""); len(got) != notesBefore[una.userID] {
		t.Fatalf("una, who declined, was told of the cancellation: %+v", got[0])
	}
	// Done for good.
	g.refuse(t, vic, "DELETE", path, nil, http.StatusConflict, "conflict")
	g.refuse(t, vic, "PATCH", path, map[string]any{"title": "Revived"}, http.StatusConflict, "conflict")
	g.refuse(t, pat, "POST", path+"/accept", nil, http.StatusConflict, "conflict")
	g.refuse(t, pat, "POST", path+"/decline", nil, http.StatusConflict, "conflict")
	// Its slot is free for everyone.
	g.personal(t, quin, slot("Quin's walk", at(9, 30), at(9, 45)))
}
