package commands_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/commands"
	"github.com/agendahq/agenda/events"
)

// atLevel returns handlers for a cluster whose nodes read event level l.
func atLevel(log *fakeLog, r *fakeRead, l int) *commands.Handlers {
	h := newHandlers(log, r)
	h.Level = func() int { return l }
	return h
}

// schemas returns the schema version of each event the one batch proposed.
func schemas(t *testing.T, log *fakeLog) []int {
	t.Helper()
	var out []int
	for _, b := range log.proposed() {
		for _, e := range b.Events {
			if l := events.LevelOf(e.Type, e.SchemaVersion); l > 1 {
				t.Errorf("%s v%d is level %d, which a level-1 node halts on", e.Type, e.SchemaVersion, l)
			}
			out = append(out, e.SchemaVersion)
		}
	}
	return out
}

// Below level 2 a group's creator joins by an event of their own, as
// builds before level 2 wrote it: the group starts at version 2.
func TestCreateGroupBelowLevelTwo(t *testing.T) {
	log := &fakeLog{}
	res, err := atLevel(log, groupWorld(t), 1).CreateGroup(context.Background(),
		commands.CreateGroup{ActorID: "dan", Name: "Team", Hierarchical: true})
	if err != nil {
		t.Fatalf("CreateGroup: %v", err)
	}
	evs := proposal(t, log, "dan", map[string]int64{"group-id-001": 0}, "group.created", "group.member_added")
	if got := schemas(t, log); !reflect.DeepEqual(got, []int{1, 1}) {
		t.Errorf("schema versions %v, want [1 1]", got)
	}
	want := events.GroupCreated{GroupID: "id-001", Name: "Team", Hierarchical: true, CreatorID: "dan", CreatorFollows: true}
	if c := evs[0].(events.GroupCreated); c != want {
		t.Errorf("created = %+v, want %+v", c, want)
	}
	if m := evs[1].(events.GroupMemberAdded); m != (events.GroupMemberAdded{GroupID: "id-001", UserID: "dan", Rank: agenda.MaxRank}) {
		t.Errorf("member added = %+v, want dan at the top rank", m)
	}
	g := res.Group
	if g == nil || g.Version != 2 || g.MyRank != agenda.MaxRank || len(g.Members) != 1 {
		t.Fatalf("answer = %+v, want version 2 with dan alone at the top rank", g)
	}
	if m := g.Members[0]; m.UserID != "dan" || m.Status != agenda.MemberActive || m.Version != 1 {
		t.Errorf("creator's membership = %+v, want dan active at version 1", m)
	}
}

// Below level 2 a group appointment's participants join by an event each.
func TestCreateGroupAppointmentBelowLevelTwo(t *testing.T) {
	log := &fakeLog{}
	res, err := atLevel(log, groupWorld(t), 1).CreateGroupAppointment(context.Background(), commands.CreateGroupAppointment{
		ActorID: "mid", GroupID: "h", Title: "Planning", Start: apptFrom, End: apptTo, Privacy: agenda.PrivacyFull})
	if err != nil {
		t.Fatalf("CreateGroupAppointment: %v", err)
	}
	evs := proposal(t, log, "mid", map[string]int64{"group-h": 4, "appointment-id-001": 0,
		"agenda-boss": 11, "agenda-mid": 12, "agenda-low": 13},
		"appointment.created", "appointment.participant_added", "appointment.participant_added",
		"agenda.entry_added", "agenda.entry_added", "agenda.entry_added")
	if got := schemas(t, log); !reflect.DeepEqual(got, []int{1, 1, 1, 1, 1, 1}) {
		t.Errorf("schema versions %v, want all 1", got)
	}
	if c := evs[0].(events.AppointmentCreated); c.Participants != nil {
		t.Errorf("created carries participants %v", c.Participants)
	}
	var added []events.AppointmentParticipantAdded
	for _, ev := range evs[1:3] {
		added = append(added, ev.(events.AppointmentParticipantAdded))
	}
	wantAdded := []events.AppointmentParticipantAdded{
		{AppointmentID: "id-001", UserID: "boss", Status: agenda.RolePending},
		{AppointmentID: "id-001", UserID: "low", Status: agenda.RoleAuto},
	}
	if !reflect.DeepEqual(added, wantAdded) {
		t.Errorf("participants added = %+v, want %+v", added, wantAdded)
	}
	a := res.Appointment
	if a == nil || a.Version != 3 || len(a.Participants) != 3 {
		t.Fatalf("answer = %+v, want version 3 with three participants", a)
	}
	status := map[string]string{}
	for _, p := range a.Participants {
		status[p.UserID] = p.Status
	}
	if want := map[string]string{"mid": agenda.RoleOwner, "boss": agenda.RolePending, "low": agenda.RoleAuto}; !reflect.DeepEqual(status, want) {
		t.Errorf("participants = %v, want %v", status, want)
	}
}

// At level 2 the same commands write the one-event forms (TestCreateGroup,
// TestCreateGroupAppointment); a personal appointment is the same at both.
func TestCreateAppointmentIsTheSameAtEveryLevel(t *testing.T) {
	for _, l := range []int{1, events.Level} {
		log := &fakeLog{}
		r := newFakeRead()
		r.users["ana"] = agenda.User{ID: "ana", Username: "ana", Version: 1}
		if _, err := atLevel(log, r, l).CreateAppointment(context.Background(), commands.CreateAppointment{
			OwnerID: "ana", Title: "Dentist", Start: apptFrom, End: apptTo}); err != nil {
			t.Fatalf("level %d: CreateAppointment: %v", l, err)
		}
		if got := schemas(t, log); !reflect.DeepEqual(got, []int{1, 1}) {
			t.Errorf("level %d: schema versions %v, want [1 1]", l, got)
		}
	}
}

// Handlers nobody told the cluster's level write what every build reads.
func TestWithoutALevelCommandsWriteWhatEveryBuildReads(t *testing.T) {
	log := &fakeLog{}
	h := newHandlers(log, groupWorld(t))
	h.Level = nil
	if _, err := h.CreateGroup(context.Background(), commands.CreateGroup{ActorID: "dan", Name: "Team"}); err != nil {
		t.Fatalf("CreateGroup: %v", err)
	}
	proposal(t, log, "dan", map[string]int64{"group-id-001": 0}, "group.created", "group.member_added")
}

// The leader refuses a form above its count of the level (a node of a
// lower level joined, and this node's gossip has not said so yet): the
// command decides again at the leader's level, and later commands on this
// node stay there for a while.
func TestRefusedAboveTheLevelDecidesAgainBelow(t *testing.T) {
	log := &fakeLog{answers: []func(events.Batch) (events.Committed, error){
		fail(&events.AboveLevelError{Level: 1, Type: "group.created", SchemaVersion: 2}),
	}}
	h := atLevel(log, groupWorld(t), events.Level)
	res, err := h.CreateGroup(context.Background(), commands.CreateGroup{ActorID: "dan", Name: "Team"})
	if err != nil {
		t.Fatalf("CreateGroup: %v", err)
	}
	bs := log.proposed()
	if len(bs) != 2 || len(bs[0].Events) != 1 || len(bs[1].Events) != 2 {
		t.Fatalf("proposed %d batches (%v), want the one-event form refused, then the two-event form", len(bs), bs)
	}
	if res.Group == nil || res.Group.Version != 2 {
		t.Errorf("answer = %+v, want the group at version 2", res.Group)
	}
	if _, err := h.CreateGroup(context.Background(), commands.CreateGroup{ActorID: "dan", Name: "Crew"}); err != nil {
		t.Fatal(err)
	}
	if bs := log.proposed(); len(bs) != 3 || len(bs[2].Events) != 2 {
		t.Errorf("the next command proposed %d events, want the two-event form at once", len(bs[len(bs)-1].Events))
	}
}

// A retry after an unknown outcome that the leader refuses for its level
// is not decided again: the first attempt may have committed.
func TestRefusedAboveTheLevelOnARetryIsUnknown(t *testing.T) {
	log := &fakeLog{answers: []func(events.Batch) (events.Committed, error){
		fail(events.ErrOutcomeUnknown),
		fail(&events.AboveLevelError{Level: 1, Type: "group.created", SchemaVersion: 2}),
	}}
	_, err := atLevel(log, groupWorld(t), events.Level).CreateGroup(context.Background(), commands.CreateGroup{ActorID: "dan", Name: "Team"})
	if agenda.ErrorCode(err) != agenda.EUNAVAILABLE || agenda.ErrorDetails(err)["outcome"] != "unknown" {
		t.Errorf("err = %v, want unavailable with an unknown outcome", err)
	}
	if n := len(log.proposed()); n != 2 {
		t.Errorf("proposed %d batches, want the same one twice", n)
	}
}

// A leader that keeps refusing (its count below anything this node can
// write: not possible with two levels, but bounded all the same) is
// unavailable, never an internal error, and spends none of the budget of
// version conflicts.
func TestRefusedAboveTheLevelAgainAndAgainIsUnavailable(t *testing.T) {
	refuse := fail(&events.AboveLevelError{Level: 0, Type: "group.created", SchemaVersion: 1})
	log := &fakeLog{answers: []func(events.Batch) (events.Committed, error){refuse, refuse, refuse, refuse, refuse}}
	h := atLevel(log, groupWorld(t), events.Level)
	h.MaxRetries = 1
	_, err := h.CreateGroup(context.Background(), commands.CreateGroup{ActorID: "dan", Name: "Team"})
	if agenda.ErrorCode(err) != agenda.EUNAVAILABLE {
		t.Errorf("err = %v, want unavailable", err)
	}
	if n := len(log.proposed()); n != 4 {
		t.Errorf("proposed %d batches, want 4 (three refusals decided again)", n)
	}
}
