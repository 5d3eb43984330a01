package consensus

// This file holds the cluster's membership as Raft keeps it: whether this
// node has state, forming a new cluster, the configuration's servers, and
// the leader's changes to them.

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/hashicorp/raft"
)

// HasState reports whether this node holds any state: a Raft log, a
// snapshot or a configuration, or events in its store. A node with state
// never bootstraps. The store counts on its own: a node that lost its Raft
// directory but kept its events would otherwise found a new cluster whose
// entries its state machine skips as applied, or applies over the old
// history (a review found the cluster agent's bootstrap allowing it).
func (n *Node) HasState() bool {
	if n.raft.LastIndex() > 0 || n.store.Head() > 0 {
		return true
	}
	return len(n.Status().Servers) > 0
}

// IsShutdown reports whether Raft has stopped, which it does on its own once
// the node learns that it was removed from the cluster.
func (n *Node) IsShutdown() bool { return n.raft.State() == raft.Shutdown }

// Bootstrap forms a new cluster whose voters are servers. It fails (and
// changes nothing) if the node already has state. Every server must be
// reachable at its address; the others need no state of their own: a node
// with an empty configuration grants its vote and takes the leader's log.
func (n *Node) Bootstrap(servers []Server) error {
	if len(servers) == 0 {
		return errors.New("consensus: bootstrap with no servers")
	}
	sorted := append([]Server(nil), servers...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].ID < sorted[j].ID })
	conf := raft.Configuration{}
	for _, s := range sorted {
		conf.Servers = append(conf.Servers, raft.Server{ID: raft.ServerID(s.ID), Address: raft.ServerAddress(s.Address), Suffrage: raft.Voter})
	}
	if err := n.raft.BootstrapCluster(conf).Error(); err != nil {
		return fmt.Errorf("bootstrap cluster: %w", err)
	}
	if err := n.gate.open("bootstrapped a new cluster"); err != nil {
		return err
	}
	return nil
}

// Servers returns the latest Raft configuration.
func (n *Node) Servers() ([]Server, error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, err
	}
	var out []Server
	for _, srv := range f.Configuration().Servers {
		out = append(out, Server{ID: string(srv.ID), Address: string(srv.Address), Suffrage: srv.Suffrage.String()})
	}
	return out, nil
}

// AddVoter adds (or, for a known ID, re-addresses) a voting member. Only the
// leader can; others get ErrNotLeader.
func (n *Node) AddVoter(id, addr string) error {
	err := n.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(addr), 0, 10*time.Second).Error()
	if errors.Is(err, raft.ErrNotLeader) {
		return ErrNotLeader
	}
	return err
}

// AddNonvoter adds a member that receives the log but counts in no quorum,
// neither for commits nor for elections. Only the leader can.
func (n *Node) AddNonvoter(id, addr string) error {
	err := n.raft.AddNonvoter(raft.ServerID(id), raft.ServerAddress(addr), 0, 10*time.Second).Error()
	if errors.Is(err, raft.ErrNotLeader) {
		return ErrNotLeader
	}
	return err
}

// RemoveServer removes a member. Only the leader can.
func (n *Node) RemoveServer(id string) error {
	err := n.raft.RemoveServer(raft.ServerID(id), 0, 10*time.Second).Error()
	if errors.Is(err, raft.ErrNotLeader) {
		return ErrNotLeader
	}
	return err
}

// TransferLeadership hands leadership to another voter, so that a planned
// shutdown of the leader costs milliseconds rather than an election.
func (n *Node) TransferLeadership() error {
	return n.raft.LeadershipTransfer().Error()
}

func (n *Node) otherVoters() int {
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return 0
	}
	count := 0
	for _, srv := range f.Configuration().Servers {
		if srv.Suffrage == raft.Voter && srv.ID != raft.ServerID(n.cfg.NodeID) {
			count++
		}
	}
	return count
}
