package commands_test

import (
	"context"
	"testing"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/commands"
	"github.com/agendahq/agenda/events"
)

// answerWorld adds to groupWorld:
//   - "fa", a flat appointment of group f (version 6) organised by ana: bob
//     pending, cat accepted;
//   - "ha", a hierarchical appointment of group h (version 8) organised by
//     mid: boss pending, low auto;
//   - "hx", like ha (version 9) but cancelled.
func answerWorld(t testing.TB) *fakeRead {
	r := groupWorld(t)
	groupAppointment(r, "fa", "f", agenda.StatusPending, 6,
		map[string]string{"ana": agenda.RoleOwner, "bob": agenda.RolePending, "cat": agenda.RoleAccepted})
	groupAppointment(r, "ha", "h", agenda.StatusConfirmed, 8,
		map[string]string{"mid": agenda.RoleOwner, "boss": agenda.RolePending, "low": agenda.RoleAuto})
	groupAppointment(r, "hx", "h", agenda.StatusCancelled, 9,
		map[string]string{"mid": agenda.RoleOwner, "boss": agenda.RolePending, "low": agenda.RoleAuto})
	return r
}

func TestAcceptAppointment(t *testing.T) {
	ctx := context.Background()
	accept := func(actor, id string) commands.AnswerInvitation {
		return commands.AnswerInvitation{ActorID: actor, AppointmentID: id}
	}
	t.Run("the last acceptance in a flat group confirms", func(t *testing.T) {
		log := &fakeLog{}
		_, err := newHandlers(log, answerWorld(t)).AcceptAppointment(ctx, accept("bob", "fa"))
		if err != nil {
			t.Fatalf("AcceptAppointment: %v", err)
		}
		evs := proposal(t, log, "bob", map[string]int64{"appointment-fa": 6, "agenda-bob": 22},
			"appointment.accepted", "agenda.entry_role_changed", "appointment.confirmed")
		if got := evs[0].(events.AppointmentAccepted); got != (events.AppointmentAccepted{AppointmentID: "fa", UserID: "bob"}) {
			t.Errorf("accepted = %+v", got)
		}
		if got := evs[1].(events.AgendaEntryRoleChanged); got != (events.AgendaEntryRoleChanged{UserID: "bob", AppointmentID: "fa", Role: agenda.RoleAccepted}) {
			t.Errorf("role changed = %+v", got)
		}
		if got := evs[2].(events.AppointmentConfirmed); got.AppointmentID != "fa" {
			t.Errorf("confirmed = %+v", got)
		}
	})
	t.Run("an acceptance that is not the last does not confirm", func(t *testing.T) {
		log := &fakeLog{}
		r := answerWorld(t)
		a := r.appointments["fa"]
		a.Participants[2].Status = agenda.RolePending // cat
		r.appointments["fa"] = a
		if _, err := newHandlers(log, r).AcceptAppointment(ctx, accept("bob", "fa")); err != nil {
			t.Fatalf("AcceptAppointment: %v", err)
		}
		proposal(t, log, "bob", map[string]int64{"appointment-fa": 6, "agenda-bob": 22},
			"appointment.accepted", "agenda.entry_role_changed")
	})
	t.Run("hierarchical: accepting confirms nothing (already confirmed)", func(t *testing.T) {
		log := &fakeLog{}
		if _, err := newHandlers(log, answerWorld(t)).AcceptAppointment(ctx, accept("boss", "ha")); err != nil {
			t.Fatalf("AcceptAppointment: %v", err)
		}
		proposal(t, log, "boss", map[string]int64{"appointment-ha": 8, "agenda-boss": 11},
			"appointment.accepted", "agenda.entry_role_changed")
	})
	t.Run("accepting after declining puts the entry back", func(t *testing.T) {
		log := &fakeLog{}
		r := answerWorld(t)
		a := r.appointments["ha"]
		a.Participants[0].Status = agenda.RoleDeclined // boss
		r.appointments["ha"] = a
		if _, err := newHandlers(log, r).AcceptAppointment(ctx, accept("boss", "ha")); err != nil {
			t.Fatalf("AcceptAppointment: %v", err)
		}
		evs := proposal(t, log, "boss", map[string]int64{"appointment-ha": 8, "agenda-boss": 11},
			"appointment.accepted", "agenda.entry_added")
		want := events.AgendaEntryAdded{UserID: "boss", AppointmentID: "ha", Start: apptFrom, End: apptTo, Role: agenda.RoleAccepted}
		if got := evs[1].(events.AgendaEntryAdded); got != want {
			t.Errorf("entry added = %+v, want %+v", got, want)
		}
	})
	t.Run("the invitee's agenda must be free", func(t *testing.T) {
		log := &fakeLog{}
		r := answerWorld(t)
		r.schedules["bob"] = agenda.Schedule{Version: 22, Conflicts: []agenda.Slot{
			{AppointmentID: "fa", Start: apptFrom, End: apptTo}, // the appointment itself is no conflict
			{AppointmentID: "gym", Title: "Gym", Start: apptFrom, End: apptTo}}}
		_, err := newHandlers(log, r).AcceptAppointment(ctx, accept("bob", "fa"))
		wantCode(t, err, agenda.ESCHEDULECONFLICT, "")
		list, _ := agenda.ErrorDetails(err)["conflicts"].([]map[string]any)
		if len(list) != 1 || list[0]["appointment_id"] != "gym" || list[0]["title"] != "Gym" {
			t.Errorf("details.conflicts = %v, want gym, in full (it is the caller's)", list)
		}
		noProposal(t, log)
	})
	for _, tc := range []struct {
		name, actor, id, code string
		setup                 func(r *fakeRead)
	}{
		{name: "already accepted", actor: "cat", id: "fa", code: agenda.ECONFLICT},
		{name: "organiser", actor: "ana", id: "fa", code: agenda.ECONFLICT},
		{name: "imposed", actor: "low", id: "ha", code: agenda.ECONFLICT},
		{name: "cancelled", actor: "boss", id: "hx", code: agenda.ECONFLICT},
		{name: "not a participant", actor: "dan", id: "fa", code: agenda.ENOTFOUND},
		{name: "no such appointment", actor: "bob", id: "nope", code: agenda.ENOTFOUND},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := &fakeLog{}
			_, err := newHandlers(log, answerWorld(t)).AcceptAppointment(ctx, accept(tc.actor, tc.id))
			wantCode(t, err, tc.code, "")
			noProposal(t, log)
		})
	}
}

func TestDeclineAppointment(t *testing.T) {
	ctx := context.Background()
	decline := func(actor, id string) commands.AnswerInvitation {
		return commands.AnswerInvitation{ActorID: actor, AppointmentID: id}
	}
	removed := func(evs []events.Event) []string {
		var out []string
		for _, ev := range evs {
			if e, ok := ev.(events.AgendaEntryRemoved); ok {
				out = append(out, e.UserID+"/"+e.AppointmentID)
			}
		}
		return out
	}
	t.Run("flat: a decline cancels it for everyone", func(t *testing.T) {
		log := &fakeLog{}
		if _, err := newHandlers(log, answerWorld(t)).DeclineAppointment(ctx, decline("bob", "fa")); err != nil {
			t.Fatalf("DeclineAppointment: %v", err)
		}
		evs := proposal(t, log, "bob", map[string]int64{"appointment-fa": 6, "agenda-bob": 22, "agenda-ana": 21, "agenda-cat": 23},
			"appointment.declined", "agenda.entry_removed", "appointment.cancelled", "agenda.entry_removed", "agenda.entry_removed")
		if got := evs[0].(events.AppointmentDeclined); got != (events.AppointmentDeclined{AppointmentID: "fa", UserID: "bob"}) {
			t.Errorf("declined = %+v", got)
		}
		if got := evs[2].(events.AppointmentCancelled); got != (events.AppointmentCancelled{AppointmentID: "fa", Reason: events.CancelledDeclined}) {
			t.Errorf("cancelled = %+v, want reason declined", got)
		}
		if got, want := removed(evs), []string{"bob/fa", "ana/fa", "cat/fa"}; !equalTypes(got, want) {
			t.Errorf("entries removed = %v, want %v", got, want)
		}
	})
	t.Run("flat: a participant who declined has no entry to remove", func(t *testing.T) {
		log := &fakeLog{}
		r := answerWorld(t)
		a := r.appointments["fa"]
		a.Participants = append(a.Participants, agenda.Participant{UserID: "dan", Username: "dan", Status: agenda.RoleDeclined})
		r.appointments["fa"] = a
		if _, err := newHandlers(log, r).DeclineAppointment(ctx, decline("cat", "fa")); err != nil {
			t.Fatalf("DeclineAppointment: %v", err)
		}
		evs := proposal(t, log, "cat", map[string]int64{"appointment-fa": 6, "agenda-cat": 23, "agenda-ana": 21, "agenda-bob": 22},
			"appointment.declined", "agenda.entry_removed", "appointment.cancelled", "agenda.entry_removed", "agenda.entry_removed")
		if got, want := removed(evs), []string{"cat/fa", "ana/fa", "bob/fa"}; !equalTypes(got, want) {
			t.Errorf("entries removed = %v, want %v", got, want)
		}
	})
	t.Run("hierarchical: only the decliner's entry goes", func(t *testing.T) {
		log := &fakeLog{}
		if _, err := newHandlers(log, answerWorld(t)).DeclineAppointment(ctx, decline("boss", "ha")); err != nil {
			t.Fatalf("DeclineAppointment: %v", err)
		}
		evs := proposal(t, log, "boss", map[string]int64{"appointment-ha": 8, "agenda-boss": 11},
			"appointment.declined", "agenda.entry_removed")
		if got, want := removed(evs), []string{"boss/ha"}; !equalTypes(got, want) {
			t.Errorf("entries removed = %v, want %v", got, want)
		}
	})
	t.Run("hierarchical: an acceptance can be withdrawn", func(t *testing.T) {
		log := &fakeLog{}
		r := answerWorld(t)
		a := r.appointments["ha"]
		a.Participants[0].Status = agenda.RoleAccepted // boss
		r.appointments["ha"] = a
		if _, err := newHandlers(log, r).DeclineAppointment(ctx, decline("boss", "ha")); err != nil {
			t.Fatalf("DeclineAppointment: %v", err)
		}
		proposal(t, log, "boss", map[string]int64{"appointment-ha": 8, "agenda-boss": 11},
			"appointment.declined", "agenda.entry_removed")
	})
	for _, tc := range []struct {
		name, actor, id, code string
	}{
		{name: "organiser", actor: "mid", id: "ha", code: agenda.ECONFLICT},
		{name: "imposed", actor: "low", id: "ha", code: agenda.ECONFLICT},
		{name: "cancelled", actor: "boss", id: "hx", code: agenda.ECONFLICT},
		{name: "not a participant", actor: "dan", id: "ha", code: agenda.ENOTFOUND},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := &fakeLog{}
			_, err := newHandlers(log, answerWorld(t)).DeclineAppointment(ctx, decline(tc.actor, tc.id))
			wantCode(t, err, tc.code, "")
			noProposal(t, log)
		})
	}
	t.Run("declined again", func(t *testing.T) {
		log := &fakeLog{}
		r := answerWorld(t)
		a := r.appointments["ha"]
		a.Participants[0].Status = agenda.RoleDeclined // boss
		r.appointments["ha"] = a
		_, err := newHandlers(log, r).DeclineAppointment(ctx, decline("boss", "ha"))
		wantCode(t, err, agenda.ECONFLICT, "")
		noProposal(t, log)
	})
}

// An answer checks If-Match once the caller may answer at all: what would
// fail without the precondition fails for that reason (409), and a stale
// tag on an answer that could be given is 412 (RFC 9110 13.2.1).
func TestAnswersCheckIfMatchLast(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, actor, appt string
		decline           bool
		code              string
	}{
		{"the organiser has nothing to answer", "mid", "ha", false, agenda.ECONFLICT},
		{"a bound imposition cannot be declined", "low", "ha", true, agenda.ECONFLICT},
		{"a second acceptance", "cat", "fa", false, agenda.ECONFLICT},
		{"a cancelled appointment", "boss", "hx", true, agenda.ECONFLICT},
		{"a stale tag on an acceptance that could be given", "boss", "ha", false, agenda.EPRECONDITIONFAILED},
		{"a stale tag on a decline that could be given", "bob", "fa", true, agenda.EPRECONDITIONFAILED},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := &fakeLog{}
			h := newHandlers(log, answerWorld(t))
			cmd := commands.AnswerInvitation{ActorID: tc.actor, AppointmentID: tc.appt, IfMatch: commands.Versions(99)}
			var err error
			if tc.decline {
				_, err = h.DeclineAppointment(ctx, cmd)
			} else {
				_, err = h.AcceptAppointment(ctx, cmd)
			}
			wantCode(t, err, tc.code, "")
			noProposal(t, log)
		})
	}
}
