package consensus_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/agendahq/agenda/consensus"
	"github.com/agendahq/agenda/events"
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
	followers := followersOf(nodes, leader)
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
	noStaleLeaderThenRecovery(t, leader, f1, f2, acknowledged, 21)
}

// noStaleLeaderThenRecovery is the end of the scenarios below: L goes away
// and the stale F1 comes back; with F2 gated nobody may lead. Then L comes
// back: the cluster recovers with everything acknowledged, and F2 may vote
// once it has caught up (not before: its gate opens only with a read
// index).
func noStaleLeaderThenRecovery(t *testing.T, leader, f1, f2 *testNode, acknowledged []events.Envelope, next int64) {
	t.Helper()
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
	l := reopenAt(t, leaderAgain, leaderAgain.store)
	all := []*testNode{l, f1, f2}
	newLeader := leaderOf(t, all)
	mustPropose(t, newLeader, streamBatch(t, "s", next, 1))
	waitSameStores(t, newLeader, all)
	got := mustReadAll(t, newLeader.store)
	if len(got) < len(acknowledged) {
		t.Fatalf("%d events after recovery, %d were acknowledged", len(got), len(acknowledged))
	}
	requireSameEvents(t, got[:len(acknowledged)], acknowledged)
	if !f2.VoteGated() {
		t.Fatal("the node's gate opened without a read index")
	}
	admitVoter(t, newLeader, f2)
	if f2.VoteGated() {
		t.Fatal("the node may still not vote after catching up")
	}
}

// TestVoterThatForgotPartOfItsLogCannotElectAStaleFollower is the scenario
// above with a partial loss: F2 keeps its event store but not all of its
// Raft state. A fault-injection review found the gate open when only the
// log was lost (raft/wal) and snapshots remained: hashicorp/raft counts a
// snapshot as existing state, and F2, without its term, vote and the
// entries after the snapshot, elected the stale F1 (writes lost). The same
// holds for a Raft directory restored from an older copy: its log ends
// before what the node applied and acknowledged.
func TestVoterThatForgotPartOfItsLogCannotElectAStaleFollower(t *testing.T) {
	for _, tc := range []struct {
		name string
		// before runs while F2 is still up to date; lose, with F2 stopped,
		// after the writes F1 misses.
		before func(t *testing.T, f2 *testNode) *testNode
		lose   func(t *testing.T, f2 *testNode)
	}{{
		name: "log lost, snapshot kept",
		before: func(t *testing.T, f2 *testNode) *testNode {
			if err := f2.Snapshot(); err != nil {
				t.Fatalf("snapshot: %v", err)
			}
			return f2
		},
		lose: func(t *testing.T, f2 *testNode) {
			if err := os.RemoveAll(filepath.Join(f2.cfg.Dir, "wal")); err != nil {
				t.Fatal(err)
			}
		},
	}, {
		name: "raft directory restored from an older copy",
		before: func(t *testing.T, f2 *testNode) *testNode {
			f2.Close()
			if err := os.CopyFS(f2.cfg.Dir+".old", os.DirFS(f2.cfg.Dir)); err != nil {
				t.Fatal(err)
			}
			return reopenAt(t, f2, f2.store)
		},
		lose: func(t *testing.T, f2 *testNode) {
			if err := os.RemoveAll(f2.cfg.Dir); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(f2.cfg.Dir+".old", f2.cfg.Dir); err != nil {
				t.Fatal(err)
			}
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			nodes := startCluster(t, 3)
			leader := leaderOf(t, nodes)
			followers := followersOf(nodes, leader)
			f1, f2 := followers[0], followers[1]
			for v := int64(0); v < 5; v++ {
				mustPropose(t, leader, streamBatch(t, "s", v, 1))
			}
			waitSameStores(t, leader, nodes)
			f2 = tc.before(t, f2)
			waitSameStores(t, leader, []*testNode{leader, f2})

			// F1 falls behind: these commit on L and F2 only.
			f1.Close()
			for v := int64(5); v < 25; v++ {
				mustPropose(t, leader, streamBatch(t, "s", v, 1))
			}
			acknowledged := mustReadAll(t, leader.store)
			waitSameStores(t, leader, []*testNode{leader, f2})

			// F2 forgets part of its Raft state, keeping its event store.
			f2.Close()
			tc.lose(t, f2)
			f2 = reopenAt(t, f2, f2.store)
			if !f2.VoteGated() {
				t.Fatal("a node that forgot entries it had acknowledged may vote at once")
			}
			noStaleLeaderThenRecovery(t, leader, f1, f2, acknowledged, 25)
		})
	}
}

// TestFoundingNodeThatForgotIsGatedOnceOthersJoined: a node started
// without seeds bootstraps its cluster, and others may join it later; it
// keeps its Bootstrap setting. Restarted after losing its log (snapshot
// kept), it must be gated like any other voter that forgot, not opened as
// "a single-node cluster".
func TestFoundingNodeThatForgotIsGatedOnceOthersJoined(t *testing.T) {
	nodes := startCluster(t, 3)
	founder := nodes[0]
	mustPropose(t, leaderOf(t, nodes), streamBatch(t, "s", 0, 1))
	waitSameStores(t, leaderOf(t, nodes), nodes)
	if err := founder.Snapshot(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	founder.Close()
	if err := os.RemoveAll(filepath.Join(founder.cfg.Dir, "wal")); err != nil {
		t.Fatal(err)
	}
	cfg := founder.cfg // Bootstrap still set
	cfg.BindAddr = founder.RaftAddr()
	node, err := consensus.Open(cfg, founder.store)
	if err != nil {
		t.Fatalf("reopen the founder: %v", err)
	}
	again := &testNode{Node: node, cfg: cfg, store: founder.store}
	t.Cleanup(func() { again.Close() })
	if !again.VoteGated() {
		t.Fatal("the founding node that lost its log may vote at once")
	}
	others := []*testNode{nodes[1], nodes[2]}
	l := leaderOf(t, others)
	mustPropose(t, l, streamBatch(t, "s", 1, 1))
	admitVoter(t, l, again)
	waitSameStores(t, l, []*testNode{l, again})
}

// soleNodeWithWrites starts a one-node cluster in a temp dir (its Raft
// state in raft/, its event store in events.db) and commits writes
// batches of stream "s" through it.
func soleNodeWithWrites(t *testing.T, writes int64) (consensus.Config, *eventstore.Store, *testNode) {
	t.Helper()
	dir := t.TempDir()
	cfg := nodeConfig(filepath.Join(dir, "raft"))
	store := mustOpenStoreAt(t, filepath.Join(dir, "events.db"))
	n := startNode(t, cfg, store)
	for v := int64(0); v < writes; v++ {
		mustPropose(t, n, streamBatch(t, "s", v, 1))
	}
	return cfg, store, n
}

// TestSoleVoterThatForgotRefusesToStart: the only voter of its cluster
// that lost log entries its event store applied has nobody to learn them
// from, and new entries would be numbered over them (answering "entry N
// applied before restart"). It refuses to start, saying what to do.
func TestSoleVoterThatForgotRefusesToStart(t *testing.T) {
	for _, snapshot := range []bool{false, true} {
		t.Run(map[bool]string{false: "no snapshot", true: "snapshot kept"}[snapshot], func(t *testing.T) {
			cfg, store, n := soleNodeWithWrites(t, 5)
			if snapshot {
				if err := n.Snapshot(); err != nil {
					t.Fatalf("snapshot: %v", err)
				}
				mustPropose(t, n, streamBatch(t, "s", 5, 1))
			}
			n.Close()
			if err := os.RemoveAll(filepath.Join(cfg.Dir, "wal")); err != nil {
				t.Fatal(err)
			}
			node, err := consensus.Open(cfg, store)
			if err == nil {
				node.Close()
				t.Fatal("the only voter started after losing log entries it applied")
			}
			if !errors.Is(err, consensus.ErrLostRaftLog) {
				t.Fatalf("refused with %v, want ErrLostRaftLog", err)
			}
		})
	}
}

// TestRestoredStoreCompactsItsNewLog: a node founding a cluster on a
// restored event store (its history in no Raft entry) starts with its
// whole new log compacted into a snapshot, so that joiners must install
// the snapshot, history and all; a marker left by a start that died before
// it bootstrapped does not stop it (a review found it refused for ever).
func TestRestoredStoreCompactsItsNewLog(t *testing.T) {
	cfg, store, n := soleNodeWithWrites(t, 5)
	head := store.Head()
	n.Close()
	backup := filepath.Join(t.TempDir(), "backup.db")
	if _, err := eventstore.Backup(context.Background(), filepath.Join(filepath.Dir(cfg.Dir), "events.db"), backup); err != nil {
		t.Fatal(err)
	}
	rdir := t.TempDir()
	if _, err := eventstore.PrepareRestore(context.Background(), backup, filepath.Join(rdir, "events.db")); err != nil {
		t.Fatal(err)
	}
	rcfg := nodeConfig(filepath.Join(rdir, "raft"))
	rstore := mustOpenStoreAt(t, filepath.Join(rdir, "events.db"))
	// Not with others: they would be sent no entry holding its history.
	joining := rcfg
	joining.Bootstrap = false
	if node, err := consensus.Open(joining, rstore); !errors.Is(err, consensus.ErrRestoredNotAlone) {
		if err == nil {
			node.Close()
		}
		t.Fatalf("a restored store opened to join others: %v, want ErrRestoredNotAlone", err)
	}
	if err := os.MkdirAll(rcfg.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rcfg.Dir, "restored-history"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	r := startNode(t, rcfg, rstore)
	if got := rstore.Head(); got != head {
		t.Fatalf("restored head %d, want %d", got, head)
	}
	if _, err := os.Stat(filepath.Join(rcfg.Dir, "restored-history")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the marker is still there after the start: %v", err)
	}
	r.Close()
	if first, err := consensus.LogFirstIndex(rcfg.Dir); err != nil || first == 1 {
		t.Errorf("the new log still starts at %d (%v): a joiner would be sent it instead of the snapshot", first, err)
	}
}

// TestNodeWithEventsHasState: a node that lost its whole Raft directory but
// kept its event store still has state, so the cluster agent never makes it
// found a new cluster (a review found one doing so with BOOTSTRAP_EXPECT=1:
// its state machine then skipped the new cluster's entries as applied, or
// applied them over the old history). It may only join, as it would have.
func TestNodeWithEventsHasState(t *testing.T) {
	cfg, store, n := soleNodeWithWrites(t, 3)
	n.Close()
	if err := os.RemoveAll(cfg.Dir); err != nil {
		t.Fatal(err)
	}
	cfg.Bootstrap = false // it has seeds now: the agent decides whether it founds or joins
	node, err := consensus.Open(cfg, store)
	if err != nil {
		t.Fatalf("reopen without Raft state: %v", err)
	}
	defer node.Close()
	if !node.HasState() {
		t.Fatal("a node whose event store holds 3 batches says it has no state")
	}
	if !node.VoteGated() {
		t.Fatal("a node that lost its Raft state may vote")
	}
}
