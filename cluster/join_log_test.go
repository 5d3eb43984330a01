package cluster

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
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
