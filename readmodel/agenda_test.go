package readmodel_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/readmodel"
)

func TestAgendaWindow(t *testing.T) {
	ctx := context.Background()
	db, _ := mustOpenDB(t)
	from, to := at, at.Add(7*24*time.Hour)
	h := time.Hour
	max := agenda.MaxAppointmentDuration

	// Each case is one of "me"'s appointments and whether the window
	// [from, to) must return it.
	cases := []struct {
		name       string
		start, end time.Time
		want       bool
	}{
		{name: "inside the window", start: from.Add(25 * h), end: from.Add(26 * h), want: true},
		{name: "overlapping from", start: from.Add(-h), end: from.Add(h), want: true},
		{name: "overlapping to", start: to.Add(-h), end: to.Add(h), want: true},
		{name: "covering the whole window", start: from.Add(-24 * h), end: to.Add(24 * h), want: true},
		{name: "exactly the window", start: from, end: to, want: true},
		{name: "starting at from", start: from, end: from.Add(time.Minute), want: true},
		{name: "ending just after from", start: from.Add(-h), end: from.Add(time.Nanosecond), want: true},
		{name: "starting just before to", start: to.Add(-time.Nanosecond), end: to.Add(h), want: true},
		{name: "ending exactly at from (touching)", start: from.Add(-h), end: from, want: false},
		{name: "starting exactly at to (touching)", start: to, end: to.Add(h), want: false},
		{name: "entirely before", start: from.Add(-48 * h), end: from.Add(-47 * h), want: false},
		{name: "entirely after", start: to.Add(47 * h), end: to.Add(48 * h), want: false},
		{name: "maximum length, starting 31 days before from, still running", start: from.Add(-max + h), end: from.Add(h), want: true},
		{name: "maximum length, starting a nanosecond after 31 days before from", start: from.Add(-max + time.Nanosecond), end: from.Add(time.Nanosecond), want: true},
		{name: "maximum length ending exactly at from", start: from.Add(-max), end: from, want: false},
	}
	var bs []booking
	for i, c := range cases {
		bs = append(bs, booking{id: string(rune('A'+i)) + "-" + c.name, owner: "me", start: c.start, end: c.end})
	}
	// Other users' appointments in the window never show.
	bs = append(bs, booking{id: "other-in-window", owner: "you", start: from.Add(h), end: from.Add(2 * h)})
	book(t, db, bs...)

	entries, err := db.Agenda(ctx, "me", from, to)
	if err != nil {
		t.Fatalf("Agenda: %v", err)
	}
	got := map[string]bool{}
	for _, e := range entries {
		got[e.AppointmentID] = true
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if id := bs[i].id; got[id] != c.want {
				t.Errorf("%s–%s in [%s, %s): returned = %v, want %v", c.start, c.end, from, to, got[id], c.want)
			}
		})
	}
	if got["other-in-window"] {
		t.Error("another user's appointment is in my agenda")
	}
}

func TestAgendaSortingAndFields(t *testing.T) {
	ctx := context.Background()
	db, _ := mustOpenDB(t)
	t0 := at.Add(9 * time.Hour)
	book(t, db,
		booking{id: "late", owner: "me", start: t0.Add(3 * time.Hour), end: t0.Add(4 * time.Hour)},
		booking{id: "b-same-start", owner: "me", start: t0, end: t0.Add(time.Hour)},
		booking{id: "a-same-start", owner: "me", start: t0, end: t0.Add(2 * time.Hour)},
		booking{id: "invited", owner: "boss", start: t0.Add(time.Hour), end: t0.Add(2 * time.Hour),
			roles: map[string]string{"me": agenda.RolePending}},
		booking{id: "earlier", owner: "me", start: t0.Add(-time.Hour), end: t0},
	)
	mustApply(t, db, readmodel.ProjectionPlanning, func(tx *readmodel.Tx) error {
		r := appointmentRecord("grouped", "me", t0.Add(5*time.Hour), t0.Add(6*time.Hour))
		r.GroupID = "team"
		if err := tx.InsertAppointment(r); err != nil {
			return err
		}
		return tx.AddAgendaEntry("me", "grouped", r.Start, r.End, agenda.RoleOwner, "node-c")
	})

	entries, err := db.Agenda(ctx, "me", at, at.Add(24*time.Hour))
	if err != nil {
		t.Fatalf("Agenda: %v", err)
	}
	gotIDs := ids(entries, func(e agenda.Entry) string { return e.AppointmentID })
	wantIDs := []string{"earlier", "a-same-start", "b-same-start", "invited", "late", "grouped"}
	if !equalStrings(gotIDs, wantIDs) {
		t.Fatalf("agenda order = %v, want %v (by start, then appointment id)", gotIDs, wantIDs)
	}

	byID := map[string]agenda.Entry{}
	for _, e := range entries {
		byID[e.AppointmentID] = e
	}
	inv := byID["invited"]
	// An entry shows the appointment's version and origin node: they are
	// what If-Match on the appointment compares against.
	if inv.MyStatus != agenda.RolePending || !inv.Pending || inv.OriginNode != "node-a" || inv.Version != 1 {
		t.Errorf("invited entry = my_status %s pending %v origin %s version %d, want pending/true/node-a/1",
			inv.MyStatus, inv.Pending, inv.OriginNode, inv.Version)
	}
	late := byID["late"]
	if late.MyStatus != agenda.RoleOwner || late.Pending || late.Title != "Title late" || late.Location != "Loc late" ||
		late.Privacy != agenda.PrivacyFull || late.Status != agenda.StatusConfirmed || late.GroupID != nil {
		t.Errorf("late entry = %+v, want the appointment's fields, my_status owner, no group", late)
	}
	if !late.Start.Equal(t0.Add(3*time.Hour)) || late.Start.Location() != time.UTC {
		t.Errorf("late start = %s, want %s in UTC", late.Start, t0.Add(3*time.Hour))
	}
	if g := byID["grouped"].GroupID; g == nil || *g != "team" {
		t.Errorf("grouped entry group_id = %v, want team", g)
	}

	t.Run("empty agenda is an empty list, not nil", func(t *testing.T) {
		entries, err := db.Agenda(ctx, "nobody", at, at.Add(time.Hour))
		if err != nil {
			t.Fatalf("Agenda: %v", err)
		}
		if entries == nil || len(entries) != 0 {
			t.Errorf("Agenda(nobody) = %#v, want an empty non-nil slice", entries)
		}
	})
}

// TestEachAgendaEntry: the entry EachAgendaEntry passes is reused, so
// nothing of one row may show in the next, and fn's error ends the read.
func TestEachAgendaEntry(t *testing.T) {
	ctx := context.Background()
	db, _ := mustOpenDB(t)
	t0 := at.Add(9 * time.Hour)
	mustApply(t, db, readmodel.ProjectionPlanning, func(tx *readmodel.Tx) error {
		r := appointmentRecord("grouped", "me", t0, t0.Add(time.Hour))
		r.GroupID = "team"
		if err := tx.InsertAppointment(r); err != nil {
			return err
		}
		return tx.AddAgendaEntry("me", "grouped", r.Start, r.End, agenda.RoleOwner, "node-c")
	})
	book(t, db, booking{id: "personal", owner: "me", start: t0.Add(time.Hour), end: t0.Add(2 * time.Hour)},
		booking{id: "invited", owner: "boss", start: t0.Add(2 * time.Hour), end: t0.Add(3 * time.Hour),
			roles: map[string]string{"me": agenda.RolePending}})

	var seen []agenda.Entry
	if err := db.EachAgendaEntry(ctx, "me", at, at.Add(24*time.Hour), func(e *agenda.Entry) error {
		seen = append(seen, *e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want, err := db.Agenda(ctx, "me", at, at.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(seen, want) || len(seen) != 3 {
		t.Fatalf("EachAgendaEntry saw %+v, Agenda returned %+v", seen, want)
	}
	if seen[1].GroupID != nil || seen[1].Pending || !seen[2].Pending || seen[0].GroupID == nil {
		t.Errorf("a row shows the one before it: %+v", seen)
	}

	stop := errors.New("stop")
	calls := 0
	err = db.EachAgendaEntry(ctx, "me", at, at.Add(24*time.Hour), func(*agenda.Entry) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("fn failing: err %v after %d calls, want stop after 1", err, calls)
	}
}

func TestSchedule(t *testing.T) {
	ctx := context.Background()
	db, _ := mustOpenDB(t)
	s, e := at.Add(10*time.Hour), at.Add(11*time.Hour)
	overlap := func(id, role string) booking {
		return booking{id: id, owner: "boss", start: s.Add(-30 * time.Minute), end: s.Add(30 * time.Minute),
			roles: map[string]string{"me": role}}
	}
	book(t, db,
		booking{id: "mine", owner: "me", start: s.Add(15 * time.Minute), end: e.Add(time.Hour)},
		overlap("imposed", agenda.RoleAuto),
		overlap("accepted", agenda.RoleAccepted),
		overlap("pending", agenda.RolePending),
		overlap("declined", agenda.RoleDeclined),
		booking{id: "touching-before", owner: "me", start: s.Add(-time.Hour), end: s},
		booking{id: "touching-after", owner: "me", start: e, end: e.Add(time.Hour)},
		booking{id: "long-ago", owner: "me", start: s.Add(-30 * 24 * time.Hour), end: s.Add(-29 * 24 * time.Hour)},
		booking{id: "someone-elses", owner: "you", start: s, end: e},
	)
	mustApply(t, db, readmodel.ProjectionPlanning, func(tx *readmodel.Tx) error {
		return tx.SetAgendaVersion("me", 9, "node-a")
	})

	tests := []struct {
		name        string
		user        string
		exclude     string
		wantVersion int64
		want        []string
	}{
		{name: "only blocking roles conflict", user: "me", wantVersion: 9, want: []string{"accepted", "imposed", "mine"}},
		{name: "the appointment being moved is excluded", user: "me", exclude: "mine", wantVersion: 9, want: []string{"accepted", "imposed"}},
		{name: "a user with no agenda stream", user: "ghost", wantVersion: 0, want: nil},
		{name: "an agenda without a recorded version", user: "you", wantVersion: 0, want: []string{"someone-elses"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := db.Schedule(ctx, tc.user, s, e, tc.exclude)
			if err != nil {
				t.Fatalf("Schedule: %v", err)
			}
			if got.Version != tc.wantVersion {
				t.Errorf("version = %d, want %d", got.Version, tc.wantVersion)
			}
			gotIDs := ids(got.Conflicts, func(sl agenda.Slot) string { return sl.AppointmentID })
			// Conflicts come by start; the two overlapping invitations share
			// one, so compare as sets.
			if !equalStrings(sorted(gotIDs), tc.want) {
				t.Errorf("conflicts = %v, want %v", gotIDs, tc.want)
			}
			for _, sl := range got.Conflicts {
				if sl.Title != "Title "+sl.AppointmentID || !sl.End.After(s) || !sl.Start.Before(e) {
					t.Errorf("conflict %+v: want its title and a time overlapping [%s, %s)", sl, s, e)
				}
			}
		})
	}

	t.Run("conflicts are ordered by start", func(t *testing.T) {
		got, err := db.Schedule(ctx, "me", s, e, "")
		if err != nil {
			t.Fatalf("Schedule: %v", err)
		}
		for i := 1; i < len(got.Conflicts); i++ {
			if got.Conflicts[i].Start.Before(got.Conflicts[i-1].Start) {
				t.Errorf("conflict %d starts %s, before conflict %d at %s", i, got.Conflicts[i].Start, i-1, got.Conflicts[i-1].Start)
			}
		}
	})
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// An agenda entry holds a copy of what the agenda shows of its appointment
// (so that reading an agenda needs no join): the copy must follow every
// change of the appointment's row, in the same transaction or a later one,
// for every participant, and must be taken even when the entry is projected
// before its appointment's row.
func TestAgendaEntriesFollowTheirAppointment(t *testing.T) {
	ctx := context.Background()
	db, _ := mustOpenDB(t)
	t0 := at.Add(9 * time.Hour)
	book(t, db, booking{id: "meeting", owner: "me", start: t0, end: t0.Add(time.Hour),
		roles: map[string]string{"you": agenda.RoleAuto}})

	entryOf := func(t *testing.T, userID, id string) agenda.Entry {
		t.Helper()
		entries, err := db.Agenda(ctx, userID, at, at.Add(24*time.Hour))
		if err != nil {
			t.Fatalf("Agenda(%s): %v", userID, err)
		}
		for _, e := range entries {
			if e.AppointmentID == id {
				return e
			}
		}
		t.Fatalf("%s is not in %s's agenda", id, userID)
		return agenda.Entry{}
	}
	scheduleTitle := func(t *testing.T, userID string) string {
		t.Helper()
		s, err := db.Schedule(ctx, userID, t0, t0.Add(time.Hour), "")
		if err != nil || len(s.Conflicts) != 1 {
			t.Fatalf("Schedule(%s) = %+v, %v; want one conflict", userID, s, err)
		}
		return s.Conflicts[0].Title
	}

	t.Run("edited in a later transaction", func(t *testing.T) {
		r := appointmentRecord("meeting", "me", t0, t0.Add(time.Hour))
		r.Title, r.Description, r.Location, r.Privacy = "Renamed", "New desc", "Elsewhere", agenda.PrivacyFreeBusy
		r.Version, r.OriginNode = 2, "node-c"
		mustApply(t, db, readmodel.ProjectionPlanning, func(tx *readmodel.Tx) error { return tx.UpdateAppointment(r) })
		for _, u := range []string{"me", "you"} {
			e := entryOf(t, u, "meeting")
			if e.Title != "Renamed" || e.Description != "New desc" || e.Location != "Elsewhere" ||
				e.Privacy != agenda.PrivacyFreeBusy || e.Version != 2 || e.OriginNode != "node-c" {
				t.Errorf("%s's entry = %+v, want the edited appointment (version 2 from node-c)", u, e)
			}
			if got := scheduleTitle(t, u); got != "Renamed" {
				t.Errorf("%s's conflict title = %q, want Renamed", u, got)
			}
		}
	})
	t.Run("touched and cancelled", func(t *testing.T) {
		mustApply(t, db, readmodel.ProjectionPlanning, func(tx *readmodel.Tx) error {
			return tx.TouchAppointment("meeting", at, 3, "node-d")
		})
		if e := entryOf(t, "you", "meeting"); e.Version != 3 || e.OriginNode != "node-d" {
			t.Errorf("entry after a participant event = version %d from %s, want 3 from node-d", e.Version, e.OriginNode)
		}
		mustApply(t, db, readmodel.ProjectionPlanning, func(tx *readmodel.Tx) error {
			return tx.SetAppointmentStatus("meeting", agenda.StatusCancelled, at, 4, "node-a")
		})
		if e := entryOf(t, "me", "meeting"); e.Status != agenda.StatusCancelled || e.Version != 4 {
			t.Errorf("entry after cancelling = status %s version %d, want cancelled, 4", e.Status, e.Version)
		}
	})
	t.Run("changed in the transaction that added it", func(t *testing.T) {
		for _, c := range []struct {
			name  string
			steps func(tx *readmodel.Tx, r readmodel.AppointmentRecord) error
		}{
			{"touched before its entries", func(tx *readmodel.Tx, r readmodel.AppointmentRecord) error {
				if err := tx.InsertAppointment(r); err != nil {
					return err
				}
				if err := tx.TouchAppointment(r.ID, at, 2, "node-t"); err != nil {
					return err
				}
				if err := tx.AddAgendaEntry("me", r.ID, r.Start, r.End, agenda.RoleOwner, "node-a"); err != nil {
					return err
				}
				return tx.AddAgendaEntry("you", r.ID, r.Start, r.End, agenda.RoleAuto, "node-a")
			}},
			{"touched between its entries", func(tx *readmodel.Tx, r readmodel.AppointmentRecord) error {
				if err := tx.InsertAppointment(r); err != nil {
					return err
				}
				if err := tx.AddAgendaEntry("me", r.ID, r.Start, r.End, agenda.RoleOwner, "node-a"); err != nil {
					return err
				}
				if err := tx.TouchAppointment(r.ID, at, 2, "node-t"); err != nil {
					return err
				}
				return tx.AddAgendaEntry("you", r.ID, r.Start, r.End, agenda.RoleAuto, "node-a")
			}},
			{"touched after its entries", func(tx *readmodel.Tx, r readmodel.AppointmentRecord) error {
				if err := tx.InsertAppointment(r); err != nil {
					return err
				}
				if err := tx.AddAgendaEntry("me", r.ID, r.Start, r.End, agenda.RoleOwner, "node-a"); err != nil {
					return err
				}
				if err := tx.AddAgendaEntry("you", r.ID, r.Start, r.End, agenda.RoleAuto, "node-a"); err != nil {
					return err
				}
				return tx.TouchAppointment(r.ID, at, 2, "node-t")
			}},
		} {
			t.Run(c.name, func(t *testing.T) {
				r := appointmentRecord("same-tx-"+strings.ReplaceAll(c.name, " ", "-"), "me", t0.Add(4*time.Hour), t0.Add(5*time.Hour))
				mustApply(t, db, readmodel.ProjectionPlanning, func(tx *readmodel.Tx) error { return c.steps(tx, r) })
				for _, u := range []string{"me", "you"} {
					if e := entryOf(t, u, r.ID); e.Version != 2 || e.OriginNode != "node-t" || e.Title != r.Title {
						t.Errorf("%s's entry = version %d from %s, title %q; want version 2 from node-t, %q",
							u, e.Version, e.OriginNode, e.Title, r.Title)
					}
				}
				mustApply(t, db, readmodel.ProjectionPlanning, func(tx *readmodel.Tx) error {
					for _, u := range []string{"me", "you"} {
						if err := tx.RemoveAgendaEntry(u, r.ID); err != nil {
							return err
						}
					}
					return nil
				})
			})
		}
	})
	t.Run("deleted before its entries are removed", func(t *testing.T) {
		// A deletion's entry removals may be projected in a later
		// transaction: meanwhile the agenda leaves the entries out, and a
		// conflict with one shows no title, as the join on appointments did.
		r := appointmentRecord("doomed", "me", t0.Add(6*time.Hour), t0.Add(7*time.Hour))
		mustApply(t, db, readmodel.ProjectionPlanning, func(tx *readmodel.Tx) error {
			if err := tx.InsertAppointment(r); err != nil {
				return err
			}
			return tx.AddAgendaEntry("me", r.ID, r.Start, r.End, agenda.RoleOwner, "node-a")
		})
		mustApply(t, db, readmodel.ProjectionPlanning, func(tx *readmodel.Tx) error {
			if err := tx.TouchAppointment(r.ID, at, 2, "node-t"); err != nil {
				return err
			}
			return tx.DeleteAppointment(r.ID)
		})
		entries, err := db.Agenda(ctx, "me", at, at.Add(24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.AppointmentID == r.ID {
				t.Errorf("the deleted appointment is still in the agenda: %+v", e)
			}
		}
		s, err := db.Schedule(ctx, "me", r.Start, r.End, "")
		if err != nil || len(s.Conflicts) != 1 || s.Conflicts[0].Title != "" {
			t.Errorf("Schedule over the deleted appointment = %+v, %v; want its entry, untitled, until it is removed", s, err)
		}
		mustApply(t, db, readmodel.ProjectionPlanning, func(tx *readmodel.Tx) error {
			return tx.RemoveAgendaEntry("me", r.ID)
		})
	})
	t.Run("entry projected before its appointment's row", func(t *testing.T) {
		r := appointmentRecord("late-row", "me", t0.Add(2*time.Hour), t0.Add(3*time.Hour))
		r.GroupID = "team"
		mustApply(t, db, readmodel.ProjectionPlanning, func(tx *readmodel.Tx) error {
			if err := tx.AddAgendaEntry("me", r.ID, r.Start, r.End, agenda.RoleOwner, "node-a"); err != nil {
				return err
			}
			return tx.InsertAppointment(r)
		})
		e := entryOf(t, "me", "late-row")
		if e.Title != "Title late-row" || e.GroupID == nil || *e.GroupID != "team" || e.Version != 1 {
			t.Errorf("entry = %+v, want the appointment's fields", e)
		}
	})
}
