package projections_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/events"
	"github.com/agendahq/agenda/readmodel"
)

// notificationNamespace is the namespace the notifier derives notification
// IDs in; written out here so that the test pins the IDs down rather than
// recomputing them the way the code does.
var notificationNamespace = uuid.MustParse("5b0d7a0e-8a8e-4d7c-9c59-2f0b1f3b8e21")

// groupFlow commits batches by named actors and records which notification
// each event must give to whom.
type groupFlow struct {
	t    *testing.T
	l    *eventLog
	rm   *readmodel.DB
	head int64
	want map[string][]wantNotification // by recipient, oldest first
}

type wantNotification struct {
	id, typ  string
	position int64
	check    func(payload map[string]any) // optional
}

func newGroupFlow(t *testing.T) (*groupFlow, *runningProjector) {
	t.Helper()
	store := mustOpenStore(t)
	rm := mustOpenReadModel(t, filepath.Join(t.TempDir(), "readmodel.db"))
	p := startProjector(t, store, rm)
	return &groupFlow{t: t, l: newEventLog(t, store), rm: rm, want: map[string][]wantNotification{}}, p
}

// do commits ws as one batch by actor and returns its events with their
// positions.
func (f *groupFlow) do(actor string, ws ...write) []events.Envelope {
	f.t.Helper()
	b := f.l.batch("node-g", ws...)
	for i := range b.Events {
		b.Events[i].Actor = actor
	}
	last := f.l.commit(b)
	for i := range b.Events {
		b.Events[i].Position = last - int64(len(b.Events)-1-i)
	}
	f.head = last
	return b.Events
}

// expect records that the event env notifies user with a notification of
// type typ.
func (f *groupFlow) expect(env events.Envelope, user, typ string, check func(map[string]any)) {
	id := uuid.NewSHA1(notificationNamespace, []byte(env.ID+"/"+user)).String()
	f.want[user] = append(f.want[user], wantNotification{id: id, typ: typ, position: env.Position, check: check})
}

// checkNotifications compares every user's notifications with those
// expected, and returns them by user.
func (f *groupFlow) checkNotifications(users ...string) map[string][]agenda.Notification {
	f.t.Helper()
	waitProjected(f.t, f.rm, f.head)
	out := map[string][]agenda.Notification{}
	for _, u := range users {
		got, err := f.rm.Notifications(context.Background(), u, false, 500)
		if err != nil {
			f.t.Fatalf("Notifications(%s): %v", u, err)
		}
		out[u] = got
		want := f.want[u]
		if len(got) != len(want) {
			f.t.Errorf("%s has %d notifications %v, want %d", u, len(got), describe(got), len(want))
			continue
		}
		for i, n := range got {
			w := want[len(want)-1-i] // newest first
			if n.ID != w.id || n.Type != w.typ || n.Position != w.position {
				f.t.Errorf("%s's notification %d = %s %s at %d, want %s %s at %d", u, i, n.ID, n.Type, n.Position, w.id, w.typ, w.position)
				continue
			}
			var payload map[string]any
			if err := json.Unmarshal(n.Payload, &payload); err != nil {
				f.t.Errorf("%s's %s payload %s: %v", u, n.Type, n.Payload, err)
				continue
			}
			if w.check != nil {
				w.check(payload)
			}
		}
	}
	return out
}

func describe(ns []agenda.Notification) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = fmt.Sprintf("%s@%d", n.Type, n.Position)
	}
	return out
}

// payloadHas returns a check that payload holds every key of want with
// that value (compared as JSON).
func payloadHas(t *testing.T, want map[string]any) func(map[string]any) {
	return func(payload map[string]any) {
		t.Helper()
		for k, v := range want {
			g, _ := json.Marshal(payload[k])
			w, _ := json.Marshal(v)
			if string(g) != string(w) {
				t.Errorf("payload[%s] = %s, want %s (payload %v)", k, g, w, payload)
			}
		}
	}
}

// groupCreated is what CreateGroup writes.
func groupCreated(id, creator string, hierarchical bool) []write {
	return []write{
		{events.GroupStream(id), events.GroupCreated{GroupID: id, Name: "Group " + id, Hierarchical: hierarchical, CreatorID: creator}},
	}
}

// groupCreatedV1 is what CreateGroup wrote before a group's creation made
// its creator a member: the creator's membership followed.
func groupCreatedV1(id, creator string, hierarchical bool) []write {
	ws := groupCreated(id, creator, hierarchical)
	ws[0].ev = atSchema1{ws[0].ev}
	return append(ws, write{events.GroupStream(id), events.GroupMemberAdded{GroupID: id, UserID: creator, Rank: agenda.CreatorRank(hierarchical)}})
}

// groupAppointment is what CreateGroupAppointment writes: others maps each
// member but the organiser to their role, in the order given by order.
func groupAppointment(id, group, owner, status string, start, end time.Time, order []string, roles map[string]string) []write {
	created := events.AppointmentCreated{AppointmentID: id, OwnerID: owner, GroupID: group,
		Title: "Meeting " + id, Description: "about " + id, Location: "Room 1", Start: start, End: end,
		Privacy: agenda.PrivacyFull, Status: status}
	for _, u := range order {
		created.Participants = append(created.Participants, events.Invitee{UserID: u, Status: roles[u]})
	}
	return withEntries([]write{{events.AppointmentStream(id), created}}, id, owner, start, end, order, roles)
}

// groupAppointmentV1 is what CreateGroupAppointment wrote before an
// appointment's creation carried its participants.
func groupAppointmentV1(id, group, owner, status string, start, end time.Time, order []string, roles map[string]string) []write {
	ws := []write{{events.AppointmentStream(id), events.AppointmentCreated{AppointmentID: id, OwnerID: owner, GroupID: group,
		Title: "Meeting " + id, Description: "about " + id, Location: "Room 1", Start: start, End: end,
		Privacy: agenda.PrivacyFull, Status: status}}}
	for _, u := range order {
		ws = append(ws, write{events.AppointmentStream(id), events.AppointmentParticipantAdded{AppointmentID: id, UserID: u, Status: roles[u]}})
	}
	return withEntries(ws, id, owner, start, end, order, roles)
}

// withEntries adds to ws the agenda entries a group appointment gives its
// organiser and every member in order.
func withEntries(ws []write, id, owner string, start, end time.Time, order []string, roles map[string]string) []write {
	ws = append(ws, write{events.ScheduleStream(owner), events.AgendaEntryAdded{UserID: owner, AppointmentID: id, Start: start, End: end, Role: agenda.RoleOwner}})
	for _, u := range order {
		ws = append(ws, write{events.ScheduleStream(u), events.AgendaEntryAdded{UserID: u, AppointmentID: id, Start: start, End: end, Role: roles[u]}})
	}
	return ws
}

func TestHierarchicalGroupFlow(t *testing.T) {
	ctx := context.Background()
	f, p := newGroupFlow(t)
	start := time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC)
	end := start.Add(time.Hour)
	for _, u := range []string{"boss", "mid", "peer", "low"} {
		f.do("", registerUser(u, u, u)...)
	}

	f.do("boss", groupCreated("h", "boss", true)...) // the creator is the actor: nobody is notified
	for _, m := range []struct {
		user string
		rank int
	}{{"mid", 500}, {"peer", 800}, {"low", 0}} {
		e := f.do("boss", write{events.GroupStream("h"), events.GroupMemberAdded{GroupID: "h", UserID: m.user, Rank: m.rank}})
		f.expect(e[0], m.user, agenda.NotifyMemberAdded, payloadHas(t, map[string]any{
			"group_id": "h", "group_name": "Group h", "by": "boss", "user_id": m.user, "rank": m.rank}))
	}

	// mid (500) sets an appointment: boss and peer are invited, low imposed.
	evs := f.do("mid", groupAppointment("g1", "h", "mid", agenda.StatusConfirmed, start, end, []string{"boss", "peer", "low"},
		map[string]string{"boss": agenda.RolePending, "peer": agenda.RolePending, "low": agenda.RoleAuto})...)
	appt := map[string]any{"appointment_id": "g1", "title": "Meeting g1", "start": start, "end": end,
		"organiser_id": "mid", "status": agenda.StatusConfirmed, "group_id": "h", "by": "mid"}
	f.expect(evs[0], "boss", agenda.NotifyInvitation, payloadHas(t, appt))
	f.expect(evs[0], "peer", agenda.NotifyInvitation, payloadHas(t, appt))
	f.expect(evs[0], "low", agenda.NotifyImposed, payloadHas(t, appt))

	// boss accepts, peer declines: the organiser hears of both.
	evs = f.do("boss", write{events.AppointmentStream("g1"), events.AppointmentAccepted{AppointmentID: "g1", UserID: "boss"}},
		write{events.ScheduleStream("boss"), events.AgendaEntryRoleChanged{UserID: "boss", AppointmentID: "g1", Role: agenda.RoleAccepted}})
	f.expect(evs[0], "mid", agenda.NotifyAccepted, payloadHas(t, map[string]any{"appointment_id": "g1", "user_id": "boss", "by": "boss"}))
	evs = f.do("peer", write{events.AppointmentStream("g1"), events.AppointmentDeclined{AppointmentID: "g1", UserID: "peer"}},
		write{events.ScheduleStream("peer"), events.AgendaEntryRemoved{UserID: "peer", AppointmentID: "g1"}})
	f.expect(evs[0], "mid", agenda.NotifyDeclined, payloadHas(t, map[string]any{"appointment_id": "g1", "user_id": "peer", "by": "peer"}))

	// mid moves it: everyone still taking part but mid hears of it.
	moved := start.Add(2 * time.Hour)
	evs = f.do("mid", rescheduleAppointment("g1", "Moved g1", moved, moved.Add(time.Hour), "mid", "boss", "low")...)
	f.expect(evs[0], "boss", agenda.NotifyUpdated, payloadHas(t, map[string]any{"title": "Moved g1", "start": moved}))
	f.expect(evs[0], "low", agenda.NotifyUpdated, nil)

	// boss re-ranks low, then removes them; mid leaves.
	evs = f.do("boss", write{events.GroupStream("h"), events.GroupMemberRankChanged{GroupID: "h", UserID: "low", Rank: 100}})
	f.expect(evs[0], "low", agenda.NotifyRankChanged, payloadHas(t, map[string]any{"group_id": "h", "user_id": "low", "rank": 100, "by": "boss"}))
	evs = f.do("boss", write{events.GroupStream("h"), events.GroupMemberRemoved{GroupID: "h", UserID: "low"}})
	f.expect(evs[0], "low", agenda.NotifyMemberRemoved, payloadHas(t, map[string]any{"group_id": "h", "user_id": "low", "left": false, "by": "boss"}))
	evs = f.do("mid", write{events.GroupStream("h"), events.GroupMemberRemoved{GroupID: "h", UserID: "mid", Left: true}})
	f.expect(evs[0], "boss", agenda.NotifyMemberRemoved, payloadHas(t, map[string]any{"group_id": "h", "user_id": "mid", "left": true, "by": "mid"}))

	before := f.checkNotifications("boss", "mid", "peer", "low")

	t.Run("group and members", func(t *testing.T) {
		g, err := f.rm.Group(ctx, "h", "boss")
		if err != nil {
			t.Fatalf("Group(h): %v", err)
		}
		var got []string
		for _, m := range g.Members {
			got = append(got, m.UserID)
		}
		if len(got) != 2 || got[0] != "boss" || got[1] != "peer" || g.Members[1].Rank != 800 {
			t.Errorf("members = %+v, want boss and peer (800)", g.Members)
		}
		// created, boss, mid, peer and low added, a rank change, 2 removals
		if g.Version != 7 || g.OriginNode != "node-g" || !g.Hierarchical || g.CreatorID != "boss" {
			t.Errorf("group version/origin/hierarchical/creator = %d/%s/%v/%s, want 7/node-g/true/boss", g.Version, g.OriginNode, g.Hierarchical, g.CreatorID)
		}
		if _, err := f.rm.Group(ctx, "h", "low"); agenda.ErrorCode(err) != agenda.ENOTFOUND {
			t.Errorf("removed low still sees the group: %v", err)
		}
	})

	t.Run("participants and agenda entries", func(t *testing.T) {
		a, err := f.rm.Appointment(ctx, "g1", "peer")
		if err != nil {
			t.Fatalf("Appointment(g1) as peer (declined): %v", err)
		}
		want := map[string]string{"mid": agenda.RoleOwner, "boss": agenda.RoleAccepted, "peer": agenda.RoleDeclined, "low": agenda.RoleAuto}
		if len(a.Participants) != len(want) {
			t.Errorf("participants = %+v, want %v", a.Participants, want)
		}
		for _, pt := range a.Participants {
			if want[pt.UserID] != pt.Status {
				t.Errorf("participant %s = %s, want %s", pt.UserID, pt.Status, want[pt.UserID])
			}
		}
		if a.GroupID == nil || *a.GroupID != "h" || a.Status != agenda.StatusConfirmed || a.MyStatus != agenda.RoleDeclined || a.Title != "Moved g1" {
			t.Errorf("g1 = group %v status %s my_status %s title %q", a.GroupID, a.Status, a.MyStatus, a.Title)
		}
		// created (with its 3 participants) + accepted + declined + updated
		if a.Version != 4 {
			t.Errorf("g1 version = %d, want 4", a.Version)
		}
		for user, role := range map[string]string{"mid": agenda.RoleOwner, "boss": agenda.RoleAccepted, "low": agenda.RoleAuto, "peer": ""} {
			entries, err := f.rm.Agenda(ctx, user, start, start.Add(24*time.Hour))
			if err != nil {
				t.Fatalf("Agenda(%s): %v", user, err)
			}
			if role == "" {
				if len(entries) != 0 {
					t.Errorf("%s declined but has %+v", user, entries)
				}
				continue
			}
			if len(entries) != 1 || entries[0].AppointmentID != "g1" || entries[0].MyStatus != role || !entries[0].Start.Equal(moved) || entries[0].Pending {
				t.Errorf("%s's agenda = %+v, want g1 as %s at %s", user, entries, role, moved)
			}
		}
		if inv, _ := f.rm.Invitations(ctx, "boss", time.Now()); len(inv) != 0 {
			t.Errorf("boss's invitations = %v, want none after accepting", inv)
		}
	})

	t.Run("marking read", func(t *testing.T) {
		n := before["boss"][len(before["boss"])-1] // the oldest: the invitation
		f.do("boss", write{events.NotificationStream("boss"), events.NotificationRead{UserID: "boss", NotificationID: n.ID}})
		waitProjected(t, f.rm, f.head)
		s, err := f.rm.NotificationState(ctx, "boss", n.ID)
		if err != nil {
			t.Fatalf("NotificationState: %v", err)
		}
		if !s.Found || !s.Read || s.StreamVersion != 1 || s.Unread != len(before["boss"])-1 {
			t.Errorf("state = %+v, want found, read, stream version 1, %d unread", s, len(before["boss"])-1)
		}
		// mark-all up to the position of the re-rank: low's member_added,
		// imposed and updated are read, rank_changed too, member_removed not.
		lowNs := before["low"]
		upTo := lowNs[1].Position // rank_changed (newest first: removed, rank_changed, ...)
		f.do("low", write{events.NotificationStream("low"), events.NotificationsAllRead{UserID: "low", UpToPosition: upTo}})
		waitProjected(t, f.rm, f.head)
		unread, _ := f.rm.Notifications(ctx, "low", true, 10)
		if len(unread) != 1 || unread[0].Type != agenda.NotifyMemberRemoved {
			t.Errorf("low's unread = %v, want only member_removed", describe(unread))
		}
	})

	t.Run("a rebuild gives every notification its ID and read state back", func(t *testing.T) {
		users := []string{"boss", "mid", "peer", "low"}
		snapshot := map[string][]agenda.Notification{}
		for _, u := range users {
			snapshot[u], _ = f.rm.Notifications(ctx, u, false, 500)
		}
		if err := p.Rebuild(ctx, readmodel.ProjectionPlanning); err != nil {
			t.Fatalf("Rebuild: %v", err)
		}
		waitProjected(t, f.rm, f.head)
		for _, u := range users {
			got, err := f.rm.Notifications(ctx, u, false, 500)
			if err != nil {
				t.Fatalf("Notifications(%s): %v", u, err)
			}
			want := snapshot[u]
			if len(got) != len(want) {
				t.Errorf("%s: %d notifications after rebuild, %d before", u, len(got), len(want))
				continue
			}
			for i := range got {
				g, w := got[i], want[i]
				sameRead := (g.ReadAt == nil) == (w.ReadAt == nil) && (g.ReadAt == nil || g.ReadAt.Equal(*w.ReadAt))
				if g.ID != w.ID || g.Type != w.Type || g.Position != w.Position || string(g.Payload) != string(w.Payload) ||
					!g.CreatedAt.Equal(w.CreatedAt) || !sameRead || g.Version != w.Version || g.OriginNode != w.OriginNode {
					t.Errorf("%s's notification %d after rebuild = %+v (payload %s)\nbefore %+v (payload %s)", u, i, g, g.Payload, w, w.Payload)
				}
			}
		}
		f.checkNotifications(users...)
	})
}

func TestFlatGroupFlow(t *testing.T) {
	ctx := context.Background()
	f, _ := newGroupFlow(t)
	start := time.Date(2026, 7, 2, 9, 0, 0, 0, time.UTC)
	end := start.Add(time.Hour)
	for _, u := range []string{"ana", "bob", "cat"} {
		f.do("", registerUser(u, u, u)...)
	}
	f.do("ana", groupCreated("f", "ana", false)...)
	evs := f.do("ana", write{events.GroupStream("f"), events.GroupMemberAdded{GroupID: "f", UserID: "bob"}})
	f.expect(evs[0], "bob", agenda.NotifyMemberAdded, payloadHas(t, map[string]any{"by": "ana", "rank": 0}))
	// bob adds cat: in a flat group any member may.
	evs = f.do("bob", write{events.GroupStream("f"), events.GroupMemberAdded{GroupID: "f", UserID: "cat"}})
	f.expect(evs[0], "cat", agenda.NotifyMemberAdded, payloadHas(t, map[string]any{"by": "bob"}))

	others := []string{"bob", "cat"}
	pending := map[string]string{"bob": agenda.RolePending, "cat": agenda.RolePending}

	// fa: bob accepts, cat declines: cancelled for all.
	evs = f.do("ana", groupAppointment("fa", "f", "ana", agenda.StatusPending, start, end, others, pending)...)
	f.expect(evs[0], "bob", agenda.NotifyInvitation, payloadHas(t, map[string]any{"status": agenda.StatusPending, "organiser_id": "ana"}))
	f.expect(evs[0], "cat", agenda.NotifyInvitation, nil)
	evs = f.do("bob", write{events.AppointmentStream("fa"), events.AppointmentAccepted{AppointmentID: "fa", UserID: "bob"}},
		write{events.ScheduleStream("bob"), events.AgendaEntryRoleChanged{UserID: "bob", AppointmentID: "fa", Role: agenda.RoleAccepted}})
	f.expect(evs[0], "ana", agenda.NotifyAccepted, payloadHas(t, map[string]any{"user_id": "bob"}))
	evs = f.do("cat",
		write{events.AppointmentStream("fa"), events.AppointmentDeclined{AppointmentID: "fa", UserID: "cat"}},
		write{events.ScheduleStream("cat"), events.AgendaEntryRemoved{UserID: "cat", AppointmentID: "fa"}},
		write{events.AppointmentStream("fa"), events.AppointmentCancelled{AppointmentID: "fa", Reason: events.CancelledDeclined}},
		write{events.ScheduleStream("ana"), events.AgendaEntryRemoved{UserID: "ana", AppointmentID: "fa"}},
		write{events.ScheduleStream("bob"), events.AgendaEntryRemoved{UserID: "bob", AppointmentID: "fa"}})
	f.expect(evs[0], "ana", agenda.NotifyDeclined, payloadHas(t, map[string]any{"user_id": "cat", "by": "cat"}))
	cancelled := payloadHas(t, map[string]any{"status": agenda.StatusCancelled, "reason": "declined", "by": "cat"})
	f.expect(evs[2], "ana", agenda.NotifyCancelled, cancelled)
	f.expect(evs[2], "bob", agenda.NotifyCancelled, cancelled)

	// fb: both accept; the last acceptance confirms.
	later := start.Add(3 * time.Hour)
	evs = f.do("ana", groupAppointment("fb", "f", "ana", agenda.StatusPending, later, later.Add(time.Hour), others, pending)...)
	f.expect(evs[0], "bob", agenda.NotifyInvitation, nil)
	f.expect(evs[0], "cat", agenda.NotifyInvitation, nil)
	waitProjected(t, f.rm, f.head)
	if n, _ := f.rm.PendingGroupAppointments(ctx, "f", start); n != 1 {
		t.Errorf("pending appointments of f = %d, want 1 (fb)", n)
	}
	evs = f.do("bob", write{events.AppointmentStream("fb"), events.AppointmentAccepted{AppointmentID: "fb", UserID: "bob"}},
		write{events.ScheduleStream("bob"), events.AgendaEntryRoleChanged{UserID: "bob", AppointmentID: "fb", Role: agenda.RoleAccepted}})
	f.expect(evs[0], "ana", agenda.NotifyAccepted, nil)
	evs = f.do("cat", write{events.AppointmentStream("fb"), events.AppointmentAccepted{AppointmentID: "fb", UserID: "cat"}},
		write{events.ScheduleStream("cat"), events.AgendaEntryRoleChanged{UserID: "cat", AppointmentID: "fb", Role: agenda.RoleAccepted}},
		write{events.AppointmentStream("fb"), events.AppointmentConfirmed{AppointmentID: "fb"}})
	f.expect(evs[0], "ana", agenda.NotifyAccepted, payloadHas(t, map[string]any{"user_id": "cat"}))
	confirmed := payloadHas(t, map[string]any{"status": agenda.StatusConfirmed, "appointment_id": "fb"})
	f.expect(evs[2], "ana", agenda.NotifyConfirmed, confirmed)
	f.expect(evs[2], "bob", agenda.NotifyConfirmed, confirmed)

	// cat leaves (the creator hears of it), ana removes bob, then ana, the
	// last member, leaves: the group goes and nobody is left to notify.
	evs = f.do("cat", write{events.GroupStream("f"), events.GroupMemberRemoved{GroupID: "f", UserID: "cat", Left: true}})
	f.expect(evs[0], "ana", agenda.NotifyMemberRemoved, payloadHas(t, map[string]any{"user_id": "cat", "left": true, "by": "cat"}))
	evs = f.do("ana", write{events.GroupStream("f"), events.GroupMemberRemoved{GroupID: "f", UserID: "bob"}})
	f.expect(evs[0], "bob", agenda.NotifyMemberRemoved, payloadHas(t, map[string]any{"user_id": "bob", "left": false, "by": "ana"}))
	f.do("ana", write{events.GroupStream("f"), events.GroupMemberRemoved{GroupID: "f", UserID: "ana", Left: true}},
		write{events.GroupStream("f"), events.GroupDeleted{GroupID: "f"}})

	f.checkNotifications("ana", "bob", "cat")

	t.Run("the declined appointment is cancelled and in nobody's agenda", func(t *testing.T) {
		for _, u := range []string{"ana", "bob", "cat"} {
			a, err := f.rm.Appointment(ctx, "fa", u)
			if err != nil {
				t.Fatalf("Appointment(fa) as %s: %v", u, err)
			}
			if a.Status != agenda.StatusCancelled {
				t.Errorf("fa status as seen by %s = %s, want cancelled", u, a.Status)
			}
			entries, _ := f.rm.Agenda(ctx, u, start, start.Add(2*time.Hour))
			if len(entries) != 0 {
				t.Errorf("%s's agenda still holds %+v", u, entries)
			}
			if inv, _ := f.rm.Invitations(ctx, u, time.Now()); len(inv) != 0 {
				t.Errorf("%s's invitations = %v, want none", u, inv)
			}
		}
		a, _ := f.rm.Appointment(ctx, "fa", "ana")
		want := map[string]string{"ana": agenda.RoleOwner, "bob": agenda.RoleAccepted, "cat": agenda.RoleDeclined}
		for _, pt := range a.Participants {
			if want[pt.UserID] != pt.Status {
				t.Errorf("fa participant %s = %s, want %s", pt.UserID, pt.Status, want[pt.UserID])
			}
		}
	})

	t.Run("the accepted appointment is confirmed and blocks everyone", func(t *testing.T) {
		for u, role := range map[string]string{"ana": agenda.RoleOwner, "bob": agenda.RoleAccepted, "cat": agenda.RoleAccepted} {
			entries, _ := f.rm.Agenda(ctx, u, later, later.Add(time.Hour))
			if len(entries) != 1 || entries[0].AppointmentID != "fb" || entries[0].Status != agenda.StatusConfirmed || entries[0].MyStatus != role {
				t.Errorf("%s's agenda = %+v, want fb confirmed as %s", u, entries, role)
			}
			s, _ := f.rm.Schedule(ctx, u, later, later.Add(time.Hour), "")
			if len(s.Conflicts) != 1 {
				t.Errorf("%s's schedule conflicts = %v, want fb", u, s.Conflicts)
			}
		}
		if n, _ := f.rm.PendingGroupAppointments(ctx, "f", start); n != 0 {
			t.Errorf("pending appointments of f = %d, want 0", n)
		}
	})

	t.Run("the group is gone", func(t *testing.T) {
		for _, u := range []string{"ana", "bob", "cat"} {
			if gs, _ := f.rm.GroupsOf(ctx, u); len(gs) != 0 {
				t.Errorf("groups of %s = %v, want none", u, gs)
			}
		}
	})
}

func TestDeletedGroupAppointmentIsCancelledForItsParticipants(t *testing.T) {
	ctx := context.Background()
	f, _ := newGroupFlow(t)
	start := time.Date(2026, 7, 3, 9, 0, 0, 0, time.UTC)
	end := start.Add(time.Hour)
	for _, u := range []string{"org", "sub", "sup", "dec"} {
		f.do("", registerUser(u, u, u)...)
	}
	f.do("sup", groupCreated("h", "sup", true)...)
	for _, m := range []struct {
		user string
		rank int
	}{{"org", 500}, {"sub", 10}, {"dec", 600}} {
		e := f.do("sup", write{events.GroupStream("h"), events.GroupMemberAdded{GroupID: "h", UserID: m.user, Rank: m.rank}})
		f.expect(e[0], m.user, agenda.NotifyMemberAdded, nil)
	}
	evs := f.do("org", groupAppointment("g", "h", "org", agenda.StatusConfirmed, start, end, []string{"sup", "dec", "sub"},
		map[string]string{"sup": agenda.RolePending, "dec": agenda.RolePending, "sub": agenda.RoleAuto})...)
	f.expect(evs[0], "sup", agenda.NotifyInvitation, nil)
	f.expect(evs[0], "dec", agenda.NotifyInvitation, nil)
	f.expect(evs[0], "sub", agenda.NotifyImposed, nil)
	evs = f.do("dec", write{events.AppointmentStream("g"), events.AppointmentDeclined{AppointmentID: "g", UserID: "dec"}},
		write{events.ScheduleStream("dec"), events.AgendaEntryRemoved{UserID: "dec", AppointmentID: "g"}})
	f.expect(evs[0], "org", agenda.NotifyDeclined, nil)
	// The organiser deletes it: cancelled, every entry (but the declined
	// one's, already gone) removed; the pending sup and the imposed sub hear
	// of it, the decliner and the organiser do not.
	evs = f.do("org", write{events.AppointmentStream("g"), events.AppointmentCancelled{AppointmentID: "g", Reason: events.CancelledDeleted}},
		write{events.ScheduleStream("org"), events.AgendaEntryRemoved{UserID: "org", AppointmentID: "g"}},
		write{events.ScheduleStream("sup"), events.AgendaEntryRemoved{UserID: "sup", AppointmentID: "g"}},
		write{events.ScheduleStream("sub"), events.AgendaEntryRemoved{UserID: "sub", AppointmentID: "g"}})
	cancelled := payloadHas(t, map[string]any{"status": agenda.StatusCancelled, "reason": "deleted", "by": "org", "group_id": "h"})
	f.expect(evs[0], "sup", agenda.NotifyCancelled, cancelled)
	f.expect(evs[0], "sub", agenda.NotifyCancelled, cancelled)
	f.checkNotifications("org", "sub", "sup", "dec")

	for _, u := range []string{"org", "sub", "sup", "dec"} {
		a, err := f.rm.Appointment(ctx, "g", u)
		if err != nil {
			t.Fatalf("Appointment(g) as %s: %v (a cancelled group appointment stays readable)", u, err)
		}
		if a.Status != agenda.StatusCancelled {
			t.Errorf("g as %s: status %s, want cancelled", u, a.Status)
		}
		if entries, _ := f.rm.Agenda(ctx, u, start, end); len(entries) != 0 {
			t.Errorf("%s's agenda still holds %+v", u, entries)
		}
	}
	if inv, _ := f.rm.Invitations(ctx, "sup", time.Now()); len(inv) != 0 {
		t.Errorf("sup's invitations = %v, want none: g is cancelled", inv)
	}
	v, err := f.rm.GroupAgenda(ctx, "h", "sup", start, end)
	if err != nil {
		t.Fatalf("GroupAgenda: %v", err)
	}
	for _, m := range v {
		if len(m.Entries) != 0 {
			t.Errorf("%s's group agenda entries = %+v, want none", m.UserID, m.Entries)
		}
	}
}

// TestLogsWrittenBeforeProjectAlike replays a group's creation and a group
// appointment as builds before schema version 2 wrote them (the creator's
// membership and every participant as events of their own) and as they are
// written now (one event each): the read model must hold the same groups,
// participants, agendas and notifications, and differ only in versions,
// which start at 1 only for what is written now.
func TestLogsWrittenBeforeProjectAlike(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC)
	roles := map[string]string{"mid": agenda.RoleAuto, "peer": agenda.RolePending}
	type state struct {
		group       agenda.Group
		appointment agenda.Appointment
		agenda      []agenda.Entry
		notified    []string
		live        []string // the appointment's and group's events in each member's feed
	}
	project := func(group func(string, string, bool) []write,
		appointment func(string, string, string, string, time.Time, time.Time, []string, map[string]string) []write) state {
		f, _ := newGroupFlow(t)
		for _, u := range []string{"boss", "mid", "peer"} {
			f.do("", registerUser(u, u, u)...)
		}
		f.do("boss", group("h", "boss", true)...)
		for _, m := range []string{"mid", "peer"} {
			f.do("boss", write{events.GroupStream("h"), events.GroupMemberAdded{GroupID: "h", UserID: m, Rank: 10}})
		}
		f.do("boss", appointment("a", "h", "boss", agenda.StatusConfirmed, start, start.Add(time.Hour), []string{"mid", "peer"}, roles)...)
		waitProjected(t, f.rm, f.head)
		var st state
		var err error
		if st.group, err = f.rm.Group(ctx, "h", "boss"); err != nil {
			t.Fatalf("Group: %v", err)
		}
		if st.appointment, err = f.rm.Appointment(ctx, "a", "mid"); err != nil {
			t.Fatalf("Appointment: %v", err)
		}
		if st.agenda, err = f.rm.Agenda(ctx, "mid", start, start.Add(time.Hour)); err != nil {
			t.Fatalf("Agenda: %v", err)
		}
		for _, u := range []string{"boss", "mid", "peer"} {
			ns, err := f.rm.Notifications(ctx, u, false, 50)
			if err != nil {
				t.Fatalf("Notifications: %v", err)
			}
			for _, n := range ns {
				st.notified = append(st.notified, u+":"+n.Type)
			}
			feed, err := f.rm.Feed(ctx, u, 0, f.head, 100, agenda.MaxFeedPageBytes)
			if err != nil {
				t.Fatalf("Feed: %v", err)
			}
			for _, e := range feed {
				// With the event's data, not only the notification it gave.
				if (e.Stream == events.AppointmentStream("a") || e.EventType == "group.created") && len(e.Data) > len("{}") {
					st.live = append(st.live, u+":"+e.EventType)
				}
			}
		}
		return st
	}
	before := project(groupCreatedV1, groupAppointmentV1)
	now := project(groupCreated, groupAppointment)

	if before.group.Version != 4 || now.group.Version != 3 {
		t.Errorf("group versions = %d before, %d now; want 4 (created, the creator added, two members added) and 3", before.group.Version, now.group.Version)
	}
	if before.appointment.Version != 3 || now.appointment.Version != 1 {
		t.Errorf("appointment versions = %d before, %d now; want 3 (created, two participants) and 1", before.appointment.Version, now.appointment.Version)
	}
	// Versions aside, the same.
	for _, st := range []*state{&before, &now} {
		st.group.Version, st.group.UpdatedAt, st.appointment.Version, st.appointment.UpdatedAt = 0, time.Time{}, 0, time.Time{}
		for i := range st.group.Members {
			st.group.Members[i].Version, st.group.Members[i].JoinedAt = 0, time.Time{}
		}
		for i := range st.agenda {
			st.agenda[i].Version = 0
		}
	}
	before.group.CreatedAt, before.appointment.CreatedAt = now.group.CreatedAt, now.appointment.CreatedAt
	if !reflect.DeepEqual(before.group, now.group) {
		t.Errorf("group before = %+v\nnow = %+v", before.group, now.group)
	}
	if !reflect.DeepEqual(before.appointment, now.appointment) {
		t.Errorf("appointment before = %+v\nnow = %+v", before.appointment, now.appointment)
	}
	if len(now.agenda) != 1 || !reflect.DeepEqual(before.agenda, now.agenda) {
		t.Errorf("mid's agenda before = %+v\nnow = %+v", before.agenda, now.agenda)
	}
	if want := []string{"mid:" + agenda.NotifyImposed, "mid:" + agenda.NotifyMemberAdded, "peer:" + agenda.NotifyInvitation, "peer:" + agenda.NotifyMemberAdded}; !reflect.DeepEqual(now.notified, want) || !reflect.DeepEqual(before.notified, want) {
		t.Errorf("notifications before = %v, now = %v; want %v", before.notified, now.notified, want)
	}
	// Live, every participant hears of the appointment, and the creator of
	// the group.
	if want := []string{"boss:group.created", "boss:appointment.created", "mid:appointment.created", "peer:appointment.created"}; !reflect.DeepEqual(now.live, want) {
		t.Errorf("feeds = %v, want %v", now.live, want)
	}
	// An old log's feeds are what they were: the group's creation reached
	// no member yet (its creator joined by the next event), and each
	// participant_added reached the participants so far.
	const added = "appointment.participant_added"
	if want := []string{"boss:appointment.created", "boss:" + added, "boss:" + added, "mid:" + added, "mid:" + added, "peer:" + added}; !reflect.DeepEqual(before.live, want) {
		t.Errorf("feeds of the old log = %v, want %v", before.live, want)
	}
	if m := now.group.Members; len(m) != 3 || m[0].UserID != "boss" || m[0].Rank != agenda.MaxRank {
		t.Errorf("members = %+v, want boss first at the top rank", m)
	}
}

// A group's deletion tells its members that it is gone, and those only
// invited that their invitation ended with it; not whoever deleted it
// (reviews found members, and before them the invited, told nothing).
func TestGroupDeletionTellsMembersAndInvitees(t *testing.T) {
	f, _ := newGroupFlow(t)
	for _, u := range []string{"ana", "bob", "dan"} {
		f.do("", registerUser(u, u, u)...)
	}
	f.do("ana", groupCreated("g", "ana", false)...)
	evs := f.do("ana", write{events.GroupStream("g"), events.GroupMemberAdded{GroupID: "g", UserID: "bob"}})
	f.expect(evs[0], "bob", agenda.NotifyMemberAdded, nil)
	evs = f.do("ana", write{events.GroupStream("g"), events.GroupMemberInvited{GroupID: "g", UserID: "dan", InvitedBy: "ana"}})
	f.expect(evs[0], "dan", agenda.NotifyGroupInvitation, nil)
	evs = f.do("ana", write{events.GroupStream("g"), events.GroupDeleted{GroupID: "g"}})
	f.expect(evs[0], "bob", agenda.NotifyGroupDeleted, payloadHas(t, map[string]any{"group_id": "g", "user_id": "bob", "by": "ana"}))
	f.expect(evs[0], "dan", agenda.NotifyMemberRemoved, payloadHas(t, map[string]any{"user_id": "dan", "deleted": true, "invited": true, "by": "ana"}))
	f.checkNotifications("ana", "bob", "dan")
}

// An organiser hears who no longer takes part in their appointment, and
// why; the one who acted hears nothing of their own doing (a review found
// organisers told nothing when an attendee left the group).
func TestOrganiserHearsWhoNoLongerTakesPart(t *testing.T) {
	f, _ := newGroupFlow(t)
	for _, u := range []string{"ana", "bob", "cat"} {
		f.do("", registerUser(u, u, u)...)
	}
	f.do("ana", groupCreated("g", "ana", false)...)
	for _, u := range []string{"bob", "cat"} {
		evs := f.do("ana", write{events.GroupStream("g"), events.GroupMemberAdded{GroupID: "g", UserID: u}})
		f.expect(evs[0], u, agenda.NotifyMemberAdded, nil)
	}
	start := time.Date(2031, 7, 2, 9, 0, 0, 0, time.UTC)
	evs := f.do("ana", groupAppointment("ga", "g", "ana", agenda.StatusPending, start, start.Add(time.Hour),
		[]string{"bob", "cat"}, map[string]string{"bob": agenda.RolePending, "cat": agenda.RolePending})...)
	f.expect(evs[0], "bob", agenda.NotifyInvitation, nil)
	f.expect(evs[0], "cat", agenda.NotifyInvitation, nil)
	// bob leaves the group: ana, the organiser, hears it.
	evs = f.do("bob", write{events.GroupStream("g"), events.GroupMemberRemoved{GroupID: "g", UserID: "bob", Left: true}},
		write{events.AppointmentStream("ga"), events.AppointmentParticipantRemoved{AppointmentID: "ga", UserID: "bob", Reason: events.ParticipantLeft}},
		write{events.ScheduleStream("bob"), events.AgendaEntryRemoved{UserID: "bob", AppointmentID: "ga"}})
	f.expect(evs[0], "ana", agenda.NotifyMemberRemoved, nil)
	f.expect(evs[1], "ana", agenda.NotifyParticipantRemoved, payloadHas(t, map[string]any{"appointment_id": "ga", "user_id": "bob", "reason": "left", "by": "bob"}))
	// ana removes cat herself: nothing to tell her.
	evs = f.do("ana", write{events.GroupStream("g"), events.GroupMemberRemoved{GroupID: "g", UserID: "cat"}},
		write{events.AppointmentStream("ga"), events.AppointmentParticipantRemoved{AppointmentID: "ga", UserID: "cat", Reason: events.ParticipantRemoved}},
		write{events.ScheduleStream("cat"), events.AgendaEntryRemoved{UserID: "cat", AppointmentID: "ga"}})
	f.expect(evs[0], "cat", agenda.NotifyMemberRemoved, nil)
	f.checkNotifications("ana", "bob", "cat")
}
