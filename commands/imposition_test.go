package commands_test

import (
	"context"
	"testing"
	"time"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/commands"
	"github.com/agendahq/agenda/events"
)

// An imposition binds only while the group as it is now imposes it
// (agenda.Group.Imposes): the organiser still a member, ranked above.
func TestImpositionBindsWhileTheOrganiserOutranks(t *testing.T) {
	ctx := context.Background()
	decline := func(r *fakeRead, actor string) (*fakeLog, error) {
		log := &fakeLog{}
		_, err := newHandlers(log, r).DeclineAppointment(ctx, commands.AnswerInvitation{ActorID: actor, AppointmentID: "a1"})
		return log, err
	}
	setRank := func(r *fakeRead, user string, rank int) {
		g := r.groups["h"]
		for i := range g.Members {
			if g.Members[i].UserID == user {
				g.Members[i].Rank = rank
			}
		}
	}
	t.Run("bound while the organiser ranks above", func(t *testing.T) {
		r := groupWorld(t)
		groupAppointment(r, "a1", "h", agenda.StatusConfirmed, 3, map[string]string{"mid": agenda.RoleOwner, "low": agenda.RoleAuto})
		log, err := decline(r, "low")
		wantCode(t, err, agenda.ECONFLICT, "")
		noProposal(t, log)
	})
	for _, rank := range []int{500, 600} {
		t.Run("free once a new rank puts the member level with or above the organiser", func(t *testing.T) {
			r := groupWorld(t)
			groupAppointment(r, "a1", "h", agenda.StatusConfirmed, 3, map[string]string{"mid": agenda.RoleOwner, "low": agenda.RoleAuto})
			setRank(r, "low", rank)
			log, err := decline(r, "low")
			if err != nil {
				t.Fatalf("DeclineAppointment at rank %d: %v", rank, err)
			}
			// The group's version is expected: a rank change racing with the
			// answer makes it decide again.
			proposal(t, log, "low", map[string]int64{"appointment-a1": 3, "group-h": 4, "agenda-low": 13},
				"appointment.declined", "agenda.entry_removed")
		})
	}
	for _, rank := range []int{500, 600} {
		t.Run("a new time is not imposed on a member level with or above the organiser", func(t *testing.T) {
			r := groupWorld(t)
			groupAppointment(r, "a1", "h", agenda.StatusConfirmed, 3, map[string]string{"mid": agenda.RoleOwner, "low": agenda.RoleAuto})
			setRank(r, "low", rank)
			later, laterEnd := apptFrom.Add(48*time.Hour), apptTo.Add(48*time.Hour)
			log := &fakeLog{}
			_, err := newHandlers(log, r).UpdateAppointment(ctx, commands.UpdateAppointment{ActorID: "mid", AppointmentID: "a1", Start: &later, End: &laterEnd})
			wantCode(t, err, agenda.EFORBIDDEN, "")
			if ids, _ := agenda.ErrorDetails(err)["user_ids"].([]string); len(ids) != 1 || ids[0] != "low" {
				t.Errorf("details name %v, want low", agenda.ErrorDetails(err))
			}
			noProposal(t, log)
			// What imposes no time still changes.
			title := "renamed"
			if _, err := newHandlers(log, r).UpdateAppointment(ctx, commands.UpdateAppointment{ActorID: "mid", AppointmentID: "a1", Title: &title}); err != nil {
				t.Fatalf("a new title: %v", err)
			}
		})
	}
	t.Run("free once the organiser is no longer a member", func(t *testing.T) {
		r := groupWorld(t)
		groupAppointment(r, "a1", "h", agenda.StatusConfirmed, 3, map[string]string{"dan": agenda.RoleOwner, "low": agenda.RoleAuto})
		log, err := decline(r, "low")
		if err != nil {
			t.Fatalf("DeclineAppointment of a former member's imposition: %v", err)
		}
		proposal(t, log, "low", map[string]int64{"appointment-a1": 3, "group-h": 4, "agenda-low": 13},
			"appointment.declined", "agenda.entry_removed")
	})
	t.Run("free once the group is gone", func(t *testing.T) {
		r := groupWorld(t)
		groupAppointment(r, "a1", "h", agenda.StatusConfirmed, 3, map[string]string{"boss": agenda.RoleOwner, "low": agenda.RoleAuto})
		delete(r.groups, "h")
		log, err := decline(r, "low")
		if err != nil {
			t.Fatalf("DeclineAppointment in a deleted group: %v", err)
		}
		proposal(t, log, "low", map[string]int64{"appointment-a1": 3, "agenda-low": 13},
			"appointment.declined", "agenda.entry_removed")
	})
}

// A group appointment is changed only by an organiser still in its group,
// against the group as it is: those no longer in it stop taking part rather
// than follow it into a time they are no longer part of.
func TestGroupAppointmentChangesFollowTheGroupAsItIs(t *testing.T) {
	ctx := context.Background()
	later := apptFrom.Add(48 * time.Hour)
	laterEnd := apptTo.Add(48 * time.Hour)
	title := "moved"
	move := func(r *fakeRead, actor string) (*fakeLog, commands.Result, error) {
		log := &fakeLog{}
		res, err := newHandlers(log, r).UpdateAppointment(ctx, commands.UpdateAppointment{
			ActorID: actor, AppointmentID: "a1", Start: &later, End: &laterEnd})
		return log, res, err
	}
	for _, tc := range []struct {
		name  string
		owner string
		drop  bool
	}{
		{"an organiser no longer in the group may only cancel", "dan", false},
		{"nor may the organiser of a deleted group's appointment", "boss", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := groupWorld(t)
			groupAppointment(r, "a1", "h", agenda.StatusConfirmed, 3, map[string]string{tc.owner: agenda.RoleOwner, "low": agenda.RoleAuto})
			if tc.drop {
				delete(r.groups, "h")
			}
			log, _, err := move(r, tc.owner)
			wantCode(t, err, agenda.EFORBIDDEN, "")
			noProposal(t, log)
			_, err = newHandlers(log, r).UpdateAppointment(ctx, commands.UpdateAppointment{ActorID: tc.owner, AppointmentID: "a1", Title: &title})
			wantCode(t, err, agenda.EFORBIDDEN, "")
			noProposal(t, log)
			if _, err := newHandlers(log, r).DeleteAppointment(ctx, commands.DeleteAppointment{ActorID: tc.owner, AppointmentID: "a1"}); err != nil {
				t.Fatalf("DeleteAppointment: %v", err)
			}
		})
	}
	t.Run("a participant no longer in the group stops taking part", func(t *testing.T) {
		r := groupWorld(t)
		// dan took part before he left; the appointment had ended then.
		groupAppointment(r, "a1", "h", agenda.StatusConfirmed, 3, map[string]string{"boss": agenda.RoleOwner, "dan": agenda.RoleAuto, "low": agenda.RoleAuto})
		log, res, err := move(r, "boss")
		if err != nil {
			t.Fatalf("UpdateAppointment: %v", err)
		}
		// dan's part ends before the change, so that the change (its
		// notification, its feed entry) reaches members only.
		evs := proposal(t, log, "boss", map[string]int64{"appointment-a1": 3, "group-h": 4, "agenda-boss": 11, "agenda-dan": 24, "agenda-low": 13},
			"appointment.participant_removed", "agenda.entry_removed",
			"appointment.updated", "agenda.entry_rescheduled", "agenda.entry_rescheduled")
		if got := evs[0].(events.AppointmentParticipantRemoved); got != (events.AppointmentParticipantRemoved{AppointmentID: "a1", UserID: "dan", Reason: events.ParticipantLeft}) {
			t.Errorf("removed = %+v", got)
		}
		if got := evs[1].(events.AgendaEntryRemoved); got.UserID != "dan" {
			t.Errorf("entry removed for %q, want dan", got.UserID)
		}
		for _, ev := range evs[3:] {
			if got := ev.(events.AgendaEntryRescheduled); got.UserID == "dan" {
				t.Errorf("dan's entry rescheduled: %+v", got)
			}
		}
		if res.Appointment == nil || len(res.Appointment.Participants) != 2 {
			t.Fatalf("answer = %+v, want boss and low only", res.Appointment)
		}
		for _, p := range res.Appointment.Participants {
			if p.UserID == "dan" {
				t.Errorf("the answer still lists dan: %+v", res.Appointment.Participants)
			}
		}
	})
	t.Run("the same values end their part and change nothing else", func(t *testing.T) {
		r := groupWorld(t)
		groupAppointment(r, "a1", "h", agenda.StatusConfirmed, 3, map[string]string{"boss": agenda.RoleOwner, "dan": agenda.RoleAuto, "low": agenda.RoleAuto})
		a := r.appointments["a1"]
		log := &fakeLog{}
		if _, err := newHandlers(log, r).UpdateAppointment(ctx, commands.UpdateAppointment{ActorID: "boss", AppointmentID: "a1", Title: &a.Title}); err != nil {
			t.Fatalf("UpdateAppointment: %v", err)
		}
		// No appointment.updated: low would be told of a change there is
		// not (a review).
		proposal(t, log, "boss", map[string]int64{"appointment-a1": 3, "group-h": 4, "agenda-dan": 24},
			"appointment.participant_removed", "agenda.entry_removed")
	})
	t.Run("a new title alone ends their part too: they learn nothing of it", func(t *testing.T) {
		r := groupWorld(t)
		groupAppointment(r, "a1", "h", agenda.StatusConfirmed, 3, map[string]string{"boss": agenda.RoleOwner, "dan": agenda.RoleAuto, "low": agenda.RoleAuto})
		log := &fakeLog{}
		if _, err := newHandlers(log, r).UpdateAppointment(ctx, commands.UpdateAppointment{ActorID: "boss", AppointmentID: "a1", Title: &title}); err != nil {
			t.Fatalf("UpdateAppointment: %v", err)
		}
		proposal(t, log, "boss", map[string]int64{"appointment-a1": 3, "group-h": 4, "agenda-dan": 24},
			"appointment.participant_removed", "agenda.entry_removed", "appointment.updated")
	})
	t.Run("a flat appointment that waited only for those gone is confirmed", func(t *testing.T) {
		r := groupWorld(t)
		groupAppointment(r, "a1", "f", agenda.StatusPending, 4, map[string]string{"ana": agenda.RoleOwner, "bob": agenda.RoleAccepted, "dan": agenda.RolePending})
		log, res, err := move(r, "ana")
		if err != nil {
			t.Fatalf("UpdateAppointment: %v", err)
		}
		proposal(t, log, "ana", map[string]int64{"appointment-a1": 4, "group-f": 3, "agenda-ana": 21, "agenda-bob": 22, "agenda-dan": 24},
			"appointment.participant_removed", "agenda.entry_removed",
			"appointment.updated", "agenda.entry_rescheduled", "agenda.entry_rescheduled", "appointment.confirmed")
		if res.Appointment == nil || res.Appointment.Status != agenda.StatusConfirmed {
			t.Errorf("answer = %+v, want confirmed", res.Appointment)
		}
	})
}
