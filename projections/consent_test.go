package projections_test

import (
	"context"
	"testing"
	"time"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/events"
)

// Membership by consent: an invitation, its answer, and a departure that
// ends participation, as the projection records them and tells people.
func TestGroupInvitationFlow(t *testing.T) {
	ctx := context.Background()
	f, p := newGroupFlow(t)
	for _, u := range []string{"boss", "ivy", "joe", "kim", "low"} {
		f.do("", registerUser(u, u, u)...)
	}
	f.do("boss", groupCreated("h", "boss", true)...)
	// A membership from a log written before invitations: active at once.
	e := f.do("boss", write{events.GroupStream("h"), events.GroupMemberAdded{GroupID: "h", UserID: "low", Rank: 0}})
	f.expect(e[0], "low", agenda.NotifyMemberAdded, nil)

	e = f.do("boss", write{events.GroupStream("h"), events.GroupMemberInvited{GroupID: "h", UserID: "ivy", Rank: 10, InvitedBy: "boss"}})
	f.expect(e[0], "ivy", agenda.NotifyGroupInvitation, payloadHas(t, map[string]any{
		"group_id": "h", "group_name": "Group h", "by": "boss", "rank": 10, "hierarchical": true}))
	e = f.do("boss", write{events.GroupStream("h"), events.GroupMemberInvited{GroupID: "h", UserID: "joe", Rank: 20, InvitedBy: "boss"}})
	f.expect(e[0], "joe", agenda.NotifyGroupInvitation, nil)
	// An invitation withdrawn says so: kim was never a member (a
	// walk-through found it told as a member's removal).
	e = f.do("boss", write{events.GroupStream("h"), events.GroupMemberInvited{GroupID: "h", UserID: "kim", Rank: 5, InvitedBy: "boss"}})
	f.expect(e[0], "kim", agenda.NotifyGroupInvitation, nil)
	e = f.do("boss", write{events.GroupStream("h"), events.GroupMemberRemoved{GroupID: "h", UserID: "kim"}})
	f.expect(e[0], "kim", agenda.NotifyMemberRemoved, payloadHas(t, map[string]any{"user_id": "kim", "left": false, "invited": true, "by": "boss"}))
	waitProjected(t, f.rm, f.head)
	if _, err := f.rm.Group(ctx, "h", "ivy"); agenda.ErrorCode(err) != agenda.ENOTFOUND {
		t.Fatalf("the invited person reads the group: %v", err)
	}

	e = f.do("ivy", write{events.GroupStream("h"), events.GroupInvitationAccepted{GroupID: "h", UserID: "ivy"}})
	f.expect(e[0], "boss", agenda.NotifyMemberAdded, payloadHas(t, map[string]any{"user_id": "ivy", "rank": 10, "by": "ivy"}))
	e = f.do("joe", write{events.GroupStream("h"), events.GroupInvitationDeclined{GroupID: "h", UserID: "joe"}})
	f.expect(e[0], "boss", agenda.NotifyGroupInvitationDeclined, payloadHas(t, map[string]any{"user_id": "joe", "by": "joe"}))
	waitProjected(t, f.rm, f.head)
	g, err := f.rm.Group(ctx, "h", "ivy")
	if err != nil || g.MyRank != 10 || g.MemberCount != 3 || len(g.Members) != 3 {
		t.Fatalf("group as ivy = %+v, %v; want her a member at 10 among 3, joe gone", g, err)
	}

	// boss imposes a meeting on ivy and low, then removes ivy: her part
	// ends (the command writes participant_removed and the entry removal).
	start := time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC)
	evs := f.do("boss", groupAppointment("m1", "h", "boss", agenda.StatusConfirmed, start, start.Add(time.Hour), []string{"ivy", "low"},
		map[string]string{"ivy": agenda.RoleAuto, "low": agenda.RoleAuto})...)
	f.expect(evs[0], "ivy", agenda.NotifyImposed, nil)
	f.expect(evs[0], "low", agenda.NotifyImposed, nil)
	evs = f.do("boss",
		write{events.GroupStream("h"), events.GroupMemberRemoved{GroupID: "h", UserID: "ivy"}},
		write{events.AppointmentStream("m1"), events.AppointmentParticipantRemoved{AppointmentID: "m1", UserID: "ivy", Reason: events.ParticipantRemoved}},
		write{events.ScheduleStream("ivy"), events.AgendaEntryRemoved{UserID: "ivy", AppointmentID: "m1"}})
	f.expect(evs[0], "ivy", agenda.NotifyMemberRemoved, payloadHas(t, map[string]any{"user_id": "ivy", "left": false, "invited": nil}))
	f.checkNotifications("boss", "ivy", "joe", "kim", "low")
	if _, err := f.rm.Appointment(ctx, "m1", "ivy"); agenda.ErrorCode(err) != agenda.ENOTFOUND {
		t.Fatalf("ivy still takes part in m1: %v", err)
	}
	if a, err := f.rm.Appointment(ctx, "m1", "boss"); err != nil || len(a.Participants) != 2 || a.Version != 2 {
		t.Fatalf("m1 = %+v, %v; want boss and low, version 2", a, err)
	}
	if entries, _ := f.rm.Agenda(ctx, "ivy", start, start.Add(time.Hour)); len(entries) != 0 {
		t.Fatalf("ivy's agenda still holds %+v", entries)
	}
	p.stop(t)
}
