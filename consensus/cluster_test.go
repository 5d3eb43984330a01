package consensus_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/agendahq/agenda/consensus"
)

// startCluster starts size nodes on loopback, each with its own data dir and
// event store, over the authenticated transport: the first bootstraps and
// adds the others as voters.
func startCluster(t testing.TB, size int) []*testNode {
	t.Helper()
	return startClusterWith(t, size, nil)
}

// startClusterWith is startCluster with each node's configuration passed
// through tweak (if not nil) before it opens.
func startClusterWith(t testing.TB, size int, tweak func(i int, cfg *consensus.Config)) []*testNode {
	t.Helper()
	nodes := make([]*testNode, size)
	for i := range nodes {
		dir := t.TempDir()
		cfg := nodeConfig(filepath.Join(dir, "raft"))
		cfg.NodeID = fmt.Sprintf("node-%d", i+1)
		cfg.Bootstrap = i == 0
		if tweak != nil {
			tweak(i, &cfg)
		}
		store := mustOpenStoreAt(t, filepath.Join(dir, "events.db"))
		if i == 0 {
			nodes[i] = startNode(t, cfg, store)
			continue
		}
		n, err := consensus.Open(cfg, store)
		if err != nil {
			t.Fatalf("open %s: %v", cfg.NodeID, err)
		}
		nodes[i] = &testNode{Node: n, cfg: cfg, store: store}
		t.Cleanup(func() { nodes[i].Close() })
		if err := nodes[0].AddVoter(cfg.NodeID, n.RaftAddr()); err != nil {
			t.Fatalf("add %s: %v", cfg.NodeID, err)
		}
		admitVoter(t, nodes[0], nodes[i])
	}
	return nodes
}

// admitVoter does what the cluster agent does for a node that joined
// without Raft state: it gets a read index from leader and waits until n's
// log reaches it, which opens n's vote gate.
func admitVoter(t testing.TB, leader, n *testNode) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	idx, err := leader.ReadIndex(ctx)
	if err != nil {
		t.Fatalf("read index on %s: %v", leader.ID(), err)
	}
	for {
		open, err := n.OpenVoteGate(idx)
		if err != nil {
			t.Fatalf("open vote gate of %s: %v", n.ID(), err)
		}
		if open {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s never caught up with read index %d (last index %d)", n.ID(), idx, n.Status().AppliedIndex)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// leaderOf waits for one of the open nodes to lead.
// followersOf returns nodes without leader, in order.
func followersOf(nodes []*testNode, leader *testNode) []*testNode {
	var out []*testNode
	for _, n := range nodes {
		if n != leader {
			out = append(out, n)
		}
	}
	return out
}

func leaderOf(t testing.TB, nodes []*testNode) *testNode {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, n := range nodes {
			if n != nil && n.IsLeader() {
				return n
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no leader within 10s")
	return nil
}

// waitSameStores waits until every node's event store holds exactly the
// leader's events.
func waitSameStores(t *testing.T, leader *testNode, nodes []*testNode) {
	t.Helper()
	want := mustReadAll(t, leader.store)
	for _, n := range nodes {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := n.store.WaitFor(ctx, int64(len(want)))
		cancel()
		if err != nil {
			t.Fatalf("%s reached %d of %d events", n.cfg.NodeID, n.store.Head(), len(want))
		}
		requireSameEvents(t, mustReadAll(t, n.store), want)
	}
}

// TestThreeNodeClusterReplicatesIdenticalEventStores proposes on a real
// three-node cluster, stops the leader, proposes on the new one, and checks
// after each step that every live node's event store is identical.
func TestThreeNodeClusterReplicatesIdenticalEventStores(t *testing.T) {
	nodes := startCluster(t, 3)
	leader := leaderOf(t, nodes)
	for i := 0; i < 20; i++ {
		mustPropose(t, leader, streamBatch(t, fmt.Sprintf("s%d", i%4), int64(i/4), 1))
	}
	waitSameStores(t, leader, nodes)

	// A follower refuses to propose: it is not the leader.
	for _, n := range nodes {
		if n != leader {
			if _, err := propose(n, streamBatch(t, "follower", 0, 1)); err != consensus.ErrNotLeader {
				t.Fatalf("propose on follower %s: got %v, want ErrNotLeader", n.cfg.NodeID, err)
			}
			break
		}
	}

	// Planned stop: Close hands leadership over before shutting down, so
	// another node leads at once, without waiting for an election timeout.
	if err := leader.Close(); err != nil {
		t.Fatalf("close leader: %v", err)
	}
	live := followersOf(nodes, leader)
	next := leaderOf(t, live)
	if id, _ := next.Leader(); id != next.cfg.NodeID {
		t.Fatalf("new leader %s does not know it leads (sees %q)", next.cfg.NodeID, id)
	}
	for i := 20; i < 30; i++ {
		mustPropose(t, next, streamBatch(t, fmt.Sprintf("s%d", i%4), int64(i/4), 1))
	}
	waitSameStores(t, next, live)
	if got := next.store.Head(); got != 30 {
		t.Fatalf("head after 30 single-event batches = %d, want 30", got)
	}
}
