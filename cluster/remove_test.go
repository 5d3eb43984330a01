package cluster

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/agendahq/agenda/consensus"
)

// racingRaft is a leader whose RemoveServer lets a join of the node being
// removed arrive while the removal commits, as a node that sees itself
// gone asks to join again at once.
type racingRaft struct {
	*fakeRaft
	during func(id string)
	added  []string
}

func (r *racingRaft) RemoveServer(id string) error {
	r.during(id)
	return nil
}

func (r *racingRaft) AddVoter(id, _ string) error { r.added = append(r.added, id); return nil }

// TestRemovedNodeRefusedWhileItsRemovalCommits: a join of the node being
// removed, arriving before the removal returns, is refused as the removed
// node's joins are afterwards. A full CI run saw a running node removed
// with remove-node listed as a voter again at once: the removal was
// recorded only once Raft had committed it, and the node's join came in
// between.
func TestRemovedNodeRefusedWhileItsRemovalCommits(t *testing.T) {
	raft := &racingRaft{fakeRaft: &fakeRaft{id: "l", leader: "l",
		servers: []consensus.Server{{ID: "l", Address: "l:7000"}, {ID: "n2", Address: "n2:7000"}}}}
	a := NewAgent(Config{Self: Member{ID: "l"}, Secret: testSecret, Logger: slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))}, raft)
	n2 := Member{ID: "n2", RaftAddr: "n2:7000", HTTPAddr: "n2:8080", Incarnation: 7}
	a.members.Heard(n2, SourceJoin, time.Now())
	var joinErr error
	raft.during = func(id string) { joinErr = a.admit(context.Background(), n2) }
	if err := a.remove("n2"); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(joinErr, errRemoved) || len(raft.added) != 0 {
		t.Fatalf("a join during the removal: %v, added %v; want errRemoved and nobody added", joinErr, raft.added)
	}
	if err := a.admit(context.Background(), n2); !errors.Is(err, errRemoved) {
		t.Fatalf("a join after the removal: %v, want errRemoved", err)
	}
	n2.Incarnation = 8 // restarted
	if err := a.admit(context.Background(), n2); err != nil {
		t.Fatalf("a join after a restart: %v, want it admitted", err)
	}
}
