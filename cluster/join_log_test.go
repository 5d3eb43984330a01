package cluster

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

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

// A node refused by another cluster's leader (asked while its own cluster
// had none) serves again once its own cluster has a leader and lists it;
// one refused by its own cluster's leader stays refused.
func TestRefusalByAnotherClustersLeaderEnds(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))
	foreignRaft := &fakeRaft{id: "x", leader: "x", historyErr: consensus.ErrForeignHistory}
	foreign := NewAgent(Config{Self: Member{ID: "x"}, Secret: testSecret, Logger: quiet}, foreignRaft)
	srv := httptest.NewServer(foreign.Handler())
	defer srv.Close()
	raft := &fakeRaft{id: "c", leader: "x"}
	c := NewAgent(Config{Self: Member{ID: "c", RaftAddr: "c:7000"}, Secret: testSecret, Logger: quiet}, raft)
	c.members.Heard(Member{ID: "x", HTTPAddr: strings.TrimPrefix(srv.URL, "http://"), Incarnation: 1}, SourceSeed, time.Now())
	c.act(context.Background())
	if !c.Refused() {
		t.Fatal("the node was not refused")
	}
	// Its own cluster's leader, r, lists it again.
	raft.leader, raft.servers = "r", servers("r", "c")
	c.act(context.Background())
	if c.Refused() {
		t.Error("the node stays refused once its own cluster, led by r, lists it")
	}

	// Refused by its own cluster's leader: it stays so, even once
	// another member leads.
	raft.leader, raft.servers = "x", nil
	c.act(context.Background())
	raft.servers = servers("x", "c")
	c.act(context.Background())
	if !c.Refused() {
		t.Error("a refusal by the node's own cluster's leader ended")
	}
	raft.leader, raft.servers = "y", servers("x", "y", "c")
	c.act(context.Background())
	if !c.Refused() {
		t.Error("a refusal by a member of the node's own cluster ended when another member led")
	}
}
