package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/agendahq/agenda/consensus"
	"github.com/agendahq/agenda/events"
)

func servers(ids ...string) []consensus.Server {
	out := make([]consensus.Server, len(ids))
	for i, id := range ids {
		out[i] = consensus.Server{ID: id, Address: id + ":7000", Suffrage: "Voter"}
	}
	return out
}

// The cluster's event level is the lowest that a server of the Raft
// configuration announced: a node announcing none (an older build), or
// never heard of, counts as events.MinLevel.
func TestEventLevelIsTheLowestAnnounced(t *testing.T) {
	a := NewAgent(Config{Self: Member{ID: "a"}, Secret: testSecret}, &fakeRaft{id: "a"})
	if got := a.EventLevel(); got != events.MinLevel {
		t.Errorf("before any round: %d, want %d", got, events.MinLevel)
	}
	now := time.Now()
	a.members.Heard(Member{ID: "b", HTTPAddr: "b:8080", Incarnation: 1, EventLevel: events.Level}, SourceSeed, now)
	a.members.Heard(Member{ID: "old", HTTPAddr: "old:8080", Incarnation: 1}, SourceSeed, now)
	for _, tc := range []struct {
		name    string
		servers []consensus.Server
		want    int
	}{
		{"no configuration yet: every node heard of counts", nil, events.MinLevel},
		{"every server on this build", servers("a", "b"), events.Level},
		{"a server announcing no level", servers("a", "b", "old"), events.MinLevel},
		{"a server nobody has heard of", servers("a", "b", "ghost"), events.MinLevel},
		{"a node outside the configuration does not count", servers("a"), events.Level},
	} {
		configure(a, tc.servers)
		if got := a.EventLevel(); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}

	alone := NewAgent(Config{Self: Member{ID: "s"}, Secret: testSecret}, &fakeRaft{id: "s"})
	configure(alone, nil)
	if got := alone.EventLevel(); got != events.Level {
		t.Errorf("a node alone: %d, want its own %d", got, events.Level)
	}

	pinned := NewAgent(Config{Self: Member{ID: "p", EventLevel: events.MinLevel}, Secret: testSecret}, &fakeRaft{id: "p"})
	configure(pinned, nil)
	if got := pinned.EventLevel(); got != events.MinLevel {
		t.Errorf("pinned with EVENT_LEVEL: %d, want %d", got, events.MinLevel)
	}
}

// A level outlives the gossip entry it came with: a voter quiet for longer
// than forgetAfter is still in the configuration, and what it announced
// still holds, here and at a node that hears of it second-hand. A new
// incarnation replaces it; removal forgets it.
func TestEventLevelOutlivesPrune(t *testing.T) {
	a := NewAgent(Config{Self: Member{ID: "a"}, Secret: testSecret}, &fakeRaft{id: "a"})
	a.members.Heard(Member{ID: "b", HTTPAddr: "b:8080", Incarnation: 1, EventLevel: events.Level}, SourceSeed, time.Now().Add(-time.Hour))
	a.members.Prune(time.Now().Add(-forgetAfter))
	if _, ok := a.members.Get("b"); ok {
		t.Fatal("b was not pruned")
	}
	// syncRaftMembers lists it again from the configuration.
	a.members.Learned(Member{ID: "b", RaftAddr: "b:7000"})
	configure(a, servers("a", "b"))
	if got := a.EventLevel(); got != events.Level {
		t.Errorf("after prune: %d, want %d", got, events.Level)
	}

	// Gossip carries it to a node that never heard b.
	wire, err := json.Marshal(gossipMessage{Self: a.members.Self(), Members: a.members.All()})
	if err != nil {
		t.Fatal(err)
	}
	var msg gossipMessage
	if err := json.Unmarshal(wire, &msg); err != nil {
		t.Fatal(err)
	}
	c := NewAgent(Config{Self: Member{ID: "c"}, Secret: testSecret}, &fakeRaft{id: "c"})
	c.absorb(msg, SourceGossip)
	configure(c, servers("a", "b", "c"))
	if got := c.EventLevel(); got != events.Level {
		t.Errorf("second-hand: %d, want %d (gossip: %s)", got, events.Level, wire)
	}

	// b comes back on a build that announces no level (rolled back).
	a.members.Heard(Member{ID: "b", HTTPAddr: "b:8080", Incarnation: 2}, SourceGossip, time.Now())
	configure(a, servers("a", "b"))
	if got := a.EventLevel(); got != events.MinLevel {
		t.Errorf("after b restarted on an older build: %d, want %d", got, events.MinLevel)
	}
	// Old news of b does not raise it again.
	a.members.Learned(Member{ID: "b", HTTPAddr: "b:8080", Incarnation: 1, EventLevel: events.Level})
	configure(a, servers("a", "b"))
	if got := a.EventLevel(); got != events.MinLevel {
		t.Errorf("old news raised the level: %d", got)
	}
	a.members.Forget("b")
	if got := a.members.Level("b"); got != events.MinLevel {
		t.Errorf("a removed node's level: %d, want %d", got, events.MinLevel)
	}
}

// An older build passes other nodes' entries on without their level, at
// their incarnation. Heard first, such a relay must not hide the level the
// node announces itself; at one incarnation the highest level heard holds.
func TestEventLevelThroughAnOlderRelay(t *testing.T) {
	relay := []byte(`{"id":"n1","raft_addr":"n1:7000","http_addr":"n1:8080","incarnation":5,"has_state":true,"last_seen":"2026-12-04T19:00:00Z"}`)
	var relayed Member
	if err := json.Unmarshal(relay, &relayed); err != nil {
		t.Fatal(err)
	}
	own := relayed
	own.EventLevel = events.Level
	for name, order := range map[string][]Member{"relay first": {relayed, own}, "own first": {own, relayed}} {
		ms := NewMembers(Member{ID: "a", EventLevel: events.Level})
		for _, m := range order {
			ms.Learned(m)
		}
		if got := ms.Level("n1"); got != events.Level {
			t.Errorf("%s: n1 at %d, want %d", name, got, events.Level)
		}
		if m, _ := ms.Get("n1"); m.EventLevel != events.Level {
			t.Errorf("%s: the entry passed on says %d, want %d", name, m.EventLevel, events.Level)
		}
	}
	// Memories of an unknown incarnation (a configuration's member listed
	// again) may be of different ones: the lowest holds.
	for _, order := range [][]int{{events.Level, 0}, {0, events.Level}} {
		ms := NewMembers(Member{ID: "a", EventLevel: events.Level})
		for _, l := range order {
			ms.Learned(Member{ID: "n1", EventLevel: l})
		}
		if got := ms.Level("n1"); got != events.MinLevel {
			t.Errorf("remembered as %v: %d, want %d", order, got, events.MinLevel)
		}
	}
	// A lower incarnation's news changes nothing.
	ms := NewMembers(Member{ID: "a", EventLevel: events.Level})
	ms.Learned(Member{ID: "n1", Incarnation: 6})
	ms.Learned(own)
	if got := ms.Level("n1"); got != events.MinLevel {
		t.Errorf("incarnation 6 announced none, 5's level came after: %d, want %d", got, events.MinLevel)
	}
}

// A node asking to join counts at once, before the configuration lists it;
// a removed node's ID taken again counts as unheard of, not at its
// predecessor's level.
func TestEventLevelOfJoinersAndReusedIDs(t *testing.T) {
	a := NewAgent(Config{Self: Member{ID: "a"}, Secret: testSecret}, &fakeRaft{id: "a", leader: "a", servers: servers("a")})
	configure(a, servers("a"))
	if got := a.EventLevel(); got != events.Level {
		t.Fatalf("alone in its configuration: %d, want %d", got, events.Level)
	}
	if err := a.admit(context.Background(), Member{ID: "j", RaftAddr: "j:7000", HTTPAddr: "j:8080", Incarnation: 1}); err != nil {
		t.Fatal(err)
	}
	if got := a.EventLevel(); got != events.MinLevel {
		t.Errorf("after an older build asked to join: %d, want %d", got, events.MinLevel)
	}
	// A gossip round that read the configuration before the join does not
	// undo it.
	configure(a, servers("a"))
	if got := a.EventLevel(); got != events.MinLevel {
		t.Errorf("after a round on the configuration before the join: %d, want %d", got, events.MinLevel)
	}
	// The leader refuses a batch decided above it.
	b := events.Batch{Events: []events.Envelope{{Type: "group.created", SchemaVersion: 2}}}
	var al *events.AboveLevelError
	if _, err := a.proposeHere(context.Background(), b); !errors.As(err, &al) || al.Level != events.MinLevel {
		t.Errorf("a level-2 form proposed on the leader: %v, want it refused at level %d", err, events.MinLevel)
	}
	if n := a.raft.(*fakeRaft).proposed; n != 0 {
		t.Errorf("proposed %d batches to Raft", n)
	}
	configure(a, servers("a", "j"))
	if got := a.EventLevel(); got != events.MinLevel {
		t.Errorf("once configured: %d, want %d", got, events.MinLevel)
	}

	a.members.Heard(Member{ID: "b", HTTPAddr: "b:8080", Incarnation: 1, EventLevel: events.Level}, SourceSeed, time.Now().Add(-time.Hour))
	a.members.Prune(time.Now().Add(-forgetAfter))
	configure(a, servers("a")) // b was removed meanwhile
	a.members.Learned(Member{ID: "b", RaftAddr: "b:7000"})
	if got := a.members.Level("b"); got != events.MinLevel {
		t.Errorf("b's ID again, unheard of: %d, want %d", got, events.MinLevel)
	}
}

// configure sets the Raft configuration a's fake Raft reports and works
// out the level again, as a gossip round does.
func configure(a *Agent, servers []consensus.Server) {
	a.raft.(*fakeRaft).servers = servers
	a.updateLevel()
}

// A batch forwarded to a leader that counts a lower level than the
// follower that decided it is refused before Raft sees it, and the
// follower's caller gets the refusal to decide again.
func TestForwardedBatchAboveTheLeadersLevelIsRefused(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	leaderRaft := &fakeRaft{id: "l", leader: "l", servers: servers("l", "f", "old")}
	leader := NewAgent(Config{Self: Member{ID: "l"}, Secret: testSecret, Logger: logger}, leaderRaft)
	leader.members.Heard(Member{ID: "old", HTTPAddr: "old:8080", Incarnation: 1}, SourceSeed, time.Now())
	leader.updateLevel()
	srv := httptest.NewServer(leader.Handler())
	defer srv.Close()

	follower := NewAgent(Config{Self: Member{ID: "f"}, Secret: testSecret, Logger: logger}, &fakeRaft{id: "f", leader: "l"})
	follower.members.Heard(Member{ID: "l", HTTPAddr: strings.TrimPrefix(srv.URL, "http://"), Incarnation: 1}, SourceSeed, time.Now())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b := events.Batch{Events: []events.Envelope{{Type: "group.created", SchemaVersion: 2}}}
	_, err := follower.Propose(ctx, b)
	var al *events.AboveLevelError
	if !errors.As(err, &al) || al.Level != events.MinLevel {
		t.Fatalf("forwarded level-2 batch: %v, want it refused at level %d", err, events.MinLevel)
	}
	if leaderRaft.proposed != 0 {
		t.Errorf("the leader proposed %d batches", leaderRaft.proposed)
	}
	// The same through the leader's own Propose.
	if _, err := leader.Propose(ctx, b); !errors.As(err, &al) {
		t.Errorf("proposed on the leader: %v, want it refused", err)
	}
	if leaderRaft.proposed != 0 {
		t.Errorf("the leader proposed %d batches", leaderRaft.proposed)
	}
}
