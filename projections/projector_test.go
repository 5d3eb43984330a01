package projections_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/events"
	"github.com/agendahq/agenda/projections"
	"github.com/agendahq/agenda/readmodel"
)

func TestProjectorProjectsUsersAppointmentsAndAgenda(t *testing.T) {
	ctx := context.Background()
	store := mustOpenStore(t)
	rm := mustOpenReadModel(t, filepath.Join(t.TempDir(), "readmodel.db"))
	p := startProjector(t, store, rm)
	l := newEventLog(t, store)

	start := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	l.append("node-a", registerUser("ana", "ana", "Ana")...)
	registeredAt := l.base.Add(time.Duration(l.seq-1) * time.Second) // time of user.registered
	l.append("node-b", registerUser("bob", "bob", "Bob")...)
	l.append("node-c", write{events.UserStream("ana"), events.UserProfileChanged{UserID: "ana", DisplayName: "Ana B.", Email: "ana@b.example"}})
	l.append("node-b", createAppointment("a1", "ana", start, start.Add(time.Hour), map[string]string{"bob": agenda.RolePending})...)
	moved := start.Add(2 * time.Hour)
	l.append("node-c", rescheduleAppointment("a1", "Moved a1", moved, moved.Add(30*time.Minute), "ana", "bob")...)
	l.append("node-a", createAppointment("a2", "bob", start, start.Add(time.Hour), nil)...)
	head := l.append("node-a", deleteAppointment("a2", "bob")...)

	waitProjected(t, rm, head)

	t.Run("users carry the version and origin of their last event", func(t *testing.T) {
		u, err := rm.UserByID(ctx, "ana")
		if err != nil {
			t.Fatalf("UserByID(ana): %v", err)
		}
		if u.DisplayName != "Ana B." || u.Email != "ana@b.example" || u.Username != "ana" {
			t.Errorf("ana = %q/%q/%q, want ana/Ana B./ana@b.example", u.Username, u.DisplayName, u.Email)
		}
		if u.Version != 2 || u.OriginNode != "node-c" {
			t.Errorf("ana version/origin = %d/%s, want 2/node-c", u.Version, u.OriginNode)
		}
		if !u.CreatedAt.Equal(registeredAt) {
			t.Errorf("ana created_at = %s, want the registration event's time %s", u.CreatedAt, registeredAt)
		}
		b, err := rm.UserByUsername(ctx, "bob")
		if err != nil {
			t.Fatalf("UserByUsername(bob): %v", err)
		}
		if b.Version != 1 || b.OriginNode != "node-b" {
			t.Errorf("bob version/origin = %d/%s, want 1/node-b", b.Version, b.OriginNode)
		}
	})

	t.Run("appointment carries the version and origin of its last event", func(t *testing.T) {
		a, err := rm.Appointment(ctx, "a1", "ana")
		if err != nil {
			t.Fatalf("Appointment(a1): %v", err)
		}
		if a.Version != 2 || a.OriginNode != "node-c" { // created (bob invited with it), updated
			t.Errorf("a1 version/origin = %d/%s, want 2/node-c", a.Version, a.OriginNode)
		}
		if a.Title != "Moved a1" || !a.Start.Equal(moved) || !a.End.Equal(moved.Add(30*time.Minute)) || a.Privacy != agenda.PrivacyFreeBusy {
			t.Errorf("a1 = %q %s–%s %s, want the rescheduled fields", a.Title, a.Start, a.End, a.Privacy)
		}
		if a.OwnerID != "ana" || a.MyStatus != agenda.RoleOwner || a.Status != agenda.StatusConfirmed {
			t.Errorf("a1 owner/my_status/status = %s/%s/%s, want ana/owner/confirmed", a.OwnerID, a.MyStatus, a.Status)
		}
		want := []agenda.Participant{{UserID: "ana", Username: "ana", DisplayName: "Ana B.", Status: agenda.RoleOwner}, {UserID: "bob", Username: "bob", DisplayName: "Bob", Status: agenda.RolePending}}
		if len(a.Participants) != len(want) {
			t.Fatalf("a1 participants = %+v, want %+v", a.Participants, want)
		}
		for i := range want {
			if a.Participants[i] != want[i] {
				t.Errorf("a1 participant %d = %+v, want %+v", i, a.Participants[i], want[i])
			}
		}
		asBob, err := rm.Appointment(ctx, "a1", "bob")
		if err != nil {
			t.Fatalf("Appointment(a1) as bob: %v", err)
		}
		if asBob.MyStatus != agenda.RolePending {
			t.Errorf("a1 my_status for bob = %s, want pending", asBob.MyStatus)
		}
	})

	t.Run("agenda entries carry version and origin", func(t *testing.T) {
		entries, err := rm.Agenda(ctx, "bob", start.Add(-time.Hour), start.Add(24*time.Hour))
		if err != nil {
			t.Fatalf("Agenda(bob): %v", err)
		}
		if len(entries) != 1 {
			t.Fatalf("bob's agenda = %+v, want only a1 (a2 was deleted)", entries)
		}
		e := entries[0]
		if e.AppointmentID != "a1" || e.MyStatus != agenda.RolePending || !e.Pending {
			t.Errorf("bob's entry = %s %s pending=%v, want a1 pending", e.AppointmentID, e.MyStatus, e.Pending)
		}
		if e.Version != 2 || e.OriginNode != "node-c" { // the appointment's
			t.Errorf("bob's entry version/origin = %d/%s, want 2/node-c", e.Version, e.OriginNode)
		}
		if !e.Start.Equal(moved) {
			t.Errorf("bob's entry start = %s, want %s", e.Start, moved)
		}
	})

	t.Run("agenda stream versions follow the events", func(t *testing.T) {
		for user, want := range map[string]int64{"ana": 2, "bob": 4, "nobody": 0} {
			got, err := rm.ScheduleVersion(ctx, user)
			if err != nil {
				t.Fatalf("ScheduleVersion(%s): %v", user, err)
			}
			if got != want {
				t.Errorf("ScheduleVersion(%s) = %d, want %d", user, got, want)
			}
		}
	})

	t.Run("deleted appointment is gone", func(t *testing.T) {
		_, err := rm.Appointment(ctx, "a2", "bob")
		if code := agenda.ErrorCode(err); code != agenda.ENOTFOUND {
			t.Errorf("Appointment(a2) error code = %q (%v), want not_found", code, err)
		}
	})

	t.Run("status reports every projection caught up", func(t *testing.T) {
		if !p.Healthy() {
			t.Error("Healthy() = false, want true")
		}
		st := p.Status()
		if len(st) != 2 {
			t.Fatalf("Status() = %+v, want 2 projections", st)
		}
		for _, s := range st {
			if s.State != "running" || s.Position != head || s.Head != head || s.Lag != 0 || s.LastError != "" {
				t.Errorf("status of %s = %+v, want running at %d with no lag", s.Name, s, head)
			}
		}
	})
}

func TestWaitForReturnsOnceProjected(t *testing.T) {
	store := mustOpenStore(t)
	rm := mustOpenReadModel(t, filepath.Join(t.TempDir(), "readmodel.db"))
	startProjector(t, store, rm)
	l := newEventLog(t, store)

	// Wait before the events exist: WaitFor must wake when they are projected.
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- rm.WaitFor(ctx, 4)
	}()
	l.append("node-a", registerUser("ana", "ana", "Ana")...)
	head := l.append("node-a", registerUser("bob", "bob", "Bob")...)
	if head != 4 {
		t.Fatalf("head = %d, want 4", head)
	}
	if err := <-done; err != nil {
		t.Fatalf("WaitFor(4): %v", err)
	}
	// Everything up to the position is visible as soon as WaitFor returns.
	if _, err := rm.UserByUsername(context.Background(), "bob"); err != nil {
		t.Errorf("bob not visible after WaitFor(%d): %v", head, err)
	}

	t.Run("a position never reached ends with unavailable", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		err := rm.WaitFor(ctx, head+1)
		if code := agenda.ErrorCode(err); code != agenda.EUNAVAILABLE {
			t.Errorf("WaitFor(head+1) code = %q (%v), want unavailable", code, err)
		}
	})
}

func TestProjectorResumesWhereItStopped(t *testing.T) {
	for _, tc := range []struct {
		name   string
		reopen bool // reopen the read model file, as after a restart
	}{
		{name: "same read model handle", reopen: false},
		{name: "read model reopened from its file", reopen: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := mustOpenStore(t)
			l := newEventLog(t, store)
			head := scenario(l, 400)

			path := filepath.Join(t.TempDir(), "readmodel.db")
			rm := mustOpenReadModel(t, path)
			p1 := startProjector(t, store, rm)
			waitUntil(t, 10*time.Second, "the first projector made progress", func() bool { return rm.Position() > 0 })
			p1.stop(t)
			stoppedAt := map[string]int64{}
			for _, name := range readmodel.Projections {
				stoppedAt[name] = rm.Checkpoint(name)
			}
			t.Logf("first projector stopped at %v of head %d", stoppedAt, head)

			// More history arrives while no projector runs.
			head = scenario(l, 100)

			if tc.reopen {
				if err := rm.Close(); err != nil {
					t.Fatalf("close read model: %v", err)
				}
				rm = mustOpenReadModel(t, path)
				for name, want := range stoppedAt {
					if got := rm.Checkpoint(name); got != want {
						t.Errorf("checkpoint of %s after reopening = %d, want %d", name, got, want)
					}
				}
			}
			startProjector(t, store, rm)
			waitProjected(t, rm, head)

			fresh := filepath.Join(t.TempDir(), "fresh.db")
			rmFresh := mustOpenReadModel(t, fresh)
			startProjector(t, store, rmFresh)
			waitProjected(t, rmFresh, head)

			got, want := dump(t, path), dump(t, fresh)
			if len(want["appointments"]) == 0 || len(want["users"]) == 0 {
				t.Fatalf("from-scratch read model is empty: %v", want)
			}
			diffDumps(t, got, want)
		})
	}
}

func TestProjectorRebuild(t *testing.T) {
	ctx := context.Background()
	store := mustOpenStore(t)
	path := filepath.Join(t.TempDir(), "readmodel.db")
	rm := mustOpenReadModel(t, path)
	p := startProjector(t, store, rm)
	l := newEventLog(t, store)
	head := scenario(l, 200)
	waitProjected(t, rm, head)
	want := dump(t, path)

	t.Run("rebuild replays the projection", func(t *testing.T) {
		// Damage the planning projection behind the projector's back, so that
		// only a real replay can make it whole again.
		err := rm.Apply(ctx, readmodel.ProjectionPlanning, head, head, func(tx *readmodel.Tx) error {
			return tx.DeleteAppointment("a00199")
		})
		if err != nil {
			t.Fatalf("damage read model: %v", err)
		}
		if _, err := rm.Appointment(ctx, "a00199", "u0049"); agenda.ErrorCode(err) != agenda.ENOTFOUND {
			t.Fatalf("damaged appointment still readable: %v", err)
		}
		usersBefore := rm.Checkpoint(readmodel.ProjectionUsers)

		if err := p.Rebuild(ctx, readmodel.ProjectionPlanning); err != nil {
			t.Fatalf("Rebuild(agenda): %v", err)
		}
		// New events during the replay must end up projected too.
		before := head
		head = l.append("node-b", createAppointment("during-rebuild", "u0001", l.base, l.base.Add(time.Hour), nil)...)
		waitProjected(t, rm, head)
		if got := rm.Checkpoint(readmodel.ProjectionUsers); got < usersBefore {
			t.Errorf("users checkpoint went from %d to %d: rebuilding agenda touched users", usersBefore, got)
		}
		if _, err := rm.Appointment(ctx, "during-rebuild", "u0001"); err != nil {
			t.Errorf("appointment appended during the rebuild: %v", err)
		}
		got := dump(t, path)
		// Compare everything but the appointment added during the rebuild
		// (the feed: its positions, after the old head).
		for _, table := range []string{"appointments", "agenda_entries", "agenda_streams"} {
			got[table] = dropRows(got[table], "during-rebuild", "user_id=u0001 version=")
			want[table] = dropRows(want[table], "during-rebuild", "user_id=u0001 version=")
		}
		for _, table := range []string{"feed", "feed_events"} {
			got[table] = dropPositionsAfter(t, got[table], before)
		}
		delete(got, "checkpoints")
		delete(want, "checkpoints")
		diffDumps(t, got, want)
	})

	t.Run("rebuild of an unknown projection is not_found", func(t *testing.T) {
		err := p.Rebuild(ctx, "calendars")
		if code := agenda.ErrorCode(err); code != agenda.ENOTFOUND {
			t.Errorf("Rebuild(calendars) code = %q (%v), want not_found", code, err)
		}
	})
}

// dropRows removes the rows that contain any of subs.
// dropPositionsAfter returns rows (of a dump) without those whose position
// column is above head.
func dropPositionsAfter(t *testing.T, rows []string, head int64) []string {
	t.Helper()
	var out []string
	for _, r := range rows {
		_, rest, ok := strings.Cut(r, "position=")
		if !ok {
			t.Fatalf("row without a position: %s", r)
		}
		num, _, _ := strings.Cut(rest, " ")
		pos, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			t.Fatalf("row with a bad position: %s", r)
		}
		if pos <= head {
			out = append(out, r)
		}
	}
	return out
}

func dropRows(rows []string, subs ...string) []string {
	var out []string
next:
	for _, r := range rows {
		for _, s := range subs {
			if strings.Contains(r, s) {
				continue next
			}
		}
		out = append(out, r)
	}
	return out
}

func TestProjectorStopsOnPoisonEvent(t *testing.T) {
	t.Parallel() // the retry backoff makes this test take ~11 s
	ctx := context.Background()
	store := mustOpenStore(t)
	path := filepath.Join(t.TempDir(), "readmodel.db")
	rm := mustOpenReadModel(t, path)
	p := startProjector(t, store, rm)
	l := newEventLog(t, store)

	l.append("node-a", registerUser("ana", "ana", "Ana")...)
	good := l.append("node-a", createAppointment("a1", "ana", l.base, l.base.Add(time.Hour), nil)...)
	waitProjected(t, rm, good)

	// Removing an entry that was never added cannot be applied.
	began := time.Now()
	poison := l.append("node-b", write{events.ScheduleStream("ghost"), events.AgendaEntryRemoved{UserID: "ghost", AppointmentID: "nope"}})
	afterPoison := l.append("node-a", registerUser("bob", "bob", "Bob")...)

	t.Run("users keeps going while agenda retries", func(t *testing.T) {
		waitUntil(t, 5*time.Second, "users passed the poison event", func() bool {
			return rm.Checkpoint(readmodel.ProjectionUsers) >= afterPoison
		})
		if _, err := rm.UserByUsername(ctx, "bob"); err != nil {
			t.Errorf("bob (after the poison event) not projected: %v", err)
		}
		waitUntil(t, 5*time.Second, "agenda reported retrying", func() bool {
			return statusOf(t, p, readmodel.ProjectionPlanning).State == "retrying"
		})
		if !p.Healthy() {
			t.Error("Healthy() = false while only retrying, want true")
		}
	})

	waitUntil(t, 30*time.Second, "the projector reported unhealthy", func() bool { return !p.Healthy() })
	t.Logf("planning projection stopped %s after the poison event", time.Since(began).Round(time.Millisecond))

	t.Run("agenda stopped before the poison event", func(t *testing.T) {
		s := statusOf(t, p, readmodel.ProjectionPlanning)
		if s.State != "stopped" {
			t.Errorf("agenda state = %q, want stopped", s.State)
		}
		if !strings.Contains(s.LastError, "remove agenda entry") {
			t.Errorf("agenda last_error = %q, want it to name the failing change", s.LastError)
		}
		if s.Position != poison-1 {
			t.Errorf("agenda position = %d, want %d (just before the poison event at %d)", s.Position, poison-1, poison)
		}
		if got := storedCheckpoint(t, path, readmodel.ProjectionPlanning); got != poison-1 {
			t.Errorf("stored agenda checkpoint = %d, want %d", got, poison-1)
		}
		if u := statusOf(t, p, readmodel.ProjectionUsers); u.State != "running" {
			t.Errorf("users state = %q, want running", u.State)
		}
	})

	t.Run("users still projects after agenda stopped", func(t *testing.T) {
		head := l.append("node-a", registerUser("carl", "carl", "Carl")...)
		waitUntil(t, 5*time.Second, "users reached the new head", func() bool {
			return rm.Checkpoint(readmodel.ProjectionUsers) == head
		})
		if got := rm.Checkpoint(readmodel.ProjectionPlanning); got != poison-1 {
			t.Errorf("agenda checkpoint moved to %d after stopping, want %d", got, poison-1)
		}
		wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		if err := rm.WaitFor(wctx, head); agenda.ErrorCode(err) != agenda.EUNAVAILABLE {
			t.Errorf("WaitFor(head) with agenda stopped = %v, want unavailable", err)
		}
	})

	t.Run("a stopped projection cannot be rebuilt while running", func(t *testing.T) {
		err := p.Rebuild(ctx, readmodel.ProjectionPlanning)
		if code := agenda.ErrorCode(err); code != agenda.ECONFLICT {
			t.Errorf("Rebuild(stopped agenda) code = %q (%v), want conflict", code, err)
		}
	})
}

func statusOf(tb testing.TB, p *runningProjector, name string) projections.Status {
	tb.Helper()
	for _, s := range p.Status() {
		if s.Name == name {
			return s
		}
	}
	tb.Fatalf("no status for projection %s", name)
	return projections.Status{}
}

// storedCheckpoint reads a projection's checkpoint from the read model file
// itself, not from the in-memory copy.
func storedCheckpoint(tb testing.TB, path, projection string) int64 {
	tb.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro&_query_only=1")
	if err != nil {
		tb.Fatalf("open %s read-only: %v", path, err)
	}
	defer db.Close()
	var pos int64
	err = db.QueryRow("SELECT position FROM checkpoints WHERE projection = ?", projection).Scan(&pos)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		tb.Fatalf("read checkpoint of %s: %v", projection, err)
	}
	return pos
}

func TestProjectorRebuildWhileCatchingUp(t *testing.T) {
	ctx := context.Background()
	store := mustOpenStore(t)
	path := filepath.Join(t.TempDir(), "readmodel.db")
	rm := mustOpenReadModel(t, path)
	l := newEventLog(t, store)
	head := scenario(l, 400)
	p := startProjector(t, store, rm)
	// Rebuild while batches are being applied: the handlers update their
	// status concurrently.
	for i := 0; i < 5; i++ {
		if err := p.Rebuild(ctx, readmodel.ProjectionPlanning); err != nil {
			t.Fatalf("Rebuild(agenda): %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	waitProjected(t, rm, head)

	fresh := filepath.Join(t.TempDir(), "fresh.db")
	rmFresh := mustOpenReadModel(t, fresh)
	startProjector(t, store, rmFresh)
	waitProjected(t, rmFresh, head)
	diffDumps(t, dump(t, path), dump(t, fresh))
}
