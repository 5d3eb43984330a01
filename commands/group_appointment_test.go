package commands_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/commands"
	"github.com/agendahq/agenda/events"
)

func TestCreateGroupAppointment(t *testing.T) {
	ctx := context.Background()
	create := func(actor, group string) commands.CreateGroupAppointment {
		return commands.CreateGroupAppointment{ActorID: actor, GroupID: group, Title: " Planning ", Description: "Q3",
			Location: "Room 9", Start: apptFrom, End: apptTo, Privacy: agenda.PrivacyFreeBusy}
	}
	tests := []struct {
		name       string
		cmd        commands.CreateGroupAppointment
		wantStatus string
		roles      []string // "user:role" for each member but the organiser, in member order
		agendas    map[string]int64
	}{
		{name: "creator imposes it on everyone below", cmd: create("boss", "h"), wantStatus: agenda.StatusConfirmed,
			roles:   []string{"mid:auto", "low:auto"},
			agendas: map[string]int64{"agenda-boss": 11, "agenda-mid": 12, "agenda-low": 13}},
		{name: "middle rank imposes below, invites above", cmd: create("mid", "h"), wantStatus: agenda.StatusConfirmed,
			roles:   []string{"boss:pending", "low:auto"},
			agendas: map[string]int64{"agenda-boss": 11, "agenda-mid": 12, "agenda-low": 13}},
		{name: "rank 0 only invites", cmd: create("low", "h"), wantStatus: agenda.StatusConfirmed,
			roles:   []string{"boss:pending", "mid:pending"},
			agendas: map[string]int64{"agenda-boss": 11, "agenda-mid": 12, "agenda-low": 13}},
		{name: "flat: everyone invited, pending until all accept", cmd: create("bob", "f"), wantStatus: agenda.StatusPending,
			roles:   []string{"ana:pending", "cat:pending"},
			agendas: map[string]int64{"agenda-ana": 21, "agenda-bob": 22, "agenda-cat": 23}},
		{name: "flat with a single member: confirmed at once", cmd: create("ana", "solo"), wantStatus: agenda.StatusConfirmed,
			roles: nil, agendas: map[string]int64{"agenda-ana": 21}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			log := &fakeLog{}
			r := groupWorld(t)
			res, err := newHandlers(log, r).CreateGroupAppointment(ctx, tc.cmd)
			if err != nil {
				t.Fatalf("CreateGroupAppointment: %v", err)
			}
			g := r.groups[tc.cmd.GroupID]
			want := map[string]int64{"group-" + g.ID: g.Version, "appointment-id-001": 0}
			for s, v := range tc.agendas {
				want[s] = v
			}
			// The appointment's creation is one event, participants and
			// all, so its version starts at 1.
			types := []string{"appointment.created"}
			for range g.ActiveMembers() { // ivy, invited only, takes no part
				types = append(types, "agenda.entry_added")
			}
			evs := proposal(t, log, tc.cmd.ActorID, want, types...)
			c := evs[0].(events.AppointmentCreated)
			wantCreated := events.AppointmentCreated{AppointmentID: "id-001", OwnerID: tc.cmd.ActorID, GroupID: g.ID,
				Title: "Planning", Description: "Q3", Location: "Room 9", Start: apptFrom, End: apptTo,
				Privacy: agenda.PrivacyFreeBusy, Status: tc.wantStatus}
			var roles []string
			for _, p := range c.Participants {
				roles = append(roles, p.UserID+":"+p.Status)
			}
			c.Participants = nil
			if !reflect.DeepEqual(c, wantCreated) {
				t.Errorf("created = %+v\nwant %+v", c, wantCreated)
			}
			if a := res.Appointment; a == nil || a.Version != 1 || len(a.Participants) != 1+len(tc.roles) {
				t.Errorf("answer = %+v, want version 1 with %d participants", a, 1+len(tc.roles))
			}
			entryRole := map[string]string{}
			for _, ev := range evs[1:] {
				switch e := ev.(type) {
				case events.AgendaEntryAdded:
					if e.AppointmentID != "id-001" || !e.Start.Equal(apptFrom) || !e.End.Equal(apptTo) {
						t.Errorf("entry = %+v, want id-001 at %s–%s", e, apptFrom, apptTo)
					}
					entryRole[e.UserID] = e.Role
				}
			}
			if !equalTypes(roles, tc.roles) {
				t.Errorf("participants = %v, want %v", roles, tc.roles)
			}
			// Every member gets an entry with their role; the organiser's is owner.
			if entryRole[tc.cmd.ActorID] != agenda.RoleOwner {
				t.Errorf("organiser's entry role = %q, want owner", entryRole[tc.cmd.ActorID])
			}
			for _, ur := range tc.roles {
				for i := range ur {
					if ur[i] == ':' {
						if got := entryRole[ur[:i]]; got != ur[i+1:] {
							t.Errorf("entry role of %s = %q, want %q", ur[:i], got, ur[i+1:])
						}
					}
				}
			}
			if res.ID != "id-001" || res.Position != int64(len(evs)) {
				t.Errorf("result = %+v, want id-001 at position %d", res, len(evs))
			}
		})
	}

	busy := func(id, title string) agenda.Slot {
		return agenda.Slot{AppointmentID: id, Title: title, Start: apptFrom.Add(30 * time.Minute), End: apptTo.Add(30 * time.Minute)}
	}
	t.Run("clashes of several people come back in one schedule_conflict", func(t *testing.T) {
		log := &fakeLog{}
		r := groupWorld(t)
		r.schedules["mid"] = agenda.Schedule{Version: 12, Conflicts: []agenda.Slot{busy("m1", "Mine")}}
		r.schedules["low"] = agenda.Schedule{Version: 13, Conflicts: []agenda.Slot{busy("l1", "Low's secret"), busy("l2", "Low's other")}}
		// boss is only invited: a clash of theirs blocks nothing.
		r.schedules["boss"] = agenda.Schedule{Version: 11, Conflicts: []agenda.Slot{busy("b1", "Boss's")}}
		_, err := newHandlers(log, r).CreateGroupAppointment(ctx, create("mid", "h"))
		wantCode(t, err, agenda.ESCHEDULECONFLICT, "")
		wantMessage(t, err, "the appointment overlaps 3 busy slots of its participants")
		noProposal(t, log)
		list, ok := agenda.ErrorDetails(err)["conflicts"].([]map[string]any)
		if !ok || len(list) != 3 {
			t.Fatalf("details.conflicts = %#v, want 3 slots (mid's and low's two)", agenda.ErrorDetails(err)["conflicts"])
		}
		byUser := map[string][]map[string]any{}
		for _, c := range list {
			u, _ := c["user_id"].(string)
			byUser[u] = append(byUser[u], c)
		}
		if len(byUser["boss"]) != 0 {
			t.Errorf("conflicts name the invited boss: %v", byUser["boss"])
		}
		if m := byUser["mid"]; len(m) != 1 || m[0]["appointment_id"] != "m1" || m[0]["title"] != "Mine" {
			t.Errorf("organiser's own conflicts = %v, want m1 with its title", m)
		}
		if l := byUser["low"]; len(l) != 2 {
			t.Errorf("low's conflicts = %v, want 2", l)
		}
		for _, c := range byUser["low"] {
			_, hasID := c["appointment_id"]
			_, hasTitle := c["title"]
			if hasID || hasTitle || c["busy"] != true || c["start"] == nil || c["end"] == nil {
				t.Errorf("someone else's conflict = %v, want only user_id, start, end, busy:true", c)
			}
		}
	})
	t.Run("a flat group's invitees never clash", func(t *testing.T) {
		log := &fakeLog{}
		r := groupWorld(t)
		r.schedules["cat"] = agenda.Schedule{Version: 23, Conflicts: []agenda.Slot{busy("c1", "Cat's")}}
		if _, err := newHandlers(log, r).CreateGroupAppointment(ctx, create("ana", "f")); err != nil {
			t.Fatalf("CreateGroupAppointment: %v", err)
		}
	})
	t.Run("the organiser's own clash", func(t *testing.T) {
		log := &fakeLog{}
		r := groupWorld(t)
		r.schedules["ana"] = agenda.Schedule{Version: 21, Conflicts: []agenda.Slot{busy("a9", "Dentist")}}
		_, err := newHandlers(log, r).CreateGroupAppointment(ctx, create("ana", "f"))
		wantCode(t, err, agenda.ESCHEDULECONFLICT, "")
		noProposal(t, log)
	})
	t.Run("non-member", func(t *testing.T) {
		log := &fakeLog{}
		_, err := newHandlers(log, groupWorld(t)).CreateGroupAppointment(ctx, create("dan", "h"))
		wantCode(t, err, agenda.ENOTFOUND, "")
		noProposal(t, log)
	})
	t.Run("invalid fields", func(t *testing.T) {
		log := &fakeLog{}
		cmd := create("boss", "h")
		cmd.Title = " "
		_, err := newHandlers(log, groupWorld(t)).CreateGroupAppointment(ctx, cmd)
		wantCode(t, err, agenda.EINVALID, "title")
		noProposal(t, log)
	})
}

func TestDeleteGroupAppointmentCancelsIt(t *testing.T) {
	ctx := context.Background()
	t.Run("organiser cancels: every entry but declined ones goes", func(t *testing.T) {
		log := &fakeLog{}
		r := answerWorld(t)
		a := r.appointments["ha"]
		a.Participants = append(a.Participants, agenda.Participant{UserID: "dan", Username: "dan", Status: agenda.RoleDeclined})
		r.appointments["ha"] = a
		if _, err := newHandlers(log, r).DeleteAppointment(ctx, commands.DeleteAppointment{ActorID: "mid", AppointmentID: "ha"}); err != nil {
			t.Fatalf("DeleteAppointment: %v", err)
		}
		evs := proposal(t, log, "mid", map[string]int64{"appointment-ha": 8, "agenda-boss": 11, "agenda-low": 13, "agenda-mid": 12},
			"appointment.cancelled", "agenda.entry_removed", "agenda.entry_removed", "agenda.entry_removed")
		if got := evs[0].(events.AppointmentCancelled); got != (events.AppointmentCancelled{AppointmentID: "ha", Reason: events.CancelledDeleted}) {
			t.Errorf("cancelled = %+v, want reason deleted", got)
		}
	})
	t.Run("cancelled already", func(t *testing.T) {
		log := &fakeLog{}
		_, err := newHandlers(log, answerWorld(t)).DeleteAppointment(ctx, commands.DeleteAppointment{ActorID: "mid", AppointmentID: "hx"})
		wantCode(t, err, agenda.ECONFLICT, "")
		noProposal(t, log)
	})
	t.Run("a participant is not the organiser", func(t *testing.T) {
		log := &fakeLog{}
		_, err := newHandlers(log, answerWorld(t)).DeleteAppointment(ctx, commands.DeleteAppointment{ActorID: "boss", AppointmentID: "ha"})
		wantCode(t, err, agenda.EFORBIDDEN, "")
		noProposal(t, log)
	})
}

func TestUpdateGroupAppointment(t *testing.T) {
	ctx := context.Background()
	later := func(d time.Duration) *time.Time { v := apptFrom.Add(d); return &v }
	t.Run("a new time moves every entry but declined ones", func(t *testing.T) {
		log := &fakeLog{}
		r := answerWorld(t)
		a := r.appointments["ha"]
		a.Participants[0].Status = agenda.RoleDeclined // boss
		r.appointments["ha"] = a
		// low's (imposed) agenda is free at the new time; boss's clash
		// does not matter, boss declined.
		r.schedules["boss"] = agenda.Schedule{Version: 11, Conflicts: []agenda.Slot{{AppointmentID: "x", Start: apptFrom, End: apptTo}}}
		_, err := newHandlers(log, r).UpdateAppointment(ctx, commands.UpdateAppointment{ActorID: "mid", AppointmentID: "ha",
			Start: later(2 * time.Hour), End: later(3 * time.Hour)})
		if err != nil {
			t.Fatalf("UpdateAppointment: %v", err)
		}
		// The group is expected too: it was read to know who still takes part.
		evs := proposal(t, log, "mid", map[string]int64{"appointment-ha": 8, "group-h": 4, "agenda-mid": 12, "agenda-low": 13},
			"appointment.updated", "agenda.entry_rescheduled", "agenda.entry_rescheduled")
		for _, ev := range evs[1:] {
			if e := ev.(events.AgendaEntryRescheduled); !e.Start.Equal(*later(2 * time.Hour)) {
				t.Errorf("rescheduled = %+v, want the new start", e)
			}
		}
	})
	t.Run("an imposed participant's clash refuses it", func(t *testing.T) {
		log := &fakeLog{}
		r := answerWorld(t)
		r.schedules["low"] = agenda.Schedule{Version: 13, Conflicts: []agenda.Slot{{AppointmentID: "x", Title: "Secret", Start: apptFrom, End: apptTo}}}
		_, err := newHandlers(log, r).UpdateAppointment(ctx, commands.UpdateAppointment{ActorID: "mid", AppointmentID: "ha",
			Start: later(30 * time.Minute), End: later(90 * time.Minute)})
		wantCode(t, err, agenda.ESCHEDULECONFLICT, "")
		wantMessage(t, err, "the appointment overlaps 1 busy slot of its participants")
		list, _ := agenda.ErrorDetails(err)["conflicts"].([]map[string]any)
		if len(list) != 1 || list[0]["user_id"] != "low" || list[0]["title"] != nil || list[0]["busy"] != true {
			t.Errorf("details.conflicts = %v, want low's slot as busy time only", list)
		}
		noProposal(t, log)
	})
	t.Run("a cancelled appointment cannot change", func(t *testing.T) {
		log := &fakeLog{}
		_, err := newHandlers(log, answerWorld(t)).UpdateAppointment(ctx, commands.UpdateAppointment{ActorID: "mid", AppointmentID: "hx", Title: ptr("X")})
		wantCode(t, err, agenda.ECONFLICT, "")
		noProposal(t, log)
	})
}

func TestGroupAppointmentDecidedAgainAfterAMembershipChange(t *testing.T) {
	ctx := context.Background()
	conflict := &events.VersionConflictError{Stream: "group-h", Expected: 4, Actual: 5, Position: 30}
	log := &fakeLog{position: 30, answers: []func(events.Batch) (events.Committed, error){fail(conflict)}}
	r := groupWorld(t)
	// By the time the read model reaches 30, dan has joined below boss.
	r.onWait = func(int64) {
		g := r.groups["h"]
		g.Members = append(g.Members, agenda.Member{UserID: "dan", Username: "dan", Rank: 1})
		g.Version = 5
		r.groups["h"] = g
	}
	res, err := newHandlers(log, r).CreateGroupAppointment(ctx, commands.CreateGroupAppointment{ActorID: "boss", GroupID: "h",
		Title: "All hands", Start: apptFrom, End: apptTo})
	if err != nil {
		t.Fatalf("CreateGroupAppointment: %v", err)
	}
	bs := log.proposed()
	if len(bs) != 2 {
		t.Fatalf("proposed %d batches, want 2", len(bs))
	}
	if got := expectations(bs[1]); got["group-h"] != 5 || got["agenda-dan"] != 24 || got["appointment-id-001"] != 0 {
		t.Errorf("second batch expects %v, want group-h at 5, agenda-dan at 24, the same appointment ID", got)
	}
	var imposed []string
	for _, e := range bs[1].Events {
		ev, _ := e.Decode()
		if c, ok := ev.(events.AppointmentCreated); ok {
			for _, p := range c.Participants {
				if p.Status == agenda.RoleAuto {
					imposed = append(imposed, p.UserID)
				}
			}
		}
	}
	if want := []string{"mid", "low", "dan"}; !equalTypes(imposed, want) {
		t.Errorf("imposed on %v, want %v (the new member included)", imposed, want)
	}
	if res.ID != "id-001" {
		t.Errorf("result ID = %s, want id-001 (kept across decisions)", res.ID)
	}
}

// An invitee who already has agenda.MaxPendingInvitations invitations of
// the group waiting is not invited again: the appointment is refused whole
// (a review flooded a member's week with 10,001 one-minute appointments).
// Appointments imposed on someone are not invitations, and neither ended
// nor cancelled ones count.
func TestCreateGroupAppointmentBoundsPendingInvitations(t *testing.T) {
	ctx := context.Background()
	flood := func(r *fakeRead, group, owner, invitee string, n int) {
		for i := range n {
			groupAppointment(r, fmt.Sprintf("flood-%s-%d", group, i), group, agenda.StatusPending, 1,
				map[string]string{owner: agenda.RoleOwner, invitee: agenda.RolePending})
		}
	}
	create := func(actor, group string) commands.CreateGroupAppointment {
		return commands.CreateGroupAppointment{ActorID: actor, GroupID: group, Title: "One more", Start: apptFrom.Add(24 * time.Hour),
			End: apptTo.Add(24 * time.Hour), Privacy: agenda.PrivacyFull}
	}

	t.Run("refused at the bound, naming who", func(t *testing.T) {
		log := &fakeLog{}
		r := groupWorld(t)
		flood(r, "f", "ana", "cat", agenda.MaxPendingInvitations)
		_, err := newHandlers(log, r).CreateGroupAppointment(ctx, create("bob", "f"))
		var e *agenda.Error
		if !errors.As(err, &e) || e.Code != agenda.ECONFLICT {
			t.Fatalf("err = %v, want conflict", err)
		}
		if got := e.Details["user_ids"]; !reflect.DeepEqual(got, []string{"cat"}) || e.Details["max_pending_invitations"] != agenda.MaxPendingInvitations {
			t.Fatalf("details = %v, want cat and %d", e.Details, agenda.MaxPendingInvitations)
		}
		if len(log.proposed()) != 0 {
			t.Fatalf("proposed %d batches, want none", len(log.proposed()))
		}
	})
	t.Run("one below the bound, invited", func(t *testing.T) {
		log := &fakeLog{}
		r := groupWorld(t)
		flood(r, "f", "ana", "cat", agenda.MaxPendingInvitations-1)
		if _, err := newHandlers(log, r).CreateGroupAppointment(ctx, create("bob", "f")); err != nil {
			t.Fatalf("CreateGroupAppointment: %v", err)
		}
	})
	t.Run("ended, cancelled and other groups' invitations do not count", func(t *testing.T) {
		log := &fakeLog{}
		r := groupWorld(t)
		r.groups["f2"] = agenda.Group{ID: "f2", Name: "Other", CreatorID: "ana", Version: 3, MemberCount: 2,
			Members: []agenda.Member{{UserID: "ana", Username: "ana"}, {UserID: "cat", Username: "cat"}}}
		flood(r, "f", "ana", "cat", agenda.MaxPendingInvitations)
		flood(r, "f2", "ana", "cat", agenda.MaxPendingInvitations)
		for i := range agenda.MaxPendingInvitations {
			a := r.appointments[fmt.Sprintf("flood-f-%d", i)]
			switch i % 2 {
			case 0:
				a.Start, a.End = now.Add(-2*time.Hour), now.Add(-time.Hour)
			default:
				a.Status = agenda.StatusCancelled
			}
			r.appointments[a.ID] = a
		}
		if _, err := newHandlers(log, r).CreateGroupAppointment(ctx, create("bob", "f")); err != nil {
			t.Fatalf("CreateGroupAppointment: %v", err)
		}
	})
	// An ended appointment moved to a time still to come counts again: a
	// review set 10,400 in 2016 and moved them all into one week of 2027,
	// which the invitee could no longer read.
	revive := func(r *fakeRead) error {
		groupAppointment(r, "old", "f", agenda.StatusPending, 2, map[string]string{"bob": agenda.RoleOwner, "cat": agenda.RolePending, "ana": agenda.RoleAccepted})
		a := r.appointments["old"]
		a.Start, a.End = now.Add(-2*time.Hour), now.Add(-time.Hour)
		r.appointments["old"] = a
		start, end := apptFrom.Add(48*time.Hour), apptTo.Add(48*time.Hour)
		_, err := newHandlers(&fakeLog{}, r).UpdateAppointment(ctx, commands.UpdateAppointment{ActorID: "bob", AppointmentID: "old", Start: &start, End: &end})
		return err
	}
	t.Run("an ended one moved to a time to come, at the bound", func(t *testing.T) {
		r := groupWorld(t)
		flood(r, "f", "ana", "cat", agenda.MaxPendingInvitations)
		err := revive(r)
		var e *agenda.Error
		if !errors.As(err, &e) || e.Code != agenda.ECONFLICT || !reflect.DeepEqual(e.Details["user_ids"], []string{"cat"}) {
			t.Fatalf("err = %v, want conflict naming cat", err)
		}
	})
	t.Run("an ended one moved to a time to come, below the bound", func(t *testing.T) {
		r := groupWorld(t)
		flood(r, "f", "ana", "cat", agenda.MaxPendingInvitations-1)
		if err := revive(r); err != nil {
			t.Fatalf("UpdateAppointment: %v", err)
		}
	})
	t.Run("imposed is not invited", func(t *testing.T) {
		log := &fakeLog{}
		r := groupWorld(t)
		flood(r, "h", "mid", "low", agenda.MaxPendingInvitations)
		if _, err := newHandlers(log, r).CreateGroupAppointment(ctx, create("boss", "h")); err != nil {
			t.Fatalf("boss imposing on low: %v", err)
		}
		// low inviting boss and mid, neither flooded: allowed too.
		if _, err := newHandlers(&fakeLog{}, r).CreateGroupAppointment(ctx, create("low", "h")); err != nil {
			t.Fatalf("low inviting above: %v", err)
		}
	})
}
