package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestE2EFeedTellsEveryoneConcerned replays what a review of the feed
// found missing, on a real node, through /api/events:
//   - a superior who sees a member's personal appointment in full is told
//     of its new title, and of its becoming busy-only (not of its details);
//   - a peer's busy frame of a move says which busy time moved;
//   - a participant sees the organiser's entry of an imposed appointment
//     in full, not as busy (entries are written one by one);
//   - a participant's removal reaches the organiser and the person removed;
//   - the deletion of a group reaches the people invited to it, in their
//     feed and as a notification.
func TestE2EFeedTellsEveryoneConcerned(t *testing.T) {
	n := mustStartNode(t)
	ana, bob, cleo, dan := registerUser(t, n, "ana"), registerUser(t, n, "bob"), registerUser(t, n, "cleo"), registerUser(t, n, "dan")
	gid := createGroup(t, ana, "Team", true)
	joinGroup(t, ana, bob, gid, 10)
	start := joinGroup(t, ana, cleo, gid, 10)
	day := time.Date(2031, 4, 7, 9, 0, 0, 0, time.UTC)

	feedAfter := func(c *client, after, minPos int64) []liveFrame { return fullFeed(t, c, after, minPos) }
	framesOf := func(frames []liveFrame, eventType string) []liveFrame {
		var out []liveFrame
		for _, f := range frames {
			if f.EventType == eventType {
				out = append(out, f)
			}
		}
		return out
	}

	// bob's personal appointment: ana (above him) sees it in full, cleo
	// (his peer) as busy time.
	doctor, _ := createAppt(t, bob, "Doctor", "full", day)
	r := bob.withT(t).do("PATCH", "/api/appointments/"+doctor, map[string]any{"title": "Job interview"}).expect(t, http.StatusOK)
	retitled := positionOf(t, r)
	updates := framesOf(feedAfter(ana, retitled-1, retitled), "appointment.updated")
	if len(updates) != 1 || !strings.Contains(updates[0].raw, "Job interview") {
		t.Errorf("ana's feed after bob's retitling: %v, want the new title", updates)
	}
	for _, f := range feedAfter(cleo, retitled-1, retitled) {
		if strings.Contains(f.raw, "Job interview") || strings.Contains(f.raw, doctor) {
			t.Errorf("cleo, bob's peer, was told the details of his appointment: %s", f.raw)
		}
	}
	r = bob.withT(t).do("PATCH", "/api/appointments/"+doctor, map[string]any{"privacy": "freebusy"}).expect(t, http.StatusOK)
	hidden := positionOf(t, r)
	updates = framesOf(feedAfter(ana, hidden-1, hidden), "appointment.updated")
	if len(updates) != 1 || strings.Contains(updates[0].raw, "Job interview") || !strings.Contains(string(updates[0].Data), `"busy":true`) {
		t.Errorf("ana's feed after bob made it busy-only: %v, want one busy frame without details", updates)
	}

	// The move: cleo's busy frame says where the busy time was.
	r = bob.withT(t).do("PATCH", "/api/appointments/"+doctor, map[string]any{
		"start": day.Add(3 * time.Hour).Format(time.RFC3339), "end": day.Add(4 * time.Hour).Format(time.RFC3339)}).expect(t, http.StatusOK)
	moved := positionOf(t, r)
	var busy struct {
		Start         time.Time `json:"start"`
		PreviousStart time.Time `json:"previous_start"`
	}
	moves := framesOf(feedAfter(cleo, moved-1, moved), "agenda.entry_rescheduled")
	if len(moves) != 1 {
		t.Fatalf("cleo's feed after bob's move: %v, want one entry_rescheduled", moves)
	}
	if err := json.Unmarshal(moves[0].Data, &busy); err != nil || !busy.Start.Equal(day.Add(3*time.Hour)) || !busy.PreviousStart.Equal(day) {
		t.Errorf("cleo's busy frame of the move: %s, want start %v and previous_start %v", moves[0].Data, day.Add(3*time.Hour), day)
	}

	// ana imposes a meeting on the group: bob and cleo, who take part, have
	// it in full from its own event, and no frame of one another's
	// entries of it (each of an imposition's N participants used to get N:
	// 40,000 rows for 200 members).
	var planning struct {
		ID string `json:"id"`
	}
	r = ana.withT(t).do("POST", "/api/groups/"+gid+"/appointments", map[string]any{"title": "Planning",
		"start": day.Add(48 * time.Hour).Format(time.RFC3339), "end": day.Add(49 * time.Hour).Format(time.RFC3339)}).
		expect(t, http.StatusCreated)
	r.JSON(t, &planning)
	imposed := positionOf(t, r)
	for _, c := range []*client{bob, cleo} {
		created := 0
		for _, f := range feedAfter(c, start, imposed) {
			switch {
			case !strings.Contains(f.raw, planning.ID):
			case f.EventType == "appointment.created" && strings.Contains(f.raw, "Planning"):
				created++
			case f.Stream != "agenda-"+c.userID:
				t.Errorf("%s takes part in Planning and got another's entry of it: %s", c.userID, f.raw)
			}
		}
		if created != 1 {
			t.Errorf("%s takes part in Planning and got its appointment.created %d times in full, want once", c.userID, created)
		}
	}

	// cleo is removed from the group: her part in Planning ends, and both
	// she and the organiser are told.
	r = ana.withT(t).do("DELETE", "/api/groups/"+gid+"/members/"+cleo.userID, nil).expect(t, http.StatusNoContent)
	removed := positionOf(t, r)
	for _, c := range []*client{ana, cleo} {
		got := framesOf(feedAfter(c, imposed, removed), "appointment.participant_removed")
		if len(got) != 1 || !strings.Contains(got[0].raw, planning.ID) {
			t.Errorf("%s's feed after cleo's removal: %v, want Planning's participant_removed", c.userID, got)
		}
	}

	// dan is invited, and the group is deleted before he answers.
	r = ana.withT(t).do("POST", "/api/groups/"+gid+"/members", map[string]any{"user_id": dan.userID, "rank": 5}).
		expect(t, http.StatusCreated)
	invited := positionOf(t, r)
	ana.withT(t).do("DELETE", "/api/appointments/"+planning.ID, nil).expect(t, http.StatusNoContent)
	r = ana.withT(t).do("DELETE", "/api/groups/"+gid, nil).expect(t, http.StatusNoContent)
	deleted := positionOf(t, r)
	if got := framesOf(feedAfter(dan, invited, deleted), "group.deleted"); len(got) != 1 {
		t.Errorf("dan, invited, was not told of the group's deletion in his feed: %v", feedAfter(dan, invited, deleted))
	}
	var notes []struct {
		Type    string         `json:"type"`
		Payload map[string]any `json:"payload"`
	}
	dan.withT(t).do("GET", "/api/notifications", nil).expect(t, http.StatusOK).JSON(t, &notes)
	if len(notes) == 0 || notes[0].Type != "member_removed" || notes[0].Payload["deleted"] != true {
		t.Errorf("dan's notifications after the deletion: %+v, want member_removed (deleted) first", notes)
	}
	// bob, a member, is told the group is gone, and by whom.
	bob.withT(t).do("GET", "/api/notifications", nil).expect(t, http.StatusOK).JSON(t, &notes)
	if len(notes) == 0 || notes[0].Type != "group_deleted" || notes[0].Payload["by"] != ana.userID || notes[0].Payload["group_id"] != gid {
		t.Errorf("bob's notifications after the deletion: %+v, want group_deleted by ana first", notes)
	}
}

// TestE2EFeedShowsWhatTheGroupAgendaShows replays what a review of the
// live side found, through /api/events on a real node:
//   - a busy frame named the appointment (its stream) and counted the
//     owner's hidden changes (its version);
//   - a member's pending invitation reached a superior in full, though no
//     group agenda shows it;
//   - a member who joined after a group appointment was set saw its entries
//     in the group agenda but was told nothing of their changes;
//   - nobody was told of a display name's change, nor someone invited of
//     the group's new name.
func TestE2EFeedShowsWhatTheGroupAgendaShows(t *testing.T) {
	n := mustStartNode(t)
	ana, bob, cleo := registerUser(t, n, "ana"), registerUser(t, n, "bob"), registerUser(t, n, "cleo")
	gil, erin := registerUser(t, n, "gil"), registerUser(t, n, "erin")
	gid := createGroup(t, ana, "Team", true)
	joinGroup(t, ana, bob, gid, 10)
	joinGroup(t, ana, cleo, gid, 10)
	day := time.Date(2031, 5, 5, 9, 0, 0, 0, time.UTC)
	feed := func(c *client, after, pos int64) []liveFrame { return fullFeed(t, c, after, pos) }
	patch := func(c *client, path string, body map[string]any) int64 {
		t.Helper()
		return positionOf(t, c.withT(t).do("PATCH", path, body).expect(t, http.StatusOK))
	}
	// aboutAgendaOf checks that frames about owner's agenda, to someone
	// else, name no appointment and count nothing.
	aboutAgendaOf := func(who string, frames []liveFrame, owner *client, hidden string) {
		t.Helper()
		for _, f := range frames {
			if f.Stream != "agenda-"+owner.userID || f.Version != 0 || (hidden != "" && strings.Contains(f.raw, hidden)) {
				t.Errorf("%s's frame about %s's agenda: %s, want it on agenda-%s at version 0, naming no appointment", who, owner.userID, f.raw, owner.userID)
			}
		}
	}

	// bob's personal appointment becomes busy-only: ana is told so, with
	// no appointment ID; cleo, his peer, hears of its move as busy time.
	doctor, _ := createAppt(t, bob, "Doctor", "full", day)
	hidden := patch(bob, "/api/appointments/"+doctor, map[string]any{"privacy": "freebusy"})
	frames := feed(ana, hidden-1, hidden)
	if len(frames) != 1 || !strings.Contains(string(frames[0].Data), `"busy":true`) {
		t.Fatalf("ana's feed after bob made Doctor busy-only: %v, want one busy frame", frames)
	}
	aboutAgendaOf("ana", frames, bob, doctor)
	moved := patch(bob, "/api/appointments/"+doctor, map[string]any{"start": day.Add(time.Hour).Format(time.RFC3339), "end": day.Add(2 * time.Hour).Format(time.RFC3339)})
	if frames = feed(cleo, hidden, moved); len(frames) != 1 {
		t.Fatalf("cleo's feed after bob's move: %v, want one busy frame", frames)
	}
	aboutAgendaOf("cleo", frames, bob, doctor)

	// bob (10) proposes a meeting: cleo (10) is invited. gil joins above
	// them afterwards, so takes no part in it.
	var proposal struct {
		ID string `json:"id"`
	}
	bob.withT(t).do("POST", "/api/groups/"+gid+"/appointments", map[string]any{"title": "Proposal",
		"start": day.Add(48 * time.Hour).Format(time.RFC3339), "end": day.Add(49 * time.Hour).Format(time.RFC3339)}).
		expect(t, http.StatusCreated).JSON(t, &proposal)
	joined := joinGroup(t, ana, gil, gid, 600)
	moved = patch(bob, "/api/appointments/"+proposal.ID, map[string]any{
		"start": day.Add(50 * time.Hour).Format(time.RFC3339), "end": day.Add(51 * time.Hour).Format(time.RFC3339)})
	for _, f := range feed(gil, joined, moved) {
		if f.Stream == "agenda-"+cleo.userID {
			t.Errorf("gil was sent cleo's pending invitation, which no group agenda shows: %s", f.raw)
		}
	}
	// Its new title reaches gil, who sees bob's entry of it in full; its
	// privacy, as bob's busy time.
	retitled := patch(bob, "/api/appointments/"+proposal.ID, map[string]any{"title": "Decision"})
	frames = feed(gil, moved, retitled)
	if len(frames) != 1 || frames[0].EventType != "appointment.updated" || !strings.Contains(frames[0].raw, "Decision") {
		t.Errorf("gil's feed after the proposal's new title: %v, want appointment.updated with it", frames)
	}
	hidden = patch(bob, "/api/appointments/"+proposal.ID, map[string]any{"privacy": "freebusy"})
	frames = feed(gil, retitled, hidden)
	if len(frames) != 1 || !strings.Contains(string(frames[0].Data), `"busy":true`) {
		t.Fatalf("gil's feed after the proposal became busy-only: %v, want one busy frame", frames)
	}
	aboutAgendaOf("gil", frames, bob, "Decision")

	// bob's new display name reaches those shown it, without his email;
	// erin, invited, hears of the group's new name.
	renamed := patch(bob, "/api/me", map[string]any{"display_name": "Robert", "email": "bob@example.org"})
	for _, c := range []*client{ana, cleo, gil} {
		frames = feed(c, renamed-1, renamed)
		if len(frames) != 1 || !strings.Contains(frames[0].raw, "Robert") || strings.Contains(frames[0].raw, "bob@example.org") {
			t.Errorf("%s's feed after bob's new name: %v, want it, without his email", c.userID, frames)
		}
	}
	if frames = feed(bob, renamed-1, renamed); len(frames) != 1 || !strings.Contains(frames[0].raw, "bob@example.org") {
		t.Errorf("bob's own feed after his new name: %v, want his profile", frames)
	}
	invited := positionOf(t, ana.withT(t).do("POST", "/api/groups/"+gid+"/members", map[string]any{"user_id": erin.userID}).
		expect(t, http.StatusCreated))
	// Of the group she is invited to, erin learns its new name, and
	// nothing else (a review found its description sent to her).
	described := patch(ana, "/api/groups/"+gid, map[string]any{"description": "Acquire X on Monday"})
	if frames = feed(erin, invited, described); len(frames) != 0 {
		t.Errorf("erin, invited, was told of the group's new description: %v", frames)
	}
	named := patch(ana, "/api/groups/"+gid, map[string]any{"name": "Squad"})
	if frames = feed(erin, described, named); len(frames) != 1 || frames[0].EventType != "group.updated" ||
		strings.Contains(frames[0].raw, "Acquire") || frames[0].Version != 0 {
		t.Errorf("erin's feed after the group she is invited to was renamed: %v, want group.updated with the name alone, at version 0", frames)
	}
	// And the members, who see her among them, learn her new name.
	renamed = patch(erin, "/api/me", map[string]any{"display_name": "Erin E."})
	if frames = feed(ana, renamed-1, renamed); len(frames) != 1 || !strings.Contains(frames[0].raw, "Erin E.") {
		t.Errorf("ana's feed after erin, invited to her group, renamed herself: %v, want the new name", frames)
	}
}

// TestE2EFeedPrivacyChangeTellsThoseWhoSawIt: when an appointment becomes
// busy-only, those who saw one of its entries in full are told of that
// entry as busy time, and those who only ever saw busy time are told
// nothing (a review found the busy frame named whichever participant came
// first, and told others of another group's appointment).
func TestE2EFeedPrivacyChangeTellsThoseWhoSawIt(t *testing.T) {
	n := mustStartNode(t)
	ana, bob, gil, dan := registerUser(t, n, "ana"), registerUser(t, n, "bob"), registerUser(t, n, "gil"), registerUser(t, n, "dan")
	gid := createGroup(t, ana, "Team", true)
	joinGroup(t, ana, bob, gid, 10)
	other := createGroup(t, dan, "Other", true)
	joinGroup(t, dan, bob, other, 10)
	day := time.Date(2031, 6, 2, 9, 0, 0, 0, time.UTC)
	var standup struct {
		ID string `json:"id"`
	}
	ana.withT(t).do("POST", "/api/groups/"+gid+"/appointments", map[string]any{"title": "Standup",
		"start": day.Format(time.RFC3339), "end": day.Add(time.Hour).Format(time.RFC3339)}).
		expect(t, http.StatusCreated).JSON(t, &standup)
	// gil joins below ana, above bob: he sees ana's entry as busy, bob's
	// in full. dan, bob's peer elsewhere, sees bob's as busy.
	joinGroup(t, ana, gil, gid, 600)
	r := ana.withT(t).do("PATCH", "/api/appointments/"+standup.ID, map[string]any{"privacy": "freebusy"}).expect(t, http.StatusOK)
	hidden := positionOf(t, r)
	frames := fullFeed(t, gil, hidden-1, hidden)
	if len(frames) != 1 || frames[0].Stream != "agenda-"+bob.userID || !strings.Contains(string(frames[0].Data), `"busy":true`) {
		t.Errorf("gil's feed after Standup became busy-only: %v, want bob's entry as busy, the one he saw in full", frames)
	}
	if frames = fullFeed(t, dan, hidden-1, hidden); len(frames) != 0 {
		t.Errorf("dan, who only ever saw bob's Standup as busy, was told of its privacy: %v", frames)
	}
}

// TestE2ENotificationsNameWhoActed: a notification names who acted and whom
// it is about, by the name they have when it is read (a review found
// "Declined: …" with nobody named), in /api/notifications and in the feed
// the live stream sends alike.
func TestE2ENotificationsNameWhoActed(t *testing.T) {
	n := mustStartNode(t)
	ana, bob := registerUser(t, n, "ana"), registerUser(t, n, "bob")
	gid := createGroup(t, ana, "Book club", false)
	joined := joinGroup(t, ana, bob, gid, 0)
	ana.withT(t).do("PATCH", "/api/me", map[string]any{"display_name": "Ana Ruiz"}).expect(t, http.StatusOK)

	type note struct {
		Type    string     `json:"type"`
		Actor   *apiPerson `json:"actor"`
		Subject *apiPerson `json:"subject"`
	}
	anaNow := apiPerson{ana.userID, "ana", "Ana Ruiz"}
	bobNow := apiPerson{bob.userID, "bob", "bob"}
	check := func(where string, got note, typ string, actor, subject *apiPerson) {
		t.Helper()
		same := func(a, b *apiPerson) bool { return a == nil && b == nil || a != nil && b != nil && *a == *b }
		if got.Type != typ || !same(got.Actor, actor) || !same(got.Subject, subject) {
			t.Errorf("%s: %s with actor %+v and subject %+v, want %s with %+v and %+v", where, got.Type, got.Actor, got.Subject, typ, actor, subject)
		}
	}
	notes := func(c *client) []note {
		var out []note
		c.withT(t).do("GET", "/api/notifications", nil).expect(t, http.StatusOK).JSON(t, &out)
		return out
	}
	fromFeed := func(c *client, eventType string) note {
		for _, f := range fullFeed(t, c, 0, joined) {
			if f.EventType == eventType && f.Notification != nil {
				var got note
				if err := json.Unmarshal(f.Notification, &got); err != nil {
					t.Fatalf("notification of %s: %v", f.raw, err)
				}
				return got
			}
		}
		t.Fatalf("no notification in the feed with %s", eventType)
		return note{}
	}

	if got := notes(bob); len(got) != 1 {
		t.Errorf("bob's notifications: %+v, want his invitation", got)
	} else {
		check("bob's list", got[0], "group_invitation", &anaNow, nil)
	}
	check("bob's feed", fromFeed(bob, "group.member_invited"), "group_invitation", &anaNow, nil)
	if got := notes(ana); len(got) != 1 {
		t.Errorf("ana's notifications: %+v, want bob's joining", got)
	} else {
		check("ana's list", got[0], "member_added", &bobNow, &bobNow)
	}
	check("ana's feed", fromFeed(ana, "group.invitation_accepted"), "member_added", &bobNow, &bobNow)
}

// TestE2EPeopleAreNamedAsTheyChose: members, participants, the rows of a
// group agenda and the inviter of a group invitation carry each person's
// display name, as they are called now, in every write's answer as in the
// reads after it (a walk-through found the name one sets shown to nobody
// else). Both people chose a name other than their username, so that an
// answer naming them by the wrong field shows.
func TestE2EPeopleAreNamedAsTheyChose(t *testing.T) {
	n := mustStartNode(t)
	ana, bob := registerUser(t, n, "ana"), registerUser(t, n, "bob")
	ana.withT(t).do("PATCH", "/api/me", map[string]any{"display_name": "Ana Ruiz"}).expect(t, http.StatusOK)
	bob.withT(t).do("PATCH", "/api/me", map[string]any{"display_name": "Bob Stone"}).expect(t, http.StatusOK)
	type named struct {
		UserID      string `json:"user_id"`
		Username    string `json:"username"`
		DisplayName string `json:"display_name"`
	}
	want := map[string]named{ana.userID: {ana.userID, "ana", "Ana Ruiz"}, bob.userID: {bob.userID, "bob", "Bob Stone"}}
	check := func(where string, people []named, count int) {
		t.Helper()
		if len(people) != count {
			t.Errorf("%s: %d people, want %d: %+v", where, len(people), count, people)
		}
		for _, p := range people {
			if p != want[p.UserID] {
				t.Errorf("%s: %+v, want %+v", where, p, want[p.UserID])
			}
		}
	}
	type appointment struct {
		ID           string  `json:"id"`
		Participants []named `json:"participants"`
	}
	var group struct {
		ID      string  `json:"id"`
		Members []named `json:"members"`
	}
	ana.withT(t).do("POST", "/api/groups", map[string]any{"name": "Team", "hierarchical": true}).
		expect(t, http.StatusCreated).JSON(t, &group)
	check("the new group's answer", group.Members, 1)
	var member named
	ana.withT(t).do("POST", "/api/groups/"+group.ID+"/members", map[string]any{"user_id": bob.userID, "rank": 10}).
		expect(t, http.StatusCreated).JSON(t, &member)
	check("the invitation's answer", []named{member}, 1)
	var asked []struct {
		Inviter *apiPerson `json:"inviter"`
	}
	bob.withT(t).do("GET", "/api/group-invitations", nil).expect(t, http.StatusOK).JSON(t, &asked)
	if len(asked) != 1 || asked[0].Inviter == nil || *asked[0].Inviter != (apiPerson{ana.userID, "ana", "Ana Ruiz"}) {
		t.Errorf("bob's group invitations: %+v, want one from ana (Ana Ruiz)", asked)
	}
	bob.withT(t).do("POST", "/api/groups/"+group.ID+"/accept", nil).expect(t, http.StatusOK).JSON(t, &member)
	check("the acceptance's answer", []named{member}, 1)
	ana.withT(t).do("PATCH", "/api/groups/"+group.ID+"/members/"+bob.userID, map[string]any{"rank": 20}).
		expect(t, http.StatusOK).JSON(t, &member)
	check("the rank change's answer", []named{member}, 1)
	ana.withT(t).do("GET", "/api/groups/"+group.ID+"/members/"+bob.userID, nil).expect(t, http.StatusOK).JSON(t, &member)
	check("the member", []named{member}, 1)
	ana.withT(t).do("GET", "/api/groups/"+group.ID, nil).expect(t, http.StatusOK).JSON(t, &group)
	check("the group", group.Members, 2)

	day := time.Date(2031, 5, 5, 9, 0, 0, 0, time.UTC)
	slot := func(title string, hour int) map[string]any {
		start := day.Add(time.Duration(hour) * time.Hour)
		return map[string]any{"title": title, "start": start.Format(time.RFC3339), "end": start.Add(time.Hour).Format(time.RFC3339)}
	}
	var appt appointment
	ana.withT(t).do("POST", "/api/groups/"+group.ID+"/appointments", slot("Planning", 0)).expect(t, http.StatusCreated).JSON(t, &appt)
	check("the imposed appointment's answer", appt.Participants, 2)
	ana.withT(t).do("PATCH", "/api/appointments/"+appt.ID, map[string]any{"title": "Planning, moved"}).
		expect(t, http.StatusOK).JSON(t, &appt)
	check("the change's answer", appt.Participants, 2)
	bob.withT(t).do("GET", "/api/appointments/"+appt.ID, nil).expect(t, http.StatusOK).JSON(t, &appt)
	check("the imposed appointment", appt.Participants, 2)
	ana.withT(t).do("POST", "/api/appointments", slot("Dentist", 2)).expect(t, http.StatusCreated).JSON(t, &appt)
	check("a personal appointment's answer", appt.Participants, 1)

	// bob, below ana, invites her: her invitations, and her answers.
	var invite appointment
	bob.withT(t).do("POST", "/api/groups/"+group.ID+"/appointments", slot("Review", 4)).expect(t, http.StatusCreated).JSON(t, &invite)
	check("the invitation's answer", invite.Participants, 2)
	var invitations []appointment
	ana.withT(t).do("GET", "/api/invitations", nil).expect(t, http.StatusOK).JSON(t, &invitations)
	if len(invitations) != 1 {
		t.Fatalf("ana's invitations: %+v, want bob's review", invitations)
	}
	check("the invitations", invitations[0].Participants, 2)
	for _, answer := range []string{"accept", "decline"} {
		var mine struct {
			Appointment appointment `json:"appointment"`
		}
		ana.withT(t).do("POST", "/api/appointments/"+invite.ID+"/"+answer, nil).expect(t, http.StatusOK).JSON(t, &mine)
		check("the "+answer+"'s answer", mine.Appointment.Participants, 2)
	}

	var rows []named
	bob.withT(t).do("GET", "/api/groups/"+group.ID+"/agenda?from="+day.Format(time.RFC3339)+"&to="+day.Add(24*time.Hour).Format(time.RFC3339), nil).
		expect(t, http.StatusOK).JSON(t, &rows)
	check("the group agenda", rows, 2)
}

// TestE2EFeedForgetsWhatAUserMayNoLongerSee: the feed is a history, but not
// of what its reader has since lost the right to see. A review read, from
// an earlier position, a removed manager's former subordinate's appointment
// in full after its owner had made it busy-only and the manager had been
// removed, while the queries answered 404. Every event that takes such a
// right away (details hidden, a member removed, a rank changed, a group
// deleted) now tells a client resuming from before it to reset, and the
// feed read from its start holds nothing from before it; people only
// invited get the group's events at version 0, its count of what they
// may not see.
func TestE2EFeedForgetsWhatAUserMayNoLongerSee(t *testing.T) {
	n := mustStartNode(t)
	ana, bob, cleo := registerUser(t, n, "ana"), registerUser(t, n, "bob"), registerUser(t, n, "cleo")
	dan, erin := registerUser(t, n, "dan"), registerUser(t, n, "erin")
	gid := createGroup(t, ana, "Ward", true)
	joinGroup(t, ana, bob, gid, 500)
	joinGroup(t, ana, dan, gid, 300)
	start := joinGroup(t, ana, cleo, gid, 100)
	day := time.Date(2031, 7, 7, 9, 0, 0, 0, time.UTC)

	// mentions reports whether c's feed, read after a position (0: from
	// its start), says secret; it fails unless the read is answered with
	// reset exactly when wantReset.
	mentions := func(c *client, after int64, secret string, wantReset bool) bool {
		t.Helper()
		var page struct {
			Events []json.RawMessage `json:"events"`
			Reset  bool              `json:"reset"`
		}
		path := "/api/events?limit=1000"
		if after > 0 {
			path += fmt.Sprintf("&after=%d", after)
		}
		c.withT(t).do("GET", path, nil).expect(t, http.StatusOK).JSON(t, &page)
		if page.Reset != wantReset {
			t.Errorf("%s's feed after %d: reset %v, want %v", c.userID, after, page.Reset, wantReset)
		}
		for _, raw := range page.Events {
			if strings.Contains(string(raw), secret) {
				return true
			}
		}
		return false
	}

	// Details hidden: bob (500) and dan (300) saw cleo's (100) appointment
	// in full; once it is busy-only, neither can read it back.
	doctor, _ := createAppt(t, cleo, "Doctor: oncology", "full", day)
	if !mentions(bob, start, "oncology", false) || !mentions(dan, start, "oncology", false) {
		t.Fatal("bob and dan, above cleo, were not shown her appointment in full")
	}
	hidden := positionOf(t, cleo.withT(t).do("PATCH", "/api/appointments/"+doctor, map[string]any{"privacy": "freebusy"}).expect(t, http.StatusOK))
	for _, c := range []*client{bob, dan} {
		if mentions(c, start, "oncology", true) || mentions(c, 0, "oncology", false) {
			t.Errorf("%s read cleo's hidden appointment from the feed", c.userID)
		}
		if frames := fullFeed(t, c, hidden-1, hidden); len(frames) != 1 || !strings.Contains(string(frames[0].Data), `"busy":true`) {
			t.Errorf("%s's feed from just before cleo hid it: %v, want the busy frame", c.userID, frames)
		}
	}
	// cleo's own feed is hers: nothing revoked.
	if !mentions(cleo, start, "oncology", false) {
		t.Error("cleo's own feed lost her appointment")
	}

	// Deleted: bob, who saw it in full without taking part, may no longer
	// read it (a review of the first version found it kept); the deletion
	// reaches him as busy time only.
	dentist, _ := createAppt(t, cleo, "Dentist: implant", "full", day.Add(96*time.Hour))
	if !mentions(bob, hidden, "implant", false) {
		t.Fatal("bob was not shown cleo's dentist appointment")
	}
	gone := positionOf(t, cleo.withT(t).do("DELETE", "/api/appointments/"+dentist, nil).expect(t, http.StatusNoContent))
	if mentions(bob, hidden, "implant", true) || mentions(bob, 0, "implant", false) {
		t.Error("bob read cleo's deleted appointment from the feed")
	}
	hidden = gone

	// A rank changed: dan, lowered to cleo's rank, may no longer see her
	// details.
	therapy, _ := createAppt(t, cleo, "Therapy: group B", "full", day.Add(24*time.Hour))
	if !mentions(dan, hidden, "group B", false) {
		t.Fatal("dan was not shown cleo's new appointment")
	}
	lowered := positionOf(t, ana.withT(t).do("PATCH", "/api/groups/"+gid+"/members/"+dan.userID, map[string]any{"rank": 100}).expect(t, http.StatusOK))
	if mentions(dan, hidden, "group B", true) || mentions(dan, 0, "group B", false) {
		t.Error("dan, lowered to cleo's rank, read her appointment from the feed")
	}
	if frames := fullFeed(t, dan, lowered-1, lowered); len(frames) != 1 || frames[0].EventType != "group.member_rank_changed" {
		t.Errorf("dan's feed from just before his new rank: %v, want it", frames)
	}

	// A member removed: bob no longer sees cleo's agenda at all, and ana
	// no longer bob's.
	createAppt(t, bob, "Interview: rival firm", "full", day.Add(48*time.Hour))
	createAppt(t, cleo, "Scan: MRI", "full", day.Add(72*time.Hour))
	if !mentions(ana, lowered, "rival firm", false) || !mentions(bob, lowered, "MRI", false) {
		t.Fatal("ana was not shown bob's appointment in full, or bob cleo's")
	}
	removed := positionOf(t, ana.withT(t).do("DELETE", "/api/groups/"+gid+"/members/"+bob.userID, nil).expect(t, http.StatusNoContent))
	if mentions(bob, lowered, "MRI", true) || mentions(bob, 0, "MRI", false) || mentions(bob, 0, therapy, false) {
		t.Error("bob, removed, read cleo's appointment from the feed")
	}
	if mentions(ana, lowered, "rival firm", true) || mentions(ana, 0, "rival firm", false) {
		t.Error("ana read bob's appointment from the feed after removing him")
	}
	if frames := fullFeed(t, bob, removed-1, removed); len(frames) != 1 || frames[0].EventType != "group.member_removed" {
		t.Errorf("bob's feed from just before his removal: %v, want it", frames)
	}

	// Someone invited learns nothing of the group's count of events.
	invited := positionOf(t, ana.withT(t).do("POST", "/api/groups/"+gid+"/members", map[string]any{"user_id": erin.userID, "rank": 50}).
		expect(t, http.StatusCreated))
	ana.withT(t).do("PATCH", "/api/groups/"+gid+"/members/"+erin.userID, map[string]any{"rank": 60}).expect(t, http.StatusOK)
	withdrawn := positionOf(t, ana.withT(t).do("DELETE", "/api/groups/"+gid+"/members/"+erin.userID, nil).expect(t, http.StatusNoContent))
	frames := fullFeed(t, erin, invited-1, withdrawn)
	if len(frames) != 3 {
		t.Errorf("erin's feed while invited: %v, want her invitation, its new rank and its withdrawal", frames)
	}
	for _, f := range frames {
		if f.Stream == "group-"+gid && f.Version != 0 {
			t.Errorf("erin, only invited, was told the group's version: %s", f.raw)
		}
	}

	// The group deleted: its members no longer see each other.
	ana.withT(t).do("DELETE", "/api/groups/"+gid, nil).expect(t, http.StatusNoContent)
	for _, c := range []*client{ana, dan, cleo} {
		mentions(c, removed, "", true)
	}
}

// TestE2EFeedForgetsACancelledGroupAppointment: a member who joined after
// a group appointment was set sees its entries in full without taking part;
// once it is cancelled, they may no longer read it from the feed, and are
// told of its end as busy time.
func TestE2EFeedForgetsACancelledGroupAppointment(t *testing.T) {
	n := mustStartNode(t)
	ana, bob, cleo := registerUser(t, n, "ana"), registerUser(t, n, "bob"), registerUser(t, n, "cleo")
	gid := createGroup(t, ana, "Ward", true)
	joinGroup(t, ana, cleo, gid, 100)
	day := time.Date(2031, 8, 4, 9, 0, 0, 0, time.UTC)
	var audit struct {
		ID string `json:"id"`
	}
	ana.withT(t).do("POST", "/api/groups/"+gid+"/appointments", map[string]any{"title": "Audit: ward 7",
		"start": day.Format(time.RFC3339), "end": day.Add(time.Hour).Format(time.RFC3339)}).
		expect(t, http.StatusCreated).JSON(t, &audit)
	joined := joinGroup(t, ana, bob, gid, 500)
	retitled := positionOf(t, ana.withT(t).do("PATCH", "/api/appointments/"+audit.ID, map[string]any{"title": "Audit: ward 8"}).expect(t, http.StatusOK))
	if frames := fullFeed(t, bob, joined, retitled); len(frames) == 0 || !strings.Contains(frames[0].raw, "ward 8") {
		t.Fatalf("bob, above cleo, was not told the new title: %v", frames)
	}
	cancelled := positionOf(t, ana.withT(t).do("DELETE", "/api/appointments/"+audit.ID, nil).expect(t, http.StatusNoContent))
	if _, _, reset := feedPage(t, bob, joined, 100, cancelled); !reset {
		t.Error("bob's feed from before the cancellation did not reset")
	}
	for _, f := range fullFeed(t, bob, cancelled-1, cancelled) {
		if strings.Contains(f.raw, "ward") {
			t.Errorf("bob was told the cancelled appointment's details: %s", f.raw)
		}
	}
	var page struct {
		Events []json.RawMessage `json:"events"`
	}
	bob.withT(t).do("GET", "/api/events?limit=1000", nil).expect(t, http.StatusOK).JSON(t, &page)
	for _, raw := range page.Events {
		if strings.Contains(string(raw), "ward") {
			t.Errorf("bob's feed from its start still holds the cancelled appointment: %s", raw)
		}
	}
}
