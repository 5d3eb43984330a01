package consensus

import (
	"context"
	"errors"
	"fmt"
)

// History is how far a node's event store goes: the position of its last
// event and that event's ID. Every replica appends the same events in the
// same order and event IDs are unique, so two stores hold the same history
// up to a position exactly when the event there has the same ID.
//
// Lineage names the Raft log the store's applied index counts in
// (eventstore/lineage.go): the same events at the same positions are not
// the same history when they were applied from another log, as after a
// restore, which founds a new cluster numbering its entries from 1 again.
// Older builds send none (0, the lineage of a store never restored).
//
// Era (Era.Token) and RaftState say which era's Raft state the node holds,
// if any (era.go): a node holding another era's is refused, whatever its
// store, since admitted it would count in quorums while its handshakes
// with the cluster fail. Older builds send neither, as a node without
// Raft state does.
type History struct {
	Position  int64  `json:"position"`
	EventID   string `json:"event_id"`
	Lineage   int64  `json:"lineage,omitempty"`
	Era       string `json:"era,omitempty"`
	RaftState bool   `json:"raft_state,omitempty"`
}

// ErrForeignHistory means a node's event store is not a prefix of this
// cluster's history: it was written by another cluster.
var ErrForeignHistory = errors.New("its event store holds another cluster's history")

// History returns where this node's event store stands (zero if empty).
func (n *Node) History(ctx context.Context) (History, error) {
	h := History{Era: n.era.Era().Token(), RaftState: n.era.hasState()}
	head := n.store.Head()
	if head == 0 {
		return h, nil
	}
	lineage, err := n.store.Lineage(ctx)
	if err != nil {
		return History{}, err
	}
	evs, err := n.store.Read(ctx, head-1, 1)
	if err != nil {
		return History{}, err
	}
	if len(evs) == 0 {
		return History{}, fmt.Errorf("event %d missing from the store", head)
	}
	h.Position, h.EventID, h.Lineage = evs[0].Position, evs[0].ID, lineage
	return h, nil
}

// CheckHistory returns nil if h (another node's) is a prefix of this
// node's history, of the same lineage, with no Raft state of another era,
// and ErrForeignHistory if it is not.
//
// It matters for a node that joins with an event store but no Raft state
// (its raft directory was lost, or the data dir came from elsewhere): the
// FSM skips the entries its store says it has applied, which is right for
// a store of this cluster and silently wrong for another's. A store that
// goes further than this node's may be this node lagging its own log, so
// it first catches up with everything committed.
func (n *Node) CheckHistory(ctx context.Context, h History) error {
	if own := n.era.Era().Token(); h.RaftState && h.Era != own {
		return fmt.Errorf("%w: it holds Raft state of era %s, the cluster's is %s: a node a cluster recover left out, or one of a cluster restored since", ErrForeignHistory, eraName(h.Era), eraName(own))
	}
	if h.Position <= 0 {
		return nil
	}
	lineage, err := n.store.Lineage(ctx)
	if err != nil {
		return err
	}
	if h.Lineage != lineage {
		return fmt.Errorf("%w: its event store is of lineage %d, the cluster's %d: one of them was restored from a backup since the other was written", ErrForeignHistory, h.Lineage, lineage)
	}
	if h.Position > n.store.Head() {
		idx, err := n.ReadIndex(ctx)
		if err != nil {
			return err
		}
		if err := n.WaitApplied(ctx, idx); err != nil {
			return err
		}
	}
	if head := n.store.Head(); h.Position > head {
		return fmt.Errorf("%w: it has %d events, the cluster %d", ErrForeignHistory, h.Position, head)
	}
	evs, err := n.store.Read(ctx, h.Position-1, 1)
	if err != nil {
		return err
	}
	if len(evs) == 0 || evs[0].ID != h.EventID {
		return fmt.Errorf("%w: its event %d is %s, the cluster's is not", ErrForeignHistory, h.Position, h.EventID)
	}
	return nil
}

// eraName is an era token as a message shows it.
func eraName(token string) string {
	if token == "" {
		return "0"
	}
	return token
}
