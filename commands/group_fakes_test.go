package commands_test

import (
	"testing"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/events"
)

// groupWorld is a fake read model for group commands:
//
//   - hierarchical group "h" (version 4): boss (creator, 1000), mid (500), low (0);
//   - flat group "f" (version 3): ana (creator), bob, cat;
//   - flat group "solo" (version 2): ana alone;
//   - dan belongs to no group;
//   - ivy is invited to "h" (rank 10) and has not answered.
//
// Every user's agenda stream is at a version of its own (schedules and
// agendaVersions agree), and nobody is busy.
func groupWorld(t testing.TB) *fakeRead {
	t.Helper()
	r := newFakeRead()
	for _, id := range []string{"boss", "mid", "low", "ana", "bob", "cat", "dan", "ivy"} {
		r.users[id] = agenda.User{ID: id, Username: id, DisplayName: id, Version: 1}
	}
	versions := map[string]int64{"boss": 11, "mid": 12, "low": 13, "ana": 21, "bob": 22, "cat": 23, "dan": 24, "ivy": 25}
	for u, v := range versions {
		r.schedules[u] = agenda.Schedule{Version: v}
		r.agendaVersions[u] = v
	}
	r.groups["h"] = agenda.Group{ID: "h", Name: "Hierarchy", Hierarchical: true, CreatorID: "boss", Version: 4,
		Members: []agenda.Member{{UserID: "boss", Username: "boss", Rank: agenda.MaxRank},
			{UserID: "mid", Username: "mid", Rank: 500}, {UserID: "low", Username: "low", Rank: 0, Version: 3},
			{UserID: "ivy", Username: "ivy", Rank: 10, Status: agenda.MemberInvited}}}
	r.groups["f"] = agenda.Group{ID: "f", Name: "Flat", CreatorID: "ana", Version: 3,
		Members: []agenda.Member{{UserID: "ana", Username: "ana"}, {UserID: "bob", Username: "bob"}, {UserID: "cat", Username: "cat"}}}
	r.groups["solo"] = agenda.Group{ID: "solo", Name: "Solo", CreatorID: "ana", Version: 2,
		Members: []agenda.Member{{UserID: "ana", Username: "ana"}}}
	for _, g := range r.groups {
		g.MemberCount = len(g.ActiveMembers())
		r.groups[g.ID] = g
	}
	return r
}

// groupAppointment stores a group appointment in r: participants maps each
// user to their status; the owner is the one with status owner.
func groupAppointment(r *fakeRead, id, groupID, status string, version int64, participants map[string]string) {
	a := agenda.Appointment{ID: id, GroupID: &groupID, Title: "Meeting " + id, Start: apptFrom, End: apptTo,
		Privacy: agenda.PrivacyFull, Status: status, NeedsAll: !r.groups[groupID].Hierarchical, Version: version}
	for _, u := range sortedUsers(participants) {
		if participants[u] == agenda.RoleOwner {
			a.OwnerID = u
		}
		a.Participants = append(a.Participants, agenda.Participant{UserID: u, Username: u, Status: participants[u]})
	}
	r.appointments[id] = a
}

func sortedUsers(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// proposal checks that log received exactly one batch, that it validates,
// expects exactly want, holds events of types in order, all by actor, and
// returns them decoded.
func proposal(t *testing.T, log *fakeLog, actor string, want map[string]int64, types ...string) []events.Event {
	t.Helper()
	bs := log.proposed()
	if len(bs) != 1 {
		t.Fatalf("proposed %d batches, want 1", len(bs))
	}
	b := bs[0]
	if err := b.Validate(); err != nil {
		t.Errorf("batch does not validate: %v", err)
	}
	got := expectations(b)
	if len(b.Expect) != len(want) || len(got) != len(want) {
		t.Errorf("expectations = %v, want exactly %v", b.Expect, want)
	}
	for s, v := range want {
		if gv, ok := got[s]; !ok || gv != v {
			t.Errorf("expected version of %s = %d (present %v), want %d", s, gv, ok, v)
		}
	}
	gotTypes := make([]string, len(b.Events))
	for i, e := range b.Events {
		gotTypes[i] = e.Type
	}
	if !equalTypes(gotTypes, types) {
		t.Fatalf("event types = %v, want %v", gotTypes, types)
	}
	out := make([]events.Event, len(b.Events))
	for i, e := range b.Events {
		if e.Actor != actor || e.OriginNode != "node-x" || !e.Time.Equal(now) {
			t.Errorf("event %d meta = actor %q origin %q time %s, want %s/node-x/%s", i, e.Actor, e.OriginNode, e.Time, actor, now)
		}
		ev, err := e.Decode()
		if err != nil {
			t.Fatalf("event %d does not decode: %v", i, err)
		}
		out[i] = ev
	}
	return out
}

// noProposal checks that nothing was proposed.
func noProposal(t *testing.T, log *fakeLog) {
	t.Helper()
	if n := len(log.proposed()); n != 0 {
		t.Errorf("proposed %d batches, want none", n)
	}
}

func equalTypes(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
