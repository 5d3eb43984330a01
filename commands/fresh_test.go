package commands_test

import (
	"context"
	"testing"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/commands"
)

// TestRefusalsAreConfirmedOnFreshState is finding 3 of issue 8: a PATCH sent
// to a follower right after the create was acknowledged elsewhere found no
// appointment in its lagging read model and answered 404. A refusal that
// depends on what the command read is confirmed on fresh state (Fresh, a
// read-index barrier) before it is answered; a node that cannot get fresh
// state answers unavailable, never the stale refusal.
func TestRefusalsAreConfirmedOnFreshState(t *testing.T) {
	patch := commands.UpdateAppointment{ActorID: "ana", AppointmentID: "a1", Title: ptr("Retro")}

	t.Run("the lagging read model catches up: the write succeeds", func(t *testing.T) {
		read := world(t)
		created := read.appointments["a1"]
		delete(read.appointments, "a1") // not projected here yet
		h := newHandlers(&fakeLog{}, read)
		calls := 0
		h.Fresh = func(context.Context) error {
			calls++
			read.mu.Lock()
			read.appointments["a1"] = created
			read.mu.Unlock()
			return nil
		}
		res, err := h.UpdateAppointment(context.Background(), patch)
		if err != nil {
			t.Fatalf("UpdateAppointment = %v, want success once the read model caught up", err)
		}
		if calls != 1 {
			t.Fatalf("Fresh called %d times, want 1", calls)
		}
		if res.Appointment == nil || res.Appointment.Title != "Retro" || res.Appointment.Version != created.Version+1 {
			t.Fatalf("answer = %+v, want the patched appointment at version %d", res.Appointment, created.Version+1)
		}
	})
	t.Run("no quorum to confirm: unavailable, not not_found", func(t *testing.T) {
		read := world(t)
		delete(read.appointments, "a1")
		h := newHandlers(&fakeLog{}, read)
		h.Fresh = func(context.Context) error {
			return agenda.Errorf(agenda.EUNAVAILABLE, "no quorum")
		}
		_, err := h.UpdateAppointment(context.Background(), patch)
		wantCode(t, err, agenda.EUNAVAILABLE, "")
	})
	t.Run("still refused on fresh state: the refusal stands", func(t *testing.T) {
		read := world(t)
		delete(read.appointments, "a1")
		h := newHandlers(&fakeLog{}, read)
		h.Fresh = func(context.Context) error { return nil }
		_, err := h.UpdateAppointment(context.Background(), patch)
		wantCode(t, err, agenda.ENOTFOUND, "")
	})
	t.Run("input errors need no confirmation", func(t *testing.T) {
		h := newHandlers(&fakeLog{}, world(t))
		h.Fresh = func(context.Context) error { t.Fatal("Fresh called for an input error"); return nil }
		_, err := h.UpdateAppointment(context.Background(), commands.UpdateAppointment{ActorID: "ana", AppointmentID: "a1", Title: ptr(" ")})
		wantCode(t, err, agenda.EINVALID, "title")
	})
}

// TestLoginRefusalsAreConfirmedOnFreshState: a login on a node that has not
// yet projected an account registered (or a password changed) elsewhere a
// moment ago is confirmed on fresh state before it is refused, like the
// commands' refusals; without a quorum it is unavailable, not unauthorized.
func TestLoginRefusalsAreConfirmedOnFreshState(t *testing.T) {
	t.Run("an account registered elsewhere: the login succeeds", func(t *testing.T) {
		read := world(t)
		bob := read.users["bob"]
		delete(read.users, "bob")
		h := newHandlers(&fakeLog{}, read)
		h.Fresh = func(context.Context) error {
			read.mu.Lock()
			read.users["bob"] = bob
			read.mu.Unlock()
			return nil
		}
		if u, err := h.Authenticate(context.Background(), "bob", password); err != nil || u.ID != "bob" {
			t.Fatalf("Authenticate = %q, %v; want bob once the read model caught up", u.ID, err)
		}
	})
	t.Run("an account projected just after the refused check: the login succeeds", func(t *testing.T) {
		// Found by agenda bench on a follower: the account arrived between
		// the refused check and the confirmation, and was taken for the
		// account the refused check had seen.
		read := world(t)
		bob := read.users["bob"]
		delete(read.users, "bob")
		read.afterUserLookup = func() {
			read.mu.Lock()
			read.users["bob"] = bob
			read.mu.Unlock()
		}
		h := newHandlers(&fakeLog{}, read)
		h.Fresh = func(context.Context) error { return nil }
		if u, err := h.Authenticate(context.Background(), "bob", password); err != nil || u.ID != "bob" {
			t.Fatalf("Authenticate = %q, %v; want bob", u.ID, err)
		}
	})
	t.Run("no quorum: unavailable", func(t *testing.T) {
		h := newHandlers(&fakeLog{}, world(t))
		h.Fresh = func(context.Context) error { return agenda.Errorf(agenda.EUNAVAILABLE, "no quorum") }
		_, err := h.Authenticate(context.Background(), "bob", "wrong password")
		wantCode(t, err, agenda.EUNAVAILABLE, "")
	})
	t.Run("still wrong on fresh state", func(t *testing.T) {
		h := newHandlers(&fakeLog{}, world(t))
		h.Fresh = func(context.Context) error { return nil }
		_, err := h.Authenticate(context.Background(), "bob", "wrong password")
		wantCode(t, err, agenda.EUNAUTHORIZED, "")
	})
	t.Run("a password changed elsewhere: the change succeeds", func(t *testing.T) {
		read := world(t)
		newer := hashOf(t, "a newer password 1")
		h := newHandlers(&fakeLog{}, read)
		h.Fresh = func(context.Context) error {
			read.mu.Lock()
			u := read.users["bob"]
			u.PasswordHash, u.Version = newer, u.Version+1
			read.users["bob"] = u
			read.mu.Unlock()
			return nil
		}
		_, err := h.ChangePassword(context.Background(), commands.ChangePassword{UserID: "bob",
			CurrentPassword: "a newer password 1", NewPassword: "the newest password 2"})
		if err != nil {
			t.Fatalf("ChangePassword = %v, want success once the read model caught up", err)
		}
	})
}

// TestWritesThatChangeNothingWriteNothing: a PATCH to the values a record
// holds commits no event, so no version moves (every other client's ETag
// stays good) and no participant hears of an "update" (a review found a
// repeated PATCH doing both). Finding nothing to change depends on what the
// node read, like a refusal: it is confirmed on fresh state, or a change
// made elsewhere meanwhile would make the write look done when it is not.
func TestWritesThatChangeNothingWriteNothing(t *testing.T) {
	ctx := context.Background()
	// Each answers the state it read (not a later read of it, which a
	// write landing meanwhile would have moved on).
	answered := map[string]func(commands.Result) bool{
		"an appointment": func(r commands.Result) bool { return r.Appointment != nil && r.Appointment.Title == "Standup" },
		"a profile":      func(r commands.Result) bool { return r.User != nil && r.User.DisplayName == "Ana" },
		"a group":        func(r commands.Result) bool { return r.Group != nil && r.Group.Name == "Flat" },
		"a rank":         func(r commands.Result) bool { return r.Member != nil && r.Member.Rank == 500 },
	}
	same := map[string]func(*commands.Handlers) (commands.Result, error){
		"an appointment": func(h *commands.Handlers) (commands.Result, error) {
			return h.UpdateAppointment(ctx, commands.UpdateAppointment{ActorID: "ana", AppointmentID: "a1",
				Title: ptr("Standup"), Location: ptr("Room 1"), Start: ptr(apptFrom), End: ptr(apptTo), Privacy: ptr(agenda.PrivacyFull)})
		},
		"a profile": func(h *commands.Handlers) (commands.Result, error) {
			return h.ChangeProfile(ctx, commands.ChangeProfile{UserID: "ana", DisplayName: ptr("Ana"), Email: ptr("ana@example.com")})
		},
		"a group": func(h *commands.Handlers) (commands.Result, error) {
			return h.UpdateGroup(ctx, commands.UpdateGroup{ActorID: "ana", GroupID: "f", Name: ptr("Flat"), Description: ptr("")})
		},
		"a rank": func(h *commands.Handlers) (commands.Result, error) {
			return h.ChangeRank(ctx, commands.ChangeRank{ActorID: "boss", GroupID: "h", UserID: "mid", Rank: 500})
		},
	}
	for name, write := range same {
		t.Run(name+" set to what it holds", func(t *testing.T) {
			read := groupWorld(t)
			w := world(t)
			read.users["ana"], read.appointments["a1"] = w.users["ana"], w.appointments["a1"]
			log := &fakeLog{}
			h := newHandlers(log, read)
			calls := 0
			h.Fresh = func(context.Context) error { calls++; return nil }
			res, err := write(h)
			if err != nil {
				t.Fatalf("write: %v", err)
			}
			noProposal(t, log)
			if res.Position != 0 || calls != 1 {
				t.Errorf("position %d, Fresh called %d times; want 0 and once", res.Position, calls)
			}
			if !answered[name](res) {
				t.Errorf("answer = %+v, want the state read", res)
			}
		})
	}
	t.Run("a lagging node's no-op is decided again on fresh state", func(t *testing.T) {
		read := world(t)
		a := read.appointments["a1"]
		a.Title = "Retro" // what this node shows; since renamed elsewhere
		read.appointments["a1"] = a
		log := &fakeLog{}
		h := newHandlers(log, read)
		h.Fresh = func(context.Context) error {
			read.mu.Lock()
			a.Title, a.Version = "Planning", a.Version+1
			read.appointments["a1"] = a
			read.mu.Unlock()
			return nil
		}
		res, err := h.UpdateAppointment(ctx, commands.UpdateAppointment{ActorID: "ana", AppointmentID: "a1", Title: ptr("Retro")})
		if err != nil {
			t.Fatalf("UpdateAppointment: %v", err)
		}
		if len(log.proposed()) != 1 || res.Appointment == nil || res.Appointment.Title != "Retro" {
			t.Fatalf("proposed %d batches, answer %+v; want the title set back to Retro", len(log.proposed()), res.Appointment)
		}
	})
}
