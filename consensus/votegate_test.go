package consensus_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/agendahq/agenda/consensus"
	"github.com/agendahq/agenda/eventstore"
)

// reopenAt starts n's node again on the same Raft address, over store.
func reopenAt(t *testing.T, n *testNode, store *eventstore.Store) *testNode {
	t.Helper()
	cfg := n.cfg
	cfg.BindAddr = n.RaftAddr()
	cfg.Bootstrap = false
	node, err := consensus.Open(cfg, store)
	if err != nil {
		t.Fatalf("reopen %s: %v", cfg.NodeID, err)
	}
	tn := &testNode{Node: node, cfg: cfg, store: store}
	t.Cleanup(func() { tn.Close() })
	return tn
}

// TestEmptiedVoterCannotElectAStaleFollower is finding 1 of issue 8. Leader
// L and followers F1, F2. F1 is down while writes commit on L+F2. Then F2
// loses its disk and comes back empty with the same ID and address, and L
// goes down. Without the vote gate the empty F2 grants its vote to the stale
// F1, which leads and loses every write F1 missed. With it, nobody may lead
// until L is back; then nothing acknowledged is lost, and F2 may vote again
// only once it has caught up.
func TestEmptiedVoterCannotElectAStaleFollower(t *testing.T) {
	nodes := startCluster(t, 3)
	leader := leaderOf(t, nodes)
	var followers []*testNode
	for _, n := range nodes {
		if n != leader {
			followers = append(followers, n)
		}
	}
	f1, f2 := followers[0], followers[1]
	mustPropose(t, leader, streamBatch(t, "s", 0, 1))
	waitSameStores(t, leader, nodes)

	// F1 falls behind: these commit on L and F2 only.
	f1.Close()
	for v := int64(1); v <= 20; v++ {
		mustPropose(t, leader, streamBatch(t, "s", v, 1))
	}
	acknowledged := mustReadAll(t, leader.store)

	// F2 loses its disk and comes back empty, same ID, same address.
	f2.Close()
	if err := os.RemoveAll(f2.cfg.Dir); err != nil {
		t.Fatal(err)
	}
	freshStore := mustOpenStoreAt(t, filepath.Join(t.TempDir(), "events.db"))
	f2 = reopenAt(t, f2, freshStore)
	if !f2.VoteGated() {
		t.Fatal("a node that came back without raft state may vote at once")
	}
	// L goes away; the stale F1 comes back.
	leaderAgain := leader
	leader.Close()
	f1 = reopenAt(t, f1, f1.store)

	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if f1.IsLeader() || f2.IsLeader() {
			t.Fatalf("a leader was elected without the node holding the acknowledged writes (f1 leads: %v, f2 leads: %v)", f1.IsLeader(), f2.IsLeader())
		}
		time.Sleep(20 * time.Millisecond)
	}

	// L comes back: the cluster recovers with everything acknowledged.
	l := reopenAt(t, leaderAgain, leaderAgain.store)
	all := []*testNode{l, f1, f2}
	newLeader := leaderOf(t, all)
	mustPropose(t, newLeader, streamBatch(t, "s", 21, 1))
	waitSameStores(t, newLeader, all)
	got := mustReadAll(t, newLeader.store)
	if len(got) < len(acknowledged) {
		t.Fatalf("%d events after recovery, %d were acknowledged", len(got), len(acknowledged))
	}
	requireSameEvents(t, got[:len(acknowledged)], acknowledged)
	if !f2.VoteGated() {
		t.Fatal("the emptied node's gate opened without a read index")
	}
	admitVoter(t, newLeader, f2)
	if f2.VoteGated() {
		t.Fatal("the emptied node may still not vote after catching up")
	}
}
