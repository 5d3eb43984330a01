package cluster

import (
	"context"
	"reflect"
	"testing"
	"time"
)

func TestDecide(t *testing.T) {
	m := func(id string) Member { return Member{ID: id, RaftAddr: id + ":7000", HTTPAddr: id + ":8080"} }
	withState := func(mm Member) Member { mm.HasState = true; return mm }
	withLeader := func(mm Member, l string) Member { mm.LeaderID = l; return mm }
	votes := func(mm Member, v string) Member { mm.Vote = v; return mm }
	tests := []struct {
		name    string
		view    View
		kind    string
		servers []string
		leader  string
	}{
		{"member already", View{Self: m("a"), Member: true, Expect: 3, LeaderID: "b"}, Wait, nil, ""},
		{"member electing", View{Self: withState(m("a")), Member: true, Expect: 3, Peers: []Member{withLeader(m("b"), "b")}, Leaderless: time.Second}, Wait, nil, ""},
		{"member by a stale configuration", View{Self: withState(m("a")), Member: true, Expect: 3, Peers: []Member{withLeader(m("b"), "b")}, Leaderless: StaleMemberAfter}, Join, nil, "b"},
		{"too few known", View{Self: m("a"), Expect: 3, Peers: []Member{m("b")}}, Wait, nil, ""},
		{"lowest bootstraps once all voted for it", View{Self: votes(m("a"), "a"), Expect: 3, Peers: []Member{votes(m("c"), "a"), votes(m("b"), "a")}}, Bootstrap, []string{"a", "b", "c"}, ""},
		{"lowest waits for the votes", View{Self: votes(m("a"), "a"), Expect: 3, Peers: []Member{votes(m("c"), "a"), m("b")}}, Wait, nil, ""},
		{"a vote for another node blocks", View{Self: votes(m("a"), "a"), Expect: 3, Peers: []Member{votes(m("c"), "a"), votes(m("b"), "b")}}, Wait, nil, ""},
		{"lowest that has not voted for itself waits", View{Self: votes(m("a"), "x"), Expect: 3, Peers: []Member{votes(m("c"), "a"), votes(m("b"), "a")}}, Wait, nil, ""},
		{"not lowest waits", View{Self: m("b"), Expect: 3, Peers: []Member{m("a"), m("c")}}, Wait, nil, ""},
		{"lowest of expect among more", View{Self: votes(m("a"), "a"), Expect: 3, Peers: []Member{m("d"), votes(m("c"), "a"), votes(m("b"), "a")}}, Bootstrap, []string{"a", "b", "c"}, ""},
		{"extra node waits", View{Self: m("d"), Expect: 3, Peers: []Member{m("a"), m("b"), m("c")}}, Wait, nil, ""},
		{"peer with state: no bootstrap", View{Self: m("a"), Expect: 3, Peers: []Member{withState(m("b")), m("c")}}, Wait, nil, ""},
		{"own state: no bootstrap", View{Self: withState(m("a")), Expect: 3, Peers: []Member{m("b"), m("c")}}, Wait, nil, ""},
		{"expect 0 never bootstraps", View{Self: m("a"), Expect: 0, Peers: []Member{m("b"), m("c")}}, Wait, nil, ""},
		{"expect 1 alone", View{Self: votes(m("a"), "a"), Expect: 1}, Bootstrap, []string{"a"}, ""},
		// Nodes discovery names but has not heard from may hold a
		// cluster's state: a bootstrap's voters must outnumber them.
		{"expect 1 with a named node silent", View{Self: votes(m("a"), "a"), Expect: 1, Unheard: 1}, Wait, nil, ""},
		{"expect 3 outnumbering the silent", View{Self: votes(m("a"), "a"), Expect: 3, Unheard: 2, Peers: []Member{votes(m("c"), "a"), votes(m("b"), "a")}}, Bootstrap, []string{"a", "b", "c"}, ""},
		{"expect 3 with as many silent", View{Self: votes(m("a"), "a"), Expect: 3, Unheard: 3, Peers: []Member{votes(m("c"), "a"), votes(m("b"), "a")}}, Wait, nil, ""},
		{"peer knows a leader: join", View{Self: m("d"), Expect: 3, Peers: []Member{withLeader(withState(m("b")), "a")}}, Join, nil, "a"},
		{"restarted with state and new address: join", View{Self: withState(m("c")), Expect: 3, Peers: []Member{withLeader(m("a"), "a")}}, Join, nil, "a"},
		{"own raft knows the leader", View{Self: withState(m("c")), Expect: 3, LeaderID: "b"}, Join, nil, "b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Decide(tt.view)
			if got.Kind != tt.kind {
				t.Fatalf("kind = %s, want %s", got.Kind, tt.kind)
			}
			var ids []string
			for _, s := range got.Servers {
				ids = append(ids, s.ID)
			}
			if !reflect.DeepEqual(ids, tt.servers) {
				t.Errorf("servers = %v, want %v", ids, tt.servers)
			}
			if got.LeaderID != tt.leader {
				t.Errorf("leader = %q, want %q", got.LeaderID, tt.leader)
			}
		})
	}
}

// TestDecideBootstrapsOnce checks, for every node of a forming cluster with
// the same knowledge, that all vote for the same node and exactly that one
// bootstraps, with the same voters.
func TestDecideBootstrapsOnce(t *testing.T) {
	ids := []string{"node-3", "node-1", "node-5", "node-2", "node-4"}
	now := time.Now()
	view := func(self string, vote func(string) string) View {
		v := View{Self: Member{ID: self, Vote: vote(self)}, Expect: 3}
		for _, p := range ids {
			if p != self {
				v.Peers = append(v.Peers, Member{ID: p, Vote: vote(p)})
			}
		}
		return v
	}
	voted := map[string]string{}
	for _, self := range ids {
		voted[self], _ = NextVote(view(self, func(string) string { return "" }), "", time.Time{}, now)
	}
	bootstraps := 0
	for _, self := range ids {
		if voted[self] != "node-1" {
			t.Errorf("%s votes %q, want node-1", self, voted[self])
		}
		if a := Decide(view(self, func(id string) string { return voted[id] })); a.Kind == Bootstrap {
			bootstraps++
			if self != "node-1" || len(a.Servers) != 3 || a.Servers[2].ID != "node-3" {
				t.Errorf("%s bootstraps %v", self, a.Servers)
			}
		}
	}
	if bootstraps != 1 {
		t.Fatalf("%d nodes bootstrap, want 1", bootstraps)
	}
}

func TestReapable(t *testing.T) {
	const timeout = int64(2 * time.Minute)
	long, short := int64(3*time.Minute), int64(time.Minute)
	voters5 := []string{"a", "b", "c", "d", "e"}
	tests := []struct {
		name        string
		voters      []string
		unreachable map[string]int64
		floor       int
		want        string
	}{
		{"nobody dead", voters5, nil, 3, ""},
		{"dead long enough", voters5, map[string]int64{"d": long}, 3, "d"},
		{"not dead long enough", voters5, map[string]int64{"d": short}, 3, ""},
		{"one at a time, lowest first", voters5, map[string]int64{"e": long, "d": long}, 3, "d"},
		{"never below the floor", []string{"a", "b", "c"}, map[string]int64{"c": long}, 3, ""},
		{"floor of BOOTSTRAP_EXPECT", voters5, map[string]int64{"e": long}, 5, ""},
		{"never the leader itself", voters5, map[string]int64{"a": long}, 3, ""},
		{"no majority of reachable left", voters5, map[string]int64{"b": long, "c": short, "d": short}, 3, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Reapable("a", tt.voters, tt.unreachable, timeout, tt.floor); got != tt.want {
				t.Errorf("Reapable = %q, want %q", got, tt.want)
			}
		})
	}
	if RemovalFloor(0) != 3 || RemovalFloor(5) != 5 {
		t.Errorf("RemovalFloor(0), (5) = %d, %d; want 3, 5", RemovalFloor(0), RemovalFloor(5))
	}
}

// TestMembersNewerIncarnationWins checks that a node restarting with new
// addresses replaces its old entry everywhere, and old news does not undo it.
func TestMembersNewerIncarnationWins(t *testing.T) {
	ms := NewMembers(Member{ID: "a", HTTPAddr: "a:8080"})
	now := time.Now()
	ms.Heard(Member{ID: "b", RaftAddr: "10.0.0.2:7000", HTTPAddr: "10.0.0.2:8080", Incarnation: 1}, SourceDNS, now)
	ms.Learned(Member{ID: "b", RaftAddr: "10.0.0.9:7000", HTTPAddr: "10.0.0.9:8080", Incarnation: 2, LastSeen: now})
	if got := ms.HTTPAddr("b"); got != "10.0.0.9:8080" {
		t.Fatalf("after a newer incarnation: %s", got)
	}
	ms.Learned(Member{ID: "b", RaftAddr: "10.0.0.2:7000", HTTPAddr: "10.0.0.2:8080", Incarnation: 1})
	if got := ms.HTTPAddr("b"); got != "10.0.0.9:8080" {
		t.Fatalf("old news undid the new address: %s", got)
	}
	if m, _ := ms.Get("b"); m.Source != SourceDNS {
		t.Errorf("source = %s, want the first: %s", m.Source, SourceDNS)
	}
	if len(ms.Direct(now.Add(-time.Second))) != 2 {
		t.Errorf("direct = %v, want a and b", ms.Direct(now.Add(-time.Second)))
	}
	ms.Learned(Member{ID: "a", HTTPAddr: "elsewhere"})
	if ms.Self().HTTPAddr != "a:8080" {
		t.Errorf("gossip changed our own entry")
	}
}

func TestNextVote(t *testing.T) {
	now := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	m := func(id string) Member { return Member{ID: id} }
	three := View{Self: m("b"), Expect: 3, Peers: []Member{m("c"), m("a")}}
	tests := []struct {
		name    string
		view    View
		current string
		since   time.Time
		want    string
	}{
		{"too few known: no vote", View{Self: m("b"), Expect: 3, Peers: []Member{m("c")}}, "", time.Time{}, ""},
		{"votes for the lowest", three, "", time.Time{}, "a"},
		{"a fresh vote stands", three, "b", now.Add(-time.Second), "b"},
		{"an old vote moves", three, "b", now.Add(-VoteTTL), "a"},
		{"no vote once someone has state", View{Self: m("b"), Expect: 3, Peers: []Member{m("c"), {ID: "a", HasState: true}}}, "", time.Time{}, ""},
		{"never with expect 0", View{Self: m("b"), Peers: []Member{m("c"), m("a")}}, "", time.Time{}, ""},
		{"no vote while as many named nodes are silent", View{Self: m("b"), Expect: 3, Unheard: 3, Peers: []Member{m("c"), m("a")}}, "", time.Time{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, _ := NextVote(tt.view, tt.current, tt.since, now); got != tt.want {
				t.Errorf("vote = %q, want %q", got, tt.want)
			}
		})
	}
}

type fakeResolver map[string][]string

func (f fakeResolver) LookupHost(_ context.Context, host string) ([]string, error) {
	return f[host], nil
}

// TestTargetsFromSeedsDNSAndMembers checks who a node gossips with: seeds,
// the DNS name's records on its own HTTP port, and known members, each
// once, never itself.
func TestTargetsFromSeedsDNSAndMembers(t *testing.T) {
	a := NewAgent(Config{
		Self:     Member{ID: "a", HTTPAddr: "10.0.0.1:8080"},
		Secret:   testSecret,
		Seeds:    []string{"10.0.0.1:8080", "seed:8080"},
		DNSName:  "tasks.agenda",
		DNSPort:  "8080",
		Resolver: fakeResolver{"tasks.agenda": {"10.0.0.1", "10.0.0.2", "10.0.0.3"}},
	}, &fakeRaft{id: "a"})
	a.members.Learned(Member{ID: "d", HTTPAddr: "10.0.0.4:8080", Incarnation: 1})
	a.members.Learned(Member{ID: "c", HTTPAddr: "10.0.0.3:8080", Incarnation: 1})
	got := map[string]string{}
	for _, tg := range a.targets(context.Background()) {
		if _, dup := got[tg.addr]; dup {
			t.Errorf("%s listed twice", tg.addr)
		}
		got[tg.addr] = tg.source
	}
	want := map[string]string{"seed:8080": SourceSeed, "10.0.0.2:8080": SourceDNS, "10.0.0.3:8080": SourceDNS, "10.0.0.4:8080": SourceGossip}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("targets = %v, want %v", got, want)
	}
}
