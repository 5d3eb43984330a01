package consensus_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/agendahq/agenda/consensus"
)

// History names the store's last event; CheckHistory accepts any prefix of
// this node's history (an empty store included) and refuses a store whose
// event at some position has another ID, or that goes further than the
// cluster has committed, and a node holding Raft state of another era.
func TestHistory(t *testing.T) {
	n := mustStartNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// A founded node holds Raft state (its bootstrap configuration), of
	// the zero era.
	if h, err := n.History(ctx); err != nil || h != (consensus.History{RaftState: true}) {
		t.Fatalf("History of an empty store: %+v, %v; want nothing but Raft state", h, err)
	}
	first := streamBatch(t, "stream-1", 0, 2)
	mustPropose(t, n, first)
	mustPropose(t, n, streamBatch(t, "stream-2", 0, 1))
	h, err := n.History(ctx)
	if err != nil || h.Position != 3 || h.EventID == "" {
		t.Fatalf("History: %+v, %v; want position 3 and its event ID", h, err)
	}

	for _, tt := range []struct {
		name    string
		h       consensus.History
		foreign bool
	}{
		{"empty store", consensus.History{}, false},
		{"the same history", h, false},
		{"a prefix", consensus.History{Position: 2, EventID: first.Events[1].ID}, false},
		{"another event at a position", consensus.History{Position: 2, EventID: "other-cluster-event"}, true},
		{"further than the cluster", consensus.History{Position: 9, EventID: "e9"}, true},
		{"Raft state of another era", consensus.History{Era: "1-0102", RaftState: true}, true},
		{"a prefix with Raft state of another era", consensus.History{Position: 2, EventID: first.Events[1].ID, Era: "1-0102", RaftState: true}, true},
		{"another era, without Raft state", consensus.History{Era: "1-0102"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := n.CheckHistory(ctx, tt.h)
			if got := errors.Is(err, consensus.ErrForeignHistory); got != tt.foreign || (!tt.foreign && err != nil) {
				t.Fatalf("CheckHistory(%+v) = %v, want foreign=%v", tt.h, err, tt.foreign)
			}
		})
	}
}
