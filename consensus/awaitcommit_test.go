package consensus_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// TestRestartedFollowerAwaitsTheCommitIndex: a follower restarted with
// every entry applied may not count itself caught up until the leader says
// what is committed, which it does only with its next replication, and
// hashicorp/raft spaces those for a peer it could not reach (doubling up to
// 10.24 s). AwaitingCommitIndex tells that wait from applying entries, so
// that /readyz can say which it is (an operator's walk-through was told
// "applying committed log entries" for seconds while nothing was applied).
//
// So does one whose store was lost while its Raft log was kept: with nothing
// applied and no commit index heard it counted itself caught up, and a fault
// review saw /readyz answer 200 for most of a second (the grace for a lag)
// while it replayed its log into the empty store.
func TestRestartedFollowerAwaitsTheCommitIndex(t *testing.T) {
	for _, lost := range []bool{false, true} {
		t.Run(map[bool]string{false: "store kept", true: "store lost"}[lost], func(t *testing.T) {
			testRestartedFollowerAwaitsTheCommitIndex(t, lost)
		})
	}
}

func testRestartedFollowerAwaitsTheCommitIndex(t *testing.T, storeLost bool) {
	nodes := startCluster(t, 3)
	leader := leaderOf(t, nodes)
	f := followersOf(nodes, leader)[0]
	mustPropose(t, leader, streamBatch(t, "s", 0, 1))
	waitSameStores(t, leader, nodes)
	if f.AwaitingCommitIndex() {
		t.Fatal("a follower that has heard the commit index says it awaits it")
	}

	// Down 4 s: the leader's attempts back off (10 ms, doubling), the
	// tenth about 2.6 s after the first failure and the eleventh about
	// 5.2 s after, some 1.2 s after the follower is back.
	f.Close()
	time.Sleep(4 * time.Second)
	if !leader.IsLeader() {
		// A new leader starts its backoff anew, and may reach the
		// follower at once.
		t.Skip("leadership changed while the follower was down")
	}
	store := f.store
	if storeLost {
		store = mustOpenStoreAt(t, filepath.Join(t.TempDir(), "events.db"))
	}
	f = reopenAt(t, f, store)
	if awaiting, caughtUp := f.AwaitingCommitIndex(), f.CaughtUp(); !awaiting || caughtUp {
		t.Fatalf("just restarted: awaiting the commit index %v, caught up %v; want awaiting, not caught up", awaiting, caughtUp)
	}
	// Nor does it serve a linearizable read at what its store holds:
	// that store may hold entries the cluster did not keep, which only the
	// leader's entries can tell (DESIGN.md, "Entries applied before"). (An
	// empty store holds nothing to serve.)
	if !storeLost {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := f.WaitApplied(ctx, f.StoreApplied())
		cancel()
		if f.AwaitingCommitIndex() && err == nil {
			t.Fatal("a follower that has heard no commit index waited for nothing to serve a read at its store's index")
		}
	}
	deadline := time.Now().Add(15 * time.Second)
	for f.AwaitingCommitIndex() || !f.CaughtUp() {
		if time.Now().After(deadline) {
			t.Fatalf("15 s after the restart: awaiting the commit index %v, caught up %v", f.AwaitingCommitIndex(), f.CaughtUp())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if leader.AwaitingCommitIndex() {
		t.Error("the leader says it awaits a commit index")
	}
	if err := f.WaitApplied(context.Background(), f.StoreApplied()); err != nil {
		t.Fatal(err)
	}
	if got, want := f.StoreApplied(), leader.StoreApplied(); got != want {
		t.Errorf("caught up with its store at %d, the leader's at %d", got, want)
	}
}

// TestUnprovenStoreServesNothing: while a leader's snapshot leaves the
// store unproven, the node is not caught up and serves no linearizable
// read; proven, it does.
func TestUnprovenStoreServesNothing(t *testing.T) {
	n := mustStartNode(t)
	mustPropose(t, n, streamBatch(t, "s", 0, 1))
	for deadline := time.Now().Add(10 * time.Second); !n.CaughtUp(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("not caught up 10 s after a write")
		}
	}
	n.MarkUnproven(n.StoreApplied())
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if n.CaughtUp() || n.WaitApplied(ctx, 1) == nil {
		t.Fatal("an unproven store is caught up, or serves a read")
	}
	n.MarkUnproven(0)
	if !n.CaughtUp() || n.WaitApplied(context.Background(), 1) != nil {
		t.Fatal("a proven store is not caught up, or serves no read")
	}
}
