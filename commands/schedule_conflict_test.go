package commands_test

import (
	"context"
	"testing"
	"time"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/commands"
)

func TestScheduleConflicts(t *testing.T) {
	ctx := context.Background()
	clash := agenda.Schedule{Version: 7, Conflicts: []agenda.Slot{{AppointmentID: "x", Title: "Dentist", Start: apptFrom, End: apptTo}}}

	t.Run("creating over a blocking appointment", func(t *testing.T) {
		log := &fakeLog{}
		r := world(t)
		r.schedules["ana"] = clash
		_, err := newHandlers(log, r).CreateAppointment(ctx, commands.CreateAppointment{OwnerID: "ana", Title: "Lunch", Start: apptFrom, End: apptTo})
		wantCode(t, err, agenda.ESCHEDULECONFLICT, "")
		list, _ := agenda.ErrorDetails(err)["conflicts"].([]map[string]any)
		if len(list) != 1 || list[0]["appointment_id"] != "x" || list[0]["title"] != "Dentist" {
			t.Errorf("details.conflicts = %v, want the clashing slot", agenda.ErrorDetails(err)["conflicts"])
		}
		if n := len(log.proposed()); n != 0 {
			t.Errorf("proposed %d batches, want none", n)
		}
	})

	t.Run("moving onto the owner's other appointment", func(t *testing.T) {
		r := world(t)
		r.schedules["ana"] = clash
		_, err := newHandlers(&fakeLog{}, r).UpdateAppointment(ctx, commands.UpdateAppointment{ActorID: "ana", AppointmentID: "a1",
			Start: ptr(apptFrom.Add(30 * time.Minute)), End: ptr(apptTo.Add(30 * time.Minute))})
		wantCode(t, err, agenda.ESCHEDULECONFLICT, "")
	})

	t.Run("the appointment itself is not a conflict", func(t *testing.T) {
		r := world(t)
		r.schedules["ana"] = agenda.Schedule{Version: 7, Conflicts: []agenda.Slot{{AppointmentID: "a1", Start: apptFrom, End: apptTo}}}
		_, err := newHandlers(&fakeLog{}, r).UpdateAppointment(ctx, commands.UpdateAppointment{ActorID: "ana", AppointmentID: "a1",
			Start: ptr(apptFrom.Add(30 * time.Minute)), End: ptr(apptTo.Add(30 * time.Minute))})
		if err != nil {
			t.Errorf("UpdateAppointment: %v", err)
		}
	})
}
