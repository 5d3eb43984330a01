package main

// Multi-process cluster scenarios (see cluster_test.go): joining a running
// cluster, with the wrong secret or from a compacted log's snapshot.

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/agendahq/agenda/consensus"
)

// (e) A node with the wrong CLUSTER_HMAC_SECRET can neither join nor vote;
// the cluster carries on.
func TestClusterWrongSecretCannotJoin(t *testing.T) {
	tc, leader := startCluster(t, 3)
	u := tc.registerOn(leader, "wrongsecret")
	intruder := tc.addNode()
	intruder.env["CLUSTER_HMAC_SECRET"] = "not-the-cluster-secret-0123456789abcdef"
	intruder.start()

	members := tc.nodes[:3]
	var acked []written
	deadline := time.Now().Add(6 * time.Second)
	for s := 1; time.Now().Before(deadline); s++ {
		// Writes keep working meanwhile, through every member.
		acked = append(acked, mustCreateSlot(t, u.as(members[s%3]), s))
		for _, n := range members {
			st, err := n.status()
			if err != nil {
				t.Fatalf("status of %s: %v", n.id, err)
			}
			for _, m := range st.Nodes {
				if m.ID == intruder.id && strings.EqualFold(m.Suffrage, "voter") {
					t.Fatalf("%s lists the intruder %s as a voter: %+v", n.id, intruder.id, st.Nodes)
				}
			}
			if st.LeaderID == intruder.id {
				t.Fatalf("%s follows the intruder", n.id)
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	if v := tc.waitStable(clusterTimeout, members, false); v == nil {
		t.Fatal("no leader")
	}
	if intruder.ready() {
		t.Errorf("the intruder says it is ready")
	}
	if st, err := intruder.status(); err == nil && slices.Contains(st.voters(), "n1") {
		t.Errorf("the intruder believes it shares a configuration with n1: %+v", st)
	}
	intruder.kill()
	// The members audited the intruder's refused gossip and Raft dials,
	// throttled: it tried many times a second, and every node here
	// connects from 127.0.0.1, so each member writes a line or two.
	for _, n := range members {
		if c := n.logCount("action=cluster.auth_refused"); c == 0 || c > 3 {
			t.Errorf("%s logged %d refusals of the intruder, want 1 to 3 (audited, throttled per host)", n.id, c)
		}
	}

	// Even knowing a member's Raft address, a wrong secret gets no Raft
	// connection: the handshake fails before any vote could be asked.
	layer, err := consensus.NewStreamLayer(consensus.StreamConfig{
		BindAddr: "127.0.0.1:0", Secret: []byte(intruder.env["CLUSTER_HMAC_SECRET"]), NodeID: intruder.id,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer layer.Close()
	leader = tc.waitStable(clusterTimeout, members, false)
	for _, addr := range []string{leader.raftAddr, leader.env["RAFT_ADVERTISE_ADDR"]} {
		if conn, err := layer.Dial(raft.ServerAddress(addr), 2*time.Second); err == nil {
			conn.Close()
			t.Fatalf("a Raft connection to %s with the wrong secret passed the handshake", addr)
		} else if !errors.Is(err, consensus.ErrHandshake) {
			t.Fatalf("Raft dial to %s with the wrong secret: %v, want ErrHandshake", addr, err)
		}
	}

	// A member restarted with the wrong secret is cut off: it neither
	// votes nor receives the log, and the others carry on without it.
	victim := followersOf(members, leader)[0]
	victim.stop()
	goodSecret := victim.env["CLUSTER_HMAC_SECRET"]
	victim.env["CLUSTER_HMAC_SECRET"] = intruder.env["CLUSTER_HMAC_SECRET"]
	victim.start()
	rest := othersThan(members, victim)
	deadline = time.Now().Add(4 * time.Second)
	for s := 1000; time.Now().Before(deadline); s++ {
		acked = append(acked, mustCreateSlot(t, u.as(rest[s%2]), s))
		time.Sleep(100 * time.Millisecond)
	}
	if l := tc.waitStable(clusterTimeout, rest, true); l == victim {
		t.Fatalf("the member with the wrong secret leads")
	}
	if st, err := victim.status(); err != nil {
		t.Fatalf("status of %s: %v", victim.id, err)
	} else if last := maxPosition(acked); st.Position >= last {
		t.Fatalf("%s, with the wrong secret, reached position %d (last write at %d)", victim.id, st.Position, last)
	} else {
		t.Logf("%s with the wrong secret: state %s, term %d, leader %q, position %d (cluster at %d)", victim.id, st.State, st.Term, st.LeaderID, st.Position, last)
	}
	if victim.ready() {
		t.Errorf("%s, with the wrong secret, says it is ready", victim.id)
	}
	// With the right secret again, it catches up.
	victim.stop()
	victim.env["CLUSTER_HMAC_SECRET"] = goodSecret
	victim.start()
	tc.waitStable(clusterTimeout, members, false)
	tc.expectVisibleEverywhere(u, []*clusterNode{victim}, acked)
	tc.stopAndCompareEventStores(members, maxPosition(acked))
}

// (g) A node joins a running cluster whose log was compacted behind a
// snapshot: it catches up from the snapshot and its event store ends
// identical.
func TestClusterJoinCatchesUpFromSnapshot(t *testing.T) {
	tc := newTestCluster(t, 3)
	for _, n := range tc.nodes {
		n.snapshotOften(32, 8, "100ms")
	}
	tc.start()
	leader := tc.waitStable(clusterTimeout, nil, false)
	u := tc.registerOn(leader, "snapjoin")
	var acked []written
	for s := 1; s <= 120; s++ {
		acked = append(acked, mustCreateSlot(t, u.as(tc.nodes[s%3]), s))
	}
	// Wait for the leader to have snapshotted past most of the log.
	tc.eventually(clusterTimeout, "a snapshot on the leader", func() string {
		if snaps := snapshotDirs(leader); len(snaps) == 0 {
			return "none yet"
		}
		return ""
	})

	joiner := tc.addNode()
	joiner.start()
	tc.waitStable(clusterTimeout, tc.nodes, false)
	last := maxPosition(acked)
	tc.waitPosition(clusterTimeout, []*clusterNode{joiner}, last)
	tc.expectVisibleEverywhere(u, []*clusterNode{joiner}, acked)
	if snaps := snapshotDirs(joiner); len(snaps) == 0 {
		t.Errorf("the joiner has no snapshot: it did not catch up from one")
	} else {
		t.Logf("joiner's snapshots: %v", snaps)
	}
	// It takes writes like any member.
	acked = append(acked, mustCreateSlot(t, u.as(joiner), 500))
	tc.stopAndCompareEventStores(nil, maxPosition(acked))
}

// A follower cut off while the others compact their log catches up, once
// healed, from a snapshot laid over the events it already has (the store
// must be a prefix of the snapshot), and ends identical.
func TestClusterPartitionedFollowerCatchesUpFromSnapshot(t *testing.T) {
	tc := newTestCluster(t, 3)
	for _, n := range tc.nodes {
		n.snapshotOften(32, 8, "100ms")
	}
	tc.start()
	leader := tc.waitStable(clusterTimeout, nil, false)
	// The follower to cut off keeps the default snapshot threshold, so
	// that a snapshot in its data dir can only have come from the leader.
	cut := followersOf(tc.nodes, leader)[0]
	cut.stop()
	for _, k := range []string{"SNAPSHOT_THRESHOLD", "SNAPSHOT_INTERVAL", "TRAILING_LOGS"} {
		delete(cut.env, k)
	}
	cut.start()
	leader = tc.waitStable(clusterTimeout, nil, false)
	if leader == cut {
		// Cutting off a leader makes the same point: the majority goes on
		// and compacts without it.
		t.Logf("the restarted %s leads now; cutting it off all the same", cut.id)
	}
	u := tc.registerOn(leader, "snapfollower")
	var acked []written
	for s := 1; s <= 20; s++ {
		acked = append(acked, mustCreateSlot(t, u.as(tc.nodes[s%3]), s))
	}
	tc.waitPosition(clusterTimeout, tc.nodes, maxPosition(acked))
	if snaps := snapshotDirs(cut); len(snaps) != 0 {
		t.Fatalf("%s already has snapshots %v before the partition", cut.id, snaps)
	}

	tc.isolate(cut)
	rest := othersThan(tc.nodes, cut)
	w, _ := tc.createEventually(u.as(rest[0]), 21, clusterTimeout)
	acked = append(acked, w)
	for s := 22; s <= 140; s++ {
		acked = append(acked, mustCreateSlot(t, u.as(rest[s%2]), s))
	}
	for _, n := range rest {
		tc.eventually(clusterTimeout, "a snapshot on "+n.id, func() string {
			if len(snapshotDirs(n)) == 0 {
				return "none yet"
			}
			return ""
		})
	}

	tc.heal()
	tc.waitStable(clusterTimeout, tc.nodes, false)
	last := maxPosition(acked)
	tc.waitPosition(clusterTimeout, []*clusterNode{cut}, last)
	tc.expectVisibleEverywhere(u, []*clusterNode{cut}, acked)
	if snaps := snapshotDirs(cut); len(snaps) == 0 {
		t.Errorf("%s has no snapshot: it did not catch up from one", cut.id)
	} else {
		t.Logf("%s caught up through snapshot %v", cut.id, snaps)
	}
	tc.stopAndCompareEventStores(nil, last)
}

// snapshotDirs lists the Raft snapshots in the node's data dir.
func snapshotDirs(n *clusterNode) []string {
	var out []string
	for _, pattern := range []string{"raft/snapshots/*", "raft/*/snapshots/*"} {
		m, _ := filepath.Glob(filepath.Join(n.dataDir, pattern))
		for _, d := range m {
			if fi, err := os.Stat(d); err == nil && fi.IsDir() {
				out = append(out, filepath.Base(d))
			}
		}
	}
	return out
}
