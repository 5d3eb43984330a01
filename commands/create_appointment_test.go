package commands_test

import (
	"context"
	"testing"
	"time"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/commands"
	"github.com/agendahq/agenda/events"
)

func TestCreateAppointmentTrimsTitleAndDefaultsPrivacy(t *testing.T) {
	log := &fakeLog{}
	h := newHandlers(log, world(t))
	loc := time.FixedZone("CEST", 2*60*60)
	res, err := h.CreateAppointment(context.Background(), commands.CreateAppointment{OwnerID: "ana", Title: "  Lunch  ",
		Start: apptFrom.In(loc), End: apptTo.In(loc)})
	if err != nil {
		t.Fatalf("CreateAppointment: %v", err)
	}
	ev, err := log.proposed()[0].Events[0].Decode()
	if err != nil {
		t.Fatal(err)
	}
	c := ev.(events.AppointmentCreated)
	if c.Title != "Lunch" || c.Privacy != agenda.PrivacyFull || c.Status != agenda.StatusConfirmed || c.AppointmentID != res.ID || c.OwnerID != "ana" {
		t.Errorf("created = %+v, want trimmed title, full privacy, confirmed, id %s", c, res.ID)
	}
	if !c.Start.Equal(apptFrom) || c.Start.Location() != time.UTC {
		t.Errorf("start = %s, want %s in UTC", c.Start, apptFrom)
	}
}
