package consensus_test

import (
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
func TestRestartedFollowerAwaitsTheCommitIndex(t *testing.T) {
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
	f = reopenAt(t, f, f.store)
	if awaiting, caughtUp := f.AwaitingCommitIndex(), f.CaughtUp(); !awaiting || caughtUp {
		t.Fatalf("just restarted: awaiting the commit index %v, caught up %v; want awaiting, not caught up", awaiting, caughtUp)
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
}
