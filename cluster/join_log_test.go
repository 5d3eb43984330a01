package cluster

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/consensus"
)

// A node asks to join every gossip round until the configuration that
// lists it reaches it; it says "joined the cluster" once, not every round.
func TestJoinedLoggedOnce(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	leader := NewAgent(Config{Self: Member{ID: "l"}, Secret: testSecret, Logger: slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))}, &fakeRaft{id: "l", leader: "l"})
	srv := httptest.NewServer(leader.Handler())
	defer srv.Close()
	// The joiner's Raft knows the leader but lists nobody yet (fakeRaft's
	// Servers is empty), so every round decides to join.
	joiner := NewAgent(Config{Self: Member{ID: "j", RaftAddr: "j:7000"}, Secret: testSecret, Logger: logger}, &fakeRaft{id: "j", leader: "l"})
	joiner.members.Heard(Member{ID: "l", HTTPAddr: strings.TrimPrefix(srv.URL, "http://"), Incarnation: 1}, SourceSeed, time.Now())
	for range 5 {
		joiner.act(context.Background())
	}
	if n := strings.Count(logs.String(), "joined the cluster"); n != 1 {
		t.Fatalf("%q logged %d times in 5 rounds, want once:\n%s", "joined the cluster", n, logs.String())
	}
}

// A refusal ends only by a join that passes: a node refused by another
// cluster's leader (asked while its own cluster had none) asks again, of
// its own cluster's leader once there is one, and serves once admitted; a
// node refused by its own cluster stays refused however its configuration
// changes (a review lifted the fence of a foreign store by removing the
// refuser, or with a stale configuration under the refuser itself).
func TestRefusalEndsOnlyByAJoinThatPasses(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))
	serve := func(id string, historyErr error) string {
		a := NewAgent(Config{Self: Member{ID: id}, Secret: testSecret, Logger: quiet}, &fakeRaft{id: id, leader: id, historyErr: historyErr})
		srv := httptest.NewServer(a.Handler())
		t.Cleanup(srv.Close)
		return strings.TrimPrefix(srv.URL, "http://")
	}
	foreign, own := serve("x", consensus.ErrForeignHistory), serve("r", nil)

	raft := &fakeRaft{id: "c", leader: "x"}
	c := NewAgent(Config{Self: Member{ID: "c", RaftAddr: "c:7000"}, Secret: testSecret, Logger: quiet}, raft)
	c.members.Heard(Member{ID: "x", HTTPAddr: foreign, Incarnation: 1}, SourceSeed, time.Now())
	c.members.Heard(Member{ID: "r", HTTPAddr: own, Incarnation: 1}, SourceSeed, time.Now())
	c.act(context.Background())
	if !c.Refused() {
		t.Fatal("the node was not refused")
	}
	// Its own cluster's leader, r, lists it: asked again, r admits it.
	raft.leader, raft.servers = "r", servers("r", "c")
	c.act(context.Background())
	if c.Refused() {
		t.Error("the node stays refused once its own cluster's leader, asked again, admits it")
	}

	// A node with a foreign store, refused by x, the leader of the
	// cluster it then finds itself in: whoever leads after x, and whatever
	// its configuration lists, only clusters of x's kind answer it.
	raft = &fakeRaft{id: "c", leader: "x"}
	c = NewAgent(Config{Self: Member{ID: "c", RaftAddr: "c:7000"}, Secret: testSecret, Logger: quiet}, raft)
	c.members.Heard(Member{ID: "x", HTTPAddr: foreign, Incarnation: 1}, SourceSeed, time.Now())
	c.act(context.Background())
	if !c.Refused() {
		t.Fatal("the foreign store was not refused")
	}
	for _, tc := range []struct {
		leader  string
		servers []consensus.Server
	}{
		{"x", servers("c")},        // a stale configuration, under the refuser
		{"x2", servers("x2", "c")}, // the refuser removed; another of its kind leads
		{"c", servers("x", "c")},   // the node itself wins an election
	} {
		raft.leader, raft.servers = tc.leader, tc.servers
		c.members.Heard(Member{ID: "x2", HTTPAddr: serve("x2", consensus.ErrForeignHistory), Incarnation: 1}, SourceSeed, time.Now())
		c.act(context.Background())
		if !c.Refused() {
			t.Errorf("leader %s, configuration %v: the refusal of a foreign history ended", tc.leader, tc.servers)
		}
	}
	// Leading, it hands leadership on, to be judged by the next leader.
	if raft.transfers == 0 {
		t.Error("a refused node that leads kept the leadership")
	}
}

// TestFenceWhileUnproven: a node whose store a leader's snapshot left ahead
// of it serves nothing, plain reads included, until the leader's entries
// prove it (a fault review read writes the cluster did not keep through
// plain reads on such a node).
func TestFenceWhileUnproven(t *testing.T) {
	r := &fakeRaft{id: "f", leader: "l", unproven: true}
	a := NewAgent(Config{Self: Member{ID: "f"}, Secret: testSecret, Logger: slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))}, r)
	if err := a.Fence(); agenda.ErrorCode(err) != agenda.EUNAVAILABLE || !strings.Contains(fmt.Sprint(err), "checking that the entries it applied") {
		t.Fatalf("Fence while unproven: %v, want unavailable saying why", err)
	}
	r.unproven = false
	if err := a.Fence(); err != nil {
		t.Fatalf("Fence once proven: %v", err)
	}
}
