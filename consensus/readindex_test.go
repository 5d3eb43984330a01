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
	follower := followersOf(nodes, leader)[0]
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

// TestReadIndexOfAPausedLeaderIsNotStale: a leader whose process is paused
// while its followers elect another and commit a write must not, on
// resuming, hand out a read index below that write. Its followers' answers
// to heartbeats it sent before the pause still arrive afterwards, and
// hashicorp/raft's VerifyLeader counts them as votes: a read index proven
// that way was stale (found by TestLinearizability, a 409 decided on the
// paused leader's state). The pause is modelled by holding the old
// leader's view of the network (Stall) while its clock runs on; a 6 s
// lease keeps it believing it leads until it is asked.
func TestReadIndexOfAPausedLeaderIsNotStale(t *testing.T) {
	nodes := startClusterWith(t, 3, func(i int, cfg *consensus.Config) {
		if i == 2 { // the leader to pause: heartbeats every 0.6–1.2 s, a 6 s lease
			cfg.HeartbeatTimeout, cfg.LeaderLeaseTimeout, cfg.ElectionTimeout = 6*time.Second, 6*time.Second, 6*time.Second
			return
		}
		cfg.HeartbeatTimeout, cfg.ElectionTimeout = 1500*time.Millisecond, 1500*time.Millisecond
	})
	old, followers := nodes[2], nodes[:2]
	if err := leaderOf(t, nodes).TransferLeadershipTo(old.ID(), old.RaftAddr()); err != nil {
		t.Fatalf("transfer leadership to %s: %v", old.ID(), err)
	}
	if leaderOf(t, nodes) != old {
		t.Fatalf("%s does not lead after the transfer", old.ID())
	}
	for i := 0; i < 5; i++ {
		mustPropose(t, old, streamBatch(t, "before", int64(i), 1))
	}
	waitSameStores(t, old, nodes)
	// It has served reads in its term (so its first barrier is behind it).
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	if _, err := old.ReadIndex(ctx); err != nil {
		t.Fatalf("read index before the pause: %v", err)
	}
	cancel()

	heldOut, releaseOut, releaseIn := old.Stall()
	t.Cleanup(func() { releaseOut(); releaseIn() })
	paused := time.Now()
	// The followers' answers to an AppendEntries each (a heartbeat or a
	// replication round), sent in the old term, are in and held: what a
	// paused process finds on resuming.
	for heldOut() < int64(len(followers)) {
		if time.Since(paused) > 10*time.Second {
			t.Fatalf("%d answers held after 10 s, want %d", heldOut(), len(followers))
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, f := range followers { // they give up on the silent leader at once
		if err := f.SetTimeouts(250*time.Millisecond, 250*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	newLeader := leaderOf(t, followers)
	w := mustPropose(t, newLeader, streamBatch(t, "after", 0, 1))
	t.Logf("%v after the pause: %s leads and acknowledged a write at index %d", time.Since(paused), newLeader.ID(), w.Index)
	if !old.IsLeader() {
		t.Fatalf("the paused leader stepped down %v after the pause, before it could be asked", time.Since(paused))
	}

	type answer struct {
		idx uint64
		err error
	}
	got := make(chan answer, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		idx, err := old.ReadIndex(ctx)
		got <- answer{idx, err}
	}()
	// The check is under way; the answers to heartbeats sent before the
	// pause reach raft now, and the new leader's requests only after.
	time.Sleep(100 * time.Millisecond)
	releaseOut()
	time.Sleep(100 * time.Millisecond)
	releaseIn()
	a := <-got
	if a.err != nil && !errors.Is(a.err, consensus.ErrNotLeader) && !errors.Is(a.err, consensus.ErrNoLeader) {
		t.Fatalf("read index on the paused leader: %v, want ErrNotLeader or ErrNoLeader", a.err)
	}
	if a.err == nil && a.idx < w.Index {
		t.Fatalf("the paused leader handed out read index %d, below the write at index %d the new leader %s acknowledged before the call",
			a.idx, w.Index, newLeader.ID())
	}
	t.Logf("read index on the paused leader: %d, %v (the write is at %d)", a.idx, a.err, w.Index)
}

// TestNewLeaderProvesItsTermUnasked: a node that wins an election applies a
// barrier of its term at once, so its first readiness probe (CaughtUp) or
// strong read does not have to wait for one. Before, only those asked for
// it: an idle node's first /readyz answered 503 "applying committed log
// entries" seconds after it had started.
func TestNewLeaderProvesItsTermUnasked(t *testing.T) {
	n := mustStartNode(t) // waits until it leads, asking nothing else
	deadline := time.Now().Add(5 * time.Second)
	for !n.TermProven() {
		if time.Now().After(deadline) {
			t.Fatal("5 s after winning its election the leader has applied no barrier of its term")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !n.CaughtUp() {
		t.Fatal("an idle leader whose term is proven is not caught up at the first ask")
	}
}
