package eventstore_test

import (
	"errors"
	"testing"
	"time"

	"github.com/agendahq/agenda/events"
)

// TestAppendRefusesEventsAfterTheStreamEnded is finding 1 of issue 8 at
// the store: a PATCH decided on a lost history expected version 2, which
// in the surviving history is the appointment's deletion. The expectation
// holds, but appointment.updated cannot follow appointment.deleted: the
// store must refuse it (deterministically, on every replica) instead of
// committing an event that stops every projection.
func TestAppendRefusesEventsAfterTheStreamEnded(t *testing.T) {
	s := mustOpenStore(t)
	const stream = "appointment-a1"
	meta := events.Meta{Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), OriginNode: "n1", Actor: "u1"}
	ev := func(id, stream string, v int64, e events.Event) events.Envelope {
		t.Helper()
		env, err := events.New(id, stream, v, e, meta)
		if err != nil {
			t.Fatal(err)
		}
		return env
	}
	start := time.Date(2026, 1, 2, 9, 0, 0, 0, time.UTC)
	created := events.AppointmentCreated{AppointmentID: "a1", OwnerID: "u1", Title: "x", Start: start, End: start.Add(time.Hour), Privacy: "full", Status: "confirmed"}
	updated := events.AppointmentUpdated{AppointmentID: "a1", Title: "y", Start: start, End: start.Add(time.Hour), Privacy: "full"}

	tx := mustBegin(t, s)
	mustAppend(t, tx, events.Batch{Expect: []events.Expectation{expect(stream, 0)}, Events: []events.Envelope{ev("e1", stream, 1, created)}})
	mustAppend(t, tx, events.Batch{Expect: []events.Expectation{expect(stream, 1)}, Events: []events.Envelope{ev("e2", stream, 2, events.AppointmentDeleted{AppointmentID: "a1"})}})
	_, err := tx.Append(events.Batch{Expect: []events.Expectation{expect(stream, 2)}, Events: []events.Envelope{ev("e3", stream, 3, updated)}})
	if !errors.Is(err, events.ErrIllegalTransition) {
		t.Fatalf("update after delete: err = %v, want ErrIllegalTransition", err)
	}
	_, err = tx.Append(events.Batch{Expect: []events.Expectation{expect("appointment-a2", 0)}, Events: []events.Envelope{ev("e4", "appointment-a2", 1, updated)}})
	if !errors.Is(err, events.ErrIllegalTransition) {
		t.Fatalf("update of a never-created appointment: err = %v, want ErrIllegalTransition", err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := s.Head(); got != 2 {
		t.Fatalf("head = %d after the refusals, want 2", got)
	}
}
