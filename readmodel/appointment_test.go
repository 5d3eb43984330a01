package readmodel_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/readmodel"
)

func TestAppointmentVisibility(t *testing.T) {
	ctx := context.Background()
	db, _ := mustOpenDB(t)
	mustApply(t, db, readmodel.ProjectionUsers, func(tx *readmodel.Tx) error {
		for _, u := range []agenda.User{user("own", "owen", "Owen"), user("pen", "penny", "Penny"),
			user("dec", "dexter", "Dexter"), user("acc", "ace", "Ace"), user("out", "outsider", "Out")} {
			if err := tx.InsertUser(u); err != nil {
				return err
			}
		}
		return nil
	})
	book(t, db, booking{id: "a1", owner: "own", start: at, end: at.Add(time.Hour), roles: map[string]string{
		"pen": agenda.RolePending, "dec": agenda.RoleDeclined, "acc": agenda.RoleAccepted}})
	// An appointment whose owner has no entry of their own.
	mustApply(t, db, readmodel.ProjectionPlanning, func(tx *readmodel.Tx) error {
		if err := tx.InsertAppointment(appointmentRecord("a2", "own", at, at.Add(time.Hour))); err != nil {
			return err
		}
		if err := tx.SetParticipant("a2", "own", agenda.RoleOwner, 1, "node-a"); err != nil {
			return err
		}
		if err := tx.SetParticipant("a2", "pen", agenda.RoleAuto, 1, "node-a"); err != nil {
			return err
		}
		return tx.AddAgendaEntry("pen", "a2", at, at.Add(time.Hour), agenda.RoleAuto, "node-a")
	})

	tests := []struct {
		name         string
		appointment  string
		viewer       string
		wantMyStatus string // empty: not_found
	}{
		{name: "owner", appointment: "a1", viewer: "own", wantMyStatus: agenda.RoleOwner},
		{name: "pending participant", appointment: "a1", viewer: "pen", wantMyStatus: agenda.RolePending},
		{name: "declined participant", appointment: "a1", viewer: "dec", wantMyStatus: agenda.RoleDeclined},
		{name: "accepted participant", appointment: "a1", viewer: "acc", wantMyStatus: agenda.RoleAccepted},
		{name: "non-participant", appointment: "a1", viewer: "out", wantMyStatus: ""},
		{name: "anonymous viewer", appointment: "a1", viewer: "", wantMyStatus: ""},
		{name: "appointment that does not exist", appointment: "nope", viewer: "own", wantMyStatus: ""},
		{name: "owner without an entry of their own", appointment: "a2", viewer: "own", wantMyStatus: agenda.RoleOwner},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := db.Appointment(ctx, tc.appointment, tc.viewer)
			if tc.wantMyStatus == "" {
				if code := agenda.ErrorCode(err); code != agenda.ENOTFOUND {
					t.Fatalf("Appointment(%s) as %q: code %q (%v), want not_found", tc.appointment, tc.viewer, code, err)
				}
				// Hidden and missing must read the same.
				if msg := agenda.ErrorMessage(err); msg != "appointment not found" {
					t.Errorf("message = %q, want %q", msg, "appointment not found")
				}
				return
			}
			if err != nil {
				t.Fatalf("Appointment(%s) as %s: %v", tc.appointment, tc.viewer, err)
			}
			if a.MyStatus != tc.wantMyStatus {
				t.Errorf("my_status = %s, want %s", a.MyStatus, tc.wantMyStatus)
			}
		})
	}

	t.Run("participants by username, named, with their status", func(t *testing.T) {
		a, err := db.Appointment(ctx, "a1", "own")
		if err != nil {
			t.Fatalf("Appointment: %v", err)
		}
		want := []agenda.Participant{
			{UserID: "acc", Username: "ace", DisplayName: "Ace", Status: agenda.RoleAccepted},
			{UserID: "dec", Username: "dexter", DisplayName: "Dexter", Status: agenda.RoleDeclined},
			{UserID: "own", Username: "owen", DisplayName: "Owen", Status: agenda.RoleOwner},
			{UserID: "pen", Username: "penny", DisplayName: "Penny", Status: agenda.RolePending},
		}
		if len(a.Participants) != len(want) {
			t.Fatalf("participants = %+v, want %+v", a.Participants, want)
		}
		for i := range want {
			if a.Participants[i] != want[i] {
				t.Errorf("participant %d = %+v, want %+v", i, a.Participants[i], want[i])
			}
		}
		if a.Title != "Title a1" || a.OwnerID != "own" || a.Version != 1 || a.OriginNode != "node-a" ||
			!a.Start.Equal(at) || !a.CreatedAt.Equal(at) || a.GroupID != nil {
			t.Errorf("appointment = %+v, want the stored record", a)
		}
	})
}

func TestAppointmentUpdateAndDelete(t *testing.T) {
	ctx := context.Background()
	db, _ := mustOpenDB(t)
	book(t, db, booking{id: "a1", owner: "own", start: at, end: at.Add(time.Hour)})
	later := at.Add(48 * time.Hour)
	mustApply(t, db, readmodel.ProjectionPlanning, func(tx *readmodel.Tx) error {
		r := appointmentRecord("a1", "own", later, later.Add(time.Hour))
		r.Title, r.Version, r.OriginNode, r.UpdatedAt = "Moved", 2, "node-c", later
		if err := tx.UpdateAppointment(r); err != nil {
			return err
		}
		return tx.RescheduleAgendaEntry("own", "a1", later, later.Add(time.Hour), "node-c")
	})
	a, err := db.Appointment(ctx, "a1", "own")
	if err != nil {
		t.Fatalf("Appointment: %v", err)
	}
	if a.Title != "Moved" || a.Version != 2 || a.OriginNode != "node-c" || !a.Start.Equal(later) ||
		!a.UpdatedAt.Equal(later) || !a.CreatedAt.Equal(at) {
		t.Errorf("updated appointment = %+v", a)
	}
	entries, err := db.Agenda(ctx, "own", later, later.Add(time.Hour))
	if err != nil || len(entries) != 1 {
		t.Fatalf("Agenda after reschedule = %v, %v; want one entry", entries, err)
	}
	if e := entries[0]; e.Version != 2 || e.OriginNode != "node-c" {
		t.Errorf("rescheduled entry version/origin = %d/%s, want 2/node-c", e.Version, e.OriginNode)
	}

	mustApply(t, db, readmodel.ProjectionPlanning, func(tx *readmodel.Tx) error {
		if err := tx.DeleteAppointment("a1"); err != nil {
			return err
		}
		return tx.RemoveAgendaEntry("own", "a1")
	})
	if _, err := db.Appointment(ctx, "a1", "own"); agenda.ErrorCode(err) != agenda.ENOTFOUND {
		t.Errorf("deleted appointment: %v, want not_found", err)
	}

	t.Run("changes to rows that are not there fail", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			change func(tx *readmodel.Tx) error
		}{
			{name: "update", change: func(tx *readmodel.Tx) error { return tx.UpdateAppointment(appointmentRecord("nope", "own", at, at)) }},
			{name: "delete", change: func(tx *readmodel.Tx) error { return tx.DeleteAppointment("nope") }},
			{name: "reschedule entry", change: func(tx *readmodel.Tx) error { return tx.RescheduleAgendaEntry("own", "nope", at, at, "n") }},
			{name: "remove entry", change: func(tx *readmodel.Tx) error { return tx.RemoveAgendaEntry("own", "nope") }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				from := db.Checkpoint(readmodel.ProjectionPlanning)
				if err := db.Apply(ctx, readmodel.ProjectionPlanning, from, from+1, tc.change); err == nil {
					t.Error("succeeded, want an error: the projection and the event store disagree")
				}
			})
		}
	})
}

// TestAppointmentInfoInItsTransaction holds what a projection transaction
// reads of an appointment it wrote (from memory) to what the row holds (as
// a later transaction reads it), after each kind of change.
func TestAppointmentInfoInItsTransaction(t *testing.T) {
	db, _ := mustOpenDB(t)
	t0 := at.Add(9 * time.Hour)
	for i, c := range []struct {
		name   string
		change func(tx *readmodel.Tx, r readmodel.AppointmentRecord) error
		want   func(*readmodel.AppointmentInfo)
	}{
		{"inserted", func(*readmodel.Tx, readmodel.AppointmentRecord) error { return nil },
			func(*readmodel.AppointmentInfo) {}},
		{"updated", func(tx *readmodel.Tx, r readmodel.AppointmentRecord) error {
			r.Title, r.Start, r.End, r.Version = "Moved", t0.Add(48*time.Hour), t0.Add(50*time.Hour), 2
			return tx.UpdateAppointment(r)
		}, func(a *readmodel.AppointmentInfo) {
			a.Title, a.Start, a.End = "Moved", t0.Add(48*time.Hour), t0.Add(50*time.Hour)
		}},
		{"status set", func(tx *readmodel.Tx, r readmodel.AppointmentRecord) error {
			return tx.SetAppointmentStatus(r.ID, agenda.StatusCancelled, at, 2, "node-b")
		}, func(a *readmodel.AppointmentInfo) { a.Status = agenda.StatusCancelled }},
		{"touched", func(tx *readmodel.Tx, r readmodel.AppointmentRecord) error {
			return tx.TouchAppointment(r.ID, at, 2, "node-b")
		}, func(*readmodel.AppointmentInfo) {}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := appointmentRecord(fmt.Sprintf("a%d", i), "owner", t0, t0.Add(time.Hour))
			r.GroupID = "group"
			want := readmodel.AppointmentInfo{ID: r.ID, OwnerID: "owner", GroupID: "group", Title: r.Title,
				Start: t0, End: t0.Add(time.Hour), Status: agenda.StatusConfirmed}
			c.want(&want)
			var inTx readmodel.AppointmentInfo
			mustApply(t, db, readmodel.ProjectionPlanning, func(tx *readmodel.Tx) error {
				if err := tx.InsertAppointment(r); err != nil {
					return err
				}
				if err := c.change(tx, r); err != nil {
					return err
				}
				var err error
				inTx, err = tx.AppointmentInfo(r.ID)
				return err
			})
			var fromRow readmodel.AppointmentInfo
			mustApply(t, db, readmodel.ProjectionPlanning, func(tx *readmodel.Tx) error {
				var err error
				fromRow, err = tx.AppointmentInfo(r.ID)
				return err
			})
			if inTx != want || fromRow != want {
				t.Errorf("AppointmentInfo in its transaction = %+v,\nfrom the row = %+v,\nwant %+v", inTx, fromRow, want)
			}
		})
	}
	t.Run("deleted", func(t *testing.T) {
		r := appointmentRecord("gone", "owner", t0, t0.Add(time.Hour))
		mustApply(t, db, readmodel.ProjectionPlanning, func(tx *readmodel.Tx) error {
			if err := tx.InsertAppointment(r); err != nil {
				return err
			}
			if err := tx.DeleteAppointment(r.ID); err != nil {
				return err
			}
			if a, err := tx.AppointmentInfo(r.ID); err == nil {
				t.Errorf("AppointmentInfo after deleting = %+v, want an error", a)
			}
			return nil
		})
	})
}

// BenchmarkInvitations lists a user's 5 open invitations beside 100,000
// they never answered to appointments cancelled since. The list should not
// grow with those.
func BenchmarkInvitations(b *testing.B) {
	const cancelled, open = 100_000, 5
	ctx := context.Background()
	db, _ := mustOpenDB(b)
	t0 := at.Add(9 * time.Hour)
	mustApply(b, db, readmodel.ProjectionPlanning, func(tx *readmodel.Tx) error {
		for i := range cancelled + open {
			id := fmt.Sprintf("a%06d", i)
			start := t0.Add(time.Duration(i) * time.Hour)
			r := appointmentRecord(id, "boss", start, start.Add(time.Hour))
			r.Status = agenda.StatusPending
			if err := tx.InsertAppointment(r); err != nil {
				return err
			}
			if err := tx.SetParticipant(id, "me", agenda.RolePending, 2, "node-a"); err != nil {
				return err
			}
			if i < cancelled {
				if err := tx.SetAppointmentStatus(id, agenda.StatusCancelled, at, 3, "node-a"); err != nil {
					return err
				}
			}
		}
		return nil
	})
	for b.Loop() {
		if got, err := db.Invitations(ctx, "me", time.Now()); err != nil || len(got) != open {
			b.Fatalf("Invitations = %d, %v; want %d", len(got), err, open)
		}
	}
}

// TestParticipantsKnowTheirAppointmentIsCancelled: the copy that keeps
// cancelled appointments out of the invitation index follows the status.
func TestParticipantsKnowTheirAppointmentIsCancelled(t *testing.T) {
	db, path := mustOpenDB(t)
	t0 := at.Add(9 * time.Hour)
	r := appointmentRecord("a", "boss", t0, t0.Add(time.Hour))
	r.Status = agenda.StatusPending
	mustApply(t, db, readmodel.ProjectionPlanning, func(tx *readmodel.Tx) error {
		if err := tx.InsertAppointment(r); err != nil {
			return err
		}
		for _, u := range []string{"boss", "me", "you"} {
			if err := tx.SetParticipant("a", u, agenda.RolePending, 2, "node-a"); err != nil {
				return err
			}
		}
		return nil
	})
	raw := rawDB(t, path)
	count := func() int {
		t.Helper()
		var n int
		if err := raw.QueryRow(`SELECT COUNT(*) FROM participants WHERE appointment_id = 'a' AND cancelled = 1`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, c := range []struct {
		status string
		want   int
	}{{agenda.StatusConfirmed, 0}, {agenda.StatusCancelled, 3}} {
		mustApply(t, db, readmodel.ProjectionPlanning, func(tx *readmodel.Tx) error {
			return tx.SetAppointmentStatus("a", c.status, at, 3, "node-a")
		})
		if got := count(); got != c.want {
			t.Errorf("after status %s: %d participants marked cancelled, want %d", c.status, got, c.want)
		}
	}
	if got, err := db.Invitations(context.Background(), "me", time.Now()); err != nil || len(got) != 0 {
		t.Errorf("Invitations after the cancellation = %v, %v; want none", got, err)
	}
}
