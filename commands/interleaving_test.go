package commands_test

import (
	"context"
	"sync"
	"testing"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/commands"
	"github.com/agendahq/agenda/events"
)

// versionLog checks a batch's expectations against stream versions as the
// state machine does (eventstore.Tx.AppendDecoded), and moves the versions
// of the streams it writes. before, if set, runs once, before the first
// proposal is checked: another command committing between a decision and
// its proposal, the interleaving the expectations exist to catch.
type versionLog struct {
	mu        sync.Mutex
	versions  map[string]int64
	pos       int64
	before    func()
	committed []events.Batch
}

// logFor starts a versionLog at the versions the fake read model holds.
func logFor(r *fakeRead) *versionLog {
	l := &versionLog{versions: map[string]int64{}}
	for id, g := range r.groups {
		l.versions[events.GroupStream(id)] = g.Version
	}
	for u, v := range r.agendaVersions {
		l.versions[events.ScheduleStream(u)] = v
	}
	return l
}

func (l *versionLog) Propose(ctx context.Context, b events.Batch) (events.Committed, error) {
	l.mu.Lock()
	hook := l.before
	l.before = nil
	l.mu.Unlock()
	if hook != nil {
		hook()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, x := range b.Expect {
		if l.versions[x.Stream] != x.Version {
			return events.Committed{}, &events.VersionConflictError{Stream: x.Stream, Expected: x.Version, Actual: l.versions[x.Stream], Position: l.pos}
		}
	}
	c := events.Committed{FirstPosition: l.pos + 1}
	for _, e := range b.Events {
		l.pos++
		l.versions[e.Stream] = e.Version
	}
	c.LastPosition = l.pos
	l.committed = append(l.committed, b)
	return c, nil
}

// projectGroupAppointment folds a committed group appointment into the
// fake read model, as the projector does before a decision taken again
// reads it.
func projectGroupAppointment(r *fakeRead, l *versionLog, res commands.Result, groupID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	a := *res.Appointment
	a.GroupID = &groupID
	a.NeedsAll = !r.groups[groupID].Hierarchical
	a.Version = l.versions[events.AppointmentStream(a.ID)]
	r.appointments[a.ID] = a
	for _, p := range a.Participants {
		v := l.versions[events.ScheduleStream(p.UserID)]
		s := r.schedules[p.UserID]
		s.Version = v
		r.schedules[p.UserID] = s
		r.agendaVersions[p.UserID] = v
	}
}

// setDuring makes a group appointment commit between the decision of the
// command under test and its proposal.
func setDuring(t *testing.T, r *fakeRead, l *versionLog, h *commands.Handlers, organiser, groupID string) *commands.Result {
	t.Helper()
	var created commands.Result
	l.before = func() {
		var err error
		created, err = h.CreateGroupAppointment(context.Background(), commands.CreateGroupAppointment{
			ActorID: organiser, GroupID: groupID, Title: "Set meanwhile", Start: apptFrom, End: apptTo})
		if err != nil {
			t.Errorf("the appointment set meanwhile: %v", err)
			return
		}
		projectGroupAppointment(r, l, created, groupID)
	}
	return &created
}

// A flat group's creator deletes it while a member sets an appointment in
// it. Setting an appointment expects the group stream but does not move
// it, so a deletion that expected only the group stream committed after
// it: the group gone with an appointment still waiting for answers, which
// DeleteGroup exists to refuse (found by a review).
func TestDeleteGroupRacingAGroupAppointment(t *testing.T) {
	r := groupWorld(t)
	l := logFor(r)
	h := newHandlers(l, r)
	created := setDuring(t, r, l, h, "bob", "f")
	_, err := h.DeleteGroup(context.Background(), commands.DeleteGroup{ActorID: "ana", GroupID: "f"})
	if created.Appointment == nil || created.Appointment.Status != agenda.StatusPending {
		t.Fatalf("the appointment set meanwhile: %+v, want a pending one", created.Appointment)
	}
	wantCode(t, err, agenda.ECONFLICT, "")
}

// A member leaves a hierarchical group while its head imposes an
// appointment on them. The departure expected only the group stream, which
// the imposition does not move: it committed after it and left the imposed
// appointment in the agenda of someone no longer in the group (found by a
// review).
func TestLeavingRacingAnImposition(t *testing.T) {
	r := groupWorld(t)
	l := logFor(r)
	h := newHandlers(l, r)
	created := setDuring(t, r, l, h, "boss", "h")
	if _, err := h.RemoveMember(context.Background(), commands.RemoveMember{ActorID: "low", GroupID: "h", UserID: "low"}); err != nil {
		t.Fatalf("leaving: %v", err)
	}
	if created.Appointment == nil {
		t.Fatal("nothing was imposed meanwhile")
	}
	for _, b := range l.committed {
		for _, e := range b.Events {
			if e.Stream == events.ScheduleStream("low") && e.Type == "agenda.entry_removed" {
				return
			}
		}
	}
	t.Fatalf("low left the group, and %s, imposed on them meanwhile, stays in their agenda", created.ID)
}
