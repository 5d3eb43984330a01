package commands_test

import (
	"context"
	"testing"
	"time"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/commands"
	"github.com/agendahq/agenda/events"
)

func TestAnswerGroupInvitation(t *testing.T) {
	ctx := context.Background()
	t.Run("accepting makes the invited person a member", func(t *testing.T) {
		log := &fakeLog{}
		res, err := newHandlers(log, groupWorld(t)).AcceptGroupInvitation(ctx, commands.AnswerGroupInvitation{ActorID: "ivy", GroupID: "h"})
		if err != nil {
			t.Fatalf("AcceptGroupInvitation: %v", err)
		}
		evs := proposal(t, log, "ivy", map[string]int64{"group-h": 4}, "group.invitation_accepted")
		if got := evs[0].(events.GroupInvitationAccepted); got != (events.GroupInvitationAccepted{GroupID: "h", UserID: "ivy"}) {
			t.Errorf("accepted = %+v", got)
		}
		if res.ID != "h" {
			t.Errorf("result ID = %q, want h", res.ID)
		}
	})
	t.Run("declining ends the invitation", func(t *testing.T) {
		log := &fakeLog{}
		if _, err := newHandlers(log, groupWorld(t)).DeclineGroupInvitation(ctx, commands.AnswerGroupInvitation{ActorID: "ivy", GroupID: "h"}); err != nil {
			t.Fatalf("DeclineGroupInvitation: %v", err)
		}
		evs := proposal(t, log, "ivy", map[string]int64{"group-h": 4}, "group.invitation_declined")
		if got := evs[0].(events.GroupInvitationDeclined); got != (events.GroupInvitationDeclined{GroupID: "h", UserID: "ivy"}) {
			t.Errorf("declined = %+v", got)
		}
	})
	for _, tc := range []struct{ name, actor, group string }{
		{"a member has nothing to accept", "low", "h"},
		{"someone never invited has nothing to accept", "dan", "h"},
		{"no such group", "ivy", "nope"},
		{"an invitation to another group", "ivy", "f"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, answer := range []func(*commands.Handlers) error{
				func(h *commands.Handlers) error {
					_, err := h.AcceptGroupInvitation(ctx, commands.AnswerGroupInvitation{ActorID: tc.actor, GroupID: tc.group})
					return err
				},
				func(h *commands.Handlers) error {
					_, err := h.DeclineGroupInvitation(ctx, commands.AnswerGroupInvitation{ActorID: tc.actor, GroupID: tc.group})
					return err
				},
			} {
				log := &fakeLog{}
				wantCode(t, answer(newHandlers(log, groupWorld(t))), agenda.ENOTFOUND, "")
				noProposal(t, log)
			}
		})
	}
}

func TestInvitedPersonIsNoMember(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		run  func(h *commands.Handlers) error
	}{
		{"cannot create a group appointment", func(h *commands.Handlers) error {
			_, err := h.CreateGroupAppointment(ctx, commands.CreateGroupAppointment{ActorID: "ivy", GroupID: "h", Title: "x", Start: apptFrom, End: apptTo})
			return err
		}},
		{"cannot remove anyone", func(h *commands.Handlers) error {
			_, err := h.RemoveMember(ctx, commands.RemoveMember{ActorID: "ivy", GroupID: "h", UserID: "low"})
			return err
		}},
		{"cannot leave (they decline instead)", func(h *commands.Handlers) error {
			_, err := h.RemoveMember(ctx, commands.RemoveMember{ActorID: "ivy", GroupID: "h", UserID: "ivy"})
			return err
		}},
		{"cannot re-rank", func(h *commands.Handlers) error {
			_, err := h.ChangeRank(ctx, commands.ChangeRank{ActorID: "ivy", GroupID: "h", UserID: "low", Rank: 1})
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := &fakeLog{}
			wantCode(t, tc.run(newHandlers(log, groupWorld(t))), agenda.ENOTFOUND, "")
			noProposal(t, log)
		})
	}
	t.Run("withdrawing an invitation touches nothing else", func(t *testing.T) {
		log := &fakeLog{}
		r := groupWorld(t)
		groupAppointment(r, "g1", "h", agenda.StatusConfirmed, 3, map[string]string{"boss": agenda.RoleOwner, "low": agenda.RoleAuto})
		if _, err := newHandlers(log, r).RemoveMember(ctx, commands.RemoveMember{ActorID: "boss", GroupID: "h", UserID: "ivy"}); err != nil {
			t.Fatalf("RemoveMember: %v", err)
		}
		proposal(t, log, "boss", map[string]int64{"group-h": 4}, "group.member_removed")
	})
}

func TestLeavingEndsParticipation(t *testing.T) {
	ctx := context.Background()
	past := func(r *fakeRead, id string) {
		a := r.appointments[id]
		a.Start, a.End = now.Add(-2*time.Hour), now.Add(-time.Hour)
		r.appointments[id] = a
	}
	t.Run("hierarchy: imposed and invited leave the agenda, organised ones are cancelled, past ones stay", func(t *testing.T) {
		log := &fakeLog{}
		r := groupWorld(t)
		groupAppointment(r, "a1", "h", agenda.StatusConfirmed, 3, map[string]string{"boss": agenda.RoleOwner, "mid": agenda.RoleAuto, "low": agenda.RoleAuto})
		groupAppointment(r, "a2", "h", agenda.StatusConfirmed, 5, map[string]string{"low": agenda.RoleOwner, "mid": agenda.RolePending, "boss": agenda.RoleAccepted})
		groupAppointment(r, "a3", "h", agenda.StatusConfirmed, 2, map[string]string{"boss": agenda.RoleOwner, "mid": agenda.RoleAuto})
		past(r, "a3")
		groupAppointment(r, "a4", "h", agenda.StatusCancelled, 7, map[string]string{"boss": agenda.RoleOwner, "mid": agenda.RoleAuto})
		if _, err := newHandlers(log, r).RemoveMember(ctx, commands.RemoveMember{ActorID: "boss", GroupID: "h", UserID: "mid"}); err != nil {
			t.Fatalf("RemoveMember: %v", err)
		}
		evs := proposal(t, log, "boss", map[string]int64{"group-h": 4, "appointment-a1": 3, "appointment-a2": 5, "agenda-mid": 12},
			"group.member_removed",
			"appointment.participant_removed", "agenda.entry_removed",
			"appointment.participant_removed", "agenda.entry_removed")
		if got := evs[1].(events.AppointmentParticipantRemoved); got != (events.AppointmentParticipantRemoved{AppointmentID: "a1", UserID: "mid", Reason: "removed"}) {
			t.Errorf("event 1 = %+v", got)
		}
		if got := evs[4].(events.AgendaEntryRemoved); got != (events.AgendaEntryRemoved{UserID: "mid", AppointmentID: "a2"}) {
			t.Errorf("event 4 = %+v", got)
		}
	})
	t.Run("an organiser leaving cancels what they organised for everyone", func(t *testing.T) {
		log := &fakeLog{}
		r := groupWorld(t)
		groupAppointment(r, "a1", "h", agenda.StatusConfirmed, 3, map[string]string{"mid": agenda.RoleOwner, "low": agenda.RoleAuto, "boss": agenda.RoleDeclined})
		if _, err := newHandlers(log, r).RemoveMember(ctx, commands.RemoveMember{ActorID: "mid", GroupID: "h", UserID: "mid"}); err != nil {
			t.Fatalf("RemoveMember: %v", err)
		}
		evs := proposal(t, log, "mid", map[string]int64{"group-h": 4, "appointment-a1": 3, "agenda-mid": 12, "agenda-low": 13},
			"group.member_removed", "appointment.cancelled", "agenda.entry_removed", "agenda.entry_removed")
		if got := evs[1].(events.AppointmentCancelled); got.Reason != events.CancelledOrganiserLeft {
			t.Errorf("cancelled = %+v, want reason organiser_left", got)
		}
	})
	t.Run("flat: a pending appointment that waited only for the leaver is confirmed", func(t *testing.T) {
		log := &fakeLog{}
		r := groupWorld(t)
		groupAppointment(r, "f1", "f", agenda.StatusPending, 4, map[string]string{"ana": agenda.RoleOwner, "bob": agenda.RoleAccepted, "cat": agenda.RolePending})
		if _, err := newHandlers(log, r).RemoveMember(ctx, commands.RemoveMember{ActorID: "cat", GroupID: "f", UserID: "cat"}); err != nil {
			t.Fatalf("RemoveMember: %v", err)
		}
		evs := proposal(t, log, "cat", map[string]int64{"group-f": 3, "appointment-f1": 4, "agenda-cat": 23},
			"group.member_removed", "appointment.participant_removed", "agenda.entry_removed", "appointment.confirmed")
		if got := evs[1].(events.AppointmentParticipantRemoved); got.Reason != events.ParticipantLeft {
			t.Errorf("reason = %q, want left", got.Reason)
		}
	})
	t.Run("flat: still waiting for someone else, it stays pending", func(t *testing.T) {
		log := &fakeLog{}
		r := groupWorld(t)
		groupAppointment(r, "f1", "f", agenda.StatusPending, 4, map[string]string{"ana": agenda.RoleOwner, "bob": agenda.RolePending, "cat": agenda.RolePending})
		if _, err := newHandlers(log, r).RemoveMember(ctx, commands.RemoveMember{ActorID: "cat", GroupID: "f", UserID: "cat"}); err != nil {
			t.Fatalf("RemoveMember: %v", err)
		}
		proposal(t, log, "cat", map[string]int64{"group-f": 3, "appointment-f1": 4, "agenda-cat": 23},
			"group.member_removed", "appointment.participant_removed", "agenda.entry_removed")
	})
}

func TestDeclineImposedAfterLeaving(t *testing.T) {
	ctx := context.Background()
	r := groupWorld(t)
	// dan had an appointment imposed by group h before he left it (a log
	// written before leaving ended participation).
	groupAppointment(r, "old", "h", agenda.StatusConfirmed, 3, map[string]string{"boss": agenda.RoleOwner, "dan": agenda.RoleAuto, "low": agenda.RoleAuto})
	log := &fakeLog{}
	if _, err := newHandlers(log, r).DeclineAppointment(ctx, commands.AnswerInvitation{ActorID: "dan", AppointmentID: "old"}); err != nil {
		t.Fatalf("DeclineAppointment by a former member: %v", err)
	}
	proposal(t, log, "dan", map[string]int64{"appointment-old": 3, "agenda-dan": 24}, "appointment.declined", "agenda.entry_removed")
	// A member still bound by the imposition cannot.
	log = &fakeLog{}
	_, err := newHandlers(log, r).DeclineAppointment(ctx, commands.AnswerInvitation{ActorID: "low", AppointmentID: "old"})
	wantCode(t, err, agenda.ECONFLICT, "")
	noProposal(t, log)
}
