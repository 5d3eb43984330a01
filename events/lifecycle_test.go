package events_test

import (
	"errors"
	"testing"
	"time"

	"github.com/agendahq/agenda/events"
)

func lifecycleEvent(t *testing.T, stream string, version int64, e events.Event) events.Envelope {
	t.Helper()
	env, err := events.New(stream+"@"+string(rune('0'+version)), stream, version, e, events.Meta{
		Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), OriginNode: "n1", Actor: "u1"})
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// TestCheckLifecycle: streams with a beginning and an end start with their
// creation event, never repeat it, and take nothing after their end; other
// streams take anything.
func TestCheckLifecycle(t *testing.T) {
	const appt = "appointment-a1"
	created := events.AppointmentCreated{AppointmentID: "a1", OwnerID: "u1", Title: "x",
		Start: time.Date(2026, 1, 2, 9, 0, 0, 0, time.UTC), End: time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC), Privacy: "full", Status: "confirmed"}
	updated := events.AppointmentUpdated{AppointmentID: "a1", Title: "y", Start: created.Start, End: created.End, Privacy: "full"}
	deleted := events.AppointmentDeleted{AppointmentID: "a1"}
	cases := []struct {
		name     string
		expect   int64
		lastType string
		events   []events.Event
		stream   string
		ok       bool
	}{
		{"create a new appointment", 0, "", []events.Event{created}, appt, true},
		{"create and update in one batch", 0, "", []events.Event{created, updated}, appt, true},
		{"update an existing appointment", 1, "appointment.created", []events.Event{updated}, appt, true},
		{"delete an existing appointment", 2, "appointment.updated", []events.Event{deleted}, appt, true},
		{"update after delete", 3, "appointment.deleted", []events.Event{updated}, appt, false},
		{"delete after delete", 3, "appointment.deleted", []events.Event{deleted}, appt, false},
		{"update then delete then update in one batch", 1, "appointment.created", []events.Event{updated, deleted, updated}, appt, false},
		{"a stream that does not start with its creation", 0, "", []events.Event{updated}, appt, false},
		{"created twice", 1, "appointment.created", []events.Event{created}, appt, false},
		{"user stream must start registered", 0, "", []events.Event{events.UserProfileChanged{UserID: "u1", DisplayName: "A"}}, "user-u1", false},
		{"agenda streams take anything", 0, "", []events.Event{deleted, deleted}, "agenda-u1", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := events.Batch{Expect: []events.Expectation{{Stream: c.stream, Version: c.expect}}}
			for i, e := range c.events {
				b.Events = append(b.Events, lifecycleEvent(t, c.stream, c.expect+int64(i)+1, e))
			}
			if err := b.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			err := b.CheckLifecycle(map[string]string{c.stream: c.lastType})
			if c.ok && err != nil {
				t.Fatalf("CheckLifecycle = %v, want nil", err)
			}
			if !c.ok && !errors.Is(err, events.ErrIllegalTransition) {
				t.Fatalf("CheckLifecycle = %v, want ErrIllegalTransition", err)
			}
		})
	}
}
