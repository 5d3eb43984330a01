package commands_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/commands"
	"github.com/agendahq/agenda/events"
)

// expectations returns a batch's expected versions by stream.
func expectations(b events.Batch) map[string]int64 {
	out := map[string]int64{}
	for _, x := range b.Expect {
		out[x.Stream] = x.Version
	}
	return out
}

func TestProposedBatchExpectsTheVersionsRead(t *testing.T) {
	ctx := commands.WithCorrelationID(context.Background(), "req-42")
	bobBusy := agenda.Schedule{Version: 2, Conflicts: []agenda.Slot{{AppointmentID: "x", Title: "Dentist", Start: apptFrom, End: apptTo}}}

	tests := []struct {
		name  string
		setup func(r *fakeRead)
		run   func(h *commands.Handlers) (commands.Result, error)
		want  map[string]int64
		types []string
		actor string
	}{
		{
			name: "register user",
			run: func(h *commands.Handlers) (commands.Result, error) {
				return h.RegisterUser(ctx, commands.RegisterUser{Username: "carla", Password: password})
			},
			// id-001 is the user ID; the hash is computed before it.
			want:  map[string]int64{"user-id-001": 0, "username-carla": 0},
			types: []string{"user.registered", "username.claimed"},
			actor: "id-001",
		},
		{
			name: "change profile",
			run: func(h *commands.Handlers) (commands.Result, error) {
				return h.ChangeProfile(ctx, commands.ChangeProfile{UserID: "ana", DisplayName: ptr("Ana María")})
			},
			want:  map[string]int64{"user-ana": 3},
			types: []string{"user.profile_changed"},
			actor: "ana",
		},
		{
			name: "change password",
			run: func(h *commands.Handlers) (commands.Result, error) {
				return h.ChangePassword(ctx, commands.ChangePassword{UserID: "ana", CurrentPassword: password, NewPassword: "a much newer password"})
			},
			want:  map[string]int64{"user-ana": 3},
			types: []string{"user.password_changed"},
			actor: "ana",
		},
		{
			name: "create appointment",
			run: func(h *commands.Handlers) (commands.Result, error) {
				return h.CreateAppointment(ctx, commands.CreateAppointment{OwnerID: "ana", Title: " Lunch ", Start: apptFrom.Add(3 * time.Hour), End: apptTo.Add(3 * time.Hour)})
			},
			want:  map[string]int64{"appointment-id-001": 0, "agenda-ana": 7},
			types: []string{"appointment.created", "agenda.entry_added"},
			actor: "ana",
		},
		{
			name: "update appointment without moving it",
			run: func(h *commands.Handlers) (commands.Result, error) {
				return h.UpdateAppointment(ctx, commands.UpdateAppointment{ActorID: "ana", AppointmentID: "a1", Title: ptr("Retro")})
			},
			want:  map[string]int64{"appointment-a1": 5},
			types: []string{"appointment.updated"},
			actor: "ana",
		},
		{
			name:  "update appointment moving it, a pending participant's clash does not block",
			setup: func(r *fakeRead) { r.schedules["bob"] = bobBusy },
			run: func(h *commands.Handlers) (commands.Result, error) {
				return h.UpdateAppointment(ctx, commands.UpdateAppointment{ActorID: "ana", AppointmentID: "a1", Start: ptr(apptFrom.Add(time.Hour)), End: ptr(apptTo.Add(time.Hour))})
			},
			want:  map[string]int64{"appointment-a1": 5, "agenda-ana": 7, "agenda-bob": 2},
			types: []string{"appointment.updated", "agenda.entry_rescheduled", "agenda.entry_rescheduled"},
			actor: "ana",
		},
		{
			name: "delete appointment",
			run: func(h *commands.Handlers) (commands.Result, error) {
				return h.DeleteAppointment(ctx, commands.DeleteAppointment{ActorID: "ana", AppointmentID: "a1"})
			},
			want:  map[string]int64{"appointment-a1": 5, "agenda-ana": 7, "agenda-bob": 2},
			types: []string{"appointment.deleted", "agenda.entry_removed", "agenda.entry_removed"},
			actor: "ana",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			log := &fakeLog{position: 10}
			r := world(t)
			if tc.setup != nil {
				tc.setup(r)
			}
			h := newHandlers(log, r)
			res, err := tc.run(h)
			if err != nil {
				t.Fatalf("command failed: %v", err)
			}
			bs := log.proposed()
			if len(bs) != 1 {
				t.Fatalf("proposed %d batches, want 1", len(bs))
			}
			b := bs[0]
			got := expectations(b)
			if len(got) != len(tc.want) || len(b.Expect) != len(tc.want) {
				t.Errorf("expectations = %v, want exactly %v", b.Expect, tc.want)
			}
			for s, v := range tc.want {
				if gv, ok := got[s]; !ok || gv != v {
					t.Errorf("expected version of %s = %d (present %v), want %d", s, gv, ok, v)
				}
			}
			if err := b.Validate(); err != nil {
				t.Errorf("batch does not validate: %v", err)
			}
			if len(b.Events) != len(tc.types) {
				t.Fatalf("batch holds %d events, want %v", len(b.Events), tc.types)
			}
			for i, e := range b.Events {
				if e.Type != tc.types[i] {
					t.Errorf("event %d type = %s, want %s", i, e.Type, tc.types[i])
				}
				if e.OriginNode != "node-x" || !e.Time.Equal(now) || e.Actor != tc.actor || e.CorrelationID != "req-42" {
					t.Errorf("event %d meta = origin %q time %s actor %q correlation %q, want node-x/%s/%s/req-42",
						i, e.OriginNode, e.Time, e.Actor, e.CorrelationID, now, tc.actor)
				}
				if _, err := e.Decode(); err != nil {
					t.Errorf("event %d does not decode: %v", i, err)
				}
			}
			if want := int64(10 + len(b.Events)); res.Position != want {
				t.Errorf("result position = %d, want %d (the batch's last event)", res.Position, want)
			}
		})
	}
}

func TestVersionConflictWaitsAndDecidesAgain(t *testing.T) {
	ctx := context.Background()
	conflict := &events.VersionConflictError{Stream: "agenda-ana", Expected: 7, Actual: 8, Position: 42}

	t.Run("the new decision expects the new version", func(t *testing.T) {
		log := &fakeLog{position: 42, answers: []func(events.Batch) (events.Committed, error){fail(conflict)}}
		r := world(t)
		// By the time the read model reaches 42 it shows the other write.
		r.onWait = func(int64) { r.schedules["ana"] = agenda.Schedule{Version: 8} }
		h := newHandlers(log, r)
		res, err := h.CreateAppointment(ctx, commands.CreateAppointment{OwnerID: "ana", Title: "Lunch", Start: apptFrom, End: apptTo})
		if err != nil {
			t.Fatalf("CreateAppointment: %v", err)
		}
		bs := log.proposed()
		if len(bs) != 2 {
			t.Fatalf("proposed %d batches, want 2", len(bs))
		}
		if len(r.waited) != 1 || r.waited[0] != 42 {
			t.Errorf("waited for %v, want [42] (the conflicting stream's position)", r.waited)
		}
		if r.scheduleCalls != 2 {
			t.Errorf("read the schedule %d times, want 2 (decided again)", r.scheduleCalls)
		}
		if got := expectations(bs[0])["agenda-ana"]; got != 7 {
			t.Errorf("first batch expects agenda-ana at %d, want 7", got)
		}
		if got := expectations(bs[1])["agenda-ana"]; got != 8 {
			t.Errorf("second batch expects agenda-ana at %d, want 8", got)
		}
		if bs[0].Events[0].ID == bs[1].Events[0].ID {
			t.Error("the second decision reused the first one's event IDs")
		}
		if res.ID != "id-001" || res.Position != 44 {
			t.Errorf("result = %+v, want the appointment id-001 at position 44", res)
		}
	})

	t.Run("the new decision can refuse", func(t *testing.T) {
		log := &fakeLog{answers: []func(events.Batch) (events.Committed, error){fail(conflict)}}
		r := world(t)
		r.onWait = func(int64) {
			r.schedules["ana"] = agenda.Schedule{Version: 8, Conflicts: []agenda.Slot{{AppointmentID: "rival", Start: apptFrom, End: apptTo}}}
		}
		_, err := newHandlers(log, r).CreateAppointment(ctx, commands.CreateAppointment{OwnerID: "ana", Title: "Lunch", Start: apptFrom, End: apptTo})
		wantCode(t, err, agenda.ESCHEDULECONFLICT, "")
		if n := len(log.proposed()); n != 1 {
			t.Errorf("proposed %d batches, want 1", n)
		}
	})

	t.Run("a read model that does not catch up ends the command", func(t *testing.T) {
		log := &fakeLog{answers: []func(events.Batch) (events.Committed, error){fail(conflict)}}
		r := world(t)
		r.waitErr = agenda.Errorf(agenda.EUNAVAILABLE, "read model behind")
		_, err := newHandlers(log, r).ChangeProfile(ctx, commands.ChangeProfile{UserID: "ana", Email: ptr("a@b.example")})
		wantCode(t, err, agenda.EUNAVAILABLE, "")
	})

	t.Run("conflicts wrapped by the log are recognised", func(t *testing.T) {
		log := &fakeLog{answers: []func(events.Batch) (events.Committed, error){fail(fmt.Errorf("apply: %w", conflict))}}
		if _, err := newHandlers(log, world(t)).ChangeProfile(ctx, commands.ChangeProfile{UserID: "ana", Email: ptr("a@b.example")}); err != nil {
			t.Errorf("ChangeProfile: %v", err)
		}
		if n := len(log.proposed()); n != 2 {
			t.Errorf("proposed %d batches, want 2", n)
		}
	})
}

func TestTooManyConflictsIsConflict(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name       string
		maxRetries int
		want       int // proposals
	}{
		{name: "default of 8 retries", maxRetries: 0, want: 9},
		{name: "3 retries", maxRetries: 3, want: 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := &fakeLog{}
			for i := 0; i < 100; i++ {
				log.answers = append(log.answers, fail(&events.VersionConflictError{Stream: "user-ana", Expected: 3, Actual: 4, Position: int64(i)}))
			}
			r := world(t)
			h := newHandlers(log, r)
			h.MaxRetries = tc.maxRetries
			_, err := h.ChangeProfile(ctx, commands.ChangeProfile{UserID: "ana", Email: ptr("a@b.example")})
			wantCode(t, err, agenda.ECONFLICT, "")
			if n := len(log.proposed()); n != tc.want {
				t.Errorf("proposed %d batches, want %d", n, tc.want)
			}
			if len(r.waited) != tc.want-1 {
				t.Errorf("waited %d times, want %d", len(r.waited), tc.want-1)
			}
			// The refusal names the last conflict's position, so that
			// its X-Agenda-Position shows the change that won.
			if p := agenda.ErrorPosition(err); p != int64(tc.want-1) {
				t.Errorf("refusal at position %d, want %d", p, tc.want-1)
			}
		})
	}
}

// A change the log refuses as no longer applying was refused on the
// leader's state: the node catches up with the cluster before it answers,
// so that the refusal's position shows what made it (a review found the
// answer naming this node's lagging position).
func TestNoLongerAppliesCatchesUpBeforeAnswering(t *testing.T) {
	log := &fakeLog{answers: []func(events.Batch) (events.Committed, error){fail(fmt.Errorf("%w: appointment-a1 ended", events.ErrIllegalTransition))}}
	h := newHandlers(log, world(t))
	fresh := 0
	h.Fresh = func(context.Context) error { fresh++; return nil }
	_, err := h.CreateAppointment(context.Background(), commands.CreateAppointment{OwnerID: "ana", Title: "Lunch", Start: apptFrom, End: apptTo})
	wantCode(t, err, agenda.ECONFLICT, "")
	if fresh != 1 {
		t.Errorf("caught up %d times before answering, want 1", fresh)
	}
}

func TestOutcomeUnknown(t *testing.T) {
	ctx := context.Background()
	create := func(h *commands.Handlers) (commands.Result, error) {
		return h.CreateAppointment(ctx, commands.CreateAppointment{OwnerID: "ana", Title: "Lunch", Start: apptFrom, End: apptTo})
	}
	// duplicateOf answers that the batch's first event is already committed
	// at position 100.
	duplicateOf := func(b events.Batch) (events.Committed, error) {
		return events.Committed{}, &events.DuplicateEventError{EventID: b.Events[0].ID, Position: 100}
	}

	t.Run("then a duplicate of the same batch is success", func(t *testing.T) {
		log := &fakeLog{answers: []func(events.Batch) (events.Committed, error){fail(events.ErrOutcomeUnknown), duplicateOf}}
		r := world(t)
		res, err := create(newHandlers(log, r))
		if err != nil {
			t.Fatalf("CreateAppointment: %v", err)
		}
		if res.Position != 101 || res.ID != "id-001" {
			t.Errorf("result = %+v, want id-001 ending at position 101", res)
		}
		bs := log.proposed()
		if len(bs) != 2 {
			t.Fatalf("proposed %d batches, want 2", len(bs))
		}
		for i := range bs[0].Events {
			if bs[0].Events[i].ID != bs[1].Events[i].ID {
				t.Errorf("retry event %d has ID %s, want the same batch again (%s)", i, bs[1].Events[i].ID, bs[0].Events[i].ID)
			}
		}
		if r.scheduleCalls != 1 || len(r.waited) != 0 {
			t.Errorf("decided %d times and waited %v, want one decision and no wait", r.scheduleCalls, r.waited)
		}
	})

	t.Run("then a commit is success", func(t *testing.T) {
		log := &fakeLog{answers: []func(events.Batch) (events.Committed, error){fail(events.ErrOutcomeUnknown), fail(events.ErrOutcomeUnknown)}}
		if _, err := create(newHandlers(log, world(t))); err != nil {
			t.Fatalf("CreateAppointment: %v", err)
		}
		if n := len(log.proposed()); n != 3 {
			t.Errorf("proposed %d batches, want 3", n)
		}
	})

	t.Run("for good is unavailable", func(t *testing.T) {
		log := &fakeLog{}
		for i := 0; i < 20; i++ {
			log.answers = append(log.answers, fail(events.ErrOutcomeUnknown))
		}
		_, err := create(newHandlers(log, world(t)))
		wantCode(t, err, agenda.EUNAVAILABLE, "")
		if n := len(log.proposed()); n != 6 {
			t.Errorf("proposed %d batches, want 6", n)
		}
	})

	t.Run("a duplicate without an unknown outcome first is not success", func(t *testing.T) {
		log := &fakeLog{answers: []func(events.Batch) (events.Committed, error){duplicateOf}}
		_, err := create(newHandlers(log, world(t)))
		if err == nil {
			t.Fatal("succeeded, want an error: a fresh batch colliding with the log is a bug")
		}
		if code := agenda.ErrorCode(err); code != agenda.EINTERNAL {
			t.Errorf("code = %q, want internal", code)
		}
	})

	t.Run("a duplicate of another event is not success", func(t *testing.T) {
		log := &fakeLog{answers: []func(events.Batch) (events.Committed, error){
			fail(events.ErrOutcomeUnknown),
			func(b events.Batch) (events.Committed, error) {
				return events.Committed{}, &events.DuplicateEventError{EventID: "someone-elses", Position: 7}
			},
		}}
		if _, err := create(newHandlers(log, world(t))); err == nil {
			t.Error("succeeded, want an error")
		}
	})

	t.Run("a request that ends while retrying is unavailable", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		log := &fakeLog{answers: []func(events.Batch) (events.Committed, error){
			func(events.Batch) (events.Committed, error) {
				cancel()
				return events.Committed{}, events.ErrOutcomeUnknown
			},
		}}
		_, err := newHandlers(log, world(t)).CreateAppointment(cctx, commands.CreateAppointment{OwnerID: "ana", Title: "Lunch", Start: apptFrom, End: apptTo})
		wantCode(t, err, agenda.EUNAVAILABLE, "")
	})

	t.Run("then a refusal leaves the outcome unknown", func(t *testing.T) {
		notLeader := agenda.Errorf(agenda.EUNAVAILABLE, "not the leader")
		log := &fakeLog{answers: []func(events.Batch) (events.Committed, error){fail(events.ErrOutcomeUnknown), fail(notLeader)}}
		_, err := create(newHandlers(log, world(t)))
		wantCode(t, err, agenda.EUNAVAILABLE, "")
		if got := agenda.ErrorDetails(err)["outcome"]; got != "unknown" {
			t.Errorf("details.outcome = %v, want unknown: the first attempt may have committed", got)
		}
	})

	t.Run("a log timeout is unavailable", func(t *testing.T) {
		log := &fakeLog{answers: []func(events.Batch) (events.Committed, error){fail(fmt.Errorf("apply: %w", context.DeadlineExceeded))}}
		_, err := create(newHandlers(log, world(t)))
		wantCode(t, err, agenda.EUNAVAILABLE, "")
	})
}

// TestLeaderOnAnOlderBuildIsUnavailable: during a rolling update a leader
// still on an older build refuses an event only newer builds write
// (ErrUnknownType, passed back over forwarding); the client is told to
// retry, with 503, not given an internal error.
func TestLeaderOnAnOlderBuildIsUnavailable(t *testing.T) {
	unknown := errors.Join(events.ErrUnknownType, errors.New(`on the leader: "group.created" schema version 2`))
	log := &fakeLog{answers: []func(events.Batch) (events.Committed, error){fail(unknown)}}
	_, err := newHandlers(log, groupWorld(t)).CreateGroup(context.Background(), commands.CreateGroup{ActorID: "dan", Name: "Team"})
	wantCode(t, err, agenda.EUNAVAILABLE, "")
	if n := len(log.proposed()); n != 1 {
		t.Errorf("proposed %d batches, want 1 (no blind retry)", n)
	}
}

// A batch the log refuses as too large for one entry is the client's
// too_large (413), saying how many events and the limit, and is not
// proposed again.
func TestBatchTooLargeIsTooLarge(t *testing.T) {
	tooLarge := fmt.Errorf("%w: 90000 events in 20000000 bytes", events.ErrBatchTooLarge)
	log := &fakeLog{answers: []func(events.Batch) (events.Committed, error){fail(tooLarge)}}
	_, err := newHandlers(log, groupWorld(t)).CreateGroup(context.Background(), commands.CreateGroup{ActorID: "dan", Name: "Team"})
	wantCode(t, err, agenda.ETOOLARGE, "")
	if d := agenda.ErrorDetails(err); d["max_bytes"] != events.MaxBatchBytes || d["events"] == nil {
		t.Errorf("details = %v, want events and max_bytes", d)
	}
	if n := len(log.proposed()); n != 1 {
		t.Errorf("proposed %d batches, want 1", n)
	}
}
