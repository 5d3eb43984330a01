package consensus_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/agendahq/agenda/consensus"
)

// TestReadIndexMakesFollowerReadsLinearizable: after every acknowledged
// write, a follower that waits for the leader's read index shows it, and a
// follower cannot hand out read indexes itself.
func TestReadIndexMakesFollowerReadsLinearizable(t *testing.T) {
	nodes := startCluster(t, 3)
	leader := leaderOf(t, nodes)
	var follower *testNode
	for _, n := range nodes {
		if n != leader {
			follower = n
			break
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := follower.ReadIndex(ctx); !errors.Is(err, consensus.ErrNotLeader) {
		t.Fatalf("ReadIndex on a follower: %v, want ErrNotLeader", err)
	}
	for i := 0; i < 30; i++ {
		c := mustPropose(t, leader, streamBatch(t, fmt.Sprintf("s%d", i%3), int64(i/3), 1))
		idx, err := leader.ReadIndex(ctx)
		if err != nil {
			t.Fatalf("ReadIndex: %v", err)
		}
		if idx < c.Index {
			t.Fatalf("read index %d below the acknowledged write's index %d", idx, c.Index)
		}
		if err := follower.WaitApplied(ctx, idx); err != nil {
			t.Fatalf("WaitApplied(%d): %v", idx, err)
		}
		if got := follower.store.Head(); got < c.LastPosition {
			t.Fatalf("after WaitApplied(%d) the follower's store is at %d, want ≥ %d", idx, got, c.LastPosition)
		}
	}
}

// TestBootstrapWithVoterList forms a three-node cluster by bootstrapping one
// node with all three as voters, as the cluster agent does: the other two
// have no state, vote, and take the leader's log.
func TestBootstrapWithVoterList(t *testing.T) {
	var nodes []*testNode
	var servers []consensus.Server
	for i := 0; i < 3; i++ {
		dir := t.TempDir()
		cfg := nodeConfig(filepath.Join(dir, "raft"))
		cfg.NodeID = fmt.Sprintf("node-%d", i+1)
		cfg.Bootstrap = false
		store := mustOpenStoreAt(t, filepath.Join(dir, "events.db"))
		n, err := consensus.Open(cfg, store)
		if err != nil {
			t.Fatalf("open %s: %v", cfg.NodeID, err)
		}
		tn := &testNode{Node: n, cfg: cfg, store: store}
		t.Cleanup(func() { tn.Close() })
		if n.HasState() {
			t.Fatalf("%s has state before bootstrap", cfg.NodeID)
		}
		nodes = append(nodes, tn)
		servers = append(servers, consensus.Server{ID: cfg.NodeID, Address: n.RaftAddr()})
	}
	// The others endorse the bootstrap (the agent's vote), which opens
	// their vote gates: nobody has history to lose.
	for _, n := range nodes[1:] {
		if !n.VoteGated() {
			t.Fatalf("%s may vote before it endorsed a bootstrap", n.cfg.NodeID)
		}
		if err := n.AllowVoting("test bootstrap"); err != nil {
			t.Fatal(err)
		}
	}
	if err := nodes[0].Bootstrap(servers); err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	leader := leaderOf(t, nodes)
	mustPropose(t, leader, streamBatch(t, "s", 0, 1))
	waitSameStores(t, leader, nodes)
	for _, n := range nodes {
		if !n.HasState() {
			t.Errorf("%s has no state after joining", n.cfg.NodeID)
		}
	}
	if err := nodes[0].Bootstrap(servers); err == nil {
		t.Error("a second bootstrap succeeded")
	}
}
